"""SQL injection: does the value break out of a literal into SQL syntax?

How this works.  An application puts a value into a query either inside a
string literal (``'...'`` or ``"..."``) or where a number or expression
goes.  For each of these contexts we take the part of the value that would
be SQL: after the first quote of that kind (the quote closes the literal),
after the first ``)`` that closes a group the value did not open ("f() and
g()" opens its own), or the whole value when it starts like an operand or
a statement.  That part is tokenized (``sqltokens``) and judged by what
follows the breakout: a logical operator and a condition (``' or 1=1``), a
``UNION SELECT``, ``;`` and a statement, a comment that truncates the rest
(``admin'--``), an operator with a function, a subquery or a new group
(``'+sleep(5)+'``, ``') like ('%``), an operator and a CASE switch (``' and
(case when 1=1 then``), a clause (``order by 3``), or a statement with
SQL-only evidence (``select * from``, ``drop table``, ``exec
xp_cmdshell``; after a quote MSSQL also runs ``' DELETE FROM users`` with
no ``;``).  A few whole-value shapes
need no breakout: an always-true comparison of literals (``1=1``,
``11!=1``), an operator glued to quotes (``a'or'a``), a subquery or a row
(``(select * from``, ``VALUES ('a', 'b')``).  Prose fails these tests:
in "O'Reilly" or "Let's meet at 5 or 6" the quote is followed by a word,
which no injection can be; "select a payee" names no table; "1=1 split"
is a comparison followed by a word.  These are the paranoia-1 rules; what
a route at paranoia 2 to 4 adds (SQL pieces with no breakout) is in
``sql_eager``.

Prefilter guarantee: each rule's Hyperscan pattern is the set of literals
its class of evidence cannot exist without (``union ... select`` for
``sqli.union``), joined by ``.*``, so the pattern says "maybe" wherever the
tokenizer could say "yes"; ``tests/detect/test_sqli.py`` checks this on
attacks, prose and random text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from vaultgate.detect import sql_eager
from vaultgate.detect.base import Rule, register_rules
from vaultgate.detect.sqltokens import Token, tokenize

# Functions an injection calls to sleep, read files or raise errors that
# leak data: rarely written in ordinary text, never followed by "(" there.
# A value may start with one of these (a numeric context).
ATTACK_FUNCTIONS = frozenset(
    {"sleep", "benchmark", "pg_sleep", "waitfor", "load_file", "extractvalue"}
    | {"updatexml", "xp_cmdshell", "randomblob", "sys_eval", "sys_exec"}
    | {"dbms_pipe.receive_message", "utl_inaddr.get_host_address"}
    | {"utl_http.request", "dbms_lock.sleep", "pg_read_file", "lo_import"}
    | {"gtid_subset", "name_const", "geometrycollection", "multipoint"}
)
# Functions an injection uses to build or leak values; in a number context
# ("1-ascii(...)") they are evidence, at the start of a value they are not.
DANGEROUS_FUNCTIONS = ATTACK_FUNCTIONS | frozenset(
    {"version", "database", "user", "current_user", "system_user", "schema"}
    | {"group_concat", "string_agg", "char", "chr", "concat", "concat_ws"}
    | {"substring", "substr", "mid", "ascii", "ord", "hex", "unhex", "if"}
    | {"iif", "cast", "convert", "json_extract", "make_set", "elt", "exp"}
)
# Functions only SQL has (no English word among them): a value that starts
# by calling one is a numeric-context injection.
SQL_FUNCTIONS = ATTACK_FUNCTIONS | frozenset(
    {"database", "current_user", "session_user", "system_user", "user_name"}
    | {"db_name", "schema_name", "group_concat", "concat", "concat_ws"}
    | {"substring", "substring_index", "substr", "unhex", "ifnull", "isnull"}
    | {"nvl", "coalesce", "make_set", "sysdate", "strcmp", "xmltype", "lo_get"}
    | {"unistr", "jsonb_pretty", "json_build_object", "json_extract", "md5"}
    | {"json_keys", "find_in_set", "char_length", "sha1", "ascii"}
    | {"last_insert_id", "row_count", "found_rows", "connection_id", "convert"}
    | {"cast", "char", "nchar", "chr", "rtrim", "ltrim", "uncompress"}
)
# Statements that may follow ";" in a stacked query.
STACKED = frozenset(
    {"select", "insert", "update", "delete", "drop", "create", "alter"}
    | {"truncate", "exec", "execute", "declare", "shutdown", "waitfor"}
    | {"grant", "revoke", "load", "copy", "set", "merge", "call", "handler"}
    | {"replace"}
)
_OBJECTS = frozenset(
    {"table", "database", "schema", "view", "procedure", "function"}
    | {"trigger", "index", "user"}
)
_SYSTEM_TABLE = re.compile(
    r"information_schema|mysql\.|sys\.|sysobjects|syscolumns|pg_|dual$"
    r"|all_tables|user_tables|sqlite_master|master\.|msysobjects"
)
_OPERAND = frozenset("nsqbTv")
# Token kinds that can open the SQL after a breakout (not a word or literal).
_SQL_STARTS = frozenset("o=aUK;u")
_LITERAL = frozenset("nsqT")
# First word of a value that may start an injection by itself.
# Leading spaces, parentheses and comments are skipped, as the lexer does.
_STARTERS = re.compile(
    r"(?:[\s(,]|[-+*/%^|&~!]|/\*!\d*|\*/|/\*.*?\*/)*"
    r"(?:[-+]?[\d.]|[;)@|&!'\"`]|([a-z_][\w.$]*))",
    re.S,
)


# "a'or'a", "\\'or'1": a logical operator glued to quotes on both sides
# and to the value before it, or opening the value before a comparison
# ("'OR'a='a").  Prose quotes a word after a space ("it's 'or' mode") or
# at its start ('"and"ed'), markup after its own mark ("``AND``",
# "''or''"); an injection closes the literal where the value ends.
_GLUED_LOGIC = re.compile(
    r"[\w\\](['\"`])(?:x?or|and)\1\w|^(['\"`])(?:x?or|and)\2\w+\s*[=<>!]"
)
# The whole value is a comparison of two literals that always holds ("1=1",
# "42 like 42", "11!=1", "'1' not regexp '2'"): a tautology and nothing
# else.  "<" and ">" alone are left out ("1<2" is arithmetic homework), as
# are "in" and "between" ("1 in 3") and double quotes ('"color"="blue"' is
# a setting).  "+" is a space in URL forms.
_LITERAL_SQL = r"[-+]?\d+(?:\.\d+)?|'[^'\x00]*'"
_COMPARISON_SQL = r"<=>|==?|!=|<>|<=|>=|(?:r?like|regexp|glob|is(?:[\s+]+not)?)\b"
_LITERAL_TEST_SQL = (
    rf"^[\s+]*({_LITERAL_SQL})[\s+]*(not[\s+]+)?({_COMPARISON_SQL})"
    rf"[\s+]*({_LITERAL_SQL})[\s+]*$"
)
_LITERAL_TEST = re.compile(_LITERAL_TEST_SQL)


def _always_true(test: re.Match[str] | None) -> bool:
    if test is None:
        return False
    left, negated, operator, right = test.groups()
    same = left.strip("'") == right.strip("'")
    flips = (negated is not None) + (operator in ("!=", "<>"))
    return same != bool((flips + operator.endswith("not")) % 2)


_SET_WORDS = re.compile(r"\b(?:union|except|intersect|minus)\b")
_CONCATENATION = frozenset({"||"})


def _variants(low: str) -> list[str]:
    # In URLs and cookies "+" often stands for a space the decoder kept.
    return [low, low.replace("+", " ")] if "+" in low else [low]


@lru_cache(maxsize=64)
def evidence(text: str) -> frozenset[str]:
    """The classes of SQL injection evidence in ``text`` (empty: none)."""
    found: set[str] = set()
    for low in _variants(text.lower()):
        for mark in ("'", '"', "`"):
            at = low.find(mark)
            if at >= 0:
                _after_operand(tokenize(low[at + 1 :]), 0, True, found)
        if ")" in low:
            _after_paren(low, found)
        if "'''" in low:
            _after_escaped_quotes(low, found)
        if _may_start(low):
            _bare(tokenize(low), found)
        if _GLUED_LOGIC.search(low):
            found.add("tautology")
        if _always_true(_LITERAL_TEST.match(low)):
            found.add("tautology")
        if "union" not in found and _SET_WORDS.search(low):
            _union_anywhere(tokenize(low), found)
        if "values" in low and "statement" not in found:
            _values_anywhere(tokenize(low), found)
        if "waitfor" in low and "statement" not in found:
            _waitfor_anywhere(tokenize(low), found)
        if "select" in low and "function" not in found:
            _select_attack_anywhere(tokenize(low), found)
        if ".e" in low and _empty_exponent(low):
            found.add("function")
        if "outfile" in low or "dumpfile" in low:
            _into_file_anywhere(tokenize(low), found)
    return frozenset(found)


def _empty_exponent(low: str) -> bool:
    """MySQL reads ``1.e(`` as the number 1 and goes on: ``1.e(ascii(...``,
    ``1.e.tables`` slip SQL past filters that expect a space or a word
    boundary.  Only SQL names after it count ("1.e(ii)" is a clause)."""
    return any(m.group(1) in _EXPONENT_NAMES for m in _EMPTY_EXPONENT.finditer(low))


_EMPTY_EXPONENT = re.compile(r"\d\.e[(.]\s*([a-z_]\w*)")
_EXPONENT_NAMES = DANGEROUS_FUNCTIONS | SQL_FUNCTIONS | {"select", "from", "union"}
_EXPONENT_NAMES |= {"tables", "columns", "schemata", "routines"}


def _after_paren(low: str, found: set[str]) -> None:
    """SQL after a ``)`` that closes a group the query opened; after one
    that closes the value's own group only a stacked statement with
    evidence (``mod(1,1);SET @a=0x..``): "foo() and bar()" is a sentence."""
    at = _unopened_paren(low)
    if at >= 0:
        tokens = tokenize(low[at + 1 :])
        _after_operand(tokens, 0, False, found)
        if _LONE_OPERAND.match(low, 0, at) and _group_compared(tokens, 0):
            found.add("operator")
        return
    tokens = tokenize(low[low.find(")") + 1 :])
    if _kind(tokens, 0) == ";" and _kind(tokens, 1) == "S" and _statement(tokens, 1):
        found.add("stacked")


def _unopened_paren(low: str) -> int:
    """The first ``)`` that closes a group the value did not open: in
    "foo() and bar()" every ")" closes the value's own "(", a sentence."""
    depth = 0
    for match in _PARENS.finditer(low):
        if match.group() == "(":
            depth += 1
        elif depth:
            depth -= 1
        else:
            return match.start()
    return -1


_PARENS = re.compile(r"[()]")
# What may stand before the ")" of ") like (": nothing, or one operand
# ("1) like (1").  A smiley (":) = (") or a list ("see 1) = (2") is prose.
_LONE_OPERAND = re.compile(r"\s*[\w'\"]*\s*$")


def _group_compared(tokens: list[Token], i: int) -> bool:
    """``) like (``, ``)=('a``: the query's group closed, compared with a
    new group the query goes on to fill; "1) like (Facebook)" has a word."""
    return (
        _kind(tokens, i) == "="
        and _kind(tokens, i + 1) == "("
        and _kind(tokens, i + 2) in _GROUP_OPENERS
    )


_GROUP_OPENERS = frozenset({"", "n", "s", "q", "(", "S"})


def _after_escaped_quotes(low: str, found: set[str]) -> None:
    """A first run of 3, 5 ... single quotes is escaped quotes ("''") and
    one that closes the literal: judge what follows the run.  A comment
    there is left out: Python's docstring quotes are followed by "#" too."""
    run = _QUOTE_RUN.search(low)
    if run is None or run.start() != low.find("'") or len(run.group()) % 2 == 0:
        return  # not the first quotes, or all of them escaped ones
    after: set[str] = set()
    _after_operand(tokenize(low[run.end() :]), 0, True, after)
    found |= after - {"comment"}


# Glued to the value before it and to the SQL after it: a sentence about
# triple quotes puts spaces around them.
_QUOTE_RUN = re.compile(r"(?<![^\w])'{3,}(?=[\w(])")


def _select_attack_anywhere(tokens: list[Token], found: set[str]) -> None:
    """``(select(sleep(20)))``: a subquery that sleeps or reads a file;
    ``in (select * from``: a subquery that reads a whole table."""
    for i, token in enumerate(tokens):
        if token.kind == "S" and token.text == "select":
            j = i + 1
            while _kind(tokens, j) == "(":
                j += 1
            if _kind(tokens, j) == "f" and tokens[j].text in ATTACK_FUNCTIONS:
                found.add("function")
                return
            subquery = i > 0 and tokens[i - 1].kind == "("
            if subquery and _words(tokens, j, "*", "from"):
                found.add("statement")
            if subquery and j == len(tokens) and _kind(tokens, i - 2) == "=":
                found.add("statement")  # "=(select": the value ends there


def _values_anywhere(tokens: list[Token], found: set[str]) -> None:
    """``VALUES ('10.0.0.1', 'x')``: a row of literals for an INSERT."""
    for i, token in enumerate(tokens):
        if token.text == "values" and _row(tokens, i + 1):
            found.add("statement")
            return


def _row(tokens: list[Token], i: int) -> bool:
    """``('a', 1)``: two or more literals, one of them a string; "our values
    (trust, care)" lists words."""
    if _kind(tokens, i) != "(":
        return False
    kinds = [t.kind for t in tokens[i + 1 : i + 2 * _MAX_ROW]]
    if ")" not in kinds:
        return False
    row = kinds[: kinds.index(")")]
    literals, commas = row[::2], row[1::2]
    return (
        len(literals) >= 2
        and set(literals) <= _LITERAL
        and "s" in literals
        and set(commas) == {","}
    )


# Values in a row literal the check reads; a real INSERT row is short.
_MAX_ROW = 16


def _into_file_anywhere(tokens: list[Token], found: set[str]) -> None:
    """``INTO OUTFILE '/var/www/x.php'``: a query that writes a file."""
    for i, token in enumerate(tokens):
        into_file = token.text == "into" and _next_in(tokens, i, _FILE_WORDS)
        if into_file and _kind(tokens, i + 2) in ("s", "q"):
            found.add("clause")
            return


def _waitfor_anywhere(tokens: list[Token], found: set[str]) -> None:
    """MSSQL's ``WAITFOR DELAY '0:0:5'``: no sentence says it."""
    for i, token in enumerate(tokens):
        if (
            token.text == "waitfor"
            and _waitfor(tokens, i + 1)
            and _kind(tokens, i + 2) in ("s", "q")
        ):
            found.add("statement")
            return


def _union_anywhere(tokens: list[Token], found: set[str]) -> None:
    """``UNION SELECT`` followed by a column list no sentence has."""
    for i, token in enumerate(tokens):
        if token.kind == "U" and token.text != "union" and _set_operand(tokens, i):
            # "except select.1,2", "minus values(1,2)": the other set
            # operators, with a column list or a row no sentence has.
            found.add("union")
            return
        if token.kind == "U" and _union(tokens, i):
            j = i + 1
            while tokens[j].text != "select":
                j += 1  # _union saw a "select" after the filler
            if _kind(tokens, j + 1) in ("n", "T", "v", "f", "(", "s") or (
                _kind(tokens, j + 1) == "a" and tokens[j + 1].text == "*"
            ):
                found.add("union")
                return


def _set_operand(tokens: list[Token], i: int) -> bool:
    """After EXCEPT/INTERSECT/MINUS: ``select 1,2``, ``select @@x``, a row."""
    i += 1
    while i < len(tokens) and _union_filler(tokens[i]):
        i += 1
    if _words(tokens, i, "values"):
        return _row_of_numbers(tokens, i + 1) or _row(tokens, i + 1)
    if not _words(tokens, i, "select"):
        return False
    kind = _kind(tokens, i + 1)
    if kind in ("n", "s"):
        return _kind(tokens, i + 2) in (",", "")
    return kind in ("v", "f") or _words(tokens, i + 1, "*", "from")


def _row_of_numbers(tokens: list[Token], i: int) -> bool:
    kinds = "".join(t.kind for t in tokens[i : i + 2 * _MAX_ROW])
    return _NUMBER_ROW.match(kinds) is not None


_NUMBER_ROW = re.compile(r"\(n(?:,n)+\)")


def _may_start(low: str) -> bool:
    match = _STARTERS.match(low)
    if match is None:
        return False
    word = match.group(1)
    # A word that is called ("if(") may wrap an attack function.
    called = _CALLED.match(low, match.end()) is not None
    chained = low.lstrip(" (").startswith(("||", "&&"))
    return word is None or word in _START_WORDS or called or chained


_CALLED = re.compile(r"\s*\(")


_START_WORDS = frozenset({"or", "and", "xor", "not", "union", "procedure"})
_START_WORDS |= {"having", "where"}
_START_WORDS |= STACKED | SQL_FUNCTIONS


def _kind(tokens: list[Token], i: int) -> str:
    return tokens[i].kind if i < len(tokens) else ""


def _bare(tokens: list[Token], found: set[str]) -> None:
    """A value that is SQL from its first token (numeric context)."""
    i = 0
    while _kind(tokens, i) in ("(", ",") or (
        _kind(tokens, i) == "a" and not tokens[i].text.isalpha()
    ):
        i += 1
    kind = _kind(tokens, i)
    if kind == "n":
        _after_operand(tokens, _skip_arithmetic(tokens, i + 1), False, found)
    elif kind in ("s", "q"):
        # A value that starts with a string: 'x'!='y.  A comment after the
        # first string is a quotation's attribution more often than SQL.
        after: set[str] = set()
        _after_operand(tokens, i + 1, True, after)
        found |= after - {"comment"}
    elif kind == "o" and (
        _condition(tokens, i + 1, False)
        or _chained(tokens, i + 1)
        or _xor_literal(tokens, i)
    ):
        found.add("tautology")
    elif kind == "U" and _union(tokens, i):
        found.add("union")
    elif kind == ";" and _stacked(tokens, i + 1):
        found.add("stacked")
    elif kind == "S" and _statement(tokens, i):
        found.add("statement")
    elif kind == "f" and _calls_attack(tokens, i):
        found.add("function")
    elif kind == "K" and _words(tokens, i, "procedure") and _analyse(tokens, i + 1):
        found.add("clause")
    elif kind == "K" and _having(tokens, i):
        found.add("tautology")


def _chained(tokens: list[Token], i: int) -> bool:
    """``AND name = '``, ``|| c == "``, ``&&(e===``: after the logical
    operator that opens the value, a column compared with what the query
    supplies next (an open string, nothing, a group); prose compares no
    word with a lone quote, and "and FOO=1)" is a sentence's remainder."""
    while _kind(tokens, i) == "(":
        i += 1
    if _kind(tokens, i) not in ("b", "T"):
        return False
    j = i + 1
    while _kind(tokens, j) == "=" and tokens[j].text in _SYMBOLIC_COMPARISONS:
        j += 1
    if j == i + 1:
        return False
    kind = _kind(tokens, j)
    if kind in ("", "q"):
        return True
    return kind == "(" and j + 1 == len(tokens)


_SYMBOLIC_COMPARISONS = frozenset({"=", "==", "!=", "<>", "<=", ">=", "<=>"})
# "and 'statusline' is" ends a sentence; "or 'a' <" ends no sentence.
_COMPARISON_SYMBOLS = _SYMBOLIC_COMPARISONS | {"<", ">"}


def _having(tokens: list[Token], i: int) -> bool:
    """``HAVING 1=1`` opening a value."""
    return tokens[i].text in ("having", "where") and _condition(tokens, i + 1, False)


def _skip_arithmetic(tokens: list[Token], i: int) -> int:
    """Past ``- 03 - 01`` after a number: "2020-03-01 union select"."""
    while _kind(tokens, i) == "a" and _kind(tokens, i + 1) == "n":
        i += 2
    return i


def _xor_literal(tokens: list[Token], i: int) -> bool:
    """``xor 99>``, ``xor 5-``: XOR is no English word, and a literal with
    an operator follows it ("xor 2 keys" is a sentence, "Xor 1-Ab" a table
    cell)."""
    if tokens[i].text != "xor" or _kind(tokens, i + 1) not in ("n", "s"):
        return False
    after = _kind(tokens, i + 2)
    if after in ("=", "a"):
        return _kind(tokens, i + 3) in ("", "n", "s")
    return after in ("", "c")


def _literal_if(tokens: list[Token], i: int) -> bool:
    """MySQL's ``IF(2=2, ...)`` testing literals; "if (you can)" has words
    and C's "if (0 == f(x))" compares with "==" and a call."""
    return (
        tokens[i].text == "if"
        and _kind(tokens, i + 1) == "("
        and _kind(tokens, i + 2) in ("n", "s")
        and _kind(tokens, i + 3) == "="
        and tokens[i + 3].text == "="
        and _kind(tokens, i + 4) in ("n", "s", "")
    )


def _calls_attack(tokens: list[Token], i: int) -> bool:
    """A SQL-only function first, or an attack function called anywhere."""
    if tokens[i].text in SQL_FUNCTIONS:
        return True
    if _literal_if(tokens, i):
        return True
    return any(t.kind == "f" and t.text in ATTACK_FUNCTIONS for t in tokens[i:])


def _analyse(tokens: list[Token], i: int) -> bool:
    return i < len(tokens) and tokens[i].text.startswith("analy")


def _after_operand(tokens: list[Token], i: int, quoted: bool, found: set[str]) -> None:
    """What follows a closed literal (or a number) at ``tokens[i]``."""
    while _kind(tokens, i) == ")":
        i += 1
    kind = _kind(tokens, i)
    if kind == "o" and _condition(tokens, i + 1, quoted):
        found.add("tautology")
    elif kind == "U" and _union(tokens, i):
        found.add("union")
    elif kind == ";" and _stacked(tokens, i + 1):
        found.add("stacked")
    elif kind == "c" and quoted:
        found.add("comment")
    elif kind == ";" and quoted and _kind(tokens, i + 1) in ("", "c"):
        # "admin';": the statement ends here, the rest is cut off.
        found.add("comment")
    elif kind == "f" and quoted and tokens[i].text in ATTACK_FUNCTIONS:
        found.add("function")
    elif _operator(tokens, i, quoted):
        found.add("operator")
    elif kind == "K":
        _clause(tokens, i, quoted, found)
    elif kind == "S" and quoted and (_statement(tokens, i) or _batched(tokens, i)):
        # MSSQL runs a statement after a string with no ";" between.
        found.add("statement")
    if _case_after(tokens, i):
        found.add("case")
    if quoted and kind in _SQL_STARTS and tokens[-1].kind == "c":
        # "x'-email--": SQL after the quote, and the rest cut off.
        found.add("comment")


def _case_after(tokens: list[Token], i: int) -> bool:
    """``' and (case when 1=1 then``, ``1,(case when``: an operator joins the
    breakout to a CASE whose condition is SQL (blind injection's switch).
    "it's the case when" reaches no operator before "case"."""
    start = i
    while _kind(tokens, i) in _CASE_JOINERS and i - start < _MAX_CASE_JOIN:
        i += 1
    joined = any(t.kind != "(" for t in tokens[start:i])
    return joined and _words(tokens, i, "case") and sql_eager.case_when(tokens, i + 1)


_CASE_JOINERS = frozenset("o=a,(u")
# Operators and parentheses between a breakout and CASE: "' || (" is two.
_MAX_CASE_JOIN = 4


def _batched(tokens: list[Token], i: int) -> bool:
    """``' DELETE FROM users`` or ``' SHUTDOWN`` ending the value: a statement
    right after the breakout (MSSQL needs no ";").  "I clicked 'delete from
    list'" closes its quotation, so a string follows the statement."""
    rest = len(tokens) - i
    if tokens[i].text == "delete":
        table = _kind(tokens, i + 2) == "b"
        return rest == 3 and _words(tokens, i + 1, "from") and table
    return tokens[i].text == "shutdown" and rest == 1


def _operator(tokens: list[Token], i: int, quoted: bool) -> bool:
    kind = _kind(tokens, i)
    if kind == "=":
        return _compared(tokens, i + 1, quoted)
    return kind == "a" and _computed(tokens, i + 1, quoted)


def _condition(tokens: list[Token], i: int, quoted: bool) -> bool:
    """Whether a logical operator is followed by a working condition."""
    while _kind(tokens, i) in ("u", "(", "a"):
        i += 1
    kind = _kind(tokens, i)
    if kind == "f":
        return quoted or _sql_call(tokens, i)
    if kind == "S":
        return tokens[i].text == "select" and _kind(tokens, i - 1) == "("
    if kind not in _OPERAND:
        return False
    end = i + 1
    while _kind(tokens, end) == "a" and _kind(tokens, end + 1) in _OPERAND:
        end += 2
    follow = _kind(tokens, end)
    if follow == "=":
        return _comparison(tokens, i, end + 1, quoted)
    if follow == "o":
        return _condition(tokens, end + 1, quoted)
    if follow in ("", ")"):
        return kind in "nT" if quoted else tokens[i].text == "true"
    if follow in ("c", ";"):
        return kind in "nT" or quoted
    # "' or 'x'+'y": a closed string, a logical operator, another string
    # and more SQL; "'Close' and 'Exit' are" quotes two words in a sentence.
    return (
        quoted
        and kind in "sq"
        and _kind(tokens, i - 1) == "o"
        and follow in (";", "U", "a", "(")
    )


def _sql_call(tokens: list[Token], i: int) -> bool:
    """A call that makes a condition without a quote before it: a SQL
    function, or any call compared or cut off after its ")"; "and rmdir()
    instead of" and "or redraw (for ...)" go on as sentences."""
    if tokens[i].text in _CONDITION_CALLS:
        return True
    depth, j = 0, i + 1
    while j < len(tokens):
        depth += (tokens[j].kind == "(") - (tokens[j].kind == ")")
        j += 1
        if depth <= 0:
            break
    return _kind(tokens, j) in ("=", "c", ";")


_CONDITION_CALLS = DANGEROUS_FUNCTIONS | SQL_FUNCTIONS | {"exists", "not"}


def _comparison(tokens: list[Token], left: int, right: int, quoted: bool) -> bool:
    kind = _kind(tokens, right)
    if not kind:
        # "' or 1=", "having 1=", "or 'a' <": a probe, the page supplies
        # the rest.
        probe = tokens[right - 1].text in _COMPARISON_SYMBOLS
        return quoted or (probe and tokens[left].kind in ("n", "s"))
    if quoted or kind == "(":
        return True
    if kind == "f":
        return _sql_call(tokens, right)
    a, b = tokens[left], tokens[right]
    if a.kind in _LITERAL and b.kind in _LITERAL:
        return True
    return b.kind in _OPERAND and a.text.strip("'\"") == b.text.strip("'\"")


def _union(tokens: list[Token], i: int) -> bool:
    """``UNION [ALL|DISTINCT] [(] SELECT`` at ``tokens[i]``, comments between."""
    if tokens[i].text != "union":
        return False
    i += 1
    while i < len(tokens) and _union_filler(tokens[i]):
        i += 1
    return _kind(tokens, i) == "S" and tokens[i].text == "select"


def _union_filler(token: Token) -> bool:
    return token.kind in ("(", "c") or token.text in _UNION_WORDS


_UNION_WORDS = frozenset({"all", "distinct", "distinctrow"})


def _stacked(tokens: list[Token], i: int) -> bool:
    return _kind(tokens, i) == "S" and tokens[i].text in STACKED


def _compared(tokens: list[Token], i: int, quoted: bool) -> bool:
    """A comparison right after the breakout: ``'='``, ``'=sleep(5)``."""
    kind = _kind(tokens, i)
    if kind == "S" and tokens[i].text != "select":
        # "'Autopay' is set to monthly": a statement word needs evidence.
        return _statement(tokens, i)
    if kind in ("f", "S") or (kind == "(" and _kind(tokens, i + 1) == "S"):
        return kind != "f" or quoted or tokens[i].text in DANGEROUS_FUNCTIONS
    if kind == "q":
        return quoted
    if kind == "(" and quoted:
        return _kind(tokens, i + 1) in _GROUP_OPENERS  # "') like ('%"
    return quoted and kind in _OPERAND and _kind(tokens, i + 1) in ("o", "c")


def _computed(tokens: list[Token], i: int, quoted: bool) -> bool:
    """Arithmetic right after the breakout: ``'-'``, ``'+sleep(5)+'``."""
    kind = _kind(tokens, i)
    if kind == "f":
        return quoted or tokens[i].text in DANGEROUS_FUNCTIONS
    if kind == "(":
        return _kind(tokens, i + 1) == "S"
    return kind == "q" and quoted


def _clause(tokens: list[Token], i: int, quoted: bool, found: set[str]) -> None:
    """A clause keyword right after the breakout."""
    word, nxt = tokens[i].text, _kind(tokens, i + 1)
    if word in ("having", "where") and _condition(tokens, i + 1, quoted):
        found.add("tautology")
    elif word in ("order", "group") and tokens[i + 1 : i + 2] == [Token("K", "by")]:
        if _sorted_by_attack(tokens, i + 2):
            found.add("clause")
    elif word == "limit" and nxt == "n":
        j = i + 2
        while _kind(tokens, j) in (",", "n"):
            j += 1
        if _kind(tokens, j) in ("c", "U", "K", ";"):
            found.add("clause")
    elif word == "procedure" and _analyse(tokens, i + 1):
        found.add("clause")
    elif word == "as" and _alias(tokens, i + 1):
        # A column alias: "1234 AS `x` FROM", column injections.
        found.add("clause")
    elif word == "into" and (nxt == "v" or _next_in(tokens, i, _FILE_WORDS)):
        found.add("clause")


_FILE_WORDS = frozenset({"outfile", "dumpfile"})


def _sorted_by_attack(tokens: list[Token], i: int) -> bool:
    """``ORDER BY 3``, ``BY x--`` or ``GROUP BY concat(0x71, (select ...))``."""
    kind = _kind(tokens, i)
    if kind == "n" or _kind(tokens, i + 1) in ("c", ";"):
        return True
    if kind == "f":
        return tokens[i].text in DANGEROUS_FUNCTIONS | SQL_FUNCTIONS
    return kind == "(" and _kind(tokens, i + 1) == "S"


def _alias(tokens: list[Token], i: int) -> bool:
    """``AS `x` FROM``, or ``) AS t FROM`` ending the value (the query names
    the table); "(rent) as agreed from March" goes on after "from"."""
    if not _words(tokens, i + 1, "from"):
        return False
    named = _kind(tokens, i) in ("b", "K") and i + 2 == len(tokens)
    return _quoted_name(tokens, i) or named


def _next_in(tokens: list[Token], i: int, words: frozenset[str]) -> bool:
    return i + 1 < len(tokens) and tokens[i + 1].text in words


def _quoted_name(tokens: list[Token], i: int) -> bool:
    kind = _kind(tokens, i)
    return kind == "s" or (kind == "b" and tokens[i].text.startswith("`"))


def _statement(tokens: list[Token], i: int) -> bool:
    """A statement with evidence no sentence has (see ``_STATEMENT_CHECKS``)."""
    check = _STATEMENT_CHECKS.get(tokens[i].text)
    return check is not None and check(tokens, i + 1)


def _select(tokens: list[Token], i: int) -> bool:
    """``select @@version``, ``select sleep(5)``, ``select * from t``."""
    if _kind(tokens, i) in ("v", "f", "("):
        return True
    if _kind(tokens, i) == "n" and tokens[i].text.startswith(("0x", "0b")):
        return True  # "select 0x616263": a string spelled in hex
    if _kind(tokens, i) == "s" and _next_in(tokens, i, _CONCATENATION):
        return True  # "select 'qzx'||(select ...": sqlmap's markers
    if i < len(tokens) and tokens[i].text in ATTACK_FUNCTIONS:
        # "select pg_sleep" (no prose names it); "select sleep mode" is prose.
        return tokens[i].text != "sleep"
    evidence_seen = False
    for j in range(i, len(tokens)):
        token = tokens[j]
        if token.kind in ("S", ";", "U"):
            return False
        if token.kind == "K" and token.text == "from":
            return evidence_seen or _from_evidence(tokens, j + 1)
        if token.text == "where" and _condition(tokens, j + 1, False):
            return True  # "select x where 9896=9896": a tautology
        if token.kind in ("v", "f", ",") or token.text == "*":
            evidence_seen = True
    return False


def _from_evidence(tokens: list[Token], i: int) -> bool:
    """After ``from``: a system table, a subquery, or a WHERE condition."""
    kind = _kind(tokens, i)
    if kind == "(":
        return True
    if kind not in ("b", "K"):
        return False
    if _SYSTEM_TABLE.search(tokens[i].text):
        return True
    j = i + 1
    if _kind(tokens, j) in ("c", ";", "U"):
        return True
    return (
        _kind(tokens, j) == "K"
        and tokens[j].text == "where"
        and (_condition(tokens, j + 1, False) or _kind(tokens, j + 2) == "=")
    )


def _words(tokens: list[Token], i: int, *words: str) -> bool:
    return all(
        i + k < len(tokens) and tokens[i + k].text == word
        for k, word in enumerate(words)
    )


# What follows the table of an INSERT: its columns, its rows, or the end of
# the statement; "insert into savings" and "... 50 EUR" are sentences.
_INSERT_TAIL = frozenset({"values", "value", "select", "set", "default"})


def _insert(tokens: list[Token], i: int) -> bool:
    if not (_words(tokens, i, "into") and _kind(tokens, i + 1) in ("b", "f")):
        return False
    if _kind(tokens, i + 2) in ("(", "c", ";"):
        return True
    return i + 2 < len(tokens) and tokens[i + 2].text in _INSERT_TAIL


def _update(tokens: list[Token], i: int) -> bool:
    return (
        _kind(tokens, i) == "b"
        and _words(tokens, i + 1, "set")
        and i + 3 < len(tokens)
        and tokens[i + 3].text == "="
        and _kind(tokens, i + 4) in ("n", "s", "")
    )


def _delete(tokens: list[Token], i: int) -> bool:
    return (
        _words(tokens, i, "from")
        and _kind(tokens, i + 1) == "b"
        and (_kind(tokens, i + 2) in ("c", ";") or _words(tokens, i + 2, "where"))
    )


def _drop(tokens: list[Token], i: int) -> bool:
    if _kind(tokens, i) == "b":
        # "DROP sampletable;--": a name, the end of the statement and a
        # comment cutting off the rest; no sentence ends so.
        return _kind(tokens, i + 1) == ";" and _kind(tokens, i + 2) == "c"
    return (
        _kind(tokens, i) == "K"
        and tokens[i].text in _OBJECTS
        and _kind(tokens, i + 1) in ("b", "s", "v", "f")
    )


def _exec(tokens: list[Token], i: int) -> bool:
    kind = _kind(tokens, i)
    if kind in ("v", "(", "s"):
        return True
    if kind not in ("b", "f"):
        return False
    name = tokens[i].text
    if name == "immediate":  # Oracle's dynamic SQL
        return True
    return name.startswith(("xp_", "sp_", "master.")) or ".xp_" in name


def _declare(tokens: list[Token], i: int) -> bool:
    return _kind(tokens, i) == "v"


def _waitfor(tokens: list[Token], i: int) -> bool:
    return _kind(tokens, i) == "K" and tokens[i].text in ("delay", "time")


def _shutdown(tokens: list[Token], i: int) -> bool:
    return _kind(tokens, i) in ("c", ";") or _words(tokens, i, "with", "nowait")


def _load(tokens: list[Token], i: int) -> bool:
    return _words(tokens, i, "data") and _kind(tokens, i + 1) in ("K", "b")


def _set(tokens: list[Token], i: int) -> bool:
    return _kind(tokens, i) == "v" and _kind(tokens, i + 1) == "="


_STATEMENT_CHECKS: dict[str, Callable[[list[Token], int], bool]] = {
    "select": _select,
    "insert": _insert,
    "update": _update,
    "delete": _delete,
    "drop": _drop,
    "create": _drop,
    "alter": _drop,
    "truncate": _drop,
    "exec": _exec,
    "execute": _exec,
    "declare": _declare,
    "waitfor": _waitfor,
    "shutdown": _shutdown,
    "load": _load,
    "set": _set,
}


def is_sqli(text: str) -> bool:
    """The full check: any class of SQL injection evidence in ``text``."""
    return bool(evidence(text))


def _confirm(kind: str) -> Callable[[str], bool]:
    def confirm(text: str) -> bool:
        return kind in evidence(text)

    confirm.__name__ = f"confirm_{kind}"
    return confirm


def _words_re(words: frozenset[str] | set[str], boundary: bool = True) -> str:
    """An alternation of ``words``; after a gap (which may end in the digits
    of ``/*!50000``) without the leading word boundary."""
    alternation = "(?:" + "|".join(sorted(re.escape(w) for w in words)) + r")\b"
    return r"\b" + alternation if boundary else alternation


# What the lexer skips between two tokens (ASCII whitespace, block
# comments, MySQL comment markers), the ")" tokens a tail may start with,
# and "+" (a space in URL forms, see ``_variants``).
_GAP = r"(?:[\s)+]|/\*.*?\*/|/\*!\d*|\*/)*"
# The start of a value that is SQL from its first token (``_bare``): signs
# and parentheses, then perhaps a number and arithmetic on it.
_START = r"^(?:[\s(,]|/\*.*?\*/|/\*!\d*|\*/|[-+*/%^|&~!<>])*"
_NUMBER = r"(?:0x[0-9a-f]+|0b[01]+|\d[\d.]*(?:e[+-]?\d+)?|\.\d+)"
_NUMBERS = _NUMBER + r"(?:" + _GAP + r"[-+*/%^|&~]" + _GAP + _NUMBER + r")*"
_QUOTE = "['\"`]"
# Where SQL may follow a literal: after a quote or ")", or a leading number.
_BREAKOUT = r"(?:['\"`)]|" + _START + _NUMBERS + ")" + _GAP
_UNQUOTED = r"(?:\)|" + _START + _NUMBERS + ")" + _GAP
_OPERATORS = r"(?:[-+*/%^|&~=<>!]|(?:like|rlike|ilike|regexp|similar|is|in"
_OPERATORS += r"|between|sounds|glob|match|escape|div|mod)\b)"
_STATEMENT_WORDS = frozenset(_STATEMENT_CHECKS)
_SCHEMAS = (
    "information_schema|schema_name|pg_catalog|pg_shadow|mysql\\.user|mysql\\.db"
    "|sysobjects|tempdb|msdb"
    "|syscolumns|msysaccessobjects|msysobjects|sqlite_master|all_tables"
    "|user_tables"
)
# Stored procedures and packages that only an attack on MSSQL or Oracle
# names: shell, registry, file and network access, dynamic SQL.
_ROUTINES = (
    "xp_(?:cmdshell|dirtree|subdirs|fileexist|regread|regwrite|regdeletekey"
    "|regenumvalues|servicecontrol|availablemedia|loginconfig|terminate_process"
    "|makecab|enumgroups|ntsec_enumdomains|msver|enumdsn)"
    "|sp_(?:executesql|password|oacreate|oamethod|makewebtask|addextendedproc"
    "|addsrvrolemember|addlogin|configure|execute_external_script)"
    "|openrowset|opendatasource|msdasql|sqloledb"
    "|utl_(?:http|inaddr|file|smtp|tcp)|dbms_(?:java|xmlquery|xmlgen|pipe"
    "|scheduler|export_extension|lock)"
)
# A statement keyword glued to a block comment that stands for the space
# on both sides ("SELECT/**/password/**/FROM"): a filter evasion; prose
# that writes "/*" puts spaces around it.
_COMMENT_KEYWORDS = (
    "select|union|from|where|insert|update|delete|drop|exec|execute|declare"
    "|having|into|values|table|order|group|limit|and|or|xor|like|sleep"
)
# A block comment; one opening with "/" is a glob ("group/*/*/x"), not SQL.
_INLINE_COMMENT = r"/\*(?:\*|[^/\x00][^\x00]*?\*)/"
_CAST_TYPES = (
    "int|integer|bigint|smallint|text|varchar|numeric|double|float|json|jsonb"
    "|bool|boolean|regclass|oid|bytea"
)

# A quoted JSON literal ('{"a":1}', '[1,2]') and a PostgreSQL or MySQL JSON
# operator with another literal: a condition built from JSON values, which
# WAFs that know no JSON syntax pass.  Prose puts no quoted JSON before
# "@>" or " ? 'a'"; a plain comparison counts only before a JSON path.
_JSON_LITERAL = r"'\s*(?:\{\s*[\"\w]|\[\s*[\"\d\[{])[^'\x00]*[\]}]\s*'"
_JSON_OPERATOR = (
    r"(?:->>?|#>>?|#-|@>|<@|@\?|@@|\s\?[|&]?)\s*(?:'|array\s*\[)"
    r"|(?:[<>=]|!=|<>)\s*'\$"
)

RULES = (
    Rule(
        id="sqli.case",
        family="sqli",
        pattern=r"\bcase" + _GAP + r"when\b[^\x00]*\bthen\b",
        score=5,
        confirm=_confirm("case"),
        description="a literal closed, then an operator and CASE WHEN ... THEN",
    ),
    Rule(
        id="sqli.json_operator",
        family="sqli",
        pattern=_JSON_LITERAL + r"(?:::\s*jsonb?)?\s*(?:" + _JSON_OPERATOR + ")",
        score=5,
        description="a quoted JSON literal compared with a JSON operator",
    ),
    Rule(
        id="sqli.tautology",
        family="sqli",
        pattern=(
            r"(?:" + _BREAKOUT + "|" + _START + r")"
            r"(?:(?:or|and|xor|having|where)\b|\|\||&&)|" + _LITERAL_TEST_SQL
        ),
        score=5,
        confirm=_confirm("tautology"),
        description="a literal or number closed, then a boolean condition",
    ),
    Rule(
        id="sqli.union",
        family="sqli",
        pattern=r"\b(?:union|except|intersect|minus)\b[^\x00]*(?:select|values)\b",
        score=5,
        confirm=_confirm("union"),
        description="UNION SELECT after a breakout",
    ),
    Rule(
        id="sqli.stacked",
        family="sqli",
        pattern=r"(?:"
        + _BREAKOUT
        + "|"
        + _START
        + ");"
        + _GAP
        + _words_re(STACKED, boundary=False),
        score=5,
        confirm=_confirm("stacked"),
        description="a second statement after ';'",
    ),
    Rule(
        id="sqli.comment",
        family="sqli",
        pattern=_QUOTE + _GAP + r"(?:--|#|/\*|;)|" + _QUOTE + r"[^\x00]*(?:--|#|/\*)",
        score=5,
        confirm=_confirm("comment"),
        description="a string closed and the rest of the query commented out",
    ),
    Rule(
        id="sqli.operator",
        family="sqli",
        # After a quote any operator; after a number or ")" one followed by
        # a call or a subquery (``_compared``, ``_computed``).
        pattern=(
            _QUOTE
            + _GAP
            + _OPERATORS
            + "|"
            + _UNQUOTED
            + _OPERATORS
            + _GAP
            + r"[a-z_(]"
        ),
        score=5,
        confirm=_confirm("operator"),
        description="a literal closed, then an operator with a function or literal",
    ),
    Rule(
        id="sqli.clause",
        family="sqli",
        pattern=(
            r"(?:" + _BREAKOUT + "|" + _START + r")"
            r"(?:order|group|limit|procedure|into|as)\b"
            r"|\binto\b[^\x00]*(?:outfile|dumpfile)\b"
        ),
        score=5,
        confirm=_confirm("clause"),
        description="a literal closed, then ORDER BY, LIMIT, INTO OUTFILE ...",
    ),
    Rule(
        id="sqli.statement",
        family="sqli",
        pattern=(
            r"(?:"
            + _QUOTE
            + _GAP
            + "|"
            + _START
            + ")"
            + _words_re(_STATEMENT_WORDS, boundary=False)
            + r"|\bwaitfor\b|\("
            + _GAP
            + r"select\b|\bvalues"
            + _GAP
            + r"\("
        ),
        score=5,
        confirm=_confirm("statement"),
        description="a complete SQL statement with SQL-only evidence",
    ),
    Rule(
        id="sqli.function",
        family="sqli",
        pattern=_START
        + _words_re(SQL_FUNCTIONS, boundary=False)
        + "|"
        + _words_re(ATTACK_FUNCTIONS)
        + "|"
        + _START
        + r"if"
        + _GAP
        + r"\(|\d\.e[(.]",
        score=5,
        confirm=_confirm("function"),
        description="a value that is a call of a time, file or error function",
    ),
    Rule(
        id="sqli.schema",
        family="sqli",
        pattern=r"\b(?:" + _SCHEMAS + r")\b",
        score=5,
        description="a database's system schema or catalog table",
    ),
    Rule(
        id="sqli.routine",
        family="sqli",
        pattern=r"\b(?:" + _ROUTINES + r")\b",
        score=5,
        description="an MSSQL or Oracle routine for shell, file or network access",
    ),
    Rule(
        id="sqli.comment_space",
        family="sqli",
        pattern=(
            r"\b(?:" + _COMMENT_KEYWORDS + ")" + _INLINE_COMMENT + r"[\w@(*'\"`]"
            r"|[\w)'\"`]" + _INLINE_COMMENT + "(?:" + _COMMENT_KEYWORDS + r")\b"
        ),
        score=5,
        description="a SQL keyword with a block comment as the space after it",
    ),
    Rule(
        id="sqli.cast",
        family="sqli",
        pattern=r"::\s*(?:" + _CAST_TYPES + r")\b",
        score=5,
        description="a PostgreSQL cast (::int, ::jsonb), an error-based probe",
    ),
)

# The fragments a route at paranoia 2 to 4 also reports (``sql_eager``).
register_rules(*RULES, *sql_eager.RULES)
