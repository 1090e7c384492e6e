"""LDAP injection: input that closes a search filter and opens another.

How this works: an LDAP filter is a parenthesised prefix expression such as
``(&(uid=alice)(objectClass=person))``.  Injected input closes the
current item and adds its own: ``*)(uid=*))(|(uid=*``.  The telltale is a
closing parenthesis followed by an opening one that starts a filter item
(an attribute comparison or an ``& | !`` operator), or an operator right
after an opening parenthesis.  Prose has "(see note)(2)", not ")(uid=".
"""

from __future__ import annotations

from vaultgate.detect.base import Rule, register_rules

_ATTR = r"[a-z][\w.;-]*\s*(?::[\w.:]*)?\s*[~<>]?="
_SCORE = 5
RULES = (
    Rule(
        "ldap.filter_breakout",
        "ldap",
        r"\)\s*!?\s*\(\s*(?:[|&!]|" + _ATTR + r")|\)\s*[|&]\s*\(\s*" + _ATTR,
        _SCORE,
        description="a closed filter item followed by a new one: )(uid=*",
    ),
    Rule(
        "ldap.filter_operator",
        "ldap",
        r"\(\s*[|&!]\s*\(\s*(?:[|&!(]|" + _ATTR + r")|\(\s*[|&]\s*\)",
        _SCORE,
        description="a filter operator over items: (|(uid=*) or (&)",
    ),
    Rule(
        "ldap.wildcard_item",
        "ldap",
        r"\(\s*(?:objectclass|uid|cn|sn|mail|userpassword|samaccountname|memberof"
        r"|givenname|ou|dc)\s*=\s*\*\s*\)",
        _SCORE,
        description="a match-everything item such as (objectClass=*)",
    ),
    Rule(
        "ldap.extensible_match",
        "ldap",
        r"\b[a-z][\w-]*:(?:dn:)?\d+(?:\.\d+){2,}:=",
        _SCORE,
        description="an extensible-match rule such as userPassword:2.5.13.18:=",
    ),
)

register_rules(*RULES)
