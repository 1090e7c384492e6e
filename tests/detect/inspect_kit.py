"""Helpers for the engine, SQLi and XSS tests: the real decoder and matcher.

``scan_value`` runs one value through ``normalize.expand_all`` and an
``Inspector`` compiled from the given rules, as the inspection guard does.
``prefilter_hits`` compiles the same rules without their confirmation, so
a test can ask what the Hyperscan patterns alone say about a text.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from functools import cache

from vaultgate.core.model import Finding
from vaultgate.detect.base import Rule, Value
from vaultgate.detect.engine import Inspector
from vaultgate.detect.normalize import expand_all


@cache
def inspector(rules: tuple[Rule, ...], paranoia: int = 1) -> Inspector:
    return Inspector(rules, paranoia)


@cache
def pattern_only(rules: tuple[Rule, ...]) -> Inspector:
    """The rules' patterns alone: every hit becomes a finding."""
    bare = tuple(dataclasses.replace(rule, confirm=None) for rule in rules)
    return Inspector(bare, paranoia=4)


def scan_value(
    rules: tuple[Rule, ...], text: str, kind: str = "json", name: str = "$.memo"
) -> list[Finding]:
    """The findings of ``rules`` on one value, decoded as the guard does."""
    return inspector(rules).scan(expand_all([Value(kind, name, text)]))


def fired(rules: tuple[Rule, ...], text: str, kind: str = "json") -> set[str]:
    return {finding.rule_id for finding in scan_value(rules, text, kind)}


def prefilter_hits(rules: tuple[Rule, ...], forms: Iterable[str]) -> set[str]:
    """Rule ids whose pattern matches at least one of ``forms``."""
    values = [Value("json", str(i), form) for i, form in enumerate(forms)]
    return {finding.rule_id for finding in pattern_only(rules).scan(values)}
