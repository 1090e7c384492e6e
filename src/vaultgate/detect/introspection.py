"""GraphQL schema introspection: a client asking for the map of the whole API.

How this works: introspection asks for the ``__schema`` field, or for one
type by name with ``__type(name: ...)``.  Ordinary clients ask only for
``__typename`` (Apollo adds it to every selection), which passes.  A query
that parses as GraphQL is checked field by field while its arguments are
extracted (``extract._graphql_text``; the finding carries this rule's id);
this rule reads the text of one that did not parse as GraphQL: a JSON
document in ``?query=``, a form field, a value encoded twice.

Production APIs keep introspection off (OWASP API8, security
misconfiguration): it is reconnaissance, the first request of a GraphQL
attack.  A route whose clients need it says so with
``graphql: {introspection: true}``, which also silences this rule there,
or excludes the rule: ``exclude: [{rule: graphql.introspection}]``.
"""

from __future__ import annotations

from vaultgate.detect.base import Rule, register_rules

# The fields that only introspection asks for.
INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})

RULES = (
    Rule(
        "graphql.introspection",
        "graphql",
        r"\b__(?:schema\s*\{|type\s*\(\s*name\s*:)",
        5,
        description="a GraphQL introspection query (__schema, __type(name:))",
    ),
)

register_rules(*RULES)
