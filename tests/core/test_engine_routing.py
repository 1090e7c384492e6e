"""The engine's remembered routing answers as routing afresh, reloads included."""

from __future__ import annotations

import pytest

from vaultgate.core.policy import parse_policy
from vaultgate.core.request import Request
from vaultgate.engine import Engine
from vaultgate.guards import load_all
from vaultgate.state.memory import MemoryStore
from vaultgate.telemetry.audit import AuditLog

POLICY = """
upstream: http://127.0.0.1:9
mode: "off"
audit: {sinks: []}
routes:
  - path: "/accounts/{id}"
    methods: [GET]
  - path: "/payments"
"""
RENAMED = POLICY.replace("/payments", "/transfers")

# method, target, route path, params
CASES = [
    ("GET", "/accounts/7", "/accounts/{id}", {"id": "7"}),
    ("GET", "/accounts/8?x=1", "/accounts/{id}", {"id": "8"}),
    ("POST", "/accounts/7", "", {}),
    ("POST", "/payments", "/payments", {}),
    ("POST", "/x/../payments", "/payments", {}),
    ("GET", "/" + "a" * 300, "", {}),
]


def engine(text: str) -> Engine:
    load_all()
    policy = parse_policy(text)
    return Engine(policy, MemoryStore(), AuditLog(policy.settings["audit"]))


@pytest.mark.parametrize(("method", "target", "route", "params"), CASES)
def test_a_remembered_route_is_the_one_routing_finds(
    method: str, target: str, route: str, params: dict[str, str]
) -> None:
    gate = engine(POLICY)
    default = gate.policy.default_route.path
    for _ in range(2):  # routed afresh, then remembered
        ex = gate.begin(Request(method, target, [("Host", "h")], "192.0.2.1"))
        assert ex.route.path == (route or default)
        assert dict(ex.params) == params


def test_a_reload_forgets_remembered_routes() -> None:
    gate = engine(POLICY)
    payments = Request("POST", "/payments", [("Host", "h")], "192.0.2.1")
    assert gate.begin(payments).route.path == "/payments"

    gate.reload(parse_policy(RENAMED))

    assert gate.begin(payments).route.path == gate.policy.default_route.path
    transfers = Request("POST", "/transfers", [("Host", "h")], "192.0.2.1")
    assert gate.begin(transfers).route.path == "/transfers"


def test_incident_ids_are_distinct_hex() -> None:
    gate = engine(POLICY)
    request = Request("GET", "/accounts/7", [("Host", "h")], "192.0.2.1")
    ids = [gate.begin(request).incident_id for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 16 and int(i, 16) >= 0 for i in ids)
