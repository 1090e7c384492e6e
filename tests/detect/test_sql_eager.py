"""SQL fragments at paranoia 2 to 4: what each level adds, what it spares."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.detect.family_cases import benign_values, inspector, rule_ids
from tests.detect.inspect_kit import prefilter_hits
from tests.detect.test_sqli import MUST_NOT_FIRE as PL1_MUST_NOT_FIRE
from vaultgate.detect import sql_eager

LEVELS = (1, 2, 3, 4)

# (value, rule, the lowest paranoia level at which it fires).  Each is a
# fragment an attacker sends to probe a query or a filter that strips
# whole injections: a bare call, an operator, a CASE switch, a quote.
MUST_FIRE = [
    # A literal compared with itself, a variable set, a group closed.
    ("b,1=1", "sqli.equal_literals", 2),
    ("'admin', '1'='1'", "sqli.equal_literals", 2),
    ("x',2=2--", "sqli.equal_literals", 2),
    ("SET @OLD_SQL_NOTES", "sqli.variable", 2),
    (">select @x", "sqli.variable", 2),
    ("AND deleted = 0)", "sqli.chained_group", 2),
    ("or user.role like 'admin')", "sqli.chained_group", 2),
    ("something LIKE '", "sqli.open_comparison", 2),
    ('x regexp "', "sqli.open_comparison", 2),
    ("DR/**/OP/*bypass deny listing*/sampletable", "sqli.split_keyword", 2),
    ("UN/**/ION SEL/*x*/ECT 1", "sqli.split_keyword", 2),
    ("x' or glob (id,id);", "sqli.call", 2),
    ("3 or ", "sqli.open_logic", 3),
    ("/3 and(", "sqli.open_logic", 3),
    ("2 union all", "sqli.clause_pair", 3),
    # Function calls: a name, perhaps a gap, "(" and SQL arguments or none.
    ("hex(", "sqli.call", 2),
    ("COS(", "sqli.call", 2),
    ("Compress (", "sqli.call", 2),
    ("md5\\(", "sqli.call", 2),
    ("round(1.5)", "sqli.call", 2),
    ("user()", "sqli.call", 2),
    ("version/**/()", "sqli.call", 2),
    ("count(*)", "sqli.call", 2),
    ("concat(a,b)", "sqli.call", 2),
    ("x'||md5(1)||'", "sqli.call", 2),
    ("1 and ord(mid(user(),1,1))>64", "sqli.call", 2),
    ("Date (2024-01-01)", "sqli.call", 2),
    ("date]=(", "sqli.call_glued", 2),
    ("length||(", "sqli.call_glued", 2),
    ("if !(", "sqli.call_glued", 2),
    ("x' and version=(select 1)", "sqli.call_glued", 2),
    ("day. (", "sqli.call_loose", 3),
    ("quarter: (1)", "sqli.call_loose", 3),
    # Operators standing alone, or with one literal.
    ("||", "sqli.operator_alone", 2),
    ("<=>", "sqli.operator_alone", 2),
    ("!=", "sqli.operator_alone", 2),
    (">= 1", "sqli.operator_alone", 2),
    ("RLIKE", "sqli.operator_alone", 2),
    (" REGEXP ", "sqli.operator_alone", 2),
    ("sounds like 'x'", "sqli.operator_alone", 2),
    ("XOR", "sqli.operator_alone", 2),
    ("IS NULL", "sqli.operator_alone", 2),
    ("is not null--", "sqli.operator_alone", 2),
    ("LIKE NULL", "sqli.operator_alone", 2),
    ("' notnull --", "sqli.operator_alone", 2),
    ("in (0,1)", "sqli.operator_alone", 2),
    ("NOT IN ('a', 'b')", "sqli.operator_alone", 2),
    ("IN (", "sqli.operator_alone", 2),
    # CASE switches where SQL could stand.
    ("case when condition1 then result1", "sqli.case_when", 2),
    ("(CASE WHEN 1=1 THEN name ELSE price END)", "sqli.case_when", 2),
    (") when 234 then", "sqli.case_when", 2),
    # A quote opening the value, then literals and operators only.
    ("' , 10", "sqli.quote_literals", 3),
    ("'', '', '', 13", "sqli.quote_literals", 3),
    ("`>65", "sqli.quote_literals", 3),
    ('"2562*23', "sqli.quote_literals", 3),
    ("'0:0:6", "sqli.quote_literals", 3),
    # A quote left open, then a statement keyword or a logical operator.
    ("'alter a", "sqli.quote_keyword", 3),
    ('" UNION A', "sqli.quote_keyword", 3),
    ("' union/", "sqli.quote_keyword", 3),
    ("' or xyz-", "sqli.quote_keyword", 3),
    # A value opening with a clause keyword pair.
    ("ORder by", "sqli.clause_pair", 3),
    ("FROM termine GROUP BY tag1", "sqli.clause_pair", 3),
    ("from `db`.`sys_refindex` limit", "sqli.clause_pair", 3),
    ("select name from", "sqli.clause_pair", 3),
    # Mixed punctuation with a mark that ends a literal or a statement.
    ("!@#$%^&*()-=", "sqli.punctuation_run", 4),
    ("'));--", "sqli.punctuation_run", 4),
]

# Values no level may flag as SQL: prose with function names, operators
# and clause words in it, names with apostrophes, memo text in several
# languages.  Each stands near one of the checks above.
MUST_NOT_FIRE = [
    "Payment for time (3 hours)",
    "Date (of birth)",
    "Date (optional)",
    "Date (DD/MM/YYYY)",
    "Time (24h)",
    "Rand (ZAR) or Euro",
    "Len (Leonard) Smith",
    "Sin (IVA)",
    "Total sin (IVA incluido)",
    "Pago de la factura (marzo) sin recargo",
    "Miete für Mai (Wohnung) und Nebenkosten",
    "Loyer de mai (appartement) ou garage",
    "Max (5 Personen)",
    "Round (2) of the tournament",
    "Unicode (UTF-8)",
    "Check-in date (required)",
    "If (you can) call me",
    "O'Reilly",
    "Anne O'Brien-D'Angelo",
    "select a payee",
    "Select from the list below",
    "like",
    "or",
    "in",
    "in (2 days)",
    "In case when you arrive then call me",
    "(see above) when ready then go",
    "It's the case when rent is due, then pay",
    "'Select all' is a button",
    "'Update your profile please",
    "'5 stars' rating",
    "5' 10\"",
    "'16/17 season",
    "Order by Friday, or else group the invoices",
    "Group by region then by month please",
    "From March to May",
    "-------------------",
    "Thanks!!!!!!",
    '{"a":[{},{}]}',
    "((...)))",
    "Café ¡Olé! :-) ;-)",
    '"returnedBitsLen":512',
    "src/**/foo",
    "Notes a/*draft*/b",
    "glob (pattern)",
    "/Business and",
    "Date: (see below)",
    "Time - (3 hours)",
    "Usuario / (opcional)",
    "Password = (siehe Brief)",
    "Date / (of birth)",
    "User | (optional)",
    "Sizes 1,2=small",
    "Options a,1=2",
    "x,1=1st floor",
    "Please set @john as admin",
    "Email me @work",
    "And total = 5 (see note)",
    "I like 'em",
    "rock and",
    "Salt and pepper or",
]


@pytest.mark.parametrize(("value", "rule_id", "level"), MUST_FIRE)
@pytest.mark.parametrize("paranoia", LEVELS)
def test_fragments_fire_from_their_level(
    value: str, rule_id: str, level: int, paranoia: int
) -> None:
    assert (rule_id in rule_ids(value, paranoia=paranoia)) == (paranoia >= level)


# SQL without a breakout, and code: paranoia 1 spares them, paranoia 2
# reports them (see below).
_CODE = {
    "values ('a')",
    "if (0 == mkdir (dir)) return;",
    "case when condition1 then result1",
    "Tom's, or case when 5 then",
    "and GMP_CHECK_RANDOMIZE=1544025040809270)",
}


@pytest.mark.parametrize(
    "value",
    MUST_NOT_FIRE + [v for v in PL1_MUST_NOT_FIRE if v not in _CODE] + benign_values(),
)
@pytest.mark.parametrize("paranoia", LEVELS)
def test_prose_passes_every_level(value: str, paranoia: int) -> None:
    eager = {rule.id for rule in sql_eager.RULES}
    assert not eager & rule_ids(value, paranoia=paranoia)


@pytest.mark.parametrize(
    "value",
    # Code in a value is no prose: these fire at paranoia 2 by design, the
    # false positive a route that raises paranoia accepts.
    sorted(_CODE) + [">=", "Count (3)"],
)
def test_code_and_filter_operators_are_the_price_of_paranoia_2(value: str) -> None:
    assert not {r for r in rule_ids(value) if r.startswith("sqli.")}
    assert {r for r in rule_ids(value, paranoia=2) if r.startswith("sqli.")}


def test_no_fragment_rule_is_compiled_at_paranoia_1() -> None:
    # The hot path at paranoia 1 pays nothing for these rules.
    compiled = {rule.id for rule in inspector(1).rules}
    assert compiled.isdisjoint(rule.id for rule in sql_eager.RULES)
    assert {rule.id for rule in sql_eager.RULES} <= {r.id for r in inspector(4).rules}


# -- the prefilter may only say "maybe" ------------------------------------------

_PIECES = [
    "'",
    '"',
    "`",
    "(",
    ")",
    " ",
    "\\",
    "/**/",
    "]=",
    ". ",
    ":",
    "||",
    "&&",
    "<=>",
    ">=",
    ",",
    ";",
    "#",
    "--",
    "*",
    "1",
    "0x41",
    "a",
    "of",
    "birth",
    "hex",
    "date",
    "round",
    "case",
    "when",
    "then",
    "in",
    "is",
    "null",
    "order",
    "by",
    "from",
    "where",
    "select",
    "union",
    "alter",
    "dr",
    "op",
    "/*x*/",
    "or",
    "!@#$",
]
fragments = st.lists(st.sampled_from(_PIECES), min_size=1, max_size=10).map("".join)


def _check_prefilter(text: str) -> None:
    for rule in sql_eager.RULES:
        if rule.confirm is not None and rule.confirm(text):
            assert rule.id in prefilter_hits(sql_eager.RULES, [text]), (rule.id, text)


@settings(max_examples=400, deadline=None)
@given(fragments)
def test_prefilter_never_hides_a_fragment(text: str) -> None:
    _check_prefilter(text)


@pytest.mark.parametrize("text", [v for v, _, _ in MUST_FIRE] + MUST_NOT_FIRE)
def test_prefilter_covers_the_tables(text: str) -> None:
    _check_prefilter(text)


# -- named limits -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("padding", "fires"),
    [(sql_eager.MAX_CANDIDATES - 1, True), (sql_eager.MAX_CANDIDATES, False)],
)
def test_calls_are_examined_up_to_the_candidate_limit(
    padding: int, fires: bool
) -> None:
    # Each "date (of birth)" is a candidate the prose test rejects; past the
    # limit the call after them goes unexamined (a cost bound, paranoia 2+).
    value = "date (of birth), " * padding + "hex(0x41)"
    assert ("sqli.call" in rule_ids(value, paranoia=2)) is fires


@pytest.mark.parametrize(
    ("length", "fires"),
    [(sql_eager.MAX_FRAGMENT, True), (sql_eager.MAX_FRAGMENT + 1, False)],
)
def test_a_quote_fragment_is_at_most_max_fragment_long(
    length: int, fires: bool
) -> None:
    value = ("', " + "1," * 40)[: length - 1] + "1"
    assert len(value) == length
    assert ("sqli.quote_literals" in rule_ids(value, paranoia=3)) is fires
