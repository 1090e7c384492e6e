"""Real keys, tokens, proofs and a real engine for the token-security tests."""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import orjson
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from vaultgate.core.binding import access_token_hash, thumbprint
from vaultgate.core.exchange import Exchange
from vaultgate.core.model import Decision
from vaultgate.core.policy import load_policy
from vaultgate.core.request import Request, TLSInfo
from vaultgate.engine import Engine
from vaultgate.guards import load_all
from vaultgate.state.base import Store
from vaultgate.state.memory import MemoryStore
from vaultgate.telemetry.audit import AuditLog, AuditSettings, Timings

load_all()

ISSUER = "https://idp.bank.test"
AUDIENCE = "payments-api"
T0 = 1_800_000_000.0  # the tests' "now"


@dataclass
class Key:
    kid: str
    alg: str
    private: Any

    @property
    def jwk(self) -> dict[str, Any]:
        public = self.private.public_key()
        if self.alg.startswith(("RS", "PS")):
            data = RSAAlgorithm.to_jwk(public, as_dict=True)
        elif self.alg.startswith("ES"):
            data = ECAlgorithm.to_jwk(public, as_dict=True)
        else:
            data = OKPAlgorithm.to_jwk(public, as_dict=True)
        return {**data, "kid": self.kid, "use": "sig"}

    @property
    def jkt(self) -> str:
        return thumbprint(self.jwk)


_RSA_CACHE: dict[int, Any] = {}


def rsa_key(kid: str, alg: str = "RS256", slot: int = 0) -> Key:
    # RSA generation costs ~50 ms: tests share a few keys by slot.
    if slot not in _RSA_CACHE:
        _RSA_CACHE[slot] = rsa.generate_private_key(
            public_exponent=65537, key_size=2048
        )
    return Key(kid, alg, _RSA_CACHE[slot])


def ec_key(kid: str) -> Key:
    return Key(kid, "ES256", ec.generate_private_key(ec.SECP256R1()))


def ed_key(kid: str) -> Key:
    return Key(kid, "EdDSA", ed25519.Ed25519PrivateKey.generate())


def jwks(*keys: Key) -> dict[str, Any]:
    return {"keys": [k.jwk for k in keys]}


def claims(now: float = T0, **over: Any) -> dict[str, Any]:
    base = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "iat": int(now),
        "exp": int(now) + 300,
        "jti": uuid.uuid4().hex,
        "roles": ["customer"],
        "scope": "payments:read payments:write",
        "accounts": ["acc-1", "acc-2"],
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def mint(key: Key, body: dict[str, Any], **headers: Any) -> str:
    return jwt.encode(
        body, key.private, algorithm=key.alg, headers={"kid": key.kid, **headers}
    )


def mint_raw(key: Key, body: dict[str, Any]) -> str:
    """A token whose claims PyJWT's encoder would refuse (a list as iss ...)."""
    return jwt.PyJWS().encode(
        orjson.dumps(body), key.private, key.alg, {"kid": key.kid}
    )


def proof(
    key: Key,
    method: str,
    url: str,
    token: str | None,
    now: float = T0,
    typ: str = "dpop+jwt",
    **over: Any,
) -> str:
    body: dict[str, Any] = {
        "jti": uuid.uuid4().hex,
        "htm": method,
        "htu": url,
        "iat": int(now),
    }
    if token is not None:
        body["ath"] = access_token_hash(token)
    body.update(over)
    body = {k: v for k, v in body.items() if v is not None}
    headers = {"typ": typ, "jwk": key.jwk}
    return jwt.encode(body, key.private, algorithm=key.alg, headers=headers)


def write_json(path: Path, data: Any) -> Path:
    path.write_bytes(orjson.dumps(data))
    return path


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Gate:
    """A real engine on a policy file, fed requests as the proxy would."""

    def __init__(
        self, policy: Path, clock: Clock | None = None, store: Store | None = None
    ):
        self.clock = clock or Clock()
        self.policy_path = policy
        self.audit_path = policy.parent / "audit.jsonl"
        self.audit = AuditLog(AuditSettings(str(self.audit_path)))
        self.engine = Engine(
            load_policy(str(policy)),
            store if store is not None else MemoryStore(),
            self.audit,
            self.clock,
        )

    def reload(self) -> None:
        self.engine.reload(load_policy(str(self.policy_path)))

    async def send(
        self,
        path: str = "/payments",
        token: str | None = None,
        method: str = "GET",
        scheme: str = "Bearer",
        headers: list[tuple[str, str]] | None = None,
        client_ip: str = "203.0.113.7",
        cert_der: bytes | None = None,
        body: bytes = b"",
    ) -> tuple[Decision, Exchange]:
        fields = [("Host", "api.bank.test"), ("User-Agent", "kit/1.0")]
        if token is not None:
            fields.append(("Authorization", f"{scheme} {token}"))
        fields += headers or []
        tls = (
            TLSInfo(client_cert_sha256=hashlib.sha256(cert_der).digest())
            if cert_der
            else None
        )
        request = Request(
            method, path, fields, client_ip, scheme="http", tls=tls, body=body
        )
        request.body_length = len(body)
        ex = self.engine.begin(request)
        decision = await self.engine.decide(ex)
        return ex.decision or decision, ex

    def audit_events(self) -> list[dict[str, Any]]:
        self.audit.flush()
        return [
            orjson.loads(line) for line in self.audit_path.read_bytes().splitlines()
        ]

    def finish(self, ex: Exchange, status: int) -> None:
        self.engine.finish(ex, status, Timings())


def policy_file(
    tmp: Path, tokens: str, routes: str = "", jwks_path: str = "jwks.json"
) -> Path:
    text = (
        "upstream: http://127.0.0.1:9\n"
        f"audit: {{file: {tmp / 'unused-audit.jsonl'}}}\n"
        "tokens:\n"
        "  jwt:\n"
        f"    jwks: {jwks_path}\n"
        f"    issuer: {ISSUER}\n"
        f"    audience: {AUDIENCE}\n"
        + tokens
        + ("routes:\n" + routes if routes else "")
    )
    path = tmp / "policy.yaml"
    path.write_text(text)
    return path


def random_id() -> str:
    return os.urandom(8).hex()
