"""The demo bank's access tokens: ES256 JWTs and the JWKS that verifies them.

The signing key is an EC P-256 key made at start (so no key is ever
committed) or read from a PEM file.  The JWKS carries the public half with a
``kid`` that is its RFC 7638 thumbprint, so vaultgate, given the JWKS file,
verifies the demo's tokens exactly as it would a real issuer's.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from vaultgate.demo.data import User, accounts_of

ISSUER = "https://demo-bank.local"
AUDIENCE = "payments-api"
ALGORITHM = "ES256"
# 15 minutes: a usual lifetime for a bank's access token.
LIFETIME_SECONDS = 15 * 60
# Verified tokens are remembered so that a load test does not spend its
# time in ECDSA; past this many the memory is simply emptied.
MAX_CACHED_TOKENS = 10_000

_SCOPES = {
    "customer": "accounts:read payments:write",
    "support": "accounts:read tickets:write",
}


class KeyFileError(Exception):
    """The PEM file given for the signing key is missing or not an EC P-256 key."""


def load_key(path: str | None) -> ec.EllipticCurvePrivateKey:
    """The signing key from a PEM file, or a new one when ``path`` is None."""
    if path is None:
        return ec.generate_private_key(ec.SECP256R1())
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), None)
    except (OSError, ValueError, TypeError) as exc:
        raise KeyFileError(f"{path}: not a readable PEM private key ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise KeyFileError(f"{path}: expected an EC P-256 private key")
    return key


def public_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    """The public JWK of ``key``, with its RFC 7638 thumbprint as ``kid``."""
    numbers = key.public_key().public_numbers()
    members = {
        "crv": "P-256",
        "kty": "EC",
        "x": _b64(numbers.x.to_bytes(32, "big")),
        "y": _b64(numbers.y.to_bytes(32, "big")),
    }
    # RFC 7638 section 3: required members only, sorted, no whitespace.
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":"))
    kid = _b64(hashlib.sha256(canonical.encode()).digest())
    return {**members, "use": "sig", "alg": ALGORITHM, "kid": kid}


def write_jwks(jwks: dict[str, Any], path: str) -> None:
    """Write a JWKS file atomically, so a reader never sees half of it."""
    target = Path(path)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(jwks, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, target)


class TokenIssuer:
    """Issues and verifies the demo bank's access tokens."""

    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        self._key = key
        self._public = key.public_key()
        jwk = public_jwk(key)
        self.kid = jwk["kid"]
        self.jwks: dict[str, Any] = {"keys": [jwk]}
        self._verified: dict[str, dict[str, Any]] = {}

    def issue(self, user: User, now: int) -> str:
        """A signed access token for ``user``, valid from ``now``."""
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": user.user_id,
            "name": user.name,
            "preferred_username": user.username,
            "roles": list(user.roles),
            "accounts": [a.id for a in accounts_of(user.customer)],
            "scope": " ".join(_SCOPES[role] for role in user.roles),
            "jti": secrets.token_urlsafe(16),
            "iat": now,
            "nbf": now,
            "exp": now + LIFETIME_SECONDS,
        }
        headers = {"kid": self.kid, "typ": "JWT"}
        return jwt.encode(claims, self._key, algorithm=ALGORITHM, headers=headers)

    def verify(self, token: str, now: float) -> dict[str, Any] | None:
        """The token's claims when it is ours and valid at ``now``, else None."""
        claims = self._verified.get(token)
        if claims is None:
            claims = self._decode(token)
            if claims is None:
                return None
            if len(self._verified) >= MAX_CACHED_TOKENS:
                self._verified.clear()
            self._verified[token] = claims
        if not claims["nbf"] <= now < claims["exp"]:
            return None
        return claims

    def _decode(self, token: str) -> dict[str, Any] | None:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._public,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "nbf", "iat", "sub", "jti"]},
                leeway=5,
            )
        except jwt.PyJWTError:
            return None
        return claims


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
