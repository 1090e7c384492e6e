"""Alert types: raised by guards, or derived from what they recorded."""

from __future__ import annotations

import pytest

from tests.telemetry.kit import Gate
from vaultgate.core.exchange import Exchange
from vaultgate.core.model import Action, Decision, Finding
from vaultgate.core.request import Request
from vaultgate.telemetry.alerts import alert_types, raise_alert

GATE = Gate("upstream: http://127.0.0.1:9\naudit: {sinks: []}\n")


def exchange(reasons: tuple[str, ...] = (), action: Action = Action.BLOCK) -> Exchange:
    ex = GATE.engine.begin(Request("GET", "/x", [], "203.0.113.7"))
    ex.decision = Decision(action, 403, 0, reasons) if reasons else None
    return ex


@pytest.mark.parametrize(
    ("reasons", "types"),
    [
        (("trap.path",), ["trap_hit"]),
        (("trap.honeytoken",), ["trap_hit"]),
        (("token.replayed",), ["replay"]),
        (("dpop.replayed",), ["replay"]),
        (("signature.replayed",), ["replay"]),
        (("bola.not_owner",), ["bola"]),
        (("bola.enumeration.sequential",), ["enumeration"]),
        (("token.expired",), []),
        (("reputation.banned",), []),  # refused for an earlier ban: no new alert
    ],
)
def test_alerts_derived_from_decision_reasons(
    reasons: tuple[str, ...], types: list[str]
) -> None:
    assert [a["type"] for a in alert_types(exchange(reasons))] == types


def test_a_ban_put_in_place_is_an_alert() -> None:
    ex = exchange(("trap.path",))
    ex.tags["ban.reason"], ex.tags["ban.ttl"] = "trap.path", 3600
    assert [a["type"] for a in alert_types(ex)] == ["trap_hit", "ban"]


def test_findings_that_blocked_are_an_attack_unless_another_type_says_more() -> None:
    ex = exchange(("sqli.union",))
    ex.add(Finding("sqli", "sqli.union", 5))
    assert [a["type"] for a in alert_types(ex)] == ["attack"]
    raise_alert(ex, "credential_stuffing", usernames=40)
    assert alert_types(ex) == [{"type": "credential_stuffing", "usernames": 40}]
    allowed = exchange()
    allowed.add(Finding("sqli", "sqli.union", 2))
    assert alert_types(allowed) == []


def test_raised_and_tagged_alerts_appear_once_each_in_order() -> None:
    ex = exchange(("bola.not_owner",))
    ex.tags["alert"] = "ban"
    raise_alert(ex, "bola", object="7")
    raise_alert(ex, "ban")
    assert [a["type"] for a in alert_types(ex)] == ["ban", "bola"]
    ex.tags["alert"] = ["Not A Type", "replay"]
    assert [a["type"] for a in alert_types(ex)] == ["replay", "bola"]


def test_a_malformed_alert_type_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="expected"):
        raise_alert(exchange(), "Credential Stuffing")
