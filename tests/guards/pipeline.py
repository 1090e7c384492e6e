"""A real engine on a policy, fed requests and answers the way the proxy does.

``Pipeline.send`` builds a request, lets the engine route and decide it
(the principal a token guard would have set may be given directly), and
``Pipeline.answer`` runs the route's response guards over an upstream
answer exactly as ``proxy.forward`` does: every ``on_response``, then, if
any guard wants the body, every ``filter_body`` on one shared header list.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from vaultgate.core.exchange import Exchange
from vaultgate.core.model import Decision, Principal
from vaultgate.core.policy import parse_policy
from vaultgate.core.request import Request
from vaultgate.engine import Engine
from vaultgate.guards import load_all
from vaultgate.state.base import Store
from vaultgate.state.memory import MemoryStore
from vaultgate.telemetry.audit import AuditLog, AuditSettings

T0 = 1_750_000_000.0


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def user(uid: str, accounts: list[Any] | None = None, *roles: str) -> Principal:
    """A principal as the token guard makes one from validated claims."""
    claims: dict[str, object] = {"sub": uid}
    if accounts is not None:
        claims["accounts"] = accounts
    return Principal("user", uid, frozenset(roles), claims=claims)


class Pipeline:
    """An engine with a memory store, an audit file and a hand-moved clock."""

    def __init__(
        self,
        tmp_path: Path,
        policy: str,
        store: Store | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.clock = clock or Clock()
        self.store = store if store is not None else MemoryStore()
        tmp_path.mkdir(parents=True, exist_ok=True)
        self.policy_path = tmp_path / "policy.yaml"
        self.policy_path.write_text(policy)
        self.audit = AuditLog(AuditSettings(str(tmp_path / "audit.jsonl")))
        load_all()  # every section registered before the policy is read
        loaded = parse_policy(policy, str(self.policy_path))
        self.engine = Engine(loaded, self.store, self.audit, self.clock)

    def reload(self, policy: str) -> None:
        self.policy_path.write_text(policy)
        self.engine.reload(parse_policy(policy, str(self.policy_path)))

    async def send(
        self,
        path: str,
        method: str = "GET",
        principal: Principal | None = None,
        headers: list[tuple[str, str]] | None = None,
        body: bytes | dict[str, Any] | list[Any] = b"",
        ip: str = "203.0.113.7",
    ) -> tuple[Decision, Exchange]:
        """The decision to enforce, and the exchange (its ``decision`` unrelaxed)."""
        fields = [("Host", "api.bank.test"), *(headers or [])]
        if not isinstance(body, bytes):
            body = orjson.dumps(body)
            fields.append(("Content-Type", "application/json"))
        request = Request(method, path, fields, ip, body=body, body_length=len(body))
        ex = self.engine.begin(request)
        ex.principal = principal
        decision = await self.engine.decide(ex)
        return decision, ex

    async def answer(
        self,
        ex: Exchange,
        status: int,
        body: bytes | dict[str, Any] | list[Any],
        headers: list[tuple[str, str]] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """What the client receives for this upstream answer."""
        if not isinstance(body, bytes):
            body = orjson.dumps(body)
            headers = [("Content-Type", "application/json"), *(headers or [])]
        fields = [*(headers or []), ("Content-Length", str(len(body)))]
        guards = self.engine.response_guards(ex)
        for guard in guards:
            await guard.on_response(ex, status, fields)
        if any(g.wants_body(ex, status, fields) for g in guards):
            for guard in guards:
                status, body = await guard.filter_body(ex, status, fields, body)
        return status, {k.lower(): v for k, v in fields}, body
