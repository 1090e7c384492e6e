"""XML external entities and XML inclusion, in any value.

How this works: the XML extractor already reports a DOCTYPE in an XML body
(``xxe.doctype``).  These rules look for the pieces of an XXE attack
wherever they travel, in a JSON string, a form field or a raw body:
external entity declarations (``SYSTEM``/``PUBLIC``), parameter entities,
XInclude and schema includes that make a parser fetch a URL, and a UTF-7
XML declaration that hides all of it from byte-level filters.
"""

from __future__ import annotations

from vaultgate.detect.base import Rule, register_rules

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
