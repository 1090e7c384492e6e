"""Idempotency keys: a retried payment is the same payment, or it is refused.

How this works: on a route that asks for it, a request carries an
``Idempotency-Key`` header.  The first request with a key claims it (an
atomic seen-once marker, per principal and route) and stores a digest of
its body; a later request with the same key passes to the API only if its
body has the same digest, so that the API's own idempotency can answer it,
and is refused with 422 otherwise.  A second request arriving while the
first has claimed the key but not yet stored its digest gets 409, as the
IETF idempotency-key draft recommends.  The key and digest are kept for
the route's ``ttl`` (24 hours by default).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from vaultgate.core.exchange import Exchange
from vaultgate.core.model import Action, Decision, Phase
from vaultgate.core.policy import Policy, Route, Section, register_section
from vaultgate.core.schema import Node
from vaultgate.errors import StateError
from vaultgate.guards.base import Guard, Services, register_guard
from vaultgate.state.base import Store
from vaultgate.state.settings import state_failed

# 255 characters: the IETF draft's examples are UUIDs (36); anything much
# longer is not a key a client generated but padding or an attack.
MAX_KEY_LENGTH = 255
_MODES = frozenset({"off", "optional", "required"})


@dataclass(frozen=True, slots=True)
class IdempotencySettings:
    mode: str = "off"
    header: str = "idempotency-key"
    # 24 hours: a client retries within minutes, a batch job within a day.
    ttl: float = 86400.0
    methods: frozenset[str] = frozenset({"POST", "PATCH"})


def _parse(node: Node, base: IdempotencySettings | None = None) -> IdempotencySettings:
    base = base or IdempotencySettings()
    if isinstance(node.value, str):
        return dataclasses.replace(base, mode=node.text(_MODES))
    fields = node.mapping({"mode", "header", "ttl", "methods"})
    values: dict[str, Any] = {}
    if "mode" in fields:
        values["mode"] = fields["mode"].text(_MODES)
    if "header" in fields:
        values["header"] = fields["header"].text().lower()
    if "ttl" in fields:
        values["ttl"] = max(fields["ttl"].duration(), 1.0)
    if "methods" in fields:
        names = fields["methods"].seq(allow_scalar=True)
        values["methods"] = frozenset(n.text().upper() for n in names)
    return dataclasses.replace(base, **values)


register_section(Section("idempotency", _parse, _parse))


class IdempotencyGuard(Guard):
    """Holds a route's requests to the Idempotency-Key contract."""

    name = "idempotency"
    phase = Phase.AUTHZ

    def __init__(self, settings: IdempotencySettings, store: Store) -> None:
        self.settings = settings
        self.store = store

    async def check(self, ex: Exchange) -> Decision | None:
        settings = self.settings
        if ex.request.method not in settings.methods:
            return None
        value = ex.request.header(settings.header)
        if value is None:
            if settings.mode == "required":
                return _MISSING
            return None
        key = _key(value)
        if key is None:
            return _MALFORMED
        try:
            return await self._claim(ex, key)
        except StateError as exc:
            # The route's on_state_error decides: payment routes say block.
            return state_failed(ex, self.name, exc)

    async def _claim(self, ex: Exchange, key: str) -> Decision | None:
        ttl, now = self.settings.ttl, ex.now
        slot = _slot(ex, key)
        digest = _body_digest(ex)
        if await self.store.first_seen(slot + ":claim", ttl, now):
            await self.store.put(slot, digest, ttl, now)
            return None
        stored = await self.store.get(slot)
        if stored is None:
            return _IN_PROGRESS
        if not hmac.compare_digest(stored, digest):
            return _MISMATCH
        ex.tags["idempotency.repeat"] = True
        return None


def _key(value: str) -> str | None:
    # RFC 8941 sf-string as the draft specifies, or the bare token that
    # most clients send; printable ASCII only.
    key = value.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not 0 < len(key) <= MAX_KEY_LENGTH or not key.isprintable() or not key.isascii():
        return None
    return key


def _slot(ex: Exchange, key: str) -> str:
    principal = ex.principal
    owner = (
        f"{principal.kind}:{principal.id}"
        if principal
        else f"ip:{ex.request.client_ip}"
    )
    # Hashed: the key and owner are client-chosen text of any shape.
    name = hashlib.sha256(f"{ex.route.path}\n{owner}\n{key}".encode()).hexdigest()
    return "idem:" + name[:40]


def _body_digest(ex: Exchange) -> bytes:
    request = ex.request
    # A body past the inspection limit is known by its prefix and length.
    text = f"{request.method}\n{request.target}\n{request.body_length}\n"
    return hashlib.sha256(text.encode("latin-1") + request.body).digest()


def _problem(status: int, reason: str, detail: str) -> Decision:
    return Decision(Action.BLOCK, status, reasons=(reason,), detail=detail)


_MISSING = _problem(
    400, "idempotency.missing", "An Idempotency-Key header is required."
)
_MALFORMED = _problem(400, "idempotency.malformed", "The Idempotency-Key is malformed.")
_MISMATCH = _problem(
    422,
    "idempotency.mismatch",
    "This Idempotency-Key was already used with a different request.",
)
_IN_PROGRESS = Decision(
    Action.BLOCK,
    409,
    reasons=("idempotency.in_progress",),
    headers=(("Retry-After", "1"),),
    detail="A request with this Idempotency-Key is still being processed.",
)


@register_guard("idempotency", Phase.AUTHZ)
def _factory(policy: Policy, route: Route, services: Services) -> Guard | None:
    settings: IdempotencySettings = route.settings["idempotency"]
    if settings.mode == "off":
        return None
    return IdempotencyGuard(settings, services.store)
