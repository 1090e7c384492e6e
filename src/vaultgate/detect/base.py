"""The contract between detector modules and the inspection engine.

A detector module (one per attack family: ``sqli``, ``xss``, ``cmdi`` ...)
declares ``Rule`` values.  The engine compiles the patterns of every rule
enabled at the policy's paranoia level into one Hyperscan database at load
time, scans each decoded ``Value`` of a request once, and for each pattern
hit runs the rule's ``confirm`` check, if it has one.  A pattern may only
say "maybe"; ``confirm`` (a tokenizer, a parser, a stricter regex with
look-arounds Hyperscan lacks) says "yes".  A rule with no ``confirm``
asserts that its pattern alone is precise enough.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

# Where a value came from.  Rules may restrict themselves to some kinds
# (a Shellshock rule to headers, a scanner rule to User-Agent ...).
KINDS = frozenset(
    {
        "path",  # a decoded path segment, or the whole decoded path
        "query-name",
        "query",
        "header",  # name holds the lower-case header name
        "cookie-name",
        "cookie",
        "form-name",
        "form",
        "json-key",
        "json",  # name holds the JSON path of the leaf
        "multipart",  # a field's value; name holds the field name
        "filename",  # a multipart file name
        "xml",  # text or attribute value
        "graphql",  # an inline argument or variable value
        "body",  # a raw body of another type (fallback)
    }
)


class Value(NamedTuple):
    """One value to inspect, decoded and normalised.

    A named tuple rather than a dataclass: a request yields dozens, and a
    tuple is built in a third of the time.
    """

    kind: str
    name: str
    text: str


@dataclass(frozen=True, slots=True)
class Rule:
    """A detection rule: a prefilter pattern and an optional confirmation."""

    id: str  # "<family>.<what>", stable: users exclude rules by it
    family: str
    pattern: str  # Hyperscan-compatible regex (no back-references)
    score: int  # 5 critical, 4 error, 3 warning, 2 notice
    paranoia: int = 1  # enabled at this paranoia level and above
    kinds: frozenset[str] | None = None  # None: every kind of value
    # Only values with these names (lower case), e.g. {"user-agent"}.
    names: frozenset[str] | None = None
    # Never these headers (lower case): "origin" and "referer" name the site
    # itself, an internal host on an intranet deployment.
    skip_headers: frozenset[str] = frozenset()
    caseless: bool = True
    # Given the value's text, True when the hit is a real attack.
    confirm: Callable[[str], bool] | None = None
    description: str = ""


_RULES: dict[str, Rule] = {}


def register_rules(*rules: Rule) -> None:
    """Add rules to the registry; a duplicate rule id is an error."""
    for rule in rules:
        if rule.id in _RULES:
            raise ValueError(f"rule {rule.id!r} registered twice")
        if rule.kinds is not None and not rule.kinds <= KINDS:
            raise ValueError(f"rule {rule.id!r}: unknown kinds {rule.kinds - KINDS}")
        _RULES[rule.id] = rule


def all_rules() -> dict[str, Rule]:
    """Every registered rule by id (after the detector modules are imported)."""
    return dict(_RULES)
