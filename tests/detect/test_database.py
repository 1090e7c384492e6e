"""The combined database reports every match that a rule's pattern makes alone.

Hyperscan compiles all patterns into one automaton; a flag or rewrite
that interacts badly across patterns (SINGLEMATCH with literal sharing,
an anchor rewrite) would silently hide a rule.  Each must-fire and benign
value of the family tables is scanned by every rule's own database and by
the combined one; the combined one must report a superset.
"""

from __future__ import annotations

import importlib
from functools import cache
from pathlib import Path
from typing import Any

import hyperscan
import pytest

from tests.detect.family_cases import benign_values, inspector
from vaultgate.detect.base import Rule, Value
from vaultgate.detect.engine import anchored
from vaultgate.detect.normalize import expand_all

_FLAGS = hyperscan.HS_FLAG_DOTALL | hyperscan.HS_FLAG_SINGLEMATCH


def _table_texts() -> list[str]:
    """Every string of the MUST_FIRE tables of the family tests."""
    texts: list[str] = []
    for path in sorted(Path(__file__).parent.glob("test_*.py")):
        module = importlib.import_module("tests.detect." + path.stem)
        for row in getattr(module, "MUST_FIRE", []):
            text = row[0] if isinstance(row, tuple) else row
            if isinstance(text, str):
                texts.append(text)
    return texts


def _hits(database: Any, text: bytes) -> set[int]:
    found: set[int] = set()

    def on_match(rule: int, start: int, end: int, flags: int, ctx: Any) -> None:
        found.add(rule)

    database.scan(text, match_event_handler=on_match)
    return found


@cache
def _alone(rule: Rule) -> Any:
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    flags = _FLAGS | (hyperscan.HS_FLAG_CASELESS if rule.caseless else 0)
    database.compile(expressions=[anchored(rule.pattern).encode()], flags=[flags])
    return database


@cache
def _combined(paranoia: int) -> tuple[tuple[Rule, ...], Any]:
    rules = inspector(paranoia).rules
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    database.compile(
        expressions=[anchored(r.pattern).encode() for r in rules],
        ids=list(range(len(rules))),
        elements=len(rules),
        flags=[
            _FLAGS | (hyperscan.HS_FLAG_CASELESS if r.caseless else 0) for r in rules
        ],
    )
    return rules, database


@pytest.mark.parametrize("paranoia", [1, 4])
def test_every_single_pattern_match_is_in_the_combined_database(paranoia: int) -> None:
    rules, combined = _combined(paranoia)
    texts = _table_texts() + benign_values()
    assert len(texts) > 500  # the tables were found
    hidden = []
    for value in expand_all([Value("json", "$.v", t) for t in texts]):
        blob = value.text.encode("utf-8", "surrogatepass")
        together = _hits(combined, blob)
        for index, rule in enumerate(rules):
            if index not in together and _hits(_alone(rule), blob):
                hidden.append((rule.id, value.text[:60]))
    assert hidden == []
