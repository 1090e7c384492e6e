"""Audit events: ECS metadata always, masked detail on alerts, sampling."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.telemetry.kit import (
    API_KEY,
    BEARER,
    CARD,
    CARD_SPACED,
    COOKIE,
    PASSWORD,
    SECRETS,
    Gate,
    policy,
)
from vaultgate.core.model import Finding, Principal
from vaultgate.telemetry.audit import Timings
from vaultgate.telemetry.events import REDACTED


def file_gate(tmp: Path, audit_extra: str = "", routes: str = "") -> Gate:
    sink = f"    - file: {{path: {tmp / 'audit.jsonl'}}}\n"
    return Gate(policy(tmp, sink, audit_extra, routes))


def events(gate: Gate, tmp: Path) -> list[dict[str, Any]]:
    gate.audit.flush()  # never started: the file sink is written now
    return [
        orjson.loads(line) for line in (tmp / "audit.jsonl").read_bytes().splitlines()
    ]


SQLI = Finding("sqli", "sqli.union", 5, "query:q", f"' union select {CARD}--")
NOTICE = Finding("xss", "xss.attr", 2, "query:q", "onmouseover=")
WARNING = Finding("xss", "xss.tag", 3, "query:q", "<svg")


async def test_a_clean_request_carries_metadata_only(tmp_path: Path) -> None:
    gate = file_gate(tmp_path)
    ex = await gate.send("/accounts/1001?from=2026-01-01")
    ex_with_user = await gate.send("/accounts/1002")
    ex_with_user.principal = Principal("user", "alice")
    gate.engine.finish(ex_with_user, 200, Timings())
    doc = events(gate, tmp_path)[0]

    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", doc["@timestamp"])
    assert doc["ecs"] == {"version": "8.11.0"}
    assert doc["event"] == {
        "id": ex.incident_id,
        "kind": "event",
        "category": ["web"],
        "type": ["access", "allowed"],
        "action": "allow",
        "outcome": "success",
        "duration": 1_000_000,
        "dataset": "vaultgate.access",
    }
    assert doc["source"] == {"ip": "10.0.0.2"}
    assert doc["client"] == {"ip": "203.0.113.7"}
    assert doc["http"] == {
        "request": {"method": "GET", "bytes": 120},
        "response": {"status_code": 200, "bytes": 2048},
        "version": "1.1",
    }
    assert doc["url"] == {"path": "/accounts/1001"}
    extra = doc["vaultgate"]
    assert extra["route"] == "/{*}" and extra["decision"] == "allow"
    assert extra["timings"] == {"inspection_us": 40, "upstream_us": 900}
    assert "detail" not in extra and "user_agent" not in doc
    assert events(gate, tmp_path)[-1]["user"] == {"id": "alice"}


# (what the request carries, whether its event has the detail, decision)
ALERTING = [
    ("blocking finding", {"findings": [SQLI]}, True, "block"),
    ("score at alert threshold", {"findings": [WARNING]}, True, "alert"),
    ("raised alert", {"alert": "credential_stuffing"}, True, "allow"),
    ("finding under threshold", {"findings": [NOTICE]}, False, "allow"),
    ("nothing", {}, False, "allow"),
]


@pytest.mark.parametrize(("case", "kwargs", "detail", "decision"), ALERTING)
async def test_detail_is_captured_exactly_when_the_request_alerts(
    tmp_path: Path, case: str, kwargs: dict[str, Any], detail: bool, decision: str
) -> None:
    gate = file_gate(tmp_path)
    await gate.send(**kwargs)
    doc = events(gate, tmp_path)[0]
    assert ("detail" in doc["vaultgate"]) is detail, case
    assert doc["vaultgate"]["decision"] == decision
    if detail:
        assert doc["user_agent"] == {"original": "kit/1.0"}


async def test_monitor_mode_records_the_decision_it_did_not_enforce(
    tmp_path: Path,
) -> None:
    gate = file_gate(tmp_path, routes="  - {path: /pay, mode: monitor}\n")
    await gate.send("/pay", findings=[SQLI])
    doc, alert = events(gate, tmp_path)
    assert doc["vaultgate"]["decision"] == "block"
    assert doc["vaultgate"]["enforced"] is False
    assert doc["event"]["type"] == ["access", "allowed"]
    assert "detail" in doc["vaultgate"]
    assert alert["vaultgate"]["alert"]["type"] == "attack"
    assert alert["event"]["type"] == ["info"]


async def test_detail_masks_credentials_and_card_numbers(tmp_path: Path) -> None:
    gate = file_gate(tmp_path)
    headers = [
        ("Authorization", f"Bearer {BEARER}"),
        ("Cookie", COOKIE),
        ("X-API-Key", API_KEY),
        ("X-Session-Token", "abc123"),
        ("X-Request-Id", "req-77"),
        ("X-Card", CARD_SPACED),
    ]
    query = f"/pay?card={CARD}&password={PASSWORD}&api_key=k1&note=hello"
    await gate.send(query, headers=headers, findings=[SQLI], alert="bola")
    gate.sent[-1].tags["login.username"] = f"user-{CARD}"
    doc = events(gate, tmp_path)[0]
    detail = doc["vaultgate"]["detail"]

    assert detail["headers"]["authorization"] == REDACTED
    assert detail["headers"]["cookie"] == REDACTED
    assert detail["headers"]["x-api-key"] == REDACTED
    assert detail["headers"]["x-session-token"] == REDACTED
    assert detail["headers"]["x-request-id"] == "req-77"
    assert detail["headers"]["x-card"] == "**** **** **** 0004"
    assert dict(map(tuple, detail["query"])) == {
        "card": "************1111",
        "password": REDACTED,
        "api_key": REDACTED,
        "note": "hello",
    }
    assert detail["findings"] == [
        {
            "family": "sqli",
            "rule": "sqli.union",
            "score": 5,
            "location": "query:q",
            "snippet": "' union select ************1111--",
        }
    ]


async def test_no_secret_or_card_number_reaches_the_file(tmp_path: Path) -> None:
    gate = file_gate(tmp_path)
    headers = [("Authorization", f"Bearer {BEARER}"), ("Cookie", COOKIE)]
    for path in (
        f"/cards/{CARD}",
        f"/x?k={API_KEY}",
        f"/x?pass={PASSWORD}&card={CARD}",
    ):
        ex = await gate.send(path, headers=headers, findings=[SQLI], alert="replay")
        ex.tags["note"] = f"card {CARD_SPACED}"
    await gate.send(f"/cards/{CARD}?password={PASSWORD}")  # clean: metadata only
    gate.audit.record_refusal(1.7e9, "ab12", "10.0.0.9", "GET", f"/c/{CARD}", 400, "x")
    gate.audit.flush()
    text = (tmp_path / "audit.jsonl").read_text()
    assert text.count("\n") == 8  # 3 x (request + replay alert), clean, refusal
    for secret in SECRETS:
        assert secret not in text


async def test_each_alert_gets_its_own_event_linked_to_the_request(
    tmp_path: Path,
) -> None:
    gate = file_gate(tmp_path)
    ex = await gate.send("/accounts/7", alert="bola")
    ex.tags["alert"].append({"type": "enumeration", "walked": 40})
    gate.engine.finish(ex, 403, Timings())
    docs = events(gate, tmp_path)[2:]  # the second finish: request + 2 alerts
    request, bola, walk = docs
    assert request["vaultgate"]["alerts"] == ["bola", "enumeration"]
    assert [bola["event"]["id"], walk["event"]["id"]] == [
        f"{ex.incident_id}-bola",
        f"{ex.incident_id}-enumeration",
    ]
    for alert, kind in ((bola, "bola"), (walk, "enumeration")):
        assert alert["event"]["kind"] == "alert"
        assert alert["event"]["category"] == ["intrusion_detection"]
        assert alert["event"]["dataset"] == "vaultgate.alert"
        assert alert["vaultgate"]["incident_id"] == ex.incident_id
        assert alert["vaultgate"]["alert"]["type"] == kind
        assert alert["source"] == request["source"]
    assert bola["vaultgate"]["alert"]["account"] == "************1111"
    assert walk["vaultgate"]["alert"]["walked"] == 40


async def test_a_trap_hit_raises_trap_and_ban_alerts_from_the_real_guards(
    tmp_path: Path,
) -> None:
    gate = file_gate(tmp_path)
    await gate.send("/.env", status=404)
    request, *alerts = events(gate, tmp_path)
    assert request["event"]["type"] == ["access", "denied"]
    assert {a["vaultgate"]["alert"]["type"] for a in alerts} == {"trap_hit", "ban"}


async def test_sampling_leaves_out_clean_traffic_only(tmp_path: Path) -> None:
    routes = "  - {path: /login, audit: {sample: 1.0}}\n"
    gate = file_gate(tmp_path, "  sample: 0\n", routes)
    await gate.burst(20)
    await gate.send("/login")  # route override: always kept
    await gate.send(findings=[NOTICE])  # findings: never sampled
    await gate.send(findings=[SQLI])  # a block
    await gate.send(alert="ban")
    await gate.send(status=503)  # upstream trouble is kept
    kinds = [(d["url"]["path"], d["event"]["kind"]) for d in events(gate, tmp_path)]
    assert len(kinds) == 7  # 5 requests + the block's and the ban's alerts
    assert ("/login", "event") in kinds


async def test_a_sample_rate_keeps_about_that_share_and_says_so(
    tmp_path: Path,
) -> None:
    gate = file_gate(tmp_path, "  sample: 0.25\n")
    await gate.burst(400)
    docs = events(gate, tmp_path)
    assert 60 <= len(docs) <= 140
    assert all(d["vaultgate"]["sample_rate"] == 0.25 for d in docs)


async def test_a_flood_of_alerts_gets_detail_within_the_budget_only(
    tmp_path: Path,
) -> None:
    gate = file_gate(tmp_path, "  detail_rate: 5/hour\n")  # no refill in the test
    for _ in range(20):
        await gate.send(findings=[SQLI])
    requests = [d for d in events(gate, tmp_path) if d["event"]["kind"] == "event"]
    assert len(requests) == 20, "alerts are never left out"
    detailed = [d for d in requests if "detail" in d["vaultgate"]]
    skipped = [d for d in requests if d["vaultgate"].get("detail_skipped")]
    assert (len(detailed), len(skipped)) == (5, 15)
    assert all(d["rule"]["name"] for d in skipped), "the reasons are still there"
    assert gate.audit.detail_skipped == 15


async def test_a_header_name_with_a_card_number_is_masked(tmp_path: Path) -> None:
    gate = file_gate(tmp_path)
    await gate.send(headers=[(CARD, "1")], findings=[SQLI])
    headers = events(gate, tmp_path)[0]["vaultgate"]["detail"]["headers"]
    assert "************1111" in headers


async def test_a_refused_message_is_recorded_as_a_block(tmp_path: Path) -> None:
    gate = file_gate(tmp_path)
    gate.audit.record_refusal(
        1.7e9, "ab12", "10.0.0.9", "G\x00T", "/x" * 600, 400, "protocol:bad"
    )
    (doc,) = events(gate, tmp_path)
    assert doc["event"]["id"] == "ab12"
    assert doc["vaultgate"]["route"] == "(refused)"
    assert doc["rule"] == {"name": ["protocol:bad"]}
    assert len(doc["url"]["original"]) == 512


async def test_bytes_that_are_not_utf8_do_not_lose_the_event(tmp_path: Path) -> None:
    # A Latin-1 "é" percent-encoded in the path, and a raw byte in a header
    # (as the HTTP parser hands it on): JSON cannot carry them as they are,
    # and an attacker must not be able to drop their own audit trail so.
    gate = file_gate(tmp_path)
    clean = await gate.send("/accounts/Benapr%E9s")
    again = await gate.send("/accounts/Benapr%E9s")  # a path seen clean before
    attack = await gate.send(
        "/accounts/%E9x", headers=[("X-Note", "caf\udce9 ' or 1=1")], findings=[SQLI]
    )
    docs = {d["event"]["id"]: d for d in events(gate, tmp_path)}
    assert docs[clean.incident_id]["url"]["path"] == "/accounts/Benapr\\xe9s"
    assert docs[again.incident_id]["url"]["path"] == "/accounts/Benapr\\xe9s"
    recorded = docs[attack.incident_id]
    assert "sqli.union" in recorded["rule"]["name"]
    assert "caf\\xe9 ' or 1=1" in recorded["vaultgate"]["detail"]["headers"].values()
