"""Syslog, webhook and file sinks against real listeners and files."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from tests.fixtures.receivers import HEC_TOKEN, HttpReceiver, SyslogReceiver
from tests.telemetry.kit import (
    API_KEY,
    BEARER,
    CARD,
    COOKIE,
    FAST,
    PASSWORD,
    SECRETS,
    Gate,
    expected_ids,
    policy,
    until,
)
from vaultgate.core.model import Finding

SQLI = Finding("sqli", "sqli.union", 5, "query:q", f"' union select {CARD}--")
# <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG
RFC5424 = re.compile(
    rb"<(\d+)>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (\S+) (\S+) (\d+) "
    rb"(access|alert) - (.*)",
    re.DOTALL,
)


def syslog_sink(port: int, transport: str, extra: str = "") -> str:
    return (
        f"    - syslog: {{address: '127.0.0.1:{port}', transport: {transport},"
        f" {FAST}{extra}}}\n"
    )


def file_sizes(directory: Path, pattern: str) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in directory.glob(pattern)}


@pytest.mark.parametrize("transport", ["tcp", "udp"])
async def test_syslog_messages_are_rfc5424_with_the_json_event(
    tmp_path: Path,
    transport: str,
    syslog_tcp: SyslogReceiver,
    syslog_udp: SyslogReceiver,
) -> None:
    receiver = syslog_tcp if transport == "tcp" else syslog_udp
    gate = Gate(policy(tmp_path, syslog_sink(receiver.port, transport)))
    await gate.audit.start()
    await gate.send()
    await gate.send(findings=[SQLI])
    assert await until(lambda: len(receiver.messages) == 3)
    await gate.audit.aclose()

    parsed = [RFC5424.fullmatch(m) for m in receiver.messages]
    assert all(parsed)
    pri = [int(m.group(1)) for m in parsed if m]
    assert pri == [16 * 8 + 6, 16 * 8 + 5, 16 * 8 + 4]  # local0: info, notice, warning
    assert [m.group(6) for m in parsed if m] == [b"access", b"access", b"alert"]
    docs = [json.loads(m.group(7)) for m in parsed if m]
    assert [d["event"]["id"] for d in docs] == expected_ids(gate.sent) + [
        gate.sent[1].incident_id + "-attack"
    ]


async def test_udp_cuts_messages_longer_than_the_limit(
    tmp_path: Path, syslog_udp: SyslogReceiver
) -> None:
    sink = syslog_sink(syslog_udp.port, "udp", ", max_message: 600")
    gate = Gate(policy(tmp_path, sink))
    await gate.audit.start()
    await gate.send(findings=[SQLI], headers=[("X-Pad", "p" * 200)])
    assert await until(lambda: len(syslog_udp.messages) == 2)
    await gate.audit.aclose()
    assert max(len(m) for m in syslog_udp.messages) == 600
    assert gate.audit.channels[0].sink.truncated >= 1  # type: ignore[attr-defined]


async def test_udp_spools_once_the_receiver_refuses_and_sends_when_it_is_back(
    tmp_path: Path, syslog_udp: SyslogReceiver
) -> None:
    gate = Gate(policy(tmp_path, syslog_sink(syslog_udp.port, "udp")))
    await gate.audit.start()
    await gate.burst(5)
    assert await until(lambda: len(syslog_udp.messages) == 5)
    syslog_udp.stop()
    await gate.burst(5)  # sent blind: UDP learns of the closed port afterwards
    await until(lambda: gate.audit.channels[0].stats.retries > 0, 1)
    await gate.burst(5)
    channel = gate.audit.channels[0]
    assert await until(lambda: channel.spooled >= 5)
    syslog_udp.start()
    assert await until(lambda: channel.spooled == 0 and channel.healthy)
    await gate.audit.aclose()
    sent = expected_ids(gate.sent)

    def received() -> list[str]:
        return [json.loads(p)["event"]["id"] for p in syslog_udp.payloads()]

    # Sent is not yet read: the receiver's thread may lag on a loaded machine.
    await until(lambda: sent[-1] in received())
    ids = received()
    assert ids[:5] == sent[:5] and ids[-5:] == sent[-5:]
    assert len(ids) >= 10, "at most the batch in flight when it went down is lost"


async def test_syslog_over_tls_with_cef_payload(
    tmp_path: Path, tls_files: tuple[str, str]
) -> None:
    receiver = SyslogReceiver("tcp", tls=tls_files)
    receiver.start()
    extra = f", format: cef, facility: auth, ca_file: {tls_files[0]}"
    sink = syslog_sink(receiver.port, "tls", extra).replace("127.0.0.1:", "localhost:")
    gate = Gate(policy(tmp_path, sink))
    await gate.audit.start()
    await gate.send("/accounts/a=b|c", alert="bola")
    assert await until(lambda: len(receiver.messages) == 2)
    await gate.audit.aclose()
    receiver.stop()

    request, alert = receiver.payloads()
    assert request.startswith(b"CEF:0|vaultgate|vaultgate|0.1.0|request.allow|")
    assert alert.startswith(b"CEF:0|vaultgate|vaultgate|0.1.0|alert.bola|bola alert|8|")
    assert b"request=/accounts/a\\=b|c " in request  # '=' escaped in extensions
    assert f"externalId={gate.sent[0].incident_id}-bola".encode() in alert
    head = RFC5424.fullmatch(receiver.messages[0])
    assert head is not None and head.group(1) == b"37"  # auth, notice: it alerted


async def test_syslog_tcp_reconnects_after_the_receiver_restarts(
    tmp_path: Path, syslog_tcp: SyslogReceiver
) -> None:
    gate = Gate(policy(tmp_path, syslog_sink(syslog_tcp.port, "tcp")))
    await gate.audit.start()
    await gate.burst(10)
    assert await until(lambda: len(syslog_tcp.messages) == 10)
    syslog_tcp.stop()
    await until(lambda: False, 0.2)  # the receiver's close reaches us
    await gate.burst(10)
    channel = gate.audit.channels[0]
    assert await until(lambda: channel.spooled == 10)
    syslog_tcp.start()
    assert await until(lambda: len(syslog_tcp.messages) == 20)
    await gate.audit.aclose()
    ids = [json.loads(p)["event"]["id"] for p in syslog_tcp.payloads()]
    assert ids == expected_ids(gate.sent)


@pytest.mark.parametrize(
    ("shape", "content_type"),
    [
        ("ndjson", "application/x-ndjson"),
        ("json_array", "application/json"),
    ],
)
async def test_webhook_batches_as_ndjson_or_a_json_array(
    tmp_path: Path,
    shape: str,
    content_type: str,
    tls_files: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOOK_TOKEN", "hook-secret-1")
    monkeypatch.setenv("DD_KEY", "dd-secret-2")
    receiver = HttpReceiver(tls=tls_files)
    receiver.start()
    sink = (
        f"    - webhook: {{url: 'https://localhost:{receiver.port}/intake?src=vg',"
        f" format: {shape}, gzip: true, token_env: HOOK_TOKEN, ca_file: {tls_files[0]},"
        f" headers: {{X-Source: vaultgate}}, header_env: {{DD-API-KEY: DD_KEY}},"
        f" {FAST}}}\n"
    )
    gate = Gate(policy(tmp_path, sink))
    await gate.audit.start()
    await gate.burst(25, every_alert=5)
    assert await until(lambda: len(receiver.events) == 30)
    await gate.audit.aclose()
    receiver.stop()

    assert receiver.ids() == expected_ids(gate.sent)
    headers = receiver.headers[0]
    assert headers["Content-Type"] == content_type
    assert headers["Authorization"] == "Bearer hook-secret-1"
    assert headers["DD-API-KEY"] == "dd-secret-2"
    assert headers["X-Source"] == "vaultgate"


async def test_the_file_rotates_by_size_and_keeps_a_bounded_count(
    tmp_path: Path,
) -> None:
    target = tmp_path / "audit.jsonl"
    sink = f"    - file: {{path: {target}, max_size: 4KiB, keep: 2}}\n"
    gate = Gate(policy(tmp_path, sink))
    await gate.burst(60)
    gate.audit.close()

    sizes = file_sizes(tmp_path, "audit.jsonl*")
    assert sorted(sizes) == ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"]
    assert max(sizes.values()) <= 4096
    kept = [
        json.loads(line)["event"]["id"]
        for name in ("audit.jsonl.2", "audit.jsonl.1", "audit.jsonl")
        for line in (tmp_path / name).read_text().splitlines()
    ]
    assert kept == expected_ids(gate.sent)[-len(kept) :], "the newest, in order"


def every_sink(tmp: Path, hec: int, tcp: int, udp: int, hook: int) -> str:
    """One sink of each kind, all pointing at the test's receivers."""
    return (
        f"    - file: {tmp / 'audit.jsonl'}\n"
        f"    - splunk_hec: {{url: 'http://127.0.0.1:{hec}',"
        f" token_env: HEC_TOKEN, {FAST}}}\n"
        f"    - {{syslog: {{address: '127.0.0.1:{tcp}', format: cef, {FAST}}}}}\n"
        f"    - {{syslog: {{name: udp, address: '127.0.0.1:{udp}',"
        f" transport: udp, max_message: 65000, {FAST}}}}}\n"
        f"    - webhook: {{url: 'http://127.0.0.1:{hook}/', token_env: HOOK_TOKEN,"
        f" {FAST}}}\n"
    )


async def test_no_secret_or_full_card_number_reaches_any_sink(
    tmp_path: Path,
    hec_receiver: HttpReceiver,
    syslog_tcp: SyslogReceiver,
    syslog_udp: SyslogReceiver,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("HEC_TOKEN", HEC_TOKEN)
    monkeypatch.setenv("HOOK_TOKEN", "hook-secret-1")
    hook = HttpReceiver()
    hook.start()
    ports = (hec_receiver.port, syslog_tcp.port, syslog_udp.port, hook.port)
    caplog.set_level(logging.DEBUG)
    hec_receiver.fail_next(2, status=503)  # some retries, some log lines
    gate = Gate(policy(tmp_path, every_sink(tmp_path, *ports)))
    await gate.audit.start()
    headers = [("Authorization", f"Bearer {BEARER}"), ("Cookie", COOKIE)]
    for target in (f"/cards/{CARD}?token={API_KEY}", f"/x?pass={PASSWORD}"):
        await gate.send(target, headers=headers, findings=[SQLI], alert="replay")
        await gate.send(target, headers=headers)
    receivers = (hec_receiver, hook)
    assert await until(lambda: all(len(r.events) == 6 for r in receivers))
    assert await until(
        lambda: len(syslog_tcp.messages) == len(syslog_udp.messages) == 6
    )
    await gate.audit.aclose()
    hook.stop()

    outputs = {
        "file": (tmp_path / "audit.jsonl").read_bytes(),
        "hec": b"".join(hec_receiver.bodies),
        "syslog-cef": b"".join(syslog_tcp.messages),
        "syslog-udp": b"".join(syslog_udp.messages),
        "webhook": b"".join(hook.bodies),
        "log": caplog.text.encode(),
    }
    for where, output in outputs.items():
        assert b"************1111" in output or where == "log", where
        for secret in (*SECRETS, HEC_TOKEN, "hook-secret-1"):
            assert secret.encode() not in output, (where, secret)


@pytest.mark.parametrize(
    ("status", "delivered", "dropped"),
    [
        (413, 12, {}),  # too large: split in two, both halves delivered
        (429, 12, {}),  # throttled: retried
        (422, 0, {("rejected", "allowed"): 12}),  # refused for good: counted
    ],
)
async def test_webhook_answers_decide_between_split_retry_and_reject(
    tmp_path: Path, status: int, delivered: int, dropped: dict[tuple[str, str], int]
) -> None:
    receiver = HttpReceiver()
    receiver.start()
    receiver.fail_next(1, status)
    sink = f"    - webhook: {{url: 'http://127.0.0.1:{receiver.port}/', {FAST}}}\n"
    gate = Gate(policy(tmp_path, sink))
    await gate.burst(12)
    await gate.audit.start()
    channel = gate.audit.channels[0]
    assert await until(lambda: channel.stats.delivered + len(channel.stats.dropped) > 0)
    assert await until(lambda: len(receiver.events) == delivered, 2)
    await gate.audit.aclose()
    receiver.stop()
    assert channel.stats.dropped == dropped
    if delivered:
        assert receiver.ids() == expected_ids(gate.sent)
    if status == 413:
        assert [len(b.splitlines()) for b in receiver.bodies] == [12, 6, 6]
