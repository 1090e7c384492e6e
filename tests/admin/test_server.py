"""The admin server: authenticated Prometheus metrics, an open health check."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.telemetry.kit import Gate, policy
from vaultgate.admin.server import AdminServer, start_admin
from vaultgate.core.model import Action, Decision, Finding
from vaultgate.core.request import Request
from vaultgate.state import health
from vaultgate.telemetry.audit import Timings
from vaultgate.telemetry.metrics import observe_state

TOKEN = "admin-token-7f3a9c"


async def call(port: int, head: bytes) -> tuple[int, dict[str, str], str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head)
    data = await reader.read()
    writer.close()
    top, _, body = data.partition(b"\r\n\r\n")
    lines = top.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body.decode()


async def get(
    port: int, path: str, token: str | None = TOKEN
) -> tuple[int, dict[str, str], str]:
    auth = f"Authorization: Bearer {token}\r\n" if token is not None else ""
    return await call(port, f"GET {path} HTTP/1.1\r\nHost: x\r\n{auth}\r\n".encode())


def admin_policy(
    tmp: Path, admin: str = "{listen: '127.0.0.1:0', token_env: ADMIN_T}"
) -> str:
    sink = f"    - file: {tmp / 'audit.jsonl'}\n"
    return (
        policy(tmp, sink, "", "  - {path: /login, methods: [POST]}\n")
        + f"admin: {admin}\n"
    )


@pytest.fixture
async def served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Gate, AdminServer]]:
    monkeypatch.setenv("ADMIN_T", TOKEN)
    gate = Gate(admin_policy(tmp_path))
    server = await start_admin(gate.policy, gate.engine)
    assert server is not None
    yield gate, server
    await server.aclose()
    await gate.audit.aclose()


async def test_health_needs_no_token(served: tuple[Gate, AdminServer]) -> None:
    _, server = served
    assert await get(server.port, "/healthz", token=None) == (
        200,
        {
            "Content-Type": "text/plain; charset=utf-8",
            "Content-Length": "3",
            "Cache-Control": "no-store",
            "Connection": "close",
        },
        "ok\n",
    )


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"GET /metrics HTTP/1.1\r\n\r\n", 401),
        (b"GET /metrics HTTP/1.1\r\nAuthorization: Bearer wrong\r\n\r\n", 401),
        (
            b"GET /metrics HTTP/1.1\r\nAuthorization: Basic "
            + TOKEN.encode()
            + b"\r\n\r\n",
            401,
        ),
        (
            b"GET /metrics HTTP/1.1\r\nAuthorization: Bearer "
            + TOKEN.encode()
            + b"x\r\n\r\n",
            401,
        ),
        (
            b"GET /metrics HTTP/1.1\r\nauthorization: bearer "
            + TOKEN.encode()
            + b"\r\n\r\n",
            200,
        ),
        (b"POST /metrics HTTP/1.1\r\n\r\n", 405),
        (b"GET /admin HTTP/1.1\r\n\r\n", 404),
        (b"GET /metrics\r\n\r\n", 400),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", 400),
    ],
)
async def test_metrics_need_the_bearer_token(
    served: tuple[Gate, AdminServer], head: bytes, status: int
) -> None:
    _, server = served
    got, headers, _ = await call(server.port, head)
    assert got == status
    if status == 401:
        assert headers["WWW-Authenticate"] == 'Bearer realm="vaultgate-admin"'


async def test_without_the_token_variable_metrics_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ADMIN_T", raising=False)
    gate = Gate(admin_policy(tmp_path))
    server = await start_admin(gate.policy, gate.engine)
    assert server is not None
    assert (await get(server.port, "/metrics", token=""))[0] == 401
    assert (await get(server.port, "/healthz"))[0] == 200
    await server.aclose()


async def test_no_admin_section_no_server(tmp_path: Path) -> None:
    gate = Gate(policy(tmp_path, "    - stdout: {}\n"))
    assert await start_admin(gate.policy, gate.engine) is None


async def test_each_worker_takes_its_own_port(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        base = probe.getsockname()[1]
    gate = Gate(admin_policy(tmp_path, f"{{listen: '127.0.0.1:{base}'}}"))
    numbered = await start_admin(gate.policy, gate.engine, worker=2)
    first = await start_admin(gate.policy, gate.engine)
    second = await start_admin(gate.policy, gate.engine)
    taken = await start_admin(gate.policy, gate.engine, worker=0)
    assert numbered is not None and numbered.port == base + 2
    assert first is not None and first.port == base
    assert second is not None and second.port == base + 1
    assert taken is None, "a port in use is logged, not fatal"
    assert "admin.listen_failed" in caplog.text
    for server in (numbered, first, second):
        await server.aclose()


SERIES = re.compile(r"^(\w+)(?:\{(.*)\})? (\S+)$")
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def sample(body: str, name: str, **labels: str) -> float:
    """The value of one series in a Prometheus text exposition (0 if absent)."""
    for match in filter(None, map(SERIES.match, body.splitlines())):
        if match.group(1) == name and dict(LABEL.findall(match[2] or "")) == labels:
            return float(match.group(3))
    return 0.0


async def traffic(gate: Gate) -> None:
    """A clean request, an attack, an odd method, a trap, a throttled login."""
    sqli = Finding("sqli", "sqli.union", 5, "query:q", "union")
    await gate.send("/accounts/1")
    await gate.send("/accounts/2", findings=[sqli])
    await gate.send("/accounts/3", method="BREW")
    await gate.send("/.env", status=404)  # a trap: trap_hit and ban alerts
    ex = gate.engine.begin(Request("POST", "/login", [], "203.0.113.8"))
    ex.decision = Decision(Action.THROTTLE, 429, 0, ("limits.ip",))
    ex.tags["upstream_error"] = "connect"
    gate.engine.finish(ex, 429, Timings(inspection_us=30))
    observe_state("rate", 0.0004)
    health.count("rate", "timeout")


ANY = {"route": "/{*}"}
REQUESTS = "vaultgate_requests_total"


def labels(route: str, method: str, status: str, decision: str) -> dict[str, str]:
    return {"route": route, "method": method, "status": status, "decision": decision}


# (metric, labels, how much one round of ``traffic`` adds)
GROWTH = [
    (REQUESTS, labels("/{*}", "GET", "200", "allow"), 1),
    (REQUESTS, labels("/{*}", "GET", "200", "block"), 1),
    (REQUESTS, labels("/{*}", "OTHER", "200", "block"), 1),
    (REQUESTS, labels("/login", "POST", "429", "throttle"), 1),
    ("vaultgate_findings_total", {"family": "sqli", "rule": "sqli.union"}, 1),
    ("vaultgate_alerts_total", {"type": "trap_hit"}, 1),
    ("vaultgate_bans_total", {}, 1),
    ("vaultgate_rate_limited_total", {"route": "/login"}, 1),
    ("vaultgate_upstream_errors_total", {"route": "/login", "reason": "connect"}, 1),
    ("vaultgate_inspection_seconds_bucket", {"route": "/login", "le": "5e-05"}, 1),
    ("vaultgate_upstream_seconds_count", ANY, 4),
    ("vaultgate_state_seconds_count", {"operation": "rate"}, 1),
    ("vaultgate_state_errors_total", {"operation": "rate", "kind": "timeout"}, 1),
]


async def test_metrics_count_requests_findings_alerts_and_the_store(
    served: tuple[Gate, AdminServer],
) -> None:
    gate, server = served
    before = (await get(server.port, "/metrics"))[2]
    await traffic(gate)
    status, headers, after = await get(server.port, "/metrics")
    assert status == 200
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    for name, labels, added in GROWTH:
        grew = sample(after, name, **labels) - sample(before, name, **labels)
        assert grew == added, (name, labels)


async def test_metrics_show_each_sink_and_the_process(
    served: tuple[Gate, AdminServer], tmp_path: Path
) -> None:
    gate, server = served
    await traffic(gate)
    gate.audit.flush()
    body = (await get(server.port, "/metrics"))[2]
    written = len((tmp_path / "audit.jsonl").read_text().splitlines())
    assert sample(body, "vaultgate_audit_delivered_total", sink="file") == written
    assert sample(body, "vaultgate_audit_queue_events", sink="file") == 0
    assert sample(body, "vaultgate_audit_sink_up", sink="file") == 1
    assert sample(body, "vaultgate_audit_spool_bytes", sink="file") == 0
    assert "process_cpu_seconds_total" in body
