"""The sender-binding step of the token guard: DPoP proofs and mTLS binding.

The checks of a proof are pure (``core.binding``); this step gathers what
they need from the request, compares the proof's key with the token's
``cnf.jkt`` and keeps each proof's ``jti`` in the shared seen-set, so a
proof captured on the wire cannot be sent again by any vaultgate process
sharing the store.  A token bound to a key or a certificate is always
checked, whatever the route says: the route only decides whether an
unbound token is acceptable.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from vaultgate.core.binding import cert_bound, request_url, verify_proof
from vaultgate.core.exchange import Exchange
from vaultgate.core.jwt_verify import TokenInvalid, Verified
from vaultgate.guards import seen
from vaultgate.guards.token_policy import TokenSettings
from vaultgate.state.base import Store


async def check_binding(
    ex: Exchange,
    token: str,
    scheme: str,
    verified: Verified,
    settings: TokenSettings,
    store: Store,
) -> str:
    """Check the token's sender binding; returns "dpop", "mtls" or ""."""
    cnf = verified.claims.get("cnf")
    cnf = cnf if isinstance(cnf, dict) else {}
    binding = ""
    if "jkt" in cnf or settings.dpop == "required" or scheme == "dpop":
        await _check_dpop(ex, token, scheme, cnf, settings, store)
        binding = "dpop"
    if "x5t#S256" in cnf or settings.mtls == "required":
        _check_certificate(ex, cnf)
        binding = binding or "mtls"
    return binding


async def _check_dpop(
    ex: Exchange,
    token: str,
    scheme: str,
    cnf: Mapping[str, Any],
    settings: TokenSettings,
    store: Store,
) -> None:
    jkt = cnf.get("jkt")
    if not isinstance(jkt, str):
        raise TokenInvalid("dpop.unbound_token", "token not bound to a DPoP key")
    if scheme == "bearer":
        # RFC 9449 7.2: a DPoP-bound token sent as a bearer token is refused,
        # or a thief could drop the proof and use the token alone.
        raise TokenInvalid("dpop.bearer_scheme", "DPoP-bound token sent as bearer")
    proof = _proof_header(ex)
    request = ex.request
    host = request.header("host") or ""
    url = request_url(request.scheme, host, request.path, settings.public_url)
    checked = verify_proof(proof, settings.proof, request.method, url, token, ex.now)
    if not hmac.compare_digest(checked.jkt, jkt):
        raise TokenInvalid("dpop.key_mismatch", "proof key does not match the token")
    # Kept until the proof could no longer pass the age check anyway.
    ttl = settings.proof.window + 2 * settings.proof.skew
    key = f"tok:dpop:{checked.jkt}:{checked.jti}"
    if not await seen.first_seen(ex, store, "tokens", key, ttl):
        raise TokenInvalid("dpop.replayed", "proof replayed")


def _proof_header(ex: Exchange) -> str:
    proof = ex.request.header("dpop")
    if not proof:
        raise TokenInvalid("dpop.missing", "DPoP proof required")
    if "," in proof:
        # Repeated DPoP fields were joined with commas (RFC 9449 4.3: one only).
        raise TokenInvalid("dpop.malformed", "dpop malformed")
    return proof.strip()


def _check_certificate(ex: Exchange, cnf: Mapping[str, Any]) -> None:
    if "x5t#S256" not in cnf:
        raise TokenInvalid("token.cert_unbound", "token not bound to a certificate")
    tls = ex.request.tls
    if tls is None or not cert_bound(cnf, tls.client_cert_sha256):
        raise TokenInvalid("token.cert_mismatch", "token not bound to this certificate")
