"""Sender-constrained tokens: DPoP proofs (RFC 9449) and certificate binding.

How this works: a DPoP proof is a JWT the client signs, per request, with a
private key whose public half travels in the proof's header.  ``verify_proof``
checks the proof alone (type, algorithm, key, signature, method, URL, age,
access-token hash) at the time passed in and returns the key's RFC 7638
thumbprint and the proof's ``jti``; the caller compares the thumbprint with
the access token's ``cnf.jkt`` and keeps the ``jti`` in a seen-set, since
replay needs shared state.  ``cert_bound`` is the RFC 8705 check of a token's
``cnf.x5t#S256`` against the digest of the client certificate.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson

from vaultgate.core.jwt_verify import (
    TokenInvalid,
    b64url,
    key_for_proof,
    parse_header,
    verify_signature,
)

# Members hashed for a thumbprint, by key type (RFC 7638 3.2).
_THUMBPRINT_MEMBERS = {
    "RSA": ("e", "kty", "n"),
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
}
# A proof's jti is a random identifier; 256 characters is far more than
# the 96 bits RFC 9449 11.1 asks for, and bounds what the seen-set stores.
MAX_JTI_LENGTH = 256
_DEFAULT_PORTS = {"http": 80, "https": 443}
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_UNRESERVED = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
)


@dataclass(frozen=True, slots=True)
class ProofRules:
    """What a DPoP proof must satisfy."""

    algorithms: frozenset[str]
    window: float = 60.0  # how old (by iat) a proof may be
    skew: float = 30.0  # tolerated clock difference, mostly for iat ahead


@dataclass(frozen=True, slots=True)
class Proof:
    """A DPoP proof that passed every check but the replay check."""

    jkt: str  # RFC 7638 thumbprint of the proof's key
    jti: str
    iat: float


def dpop_error(reason: str, description: str) -> TokenInvalid:
    return TokenInvalid("dpop." + reason, description)


def verify_proof(
    proof: str,
    rules: ProofRules,
    method: str,
    url: str,
    access_token: str,
    now: float,
) -> Proof:
    """Check a DPoP proof for a request to ``method url`` carrying ``access_token``."""
    header = parse_header(proof, "dpop")
    if header.get("typ") != "dpop+jwt":
        raise dpop_error("malformed", "proof type not dpop+jwt")
    alg = header["alg"]
    if alg not in rules.algorithms:
        raise dpop_error("alg_not_allowed", "proof algorithm not accepted")
    jwk = header.get("jwk")
    try:
        key = key_for_proof(jwk, alg)
    except ValueError:
        raise dpop_error("malformed", "proof key unusable") from None
    claims = verify_signature(proof, key, alg, "dpop")
    _check_request(claims, method, url)
    iat = _check_age(claims, rules, now)
    _check_ath(claims, access_token)
    return Proof(thumbprint(header["jwk"]), _jti(claims), iat)


def _check_request(claims: Mapping[str, Any], method: str, url: str) -> None:
    if claims.get("htm") != method:
        raise dpop_error("wrong_method", "proof is for another method")
    htu = claims.get("htu")
    if not isinstance(htu, str) or normalize_url(htu) != normalize_url(url):
        raise dpop_error("wrong_url", "proof is for another URL")


def _check_age(claims: Mapping[str, Any], rules: ProofRules, now: float) -> float:
    iat = claims.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, int | float):
        raise dpop_error("malformed", "proof lacks iat")
    if now - iat > rules.window + rules.skew or iat - now > rules.skew:
        raise dpop_error("stale", "proof outside its time window")
    return float(iat)


def _check_ath(claims: Mapping[str, Any], access_token: str) -> None:
    # RFC 9449 4.3: with an access token, ath must be its SHA-256 hash.
    ath = claims.get("ath")
    expected = access_token_hash(access_token)
    if not isinstance(ath, str) or not hmac.compare_digest(ath, expected):
        raise dpop_error("bad_ath", "proof not bound to this access token")


def _jti(claims: Mapping[str, Any]) -> str:
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
        raise dpop_error("malformed", "proof lacks a usable jti")
    return jti


def access_token_hash(token: str) -> str:
    """The ``ath`` value for an access token (RFC 9449 4.2)."""
    return b64url(hashlib.sha256(token.encode("ascii")).digest())


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 SHA-256 thumbprint of a public JWK, base64url."""
    members = _THUMBPRINT_MEMBERS.get(str(jwk.get("kty")))
    if members is None or any(not isinstance(jwk.get(m), str) for m in members):
        raise dpop_error("malformed", "proof key unusable")
    canonical = orjson.dumps({m: jwk[m] for m in members})
    return b64url(hashlib.sha256(canonical).digest())


def normalize_url(url: str) -> str:
    """Scheme, authority and path of ``url``, normalised (RFC 3986 6.2.2, 6.2.3).

    The query and fragment are dropped, as RFC 9449 4.3 compares without them.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return ""
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    path = _PERCENT.sub(_normalize_escape, parts.path) or "/"
    return f"{scheme}://{host}{path}"


def _normalize_escape(match: re.Match[str]) -> str:
    char = chr(int(match.group(0)[1:], 16))
    return char if char in _UNRESERVED else match.group(0).upper()


def request_url(scheme: str, host: str, path: str, public_url: str = "") -> str:
    """The URL a client used, as DPoP's htu names it (RFC 9449 4.3)."""
    if public_url:
        return public_url + path
    return f"{scheme}://{host}{path}"


def cert_bound(cnf: Mapping[str, Any], cert_sha256: bytes) -> bool:
    """Whether ``cnf.x5t#S256`` names the certificate of digest ``cert_sha256``."""
    expected = cnf.get("x5t#S256")
    if not isinstance(expected, str) or not cert_sha256:
        return False
    return hmac.compare_digest(expected, b64url(cert_sha256))
