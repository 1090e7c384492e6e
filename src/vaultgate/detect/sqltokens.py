"""A SQL tokenizer for judging injection, not for executing queries.

How this works: one compiled regex of alternatives is matched repeatedly
over lower-case text and every lexeme gets a one-character class (below).
The classes are what the injection check in ``sqli`` reasons about: "a
quote, then a logical operator, then a comparison" is a breakout, whatever
the dialect.  The lexer is deliberately forgiving (MySQL, PostgreSQL, MSSQL,
Oracle and SQLite spellings mixed) and never fails: an unknown character is
class ``x``.  Block comments are skipped like whitespace, except that the
body of a MySQL ``/*! ... */`` comment is lexed (MySQL executes it) and an
unterminated ``/*`` is a comment to the end, like ``--`` and ``#``.

Classes::

    n number          s string        q string left open at the end
    b identifier      v @variable     f function name (word before "(")
    o AND OR XOR || && (logical)      u NOT !
    = comparison (= <> != < > like in is between regexp ...)
    a arithmetic and bitwise (+ - * / % ^ | & ~ div mod)
    U UNION           S statement keyword (select, drop, exec ...)
    K other keyword   T TRUE FALSE NULL
    c comment         ( ) , ; .  punctuation      x anything else
"""

from __future__ import annotations

import re
from typing import NamedTuple

# A value longer than this is tokenized only up to it: an injection is in
# its first few kilobytes, and the cost of the lexer is linear.
MAX_TOKENIZED_CHARS = 16 * 1024
# At most this many tokens per value (a 16 KiB value of punctuation would
# otherwise give 16,384).
MAX_TOKENS = 2048


class Token(NamedTuple):
    kind: str
    text: str


_LEXEME = re.compile(
    r"""
    (?P<ws>[\ \t\n\r\x0b\x0c]+|/\*(?!!).*?\*/)
   |(?P<mc>/\*!\d*|\*/)
   |(?P<c>--[^\n]*|\#[^\n]*|/\*.*)
   |(?P<s>'(?:[^']|'')*'|"(?:[^"]|"")*")
   |(?P<bq>`[^`]*`)
   |(?P<q>['"].*)
   |(?P<n>0x[0-9a-f]+(?![\w$])|0b[01]+(?![\w$])
        |(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?(?![\w$]))
   |(?P<w>[^\W\d][\w$]*(?:\.\.?[\w$*]+)*|\d[\w$]*|\$[\w$]+)
   |(?P<v>@@?[\w$.]*)
   |(?P<op><=>|<>|!=|>=|<=|==|\|\||&&|<<|>>|::|[-+*/%^|&~=<>!])
   |(?P<p>[(),;.])
   |(?P<x>.)
    """,
    re.S | re.X,
)
_CALL = re.compile(r"\s*(?:/\*.*?\*/\s*)*\(", re.S | re.A)

_LOGICAL = frozenset({"or", "and", "xor", "||", "&&"})
_NOT = frozenset({"not", "!"})
_COMPARE_WORDS = frozenset(
    {"like", "rlike", "ilike", "regexp", "similar", "is", "in", "between"}
    | {"sounds", "glob", "match", "escape"}
)
_COMPARE_OPS = frozenset({"=", "==", "<>", "!=", "<", ">", "<=", ">=", "<=>"})
_ARITH_WORDS = frozenset({"div", "mod"})
_TRUTH = frozenset({"true", "false", "null", "unknown"})
STATEMENTS = frozenset(
    {"select", "insert", "update", "delete", "drop", "create", "alter"}
    | {"truncate", "exec", "execute", "declare", "shutdown", "waitfor"}
    | {"grant", "revoke", "merge", "call", "load", "handler", "show"}
    | {"rename", "set", "use", "begin", "commit", "rollback", "kill"}
    | {"replace", "copy", "pragma", "attach", "do", "prepare", "deallocate"}
)
KEYWORDS = frozenset(
    {"from", "where", "having", "group", "order", "by", "limit", "offset"}
    | {"into", "values", "table", "as", "all", "distinct", "case", "when"}
    | {"then", "else", "end", "procedure", "outfile", "dumpfile", "database"}
    | {"schema", "view", "function", "trigger", "index", "user", "delay"}
    | {"time", "with", "nowait", "join", "on", "asc", "desc", "top", "exists"}
    | {"data", "infile", "analyse", "analyze", "fetch", "next", "rows", "only"}
    | {"cast", "convert", "char", "nchar", "varchar", "collate", "binary"}
)
_UNION = frozenset({"union", "intersect", "except", "minus"})
# Keywords MySQL reads before a "." glued to them ("select.1").
_DOTTED_HEADS = frozenset({"select", "union", "from", "where", "and", "or"})
# Keywords that may be called like functions: "exists(", "char(", "if(".
_CALLABLE_KEYWORDS = frozenset(
    {"exists", "cast", "convert", "char", "nchar", "database", "schema", "user"}
)


def tokenize(text: str) -> list[Token]:
    """The tokens of lower-case ``text`` (see the module docstring)."""
    text = text[:MAX_TOKENIZED_CHARS]
    tokens: list[Token] = []
    pos, end = 0, len(text)
    match = _LEXEME.match
    while pos < end and len(tokens) < MAX_TOKENS:
        m = match(text, pos)
        assert m is not None  # the last alternative matches any character
        pos = m.end()
        group = m.lastgroup
        if group == "ws" or group == "mc":
            continue
        lexeme = m.group()
        if group == "w" and "." in lexeme:
            lexeme, pos = _split_dotted(lexeme, pos)
        tokens.append(_classify(group, lexeme, text, pos))
    return tokens


def _split_dotted(word: str, end: int) -> tuple[str, int]:
    """MySQL reads ``select.1`` and ``union.select`` as a keyword, then the
    rest: keep a leading keyword apart and lex what follows its dot again."""
    head, _, tail = word.partition(".")
    glued = tail[:1].isdigit() or tail.partition(".")[0] in _DOTTED_HEADS
    if head in _DOTTED_HEADS and glued:
        return head, end - len(tail) - 1
    return word, end


def _classify(group: str | None, lexeme: str, text: str, pos: int) -> Token:
    if group == "w":
        return Token(_word_kind(lexeme, text, pos), lexeme)
    if group == "op":
        return Token(_op_kind(lexeme), lexeme)
    if group == "p":
        return Token(lexeme, lexeme)
    if group == "bq":
        return Token("b", lexeme)
    return Token(_GROUP_KIND[group or "x"], lexeme)


_GROUP_KIND = {"c": "c", "s": "s", "q": "q", "n": "n", "v": "v", "x": "x"}


def _word_kind(word: str, text: str, pos: int) -> str:
    if word in _LOGICAL:
        return "o"
    if word in _NOT:
        return "u"
    if word in _COMPARE_WORDS:
        return "="
    if word in _ARITH_WORDS:
        return "a"
    if word in _TRUTH:
        return "T"
    if word in _UNION:
        return "U"
    calls = _CALL.match(text, pos) is not None
    if word in STATEMENTS:
        return "S"
    if word in KEYWORDS:
        return "f" if calls and word in _CALLABLE_KEYWORDS else "K"
    return "f" if calls else "b"


def _op_kind(op: str) -> str:
    if op in _LOGICAL:
        return "o"
    if op == "!":
        return "u"
    if op in _COMPARE_OPS:
        return "="
    if op == "::":
        return "x"
    return "a"
