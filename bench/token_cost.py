"""Token validation cost per request, cold and cached, in microseconds.

Measures, on this machine and one core, with keys generated here:

* cold: a token never seen, verified from scratch (header, key lookup,
  signature, claims), for each key type;
* cached: the same token again (digest, cache lookup, time checks);
* the token guard's whole ``check`` on a fresh request with a cached token
  (token from the header, cache, revocation, scopes, binding, principal),
  which is what a hot token costs the proxy; then with single use and
  drift on, on the in-memory store;
* a DPoP proof's verification.

Prints one line per figure.  Not a test: run ``python -m bench.token_cost``.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import jwt
import orjson
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from vaultgate.core.binding import (
    ProofRules,
    access_token_hash,
    thumbprint,
    verify_proof,
)
from vaultgate.core.exchange import Exchange
from vaultgate.core.jwt_verify import JwtRules, parse_jwks, verify_token
from vaultgate.core.policy import parse_policy
from vaultgate.core.request import Request
from vaultgate.engine import Engine
from vaultgate.guards import load_all
from vaultgate.guards.base import Services, build_guards
from vaultgate.guards.tokens import TokenGuard
from vaultgate.state.memory import MemoryStore
from vaultgate.telemetry.audit import AuditLog, AuditSettings

ISSUER, AUDIENCE = "https://idp.bench", "bench-api"
NOW = time.time()
ALGORITHMS = frozenset({"RS256", "PS256", "ES256", "EdDSA"})


def _keys() -> dict[str, tuple[Any, dict[str, Any]]]:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ed_key = ed25519.Ed25519PrivateKey.generate()
    return {
        "RS256": (rsa_key, RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True)),
        "PS256": (rsa_key, RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True)),
        "ES256": (ec_key, ECAlgorithm.to_jwk(ec_key.public_key(), as_dict=True)),
        "EdDSA": (ed_key, OKPAlgorithm.to_jwk(ed_key.public_key(), as_dict=True)),
    }


def _token(alg: str, key: Any, **extra: Any) -> str:
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "iat": int(NOW),
        "exp": int(NOW) + 3600,
        "jti": uuid.uuid4().hex,
        "scope": "payments:read payments:write",
        "roles": ["customer"],
        "accounts": ["acc-1", "acc-2"],
        **extra,
    }
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": alg})


def per_call_us(run: Callable[[int], None], count: int) -> float:
    """Microseconds per call of ``run(i)`` over ``count`` calls (best of 3)."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter_ns()
        for i in range(count):
            run(i)
        best = min(best, (time.perf_counter_ns() - start) / count / 1000)
    return best


def drive(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine that never suspends (memory store, cached keys)."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    raise RuntimeError("the coroutine suspended: the bench needs a non-I/O path")


def bench_pure(keys: dict[str, tuple[Any, dict[str, Any]]], count: int) -> None:
    document = orjson.dumps(
        {"keys": [{**jwk, "kid": a} for a, (_, jwk) in keys.items()]}
    )
    keyset, _ = parse_jwks(document, ALGORITHMS)
    rules = JwtRules(ALGORITHMS, frozenset({ISSUER}), frozenset({AUDIENCE}))
    for alg, (key, _) in keys.items():
        token = _token(alg, key)
        cost = per_call_us(
            lambda i, t=token: verify_token(t, keyset, rules, NOW), count
        )
        print(f"cold verification {alg:6}          {cost:9.1f} us")


def _guard(jwks_path: Path, extra: str) -> tuple[TokenGuard, Engine]:
    text = (
        "upstream: http://127.0.0.1:9\n"
        "tokens:\n"
        f"  jwt: {{jwks: '{jwks_path}', issuer: '{ISSUER}', audience: {AUDIENCE}}}\n"
        f"{extra}"
    )
    policy = parse_policy(text)
    engine = Engine(policy, MemoryStore(), AuditLog(AuditSettings("/dev/null")))
    services = Services(engine.store, lambda: NOW)
    guards = build_guards(policy, policy.default_route, services)
    return next(g for g in guards if isinstance(g, TokenGuard)), engine


def _exchanges(
    engine: Engine, headers: list[tuple[str, str]], n: int
) -> list[Exchange]:
    out = []
    for i in range(n):
        request = Request("GET", "/accounts", list(headers), f"203.0.113.{i % 200}")
        ex = engine.begin(request)
        ex.now = NOW
        out.append(ex)
    return out


def bench_guard(jwks_path: Path, key: Any, count: int) -> None:
    for label, extra in (("drift off", "  drift: false\n"), ("drift on", "")):
        guard, engine = _guard(jwks_path, extra)
        token = _token("ES256", key)
        exchanges = _exchanges(engine, [("Authorization", "Bearer " + token)], count)
        assert drive(guard.check(exchanges[0])) is None  # verified, now cached
        cost = _timed(guard, exchanges[1:])
        print(f"guard check, cached token, {label:11} {cost:9.1f} us")
    guard, engine = _guard(jwks_path, "  drift: false\n")
    fresh = [_token("ES256", key) for _ in range(max(count // 40, 100))]
    exchanges = [
        _exchanges(engine, [("Authorization", "Bearer " + t)], 1)[0] for t in fresh
    ]
    print(f"guard check, cold token (ES256)        {_timed(guard, exchanges):9.1f} us")


def _timed(guard: TokenGuard, exchanges: list[Exchange]) -> float:
    """Microseconds per ``check``, each on its own fresh request."""
    start = time.perf_counter_ns()
    for ex in exchanges:
        if drive(guard.check(ex)) is not None:
            raise RuntimeError("the bench token was refused")
    return (time.perf_counter_ns() - start) / len(exchanges) / 1000


def bench_cache(jwks_path: Path, key: Any, count: int) -> None:
    guard, _ = _guard(jwks_path, "  drift: false\n")
    token = _token("ES256", key)
    digest = hashlib.sha256(token.encode()).digest()
    drive(guard.verifier.verify(token, digest, NOW))
    verifier = guard.verifier

    def hit(i: int) -> None:
        verifier.cached(hashlib.sha256(token.encode("latin-1")).digest(), NOW)

    print(f"cached lookup (digest + cache + times) {per_call_us(hit, count):9.1f} us")


def bench_dpop(keys: dict[str, tuple[Any, dict[str, Any]]], count: int) -> None:
    key, jwk = keys["ES256"]
    token = _token("ES256", key, cnf={"jkt": thumbprint(jwk)})
    url = "https://api.bench/payments"
    body = {"jti": "p", "htm": "POST", "htu": url, "iat": int(NOW)}
    body["ath"] = access_token_hash(token)
    proof = jwt.encode(body, key, "ES256", headers={"typ": "dpop+jwt", "jwk": jwk})
    rules = ProofRules(ALGORITHMS)
    cost = per_call_us(
        lambda i: verify_proof(proof, rules, "POST", url, token, NOW), count
    )
    print(f"DPoP proof verification (ES256)        {cost:9.1f} us")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=20_000, help="cached iterations")
    args = parser.parse_args()
    load_all()
    keys = _keys()
    with tempfile.TemporaryDirectory() as tmp:
        jwks_path = Path(tmp) / "jwks.json"
        jwks_path.write_bytes(
            orjson.dumps(
                {"keys": [{**jwks, "kid": a} for a, (_, jwks) in keys.items()]}
            )
        )
        bench_pure(keys, max(args.count // 40, 100))
        bench_cache(jwks_path, keys["ES256"][0], args.count)
        bench_guard(jwks_path, keys["ES256"][0], args.count)
        bench_dpop(keys, max(args.count // 40, 100))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
