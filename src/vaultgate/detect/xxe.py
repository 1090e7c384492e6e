"""XML external entities and XML inclusion, in any value.

How this works: the XML extractor already reports a DOCTYPE in an XML body
(``xxe.doctype``).  These rules look for the pieces of an XXE attack
wherever they travel, in a JSON string, a form field or a raw body:
external entity declarations (``SYSTEM``/``PUBLIC``), parameter entities,
XInclude and schema includes that make a parser fetch a URL, and a UTF-7
XML declaration that hides all of it from byte-level filters.

A parsed XML body reaches the value rules as text and attribute values
only; the markup that makes a parser fetch (``<xi:include>``, an
``xmlns:xi`` or ``xsi:schemaLocation`` attribute) is not among them, so
``check_xml_body`` reads the buffered body itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from vaultgate.core.model import Finding
from vaultgate.core.request import Request
from vaultgate.detect.base import Rule, register_rules
from vaultgate.detect.engine import register_request_check

_SCORE = 5
RULES = (
    Rule(
        "xxe.external_entity",
        "xxe",
        r"<!entity\s+(?:%\s*)?[\w.:-]+\s+(?:system|public)\b",
        _SCORE,
        description="an external entity declaration (SYSTEM or PUBLIC)",
    ),
    Rule(
        "xxe.parameter_entity",
        "xxe",
        r"<!entity\s+%|%[\w.:-]+;\s*\]",
        _SCORE,
        description="a parameter entity, the out-of-band XXE building block",
    ),
    Rule(
        "xxe.external_doctype",
        "xxe",
        r"<!doctype\s+[\w.:-]+\s+(?:system|public)\b|<!doctype\s+[\w.:-]+\s*\[",
        _SCORE,
        description="a DOCTYPE with an external or internal subset",
    ),
    Rule(
        "xxe.entity_declaration",
        "xxe",
        r"<!(?:entity|element|attlist)\s",
        4,
        paranoia=2,
        description="any DTD declaration inside a value",
    ),
    Rule(
        "xxe.xinclude",
        "xxe",
        r"<(?:[\w-]+:)?include\b[^>]*\b(?:href|namespace|schemalocation)\s*="
        r"|\bxmlns:[\w-]+\s*=\s*[\"']https?://www\.w3\.org/2001/xinclude"
        r"|<(?:[\w-]+:)?import\b[^>]*\bschemalocation\s*=\s*[\"']\s*(?:https?|ftp|file):",
        _SCORE,
        description="XInclude or a schema include/import of a remote document",
    ),
    Rule(
        "xxe.schema_location",
        "xxe",
        r"\b(?:xsi:)?(?:nonamespace)?schemalocation\s*=\s*[\"']\s*(?:[^\"'\s]+\s+)?"
        r"(?:https?|ftp|file)://",
        _SCORE,
        description="an xsi:schemaLocation a validating parser would fetch",
    ),
    Rule(
        "xxe.utf7",
        "xxe",
        r"<\?xml[^>]*encoding\s*=\s*[\"']?utf-7",
        _SCORE,
        description="an XML declaration in UTF-7, which hides markup",
    ),
)

register_rules(*RULES)


# The rules that look at markup, which a parsed body hides from the values.
_MARKUP_RULES = tuple(
    (rule, re.compile(rule.pattern, re.IGNORECASE))
    for rule in RULES
    if rule.id in ("xxe.xinclude", "xxe.schema_location", "xxe.utf7")
)
_XML_TYPES = ("application/xml", "text/xml")


def check_xml_body(request: Request, paranoia: int) -> Iterable[Finding]:
    """XInclude, remote schemas and UTF-7 in the markup of an XML body."""
    media = request.content_type
    if not request.body or not (media in _XML_TYPES or media.endswith("+xml")):
        return
    text = request.body.decode("latin-1")
    for rule, pattern in _MARKUP_RULES:
        match = pattern.search(text)
        if match:
            yield Finding("xxe", rule.id, rule.score, "body:xml", match.group(0)[:64])


register_request_check("xxe", check_xml_body)
