"""SQL injection fragments for routes at paranoia 2 to 4.

How this works.  The paranoia-1 rules in ``sqli`` fire only when a value
breaks out of a literal into SQL that does something.  A route whose
policy raises ``inspection: {paranoia: N}`` asks for more: a value that is
a *piece* of SQL (a function call, an operator standing alone, a CASE
switch, a clause keyword pair) is reported too, at a known cost in false
positives on unusual but honest values ("<=" sent by a filter builder, an
"order by name" sort field).  Each rule still rejects prose: the SQL piece
must stand where SQL would (at the value's start, after punctuation, a
quote or a SQL word, never after an ordinary word), and no two operands
may follow each other in it ("Date (of birth)", "time (3 hours)").

Levels.  Paranoia 2: a call of a SQL function (perhaps with operator
characters before its "("), an operator or IN-list standing alone, CASE
WHEN ... THEN, a literal compared with itself after a comma, a statement
on an @variable, a condition closing the query's group, LIKE ending in a
quote, a keyword cut by a comment.  Paranoia 3: a call with any
punctuation before its "(", a leading quote followed by numbers and
operators or by a statement keyword or AND/OR, a clause keyword pair, a
number and a trailing AND/OR.  Paranoia 4: a run of mixed punctuation.

Prefilter guarantee: each confirm check only inspects what its rule's
pattern found (the patterns name the function, keyword or quote the check
starts from), so the pattern says "maybe" wherever the check says "yes".
"""

from __future__ import annotations

import re
from itertools import islice

from vaultgate.detect.base import Rule
from vaultgate.detect.sqltokens import KEYWORDS, STATEMENTS, Token, tokenize

# SQL functions whose names are not ordinary words in English, Spanish,
# German or French: a string, math, date, crypto or information function
# of MySQL, PostgreSQL, MSSQL, Oracle or SQLite.
SQL_ONLY_FUNCTIONS = frozenset(
    {"unhex", "md5", "sha1", "sha2", "crc32", "concat", "concat_ws", "substring"}
    | {"substr", "ascii", "ord", "pow", "sqrt", "cos", "acos", "asin", "atan"}
    | {"atan2", "cot", "ln", "log2", "log10", "ceil", "ceiling", "lcase"}
    | {"ucase", "ltrim", "rtrim", "strcmp", "instr", "lpad", "rpad", "conv"}
    | {"ifnull", "nullif", "isnull", "coalesce", "curdate"}
    | {"curtime", "sysdate", "date_add", "date_sub", "datediff", "dayofweek"}
    | {"from_unixtime", "unix_timestamp", "aes_encrypt", "aes_decrypt"}
    | {"des_encrypt", "to_base64", "from_base64", "uncompress", "elt"}
    | {"make_set", "export_set", "char_length", "octet_length", "bit_length"}
    | {"lengthb", "datalength", "charindex", "patindex", "nchar"}
    | {"quotename", "db_name", "user_name", "suser_name", "host_name"}
    | {"object_id", "object_name", "col_name", "current_database"}
    | {"current_schema", "current_user", "session_user", "system_user"}
    | {"pg_backend_pid", "inet_server_addr", "chr", "to_char", "to_number"}
    | {"rawtohex", "hextoraw", "nvl", "nvl2", "sqlite_version", "randomblob"}
    | {"zeroblob", "typeof", "iif", "group_concat", "string_agg", "sha"}
    | {"json_extract", "json_keys", "find_in_set", "substring_index"}
    | {"sleep", "benchmark", "pg_sleep", "soundex"}
)
# SQL functions that are also words or names ("Date (of birth)", "Round
# (2)", "sin (IVA)" in Spanish, "Rand (ZAR)", "Len (Leonard)"): their
# arguments must hold a literal or a call, not words alone.
WORD_FUNCTIONS = frozenset(
    {"date", "time", "year", "month", "day", "hour", "minute", "second"}
    | {"week", "quarter", "left", "right", "count", "max", "min", "sum", "avg"}
    | {"round", "floor", "power", "position", "format", "insert", "replace"}
    | {"repeat", "reverse", "space", "field", "default", "values", "user"}
    | {"version", "password", "length", "trim", "lower", "upper", "sign"}
    | {"sin", "char", "cast", "convert", "if", "log", "database", "schema"}
    | {"compress", "encode", "decode", "encrypt", "truncate", "local", "mid"}
    | {"extract", "mod", "div", "collation", "charset", "rand", "abs", "len"}
    | {"bin", "oct", "now", "least", "greatest", "tan", "hex", "pi", "exp"}
    | {"locate", "glob"}
)
FUNCTIONS = SQL_ONLY_FUNCTIONS | WORD_FUNCTIONS

# Words after which SQL goes on ("and hex(", "select md5("); any other word
# before a call makes it part of a sentence ("Payment for time (3 hours)").
_SQL_LEADS = frozenset(
    {"and", "or", "xor", "not", "select", "where", "having", "by", "when"}
    | {"then", "else", "union", "all", "like", "rlike", "regexp", "between"}
    | {"div", "mod", "return", "distinct", "exists"}
)
# Characters after which SQL may go on: a quote closed, an operator, a
# group opened, an argument separator.  "." and ":" end sentences.
_SQL_LEAD_CHARS = frozenset("'\"`(,=<>|&+-*/%^~;@!")
_OPERAND = frozenset("nsqbTv")
# Words SQL writes between two operands ("convert(x using utf8)",
# "interval 3 hour"); they do not make a phrase prose.
_JOINING_WORDS = frozenset({"using", "interval", "as", "escape", "separator"})
_SQL_WORDS = KEYWORDS | STATEMENTS | _SQL_LEADS | _JOINING_WORDS
# Tokens of a call's arguments and its tail that the prose test reads.
_MAX_CALL_TOKENS = 24
# A value up to this long that starts with a quote may be a fragment;
# a longer one is a message that happens to open with a quotation.
MAX_FRAGMENT = 64


def _prose(tokens: list[Token]) -> bool:
    """Two ordinary words or a number and a word in a row, perhaps with a
    ")" between ("date(s) please"): a phrase."""
    kinds = [
        "K" if t.kind == "b" and t.text in _SQL_WORDS else t.kind
        for t in tokens
        if t.kind != ")"
    ]
    return any(
        a in _OPERAND and b in _OPERAND for a, b in zip(kinds, kinds[1:], strict=False)
    )


def _sql_position(text: str, start: int) -> bool:
    """Whether SQL could go on at ``start``: the value's start, after an
    operator or a quote, or after a SQL word; not after an ordinary word."""
    before = text[max(0, start - _LOOKBACK) : start].rstrip()
    if not before:
        return not text[:start].strip()
    if before[-1] in _SQL_LEAD_CHARS:
        return True
    word = _LAST_WORD.search(before)
    return word is not None and word.group().lower() in _SQL_LEADS


_LAST_WORD = re.compile(r"[a-z_]+$", re.I)
# Characters before a candidate the position test reads: the word or
# character that precedes it, past a little whitespace.
_LOOKBACK = 32
# Candidates a check examines in one value, and the characters it lexes
# after each: a value of 16 KiB with a thousand "date (" costs a few
# hundred microseconds, not a lexer run over the whole value per
# candidate.  Past them a padded value goes unreported (paranoia 2 and
# up only; paranoia 1 is not bounded so).
MAX_CANDIDATES = 32
_MAX_LEXED = 256
# What Hyperscan's "\s" matches; a value's edges are trimmed of it alone.
_SPACE = " \t\n\r\x0b\x0c"


# -- function calls --------------------------------------------------------------

_NAMES = "|".join(sorted(FUNCTIONS, key=len, reverse=True))
# Between the name and "(": spaces, block comments, and the backslash an
# escaping layer leaves ("md5\(").  The glued form also takes a few
# operator characters ("length||(", "version=(", "if !("), an expression
# rather than a label; the loose form any punctuation ("day. (", "Max:
# (5)" is a label too, hence paranoia 3).
_TIGHT_GAP = r"(?:[\s\\]|/\*[^\x00]*?\*/)*"
_GLUED_GAP = r"[=|&!\\\]<>?/$'\"]{1,3}\s*"
_LOOSE_GAP = r"[^\w\s\x00]{1,3}\s*"
# The checks find any identifier before the gap and "(" and look its name
# up: Python's regex engine tries an alternation of 200 names at every
# position (11 ms over 16 KiB), an identifier only at word starts.  ASCII
# classes, as Hyperscan's, and comments of at most 64 characters: the
# check never says "yes" where the rule's pattern said "no".
_IDENTIFIER = r"\b([a-z_][a-z0-9_]*)"
_SHORT_GAP = r"(?:[\s\\]|/\*[^\x00]{0,64}?\*/)*"
_CALL_TIGHT = re.compile(_IDENTIFIER + _SHORT_GAP + r"\(", re.I | re.A)
_CALL_GLUED = re.compile(_IDENTIFIER + r"\s*" + _GLUED_GAP + r"\(", re.I | re.A)
_CALL_LOOSE = re.compile(_IDENTIFIER + r"\s*" + _LOOSE_GAP + r"\(", re.I | re.A)


def _sql_call(text: str, calls: re.Pattern[str]) -> bool:
    """A call of a SQL function where SQL could stand, with SQL arguments."""
    named = (m for m in calls.finditer(text) if m.group(1).lower() in FUNCTIONS)
    return any(
        _sql_position(text, m.start()) and _sql_arguments(m.group(1), text[m.end() :])
        for m in islice(named, MAX_CANDIDATES)
    )


def _sql_arguments(name: str, rest: str) -> bool:
    """The call's arguments and what follows hold no phrase; a function
    named by a word needs more than one word as its argument."""
    tokens = tokenize(rest[:_MAX_LEXED].lower())[:_MAX_CALL_TOKENS]
    if _prose(tokens):
        return False
    if name.lower() in SQL_ONLY_FUNCTIONS:
        return True
    closing = next((i for i, t in enumerate(tokens) if t.kind == ")"), len(tokens))
    arguments = tokens[:closing]
    return not arguments or any(
        t.kind in _STRONG_ARGUMENTS or t.text == "*" for t in arguments
    )


# Argument tokens no phrase in parentheses has: a literal, a variable, a
# call, a subquery, a list ("DD/MM/YYYY" is a format, not a division).
_STRONG_ARGUMENTS = frozenset("nsqvf,(S")


def sql_call(text: str) -> bool:
    """``hex(``, ``round(1.5)``, ``'||md5(1)``: a SQL function called."""
    return _sql_call(text, _CALL_TIGHT)


def sql_call_glued(text: str) -> bool:
    """``length||(``, ``version=(``: a call after an operator character."""
    return _sql_call(text, _CALL_GLUED)


def sql_call_loose(text: str) -> bool:
    """``date]=(``, ``length||(``: a call with punctuation before "("."""
    return _sql_call(text, _CALL_LOOSE)


# -- CASE WHEN -------------------------------------------------------------------


def case_when(tokens: list[Token], i: int) -> bool:
    """``WHEN <condition> THEN`` at ``tokens[i]`` with a condition SQL could
    test: a comparison or a literal, no phrase ("when you arrive then")."""
    if i >= len(tokens) or tokens[i].text != "when":
        return False
    end = i + 1
    while end < len(tokens) and tokens[end].text != "then":
        end += 1
    condition = tokens[i + 1 : end]
    if end == len(tokens) or not condition or len(condition) > _MAX_CONDITION:
        return False
    kinds = [t.kind for t in condition]
    tested = "=" in kinds or kinds in (["n"], ["T"], ["(", "n", ")"])
    return tested and not _prose(condition)


# Tokens in a CASE condition the check reads; "(1=1)" or "(select ...)=1"
# are short, a sentence between "when" and "then" is long.
_MAX_CONDITION = 24


def case_switch(text: str) -> bool:
    """``case when condition1 then``, ``) when 234 then``: a CASE switch
    where SQL could stand; "in case when you arrive then" is a sentence."""
    low = text.lower()
    for match in islice(_CASE.finditer(low), MAX_CANDIDATES):
        if match.group(1) == ")":
            if "(" in low[: match.start()]:
                continue  # "(see above) when ready then go": its own group
        elif not _sql_position(low, match.start()):
            continue
        tokens = tokenize(low[match.end() : match.end() + _MAX_LEXED])
        if case_when(tokens, 0) or _named_condition(tokens):
            return True
    return False


_CASE = re.compile(r"(\bcase\b|\))\s*(?=when\b)", re.A)


def _named_condition(tokens: list[Token]) -> bool:
    """``when condition1 then``: one column or literal as the condition."""
    return (
        len(tokens) >= 3
        and tokens[0].text == "when"
        and tokens[1].kind in _OPERAND
        and tokens[2].text == "then"
    )


# -- a quote, then SQL ---------------------------------------------------------------


def quote_then_literals(text: str) -> bool:
    """``' , 10``, ``'', '', 13``, ```>65``, ``"2562*23``: a quote opens the
    value and only literals, commas and operators follow, with a number."""
    stripped = text.strip(_SPACE)
    if len(stripped) > MAX_FRAGMENT or stripped[:1] not in _QUOTES:
        return False
    tokens = tokenize(stripped.lower())
    if tokens and tokens[0].kind in ("q", "x"):
        tokens = tokenize(stripped[1:].lower())  # the quote left open
    # ":" joins the numbers of a time ("'0:0:6", WAITFOR's delay); after
    # a string it is JSON ('"size":512').
    kinds = {
        "," if t.text == ":" and before.kind == "n" else t.kind
        for before, t in zip([Token("", ""), *tokens], tokens, strict=False)
    }
    first = tokens[0].kind if tokens else ""
    return (
        kinds <= _LITERAL_KINDS
        and "n" in kinds
        and bool(kinds & _JOINERS)
        and first in _LITERAL_STARTS
    )


_QUOTES = frozenset("'\"`")
_LITERAL_KINDS = frozenset("nsq,=a()o;c")
_JOINERS = frozenset(",=a")
_LITERAL_STARTS = frozenset("n,=as")


def quote_then_keyword(text: str) -> bool:
    """``'alter a``, ``" UNION A``, ``' or xyz-``: a quote left open at the
    value's start, then a statement, UNION or a logical operator; "'Select
    all' is a button" closes its quotation."""
    stripped = text.strip(_SPACE)
    mark = stripped[:1]
    if mark not in _QUOTES or mark in stripped[1:] or len(stripped) > MAX_FRAGMENT:
        return False
    tokens = tokenize(stripped[1:].lower())
    opener = tokens[0] if tokens else None
    if opener is None or not (opener.kind == "o" or opener.text in _QUOTED_STATEMENTS):
        return False
    return not _prose(tokens[1:])


# Words that open an attack after a quote; "'Use this" and "'Do it" are
# typos in a sentence, and SQL's other statements rarely follow a quote.
_QUOTED_STATEMENTS = frozenset(
    {"select", "insert", "update", "delete", "drop", "create", "alter"}
    | {"truncate", "exec", "execute", "declare", "shutdown", "waitfor"}
    | {"grant", "revoke", "union", "or", "and", "xor"}
)


# -- clause keywords -----------------------------------------------------------------


def clause_pair(text: str) -> bool:
    """``ORder by``, ``FROM t GROUP BY x``, ``insert into``: a value that
    opens with two clause keywords and holds no phrase."""
    low = text.strip(_SPACE).lower()
    if len(low) > MAX_FRAGMENT * 2:
        return False
    match = _PAIR.match(low)
    return match is not None and not _prose(tokenize(low[match.end() :]))


_PAIR = re.compile(
    r"[\s('\"`\d]*(?:order\s+by|group\s+by"
    r"|union\s+(?:all|select|distinct)|drop\s+table|having\s+count"
    r"|select\s+[\w*@`.,\s]{1,40}?\s+from|from\s+[\w`.\s]{1,40}?\s+"
    r"(?:where|limit|group|order|having))\b",
    re.A,
)


# -- conditions and variables ---------------------------------------------------


def equal_literals(text: str) -> bool:
    """``b,1=1``, ``'admin', '1'='1'``: after a separator, a literal
    compared with itself and nothing glued after it; "1,1=2" is no
    tautology, "x,1=1st" goes on as a word."""
    for match in islice(_EQUAL_LITERALS.finditer(text), MAX_CANDIDATES):
        left, right = match.group(1), match.group(2)
        end = match.end()
        glued = end < len(text) and (text[end].isalnum() or text[end] == "_")
        if left.strip("'") == right.strip("'") and not glued:
            return True
    return False


_LITERAL_RE = r"(?:\d+|'[^'\x00]{0,16}')"
_EQUAL_LITERALS_SQL = (
    r"[,(]\s*(" + _LITERAL_RE + r")\s*(?:=|==|<=>)\s*(" + _LITERAL_RE + ")"
)
_EQUAL_LITERALS = re.compile(_EQUAL_LITERALS_SQL, re.A)


def sql_variable(text: str) -> bool:
    """``SET @OLD_SQL_NOTES``, ``select @x``: a statement on a variable
    where SQL could stand; "please set @john as admin" is a sentence."""
    candidates = islice(_VARIABLE.finditer(text), MAX_CANDIDATES)
    return any(_sql_position(text, m.start()) for m in candidates)


_VARIABLE_SQL = r"\b(?:set|declare|select|print)\s+@@?[a-z_]"
_VARIABLE = re.compile(_VARIABLE_SQL, re.I | re.A)


def split_keyword(text: str) -> bool:
    """``DR/**/OP``, ``UN/**/ION``: a keyword cut by a comment, which a
    filter that deletes comments joins again ("src/**/foo" joins no
    keyword)."""
    low = text.lower()
    for match in islice(_SPLIT.finditer(low), MAX_CANDIDATES):
        head = _HEAD.search(low, max(0, match.start() - _LONGEST), match.start())
        tail = _TAIL.match(low, match.end(), match.end() + _LONGEST)
        if head and tail and head.group() + tail.group() in _SPLIT_KEYWORDS:
            return True
    return False


# A comment between two word characters; the letters around it are read
# apart (one regex over both would backtrack over every run of letters).
_SPLIT = re.compile(r"(?<=[a-z_])/\*[^\x00]{0,64}?\*/(?=[a-z_])")
_HEAD = re.compile(r"[a-z_]+$")
_TAIL = re.compile(r"[a-z_]+")
_LONGEST = len("information_schema")
_SPLIT_KEYWORDS = _QUOTED_STATEMENTS - {"or", "and", "xor"} | {"from", "where"}
_SPLIT_KEYWORDS |= {"having", "sleep", "benchmark", "information_schema"}


# -- punctuation -------------------------------------------------------------------

# A run of SQL punctuation this long ("'));--", "!@#$%^&*()-=") is an
# injection probe or a fuzzer; shorter runs are emoticons and "?!".
PUNCTUATION_RUN = 6


def punctuation_run(text: str) -> bool:
    """A run of mixed punctuation holding a mark that ends a literal or a
    statement (a quote, ";", "#", "--"); one character repeated ("------",
    "!!!!!!") is decoration, "((...)))" is code."""
    return any(
        len(set(run)) >= _MIXED and (not _ENDS.isdisjoint(run) or "--" in run)
        for run in _RUN.findall(text)
    )


_PUNCTUATION = r"[!-/:-@\[-`{-~]{" + str(PUNCTUATION_RUN) + ",}"
_RUN = re.compile(_PUNCTUATION)
_MIXED = 3
_ENDS = frozenset("'`;#")  # not JSON's '"'

# What may follow an operator standing alone: one literal, then perhaps a
# comment that cuts the query off.
_OPERAND_SQL = (
    r"(?:\s*(?:null|true|false|-?\d+(?:\.\d+)?|'[^'\x00]*'?))?\s*(?:--|#)?\s*$"
)
# Operators no sentence is made of alone; "like" and "or" alone are
# reactions and search words.
_ALONE = (
    r"\|\||&&|<=>|!=|<>|>=|<=|==|<<|>>|->>?|rlike|regexp|xor|sounds\s+like"
    r"|not\s+(?:like|regexp)|is\s+(?:not\s+)?null|like\s+null"
)
_IN_LITERAL = r"(?:-?\d+|'[^'\x00]*')"
# What the lexer skips between a quote and a keyword.
_COMMENTS = r"(?:\s|/\*[^\x00]*?\*/|/\*!\d*|\*/)*"

RULES = (
    Rule(
        id="sqli.call",
        family="sqli",
        pattern=r"\b(?:" + _NAMES + r")" + _TIGHT_GAP + r"\(",
        score=5,
        paranoia=2,
        confirm=sql_call,
        description="a SQL function called where SQL could stand (hex(, now())",
    ),
    Rule(
        id="sqli.operator_alone",
        family="sqli",
        pattern=(
            r"^\s*['\"`)]?\s*(?:"
            + _ALONE
            + ")"
            + _OPERAND_SQL
            + r"|^\s*['\"`)]\s*(?:notnull|isnull)"
            + _OPERAND_SQL
            + r"|^\s*(?:not\s+)?in\s*\(\s*$"
            + r"|^\s*(?:not\s+)?in\s*\(\s*"
            + _IN_LITERAL
            + r"(?:\s*,\s*"
            + _IN_LITERAL
            + r")+\s*\)\s*$"
        ),
        score=5,
        paranoia=2,
        description="a value that is a SQL operator alone (<=>, IS NULL, IN (0,1))",
    ),
    Rule(
        id="sqli.case_when",
        family="sqli",
        pattern=r"(?:\bcase\b|\))\s*when\b[^\x00]*\bthen\b",
        score=5,
        paranoia=2,
        confirm=case_switch,
        description="CASE WHEN ... THEN where SQL could stand",
    ),
    Rule(
        id="sqli.equal_literals",
        family="sqli",
        pattern=_EQUAL_LITERALS_SQL,
        score=5,
        paranoia=2,
        confirm=equal_literals,
        description="a literal compared with itself after a comma (b,1=1)",
    ),
    Rule(
        id="sqli.variable",
        family="sqli",
        pattern=_VARIABLE_SQL,
        score=5,
        paranoia=2,
        confirm=sql_variable,
        description="SET, DECLARE or SELECT on an @variable",
    ),
    Rule(
        id="sqli.chained_group",
        family="sqli",
        # "AND deleted = 0)": a condition that closes the query's group.
        pattern=(
            r"^\s*(?:and|or|xor|&&|\|\|)\s+[a-z_][\w.]*\s*(?:=|<>|!=|<=|>=|<|>"
            r"|like\b)\s*" + _LITERAL_RE + r"\s*\)"
        ),
        score=5,
        paranoia=2,
        description="a value opening with AND/OR, a test of a column, and ')'",
    ),
    Rule(
        id="sqli.open_comparison",
        family="sqli",
        pattern=r"\b(?:like|rlike|regexp|glob)\s*['\"]\s*$",
        score=5,
        paranoia=2,
        description="LIKE or REGEXP and a quote ending the value (x LIKE ')",
    ),
    Rule(
        id="sqli.split_keyword",
        family="sqli",
        pattern=r"[a-z_]/\*[^\x00]*?\*/[a-z_]",
        score=5,
        paranoia=2,
        confirm=split_keyword,
        description="a SQL keyword cut in two by a comment (DR/**/OP)",
    ),
    Rule(
        id="sqli.open_logic",
        family="sqli",
        # "3 or ", "/3 and(": a number, then AND/OR that the query's own
        # condition completes.  Words before it are left out: search as
        # you type sends "rock and".
        pattern=r"^\s*/?\d+\s+(?:and|or|xor)\s*\(?\s*$",
        score=5,
        paranoia=3,
        description="a number, then AND/OR ending the value (3 or )",
    ),
    Rule(
        id="sqli.call_glued",
        family="sqli",
        pattern=r"\b(?:" + _NAMES + r")\s*" + _GLUED_GAP + r"\(",
        score=5,
        paranoia=2,
        confirm=sql_call_glued,
        description="a SQL function name, an operator, then '(' (length||()",
    ),
    Rule(
        id="sqli.call_loose",
        family="sqli",
        pattern=r"\b(?:" + _NAMES + r")\s*" + _LOOSE_GAP + r"\(",
        score=5,
        paranoia=3,
        confirm=sql_call_loose,
        description="a SQL function name, punctuation, then '(' (date]=()",
    ),
    Rule(
        id="sqli.quote_literals",
        family="sqli",
        pattern=r"^\s*['\"`]",
        score=5,
        paranoia=3,
        confirm=quote_then_literals,
        description="a quote opening the value, then only literals and operators",
    ),
    Rule(
        id="sqli.quote_keyword",
        family="sqli",
        pattern=r"^\s*['\"`]"
        + _COMMENTS
        + "(?:"
        + "|".join(sorted(_QUOTED_STATEMENTS))
        + r")\b"
        + r"|^\s*['\"`]"
        + _COMMENTS
        + r"(?:\|\||&&)",
        score=5,
        paranoia=3,
        confirm=quote_then_keyword,
        description="a quote left open, then a statement keyword or AND/OR",
    ),
    Rule(
        id="sqli.clause_pair",
        family="sqli",
        pattern=r"^[\s('\"`\d]*(?:order|group|union|drop|having|select|from)\b",
        score=5,
        paranoia=3,
        confirm=clause_pair,
        description="a value opening with a clause pair (order by, from t where)",
    ),
    Rule(
        id="sqli.punctuation_run",
        family="sqli",
        pattern=_PUNCTUATION,
        score=5,
        paranoia=4,
        confirm=punctuation_run,
        description="a long run of punctuation, a probe or fuzzer input",
    ),
)
