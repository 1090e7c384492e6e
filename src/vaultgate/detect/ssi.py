"""Server-side includes and edge-side includes.

How this works: an SSI directive is an HTML comment that starts with
``#`` and a directive name (``<!--#exec cmd="id" -->``); an ESI tag is
``<esi:include src=...>``.  Neither shape occurs in prose, so the pattern
alone decides.
"""

from __future__ import annotations

from vaultgate.detect.base import Rule, register_rules

RULES = (
    Rule(
        "ssi.directive",
        "ssi",
        r"<!--\s*#\s*(?:exec|include|echo|config|set|printenv|fsize|flastmod|if"
        r"|elif|else|endif)\b",
        5,
        description="a server-side include directive",
    ),
    Rule(
        "ssi.esi",
        "ssi",
        r"<esi:(?:include|vars|inline|eval|choose|debug|assign)\b",
        5,
        description="an edge-side include tag",
    ),
)

register_rules(*RULES)
