"""Shared helpers of the attack-family tests: the real engine, no stand-ins.

Values go through the decoder (``normalize.expand_all``) and an
``Inspector`` built from every registered rule, as the inspection guard
does; whole requests go through the HTTP parser and ``inspect``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from vaultgate.core.model import Finding
from vaultgate.core.rawhttp import ParseFailure, parse_request
from vaultgate.detect import load_detectors
from vaultgate.detect.base import Value, all_rules
from vaultgate.detect.engine import Inspector
from vaultgate.detect.normalize import expand_all
from vaultgate.guards.inspection import InspectionSettings, inspect

DATA = Path(__file__).parent / "data"


@cache
def inspector(paranoia: int = 1) -> Inspector:
    """One compiled inspector per paranoia level, shared by the tests."""
    load_detectors()
    return Inspector(all_rules().values(), paranoia)


def findings(
    text: str, kind: str = "json", name: str = "$.memo", paranoia: int = 1
) -> list[Finding]:
    """What the engine finds in one value of ``kind`` named ``name``."""
    values = expand_all([Value(kind, name, text)])
    return inspector(paranoia).scan(values)


def families(
    text: str, kind: str = "json", name: str = "$.memo", paranoia: int = 1
) -> set[str]:
    """The families that fire on one value."""
    return {f.family for f in findings(text, kind, name, paranoia)}


def rule_ids(
    text: str, kind: str = "json", name: str = "$.memo", paranoia: int = 1
) -> set[str]:
    """The rule ids that fire on one value."""
    return {f.rule_id for f in findings(text, kind, name, paranoia)}


def levels_firing(
    text: str, rule_id: str, kind: str = "query", name: str = "q"
) -> list[int]:
    """The paranoia levels (1 to 4) at which ``rule_id`` fires on one value."""
    return [
        level for level in range(1, 5) if rule_id in rule_ids(text, kind, name, level)
    ]


def request_findings(raw: bytes, paranoia: int = 1) -> list[Finding]:
    """Every finding of a whole request given as its bytes on the wire."""
    request = parse_request(raw, "192.0.2.10")
    assert not isinstance(request, ParseFailure), request
    settings = InspectionSettings(paranoia=paranoia)
    return inspect(request, settings, inspector(paranoia)).findings


def request_rules(raw: bytes, paranoia: int = 1) -> set[str]:
    return {f.rule_id for f in request_findings(raw, paranoia)}


def benign_values() -> list[str]:
    """Ordinary payment-API values (tests/detect/data/benign_values.txt)."""
    lines = (DATA / "benign_values.txt").read_text(encoding="utf-8").splitlines()
    return [
        line.replace("\\n", "\n") for line in lines if line and not line.startswith("#")
    ]
