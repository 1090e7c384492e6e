"""The tags a value would create if a page echoed it, read as a browser would.

How this works: every ``<`` followed by an ASCII letter opens a tag (HTML
tokenizer, "tag open state"); ``</`` and a letter, an end tag.  The tag
name runs to whitespace, ``/`` or ``>``.  Attributes follow the attribute
states of the HTML standard closely enough for our purpose: names run to
whitespace, ``/``, ``>`` or ``=``; spaces may surround ``=``; a value is
quoted (to the matching quote) or unquoted (to whitespace or ``>``).  A tag
left open at the end of the value still counts: the page's own ``>`` closes
it.  ``<?import`` is read as the tag ``import``, as old Internet Explorer
read it (it loads a behaviour); other ``<?`` processing instructions, such
as ``<?xml``, are bogus comments to a browser and open no tag.  "<3",
"a < b" and "<$" open no tag; "x<y>z" and "<john@example.com>" open tags
without attributes, which the XSS check finds harmless.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Tags examined per value, and attributes per tag: a real payload needs a
# handful; a value made of thousands of "<a" must not cost thousands.
MAX_TAGS = 64
MAX_ATTRIBUTES = 32

_TAG_OPEN = re.compile(r"<(/?)(?:\?(?=(?i:import)\b))?([a-zA-Z][^\s/>\x00]*)")
_SEPARATORS = re.compile(r"[\s/]*")
_ATTR_NAME = re.compile(r"[^\s/>=]+|=[^\s/>=]*")
_SPACES = re.compile(r"\s*")
_UNQUOTED = re.compile(r"[^\s>]*")


@dataclass(frozen=True, slots=True)
class Tag:
    """A start or end tag: lower-case name, attributes in order.

    An attribute's value is None when it has no ``=`` at all.
    """

    name: str
    end: bool
    attributes: tuple[tuple[str, str | None], ...]


def tags(text: str) -> list[Tag]:
    """Every tag ``text`` opens, at most ``MAX_TAGS``."""
    found: list[Tag] = []
    for match in _TAG_OPEN.finditer(text):
        attributes = _attributes(text, match.end())
        found.append(Tag(match.group(2).lower(), bool(match.group(1)), attributes))
        if len(found) >= MAX_TAGS:
            break
    return found


def _attributes(text: str, pos: int) -> tuple[tuple[str, str | None], ...]:
    attributes: list[tuple[str, str | None]] = []
    end = len(text)
    while len(attributes) < MAX_ATTRIBUTES:
        pos = _skip(_SEPARATORS, text, pos)
        if pos >= end or text[pos] == ">":
            break
        name_match = _ATTR_NAME.match(text, pos)
        if name_match is None:
            break
        name, pos = name_match.group().lower(), name_match.end()
        after = _skip(_SPACES, text, pos)
        value: str | None = None
        if after < end and text[after] == "=":
            value, pos = _value(text, _skip(_SPACES, text, after + 1))
        attributes.append((name, value))
    return tuple(attributes)


def _skip(pattern: re.Pattern[str], text: str, pos: int) -> int:
    match = pattern.match(text, pos)
    return match.end() if match else pos


def _value(text: str, pos: int) -> tuple[str, int]:
    """An attribute value at ``pos`` and the position after it."""
    if pos < len(text) and text[pos] in "\"'`":
        quote = text[pos]
        close = text.find(quote, pos + 1)
        if close < 0:
            return text[pos + 1 :], len(text)
        return text[pos + 1 : close], close + 1
    match = _UNQUOTED.match(text, pos)
    assert match is not None  # the pattern matches the empty string
    return match.group(), match.end()
