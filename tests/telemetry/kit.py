"""A real engine and audit log on a policy, fed requests as the proxy would."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from pathlib import Path

from tests.fixtures.receivers import wait_until
from vaultgate.core.exchange import Exchange
from vaultgate.core.model import Finding
from vaultgate.core.policy import parse_policy
from vaultgate.core.request import Request
from vaultgate.engine import Engine
from vaultgate.guards import load_all
from vaultgate.state.memory import MemoryStore
from vaultgate.telemetry.alerts import raise_alert
from vaultgate.telemetry.audit import AuditLog, Timings

load_all()

# Values that must never leave the process in clear.
CARD = "4111111111111111"
CARD_SPACED = "5500 0000 0000 0004"
BEARER = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6NH0.c2lnbmF0dXJlLWhlcmU"
API_KEY = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
COOKIE = "session=9f8e7d6c5b4a39281706f5e4d3c2b1a0"
PASSWORD = "correct-horse-battery-staple"
SECRETS = (CARD, CARD_SPACED, BEARER, API_KEY, COOKIE.split("=")[1], PASSWORD)
# Fast retries so that outages in tests last tenths of a second.
FAST = "flush_interval: 20ms, retry_min: 20ms, retry_max: 100ms, timeout: 2s"


def policy(tmp: Path, sinks: str, audit_extra: str = "", routes: str = "") -> str:
    """A policy whose audit log spools under ``tmp`` and sends to ``sinks``."""
    text = (
        "upstream: http://127.0.0.1:9\n"
        "audit:\n"
        f"  spool_dir: {tmp / 'spool'}\n"
        f"  sinks:\n{sinks}"
        f"{audit_extra}"
    )
    return text + (f"routes:\n{routes}" if routes else "")


class Gate:
    """The engine and audit log of one policy."""

    def __init__(self, text: str) -> None:
        self.policy = parse_policy(text, "p.yaml")
        self.audit = AuditLog(self.policy.settings["audit"])
        self.engine = Engine(self.policy, MemoryStore(), self.audit)
        self.sent: list[Exchange] = []

    async def send(
        self,
        path: str = "/accounts/1001",
        method: str = "GET",
        headers: Iterable[tuple[str, str]] = (),
        findings: Iterable[Finding] = (),
        alert: str = "",
        status: int = 200,
    ) -> Exchange:
        """One request through decide and finish; its exchange."""
        fields = [("Host", "api.bank.test"), ("User-Agent", "kit/1.0"), *headers]
        request = Request(method, path, fields, "203.0.113.7", peer_ip="10.0.0.2")
        ex = self.engine.begin(request)
        for finding in findings:
            ex.add(finding)
        await self.engine.decide(ex)
        if alert:
            raise_alert(ex, alert, account=CARD)
        self.engine.finish(ex, status, Timings(40, 900, 1000, 120, 2048))
        self.sent.append(ex)
        return ex

    async def burst(self, count: int, every_alert: int = 0) -> None:
        """``count`` requests; every ``every_alert``-th one raises an alert."""
        for i in range(count):
            alert = "bola" if every_alert and i % every_alert == 0 else ""
            await self.send(f"/accounts/{1000 + i}", alert=alert)


def expected_ids(sent: Iterable[Exchange], alerts: bool = True) -> list[str]:
    """The event ids the audit log must have written for ``sent``."""
    out = []
    for ex in sent:
        out.append(ex.incident_id)
        tagged = ex.tags.get("alert") or []
        if alerts:
            out += [f"{ex.incident_id}-{a['type']}" for a in tagged]
    return out


async def until(test: Callable[[], bool], seconds: float = 10.0) -> bool:
    """``wait_until`` in a thread, so the event loop runs while waiting."""
    return await asyncio.to_thread(wait_until, test, seconds)
