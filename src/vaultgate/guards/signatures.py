"""Signed requests: HMAC-SHA256 over the request, a timestamp and a nonce.

How this works: the client signs a canonical string (below) with a secret
shared under a key id, and sends the key id, timestamp, nonce and signature
in four headers.  vaultgate rebuilds the string from what it received,
compares signatures in constant time, refuses a timestamp outside the
window and a nonce it has seen before (in the shared store, across every
process), so a captured request cannot be sent again, altered or late.

The canonical string is these lines joined by a single LF, with no final
LF, as the bytes that were sent (header values are latin-1 on the wire)::

    vaultgate-hmac-sha256
    <key id>
    <timestamp: Unix seconds, as sent>
    <nonce>
    <METHOD>
    <request-target: path and query exactly as sent>
    <name>:<value>      one line per signed header, in policy order; the
                        name lower case, the value with surrounding spaces
                        removed, empty when the header is absent
    <lower-case hex SHA-256 of the body>
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from vaultgate.core.exchange import Exchange
from vaultgate.core.model import Action, Decision, Phase, Principal
from vaultgate.core.policy import Policy, Route, Section, register_section
from vaultgate.core.request import Request
from vaultgate.core.schema import Node
from vaultgate.guards import seen
from vaultgate.guards.base import Guard, Services, register_guard
from vaultgate.guards.seen import StoreRefused
from vaultgate.state.base import Store

log = logging.getLogger("vaultgate.tokens")

SCHEME = "vaultgate-hmac-sha256"
KEY_ID_HEADER = "x-signature-key-id"
TIMESTAMP_HEADER = "x-signature-timestamp"
NONCE_HEADER = "x-signature-nonce"
SIGNATURE_HEADER = "x-signature"
# 16 bytes: a shorter HMAC key is guessable offline from one signed request.
MIN_SECRET_BYTES = 16
# 16-128 URL-safe characters: 96 bits of randomness at the least, and a
# bounded key in the seen-set.
_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,128}\Z")
_TIMESTAMP = re.compile(r"^\d{1,12}\Z")
_SIGNATURE = re.compile(r"^[0-9a-fA-F]{64}\Z")


@dataclass(frozen=True, slots=True)
class SignatureSettings:
    enabled: bool = False
    keys: Mapping[str, bytes] = field(default_factory=dict, repr=False)
    headers: tuple[str, ...] = ("host", "content-type")
    # 5 minutes each way: clients' clocks drift, and a nonce is remembered
    # for the whole window, so a longer one costs store memory.
    window: float = 300.0


def _parse_top(node: Node) -> SignatureSettings:
    fields = node.mapping({"keys", "headers", "window"})
    return _options(fields, SignatureSettings())


def _parse_route(node: Node, top: SignatureSettings) -> SignatureSettings:
    if node.value is True or node.value == "required":
        return _enabled(node, top)
    if node.value is False:
        return dataclasses.replace(top, enabled=False)
    fields = node.mapping({"keys", "headers", "window"})
    return _enabled(node, _options(fields, top))


def _enabled(node: Node, settings: SignatureSettings) -> SignatureSettings:
    if not settings.keys:
        raise node.error("signature keys (signature.keys at the top level)", False)
    return dataclasses.replace(settings, enabled=True)


def _options(fields: dict[str, Node], base: SignatureSettings) -> SignatureSettings:
    values: dict[str, Any] = {}
    if "keys" in fields:
        values["keys"] = _keys(fields["keys"], base.keys)
    if "headers" in fields:
        names = [n.text().lower() for n in fields["headers"].seq(allow_scalar=True)]
        values["headers"] = tuple(dict.fromkeys(names))
    if "window" in fields:
        values["window"] = fields["window"].duration()
    return dataclasses.replace(base, **values)


def _keys(node: Node, known: Mapping[str, bytes]) -> Mapping[str, bytes]:
    if isinstance(node.value, list):
        # A route may name a subset of the top-level keys by id.
        chosen = {}
        for item in node.seq():
            if item.text() not in known:
                raise item.error("a key id declared in the top-level signature.keys")
            chosen[item.text()] = known[item.text()]
        return MappingProxyType(chosen)
    return MappingProxyType({kid: _secret(kid, spec) for kid, spec in node.items()})


def _secret(kid: str, node: Node) -> bytes:
    fields = node.mapping({"env", "secret"})
    if len(fields) != 1:
        raise node.error("{env: <variable name>} (or {secret: ...})", False)
    if "env" in fields:
        name = fields["env"].text()
        value = os.environ.get(name, "")
        if not value:
            raise fields["env"].error(f"an environment variable {name} that is set")
    else:
        value = fields["secret"].text()
        log.warning("signature.inline_secret key_id=%s", kid)
    secret = value.encode("utf-8")
    if len(secret) < MIN_SECRET_BYTES:
        raise node.error(f"a secret of at least {MIN_SECRET_BYTES} bytes", False)
    return secret


register_section(Section("signature", _parse_top, _parse_route))


def canonical_string(
    request: Request, key_id: str, timestamp: str, nonce: str, headers: tuple[str, ...]
) -> bytes:
    """The bytes a client signs (see the module's docstring)."""
    lines = [SCHEME, key_id, timestamp, nonce, request.method, request.target]
    lines += [f"{name}:{(request.header(name) or '').strip()}" for name in headers]
    lines.append(hashlib.sha256(request.body).hexdigest())
    return "\n".join(lines).encode("latin-1")


def sign(secret: bytes, canonical: bytes) -> str:
    """The hex HMAC-SHA256 signature of a canonical string."""
    return hmac.new(secret, canonical, hashlib.sha256).hexdigest()


class _Refused(Exception):
    def __init__(self, reason: str, description: str, status: int = 401) -> None:
        super().__init__(reason)
        self.reason, self.description, self.status = reason, description, status


class SignatureGuard(Guard):
    """Verifies the HMAC signature of each request to the route."""

    name = "signature"
    phase = Phase.TOKENS

    def __init__(self, settings: SignatureSettings, store: Store) -> None:
        self.settings = settings
        self.store = store

    async def check(self, ex: Exchange) -> Decision | None:
        try:
            key_id = await self._verify(ex)
        except _Refused as exc:
            return _refusal(exc)
        except StoreRefused as exc:
            return exc.decision
        ex.tags["signature.key_id"] = key_id
        if ex.principal is None:
            ex.principal = Principal(kind="apikey", id=key_id)
        return None

    async def _verify(self, ex: Exchange) -> str:
        request, settings = ex.request, self.settings
        key_id, timestamp, nonce, signature = _signature_headers(request)
        secret = settings.keys.get(key_id)
        if secret is None:
            raise _Refused("signature.unknown_key", "signature key unknown")
        if abs(ex.now - int(timestamp)) > settings.window:
            raise _Refused("signature.expired", "signature outside its time window")
        if request.body_truncated:
            raise _Refused("signature.body_too_large", "body too large to verify", 413)
        canonical = canonical_string(
            request, key_id, timestamp, nonce, settings.headers
        )
        if not hmac.compare_digest(sign(secret, canonical), signature.lower()):
            raise _Refused("signature.bad", "signature invalid")
        # Kept past both ends of the window: a timestamp may be early or late.
        ttl = 2 * settings.window
        key = f"sig:nonce:{key_id}:{nonce}"
        if not await seen.first_seen(ex, self.store, self.name, key, ttl):
            raise _Refused("signature.replayed", "nonce already used")
        return key_id


def _signature_headers(request: Request) -> tuple[str, str, str, str]:
    values = [
        request.header(name)
        for name in (KEY_ID_HEADER, TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER)
    ]
    key_id, timestamp, nonce, signature = (v.strip() if v else "" for v in values)
    if not (key_id and timestamp and nonce and signature):
        raise _Refused("signature.missing", "request signature required")
    if not _TIMESTAMP.match(timestamp) or not _NONCE.match(nonce):
        raise _Refused("signature.malformed", "signature headers malformed")
    if not _SIGNATURE.match(signature):
        raise _Refused("signature.malformed", "signature headers malformed")
    return key_id, timestamp, nonce, signature


def _refusal(exc: _Refused) -> Decision:
    challenge = (
        f'HMAC-SHA256 error="invalid_signature", error_description="{exc.description}"'
    )
    headers = (("WWW-Authenticate", challenge),) if exc.status == 401 else ()
    return Decision(
        Action.BLOCK,
        exc.status,
        reasons=(exc.reason,),
        headers=headers,
        detail=f"The request signature was not accepted: {exc.description}.",
    )


@register_guard("signature", Phase.TOKENS)
def _factory(policy: Policy, route: Route, services: Services) -> Guard | None:
    settings: SignatureSettings = route.settings["signature"]
    return SignatureGuard(settings, services.store) if settings.enabled else None
