"""Helpers for the rate, login and bot guard tests: a real engine, a clock.

Requests go through ``Engine.begin`` and ``Engine.decide`` exactly as the
proxy calls them; ``respond`` plays the upstream's answer back through the
response guards the way the proxy does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest

from vaultgate.core.exchange import Exchange
from vaultgate.core.model import Decision
from vaultgate.core.policy import parse_policy
from vaultgate.core.request import Request
from vaultgate.engine import Engine
from vaultgate.guards import load_all
from vaultgate.state import open_store
from vaultgate.state.base import Store
from vaultgate.telemetry.audit import AuditLog, AuditSettings

T0 = 1_800_000_000.0
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)


@dataclass
class Clock:
    now: float = T0

    def __call__(self) -> float:
        return self.now


@dataclass
class Gate:
    """An engine on a policy, its store and its clock."""

    engine: Engine
    store: Store
    clock: Clock = field(default_factory=Clock)

    async def send(
        self,
        path: str = "/",
        ip: str = "198.51.100.7",
        method: str = "GET",
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> tuple[Exchange, Decision]:
        request = Request(method, path, [("Host", "api.bank.test"), *headers], ip)
        request.body, request.body_length = body, len(body)
        ex = self.engine.begin(request)
        decision = await self.engine.decide(ex)
        return ex, decision

    async def respond(self, ex: Exchange, status: int, body: object = None) -> None:
        """Play an upstream answer through the response guards."""
        headers = [("Content-Type", "application/json")]
        raw = orjson.dumps(body) if body is not None else b""
        for guard in self.engine.response_guards(ex):
            await guard.on_response(ex, status, headers)
            if guard.wants_body(ex, status, headers):
                status, raw = await guard.filter_body(ex, status, headers, raw)


def json_body(value: object) -> tuple[list[tuple[str, str]], bytes]:
    return [("Content-Type", "application/json")], orjson.dumps(value)


async def make_gate(
    policy: str, store_url: str, tmp_path: Path, clock: Clock | None = None
) -> Gate:
    load_all()
    text = "upstream: http://127.0.0.1:9\n" + policy
    if "reputation:" not in policy:
        # The running threat score would escalate on its own; these tests
        # watch the rate, login and bot guards alone.
        text += (
            "reputation: {score: {points: {finding: 0, blocked: 0, client_error: 0}}}\n"
        )
    parsed = parse_policy(text, "policy.yaml")
    store = open_store(store_url, timeout=0.2) if store_url else open_store("memory")
    await store.open()
    clock = clock or Clock()
    audit = AuditLog(AuditSettings(str(tmp_path / "audit.jsonl")))
    return Gate(Engine(parsed, store, audit, clock=clock), store, clock)


@pytest.fixture(params=["memory", "redis"])
async def store_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """The memory store, then a real Redis (flushed)."""
    if request.param == "memory":
        yield ""
    else:
        yield request.getfixturevalue("redis_url")
