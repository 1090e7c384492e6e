"""NoSQL (MongoDB-style) injection: query operators where data belongs.

How this works: a MongoDB query is a document, and a server that passes a
JSON body or ``user[$ne]=x`` parameters into it lets the client write
operators: ``{"password": {"$ne": null}}`` matches every user, ``$where``
runs JavaScript.  Operator *keys* are the signal; JSON Schema's ``$ref``,
``$id`` and ``$schema`` are not operators and pass, and so does "$100" in
a value.  Operators and server-side JavaScript spelled inside a string
value are caught too, and so is an operator in brackets (``[$ne]``) in
any value: one that holds it is headed for a query string or a form name.
"""

from __future__ import annotations

from vaultgate.detect.base import Rule, register_rules

_OPERATORS = (
    r"ne|eq|gt|gte|lt|lte|in|nin|regex|where|exists|expr|or|and|nor|not|all"
    r"|elemmatch|size|type|mod|text|function|accumulator|jsonschema|lookup"
    r"|options|comment|where"
)
# Operators that are no English word or template placeholder: in a value,
# "[$ne]" is a parameter name on its way into a query ("u_id[$ne]" in an
# XML field, "[$lte]" glued to a value), "[$text]" and "[$type]" may be a
# template's slot.
_BRACKETED = r"ne|eq|gt|gte|lt|lte|in|nin|regex|where|exists|expr|or|and|nor|not"
_NAME_KINDS = frozenset({"json-key", "query-name", "form-name", "cookie-name"})
_SCORE = 5
RULES = (
    Rule(
        "nosql.operator_key",
        "nosql",
        r"(?:^|\[)\s*\$(?:" + _OPERATORS + r")\s*(?:\]|$)",
        _SCORE,
        kinds=_NAME_KINDS,
        description="a query operator as a JSON key or a name like user[$ne]",
    ),
    Rule(
        "nosql.operator_in_value",
        "nosql",
        r"[{,\[(]\s*['\"]?\$(?:" + _OPERATORS + r")['\"]?\s*:"
        r"|^\s*['\"]?\$(?:where|ne|gt|regex|or|nin|expr|function)['\"]?\s*:"
        r"|['\"]\s*,\s*\$(?:" + _OPERATORS + r")\s*:"
        r"|\[\s*\$(?:" + _BRACKETED + r"|elemmatch|jsonschema)\s*\]",
        _SCORE,
        description="a query operator written inside a string value",
    ),
    Rule(
        "nosql.javascript",
        "nosql",
        r"\bdb\.[\w$]+\.(?:insert|find|findone|update|remove|drop|aggregate|count"
        r"|delete\w*|save|mapreduce)\s*\(|\bdb\.(?:getcollection|eval|runcommand"
        r"|dropdatabase|getsiblingdb|collection)\s*\(|\bdo\s*\{[^}]*\}\s*while\s*\("
        r"|\bthis\.\w+\s*(?:==|!=|\.match\s*\()|\bsleep\s*\(\s*\d{3,}\s*\)",
        _SCORE,
        description="server-side JavaScript aimed at the database",
    ),
)

register_rules(*RULES)
