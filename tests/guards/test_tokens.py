"""JWT validation through a real engine: each failure refused with its reason."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from pathlib import Path
from typing import Any

import jwt
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.guards.jose_kit import (
    AUDIENCE,
    ISSUER,
    T0,
    Gate,
    Key,
    claims,
    ec_key,
    ed_key,
    jwks,
    mint,
    mint_raw,
    policy_file,
    rsa_key,
    write_json,
)
from vaultgate.core.model import Action
from vaultgate.errors import PolicyError

ROUTES = """\
  - path: /health
    tokens: false
  - path: /login
    tokens: {required: false}
  - path: /payments
  - path: /transfers
    tokens: {single_use: true}
  - path: /admin
    tokens: {scopes: [admin]}
"""


@pytest.fixture(scope="module")
def keys() -> dict[str, Key]:
    return {
        "rsa": rsa_key("r1"),
        "pss": rsa_key("r1", "PS256"),
        "ec": ec_key("e1"),
        "ed": ed_key("d1"),
        "other_ec": ec_key("e1"),  # same kid, another key: a forger's
        "new_ec": ec_key("e2"),
    }


@pytest.fixture
def gate(tmp_path: Path, keys: dict[str, Key]) -> Gate:
    write_json(tmp_path / "jwks.json", jwks(keys["rsa"], keys["ec"], keys["ed"]))
    return Gate(policy_file(tmp_path, "    max_age: 1h\n", ROUTES))


@pytest.mark.parametrize("name", ["rsa", "pss", "ec", "ed"])
async def test_valid_tokens_of_each_key_type_pass_and_name_the_principal(
    gate: Gate, keys: dict[str, Key], name: str
) -> None:
    body = claims(jti="t-1")
    decision, ex = await gate.send(token=mint(keys[name], body))
    assert decision.action is Action.ALLOW
    assert ex.principal is not None
    assert (ex.principal.kind, ex.principal.id) == ("user", "alice")
    assert ex.principal.roles == {"customer"}
    assert ex.principal.scopes == {"payments:read", "payments:write"}
    assert ex.principal.claims["accounts"] == ["acc-1", "acc-2"]
    assert ex.principal.token_id == "t-1"


def _hs256_with_rsa_public_key(key: Key, body: dict[str, Any]) -> str:
    # The classic confusion attack: the RSA public key's PEM as HMAC secret.
    pem = key.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": key.kid}
    signing = _b64(header) + "." + _b64(body)
    signature = hmac.new(pem, signing.encode(), hashlib.sha256).digest()
    return signing + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode()


def _unsigned(body: dict[str, Any]) -> str:
    return _b64({"alg": "none", "typ": "JWT", "kid": "r1"}) + "." + _b64(body) + "."


def _tampered(token: str) -> str:
    head, payload, sig = token.split(".")
    body = claims(sub="mallory")
    return head + "." + _b64(body) + "." + sig


# (what, token builder, reason, description): one row per way to be wrong.
REFUSALS = [
    (
        "expired",
        lambda k: mint(k["ec"], claims(exp=int(T0) - 31)),
        "token.expired",
        "token expired",
    ),
    (
        "not yet valid",
        lambda k: mint(k["ec"], claims(nbf=int(T0) + 60)),
        "token.not_yet_valid",
        "token not yet valid",
    ),
    (
        "issued in future",
        lambda k: mint(k["ec"], claims(iat=int(T0) + 60)),
        "token.not_yet_valid",
        "token not yet valid",
    ),
    (
        "too old",
        lambda k: mint(k["ec"], claims(iat=int(T0) - 3700)),
        "token.too_old",
        "token too old",
    ),
    (
        "no iat with max_age",
        lambda k: mint(k["ec"], claims(iat=None)),
        "token.too_old",
        "token too old",
    ),
    (
        "wrong issuer",
        lambda k: mint(k["ec"], claims(iss="https://evil.test")),
        "token.bad_issuer",
        "issuer not accepted",
    ),
    (
        # Pins a fixed bug: a list where a string belongs raised TypeError.
        "issuer a list",
        lambda k: mint_raw(k["ec"], claims(iss=[ISSUER])),
        "token.bad_issuer",
        "issuer not accepted",
    ),
    (
        "no issuer",
        lambda k: mint(k["ec"], claims(iss=None)),
        "token.bad_issuer",
        "issuer not accepted",
    ),
    (
        "wrong audience",
        lambda k: mint(k["ec"], claims(aud="other-api")),
        "token.bad_audience",
        "audience not accepted",
    ),
    (
        "audience list without ours",
        lambda k: mint(k["ec"], claims(aud=["a", "b"])),
        "token.bad_audience",
        "audience not accepted",
    ),
    (
        "no exp",
        lambda k: mint(k["ec"], claims(exp=None)),
        "token.missing_claim",
        "token lacks a required claim",
    ),
    (
        "exp not a number",
        lambda k: mint(k["ec"], claims(exp="tomorrow")),
        "token.malformed",
        "token malformed",
    ),
    (
        "alg none",
        lambda k: _unsigned(claims()),
        "token.alg_not_allowed",
        "token algorithm not accepted",
    ),
    (
        "HS256 with RSA public key",
        lambda k: _hs256_with_rsa_public_key(k["rsa"], claims()),
        "token.alg_not_allowed",
        "token algorithm not accepted",
    ),
    (
        "forged signature",
        lambda k: mint(k["other_ec"], claims()),
        "token.bad_signature",
        "token signature invalid",
    ),
    (
        "tampered payload",
        lambda k: _tampered(mint(k["ec"], claims())),
        "token.bad_signature",
        "token signature invalid",
    ),
    (
        "unknown kid",
        lambda k: mint(k["new_ec"], claims()),
        "token.unknown_key",
        "token signing key unknown",
    ),
    (
        "RSA kid with ES256 header",
        lambda k: mint(Key("r1", "ES256", k["ec"].private), claims()),
        "token.alg_not_allowed",
        "token algorithm not accepted",
    ),
    ("not a JWT", lambda k: "not-a-token", "token.malformed", "token malformed"),
    (
        "two segments",
        lambda k: ".".join(mint(k["ec"], claims()).split(".")[:2]),
        "token.malformed",
        "token malformed",
    ),
    (
        "header not JSON",
        lambda k: "bm90IGpzb24." + mint(k["ec"], claims()).split(".", 1)[1],
        "token.malformed",
        "token malformed",
    ),
    (
        "a DPoP proof as token",
        lambda k: mint(k["ec"], claims(), typ="dpop+jwt"),
        "token.bad_type",
        "token type not accepted",
    ),
]


@pytest.mark.parametrize(
    ("make", "reason", "description"),
    [row[1:] for row in REFUSALS],
    ids=[row[0] for row in REFUSALS],
)
async def test_bad_tokens_are_refused_with_their_own_reason(
    gate: Gate, keys: dict[str, Key], make: Any, reason: str, description: str
) -> None:
    decision, ex = await gate.send(token=make(keys))
    assert decision.action is Action.BLOCK
    assert decision.status == 401
    assert decision.reasons == (reason,)
    challenge = dict(decision.headers)["WWW-Authenticate"]
    assert (
        challenge == f'Bearer error="invalid_token", error_description="{description}"'
    )
    assert ex.principal is None


ACCEPTED = [
    ("expired within the clock skew", claims(exp=int(T0) - 29)),
    ("nbf within the clock skew", claims(nbf=int(T0) + 29)),
    ("audience list with ours", claims(aud=["other", AUDIENCE])),
    ("no sub: a client", claims(sub=None, client_id="batch-job")),
]


@pytest.mark.parametrize("body", [r[1] for r in ACCEPTED], ids=[r[0] for r in ACCEPTED])
async def test_tokens_at_the_edges_of_the_rules_pass(
    gate: Gate, keys: dict[str, Key], body: dict[str, Any]
) -> None:
    decision, ex = await gate.send(token=mint(keys["ec"], body))
    assert decision.action is Action.ALLOW
    assert ex.principal is not None


async def test_missing_token_gets_a_bare_bearer_challenge(gate: Gate) -> None:
    decision, _ = await gate.send()
    assert (decision.status, decision.reasons) == (401, ("token.missing",))
    assert dict(decision.headers)["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("headers", "reasons"),
    [
        (
            [("Origin", "https://app.test"), ("Access-Control-Request-Method", "POST")],
            (),
        ),
        ([("Origin", "https://app.test")], ("token.missing",)),
    ],
)
async def test_a_cors_preflight_needs_no_token(
    gate: Gate, headers: list[tuple[str, str]], reasons: tuple[str, ...]
) -> None:
    decision, _ = await gate.send(method="OPTIONS", headers=headers)
    assert decision.reasons == reasons


async def test_other_authorization_schemes_count_as_missing(gate: Gate) -> None:
    decision, _ = await gate.send(token="YWxpY2U6cHc=", scheme="Basic")
    assert decision.reasons == ("token.missing",)


@pytest.mark.parametrize(
    ("path", "token", "action", "reasons"),
    [
        ("/health", None, Action.ALLOW, ()),
        ("/health", "garbage", Action.ALLOW, ()),  # guard off: not even read
        ("/login", None, Action.ALLOW, ()),
        ("/login", "garbage", Action.BLOCK, ("token.malformed",)),
        ("/unlisted", None, Action.BLOCK, ("token.missing",)),  # default route
    ],
)
async def test_routes_say_whether_a_token_is_needed(
    gate: Gate, path: str, token: str | None, action: Action, reasons: tuple[str, ...]
) -> None:
    decision, _ = await gate.send(path=path, token=token)
    assert (decision.action, decision.reasons) == (action, reasons)


async def test_missing_scope_is_403_insufficient_scope(
    gate: Gate, keys: dict[str, Key]
) -> None:
    decision, _ = await gate.send(path="/admin", token=mint(keys["ec"], claims()))
    assert (decision.status, decision.reasons) == (403, ("token.insufficient_scope",))
    assert 'error="insufficient_scope"' in dict(decision.headers)["WWW-Authenticate"]
    decision, _ = await gate.send(
        path="/admin", token=mint(keys["ec"], claims(scope="admin"))
    )
    assert decision.action is Action.ALLOW


async def test_single_use_route_accepts_a_jti_once_even_when_cached(
    gate: Gate, keys: dict[str, Key]
) -> None:
    token = mint(keys["ec"], claims())
    first, _ = await gate.send(path="/payments", token=token)  # now cached
    assert first.action is Action.ALLOW
    second, _ = await gate.send(path="/transfers", token=token)
    third, _ = await gate.send(path="/transfers", token=token)
    assert second.action is Action.ALLOW
    assert (third.status, third.reasons) == (401, ("token.replayed",))
    assert "token replayed" in dict(third.headers)["WWW-Authenticate"]


async def test_a_cached_token_still_expires(gate: Gate, keys: dict[str, Key]) -> None:
    token = mint(keys["ec"], claims(exp=int(T0) + 60))
    assert (await gate.send(token=token))[0].action is Action.ALLOW
    gate.clock.now = T0 + 100
    decision, _ = await gate.send(token=token)
    assert decision.reasons == ("token.expired",)


async def test_refusal_reason_reaches_the_audit_event(
    gate: Gate, keys: dict[str, Key]
) -> None:
    decision, ex = await gate.send(token=mint(keys["ec"], claims(exp=int(T0) - 100)))
    gate.finish(ex, decision.status)
    event = gate.audit_events()[-1]
    assert event["event"]["reason"] == "token.expired"
    assert event["http"]["response"]["status_code"] == 401


async def test_accepted_token_puts_principal_and_token_id_in_the_audit_event(
    gate: Gate, keys: dict[str, Key]
) -> None:
    decision, ex = await gate.send(token=mint(keys["ed"], claims(jti="j-42")))
    gate.finish(ex, 200)
    event = gate.audit_events()[-1]
    assert event["user"]["id"] == "alice"
    assert event["vaultgate"]["tags"]["token.id"] == "j-42"


# -- sources -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "headers"),
    [
        ("{header: X-Api-Token}", lambda t: [("X-Api-Token", t)]),
        ("{header: X-Api-Token}", lambda t: [("X-Api-Token", "Bearer " + t)]),
        ("{cookie: session}", lambda t: [("Cookie", f"theme=dark; session={t}")]),
    ],
)
async def test_token_from_a_named_header_or_cookie(
    tmp_path: Path, keys: dict[str, Key], source: str, headers: Any
) -> None:
    write_json(tmp_path / "jwks.json", jwks(keys["ec"]))
    gate = Gate(policy_file(tmp_path, f"  source: {source}\n"))
    token = mint(keys["ec"], claims())
    assert (await gate.send(headers=headers(token)))[0].action is Action.ALLOW
    assert (await gate.send(token=token))[0].reasons == ("token.missing",)


# -- revocation, reload and rotation -------------------------------------------


async def test_revocation_list_by_jti_and_subject_applies_after_reload(
    tmp_path: Path, keys: dict[str, Key]
) -> None:
    write_json(tmp_path / "jwks.json", jwks(keys["ec"]))
    revoked = tmp_path / "revoked.txt"
    revoked.write_text("# incident 7\njti: stolen-1\n")
    gate = Gate(policy_file(tmp_path, "  revoked: revoked.txt\n"))
    stolen = mint(keys["ec"], claims(jti="stolen-1"))
    bob = mint(keys["ec"], claims(sub="bob"))
    assert (await gate.send(token=stolen))[0].reasons == ("token.revoked",)
    assert (await gate.send(token=bob))[0].action is Action.ALLOW
    revoked.write_text("jti:stolen-1\nsub:bob\n")
    gate.reload()
    assert (await gate.send(token=bob))[0].reasons == ("token.revoked",)


async def test_file_key_rotation_takes_effect_on_reload(
    tmp_path: Path, keys: dict[str, Key]
) -> None:
    write_json(tmp_path / "jwks.json", jwks(keys["ec"]))
    gate = Gate(policy_file(tmp_path, ""))
    old = mint(keys["ec"], claims())
    new = mint(keys["new_ec"], claims())
    assert (await gate.send(token=old))[0].action is Action.ALLOW
    assert (await gate.send(token=new))[0].reasons == ("token.unknown_key",)
    write_json(tmp_path / "jwks.json", jwks(keys["new_ec"]))
    gate.reload()
    assert (await gate.send(token=new))[0].action is Action.ALLOW
    # The withdrawn key's token was cached, but the cache went with the keys.
    assert (await gate.send(token=old))[0].reasons == ("token.unknown_key",)


async def test_hs256_allowed_with_an_oct_key_still_refuses_rsa_confusion(
    tmp_path: Path, keys: dict[str, Key]
) -> None:
    secret = b"s" * 32
    oct_key = {
        "kty": "oct",
        "kid": "h1",
        "k": base64.urlsafe_b64encode(secret).decode(),
    }
    write_json(tmp_path / "jwks.json", {"keys": [keys["rsa"].jwk, oct_key]})
    gate = Gate(policy_file(tmp_path, "    algorithms: [RS256, HS256]\n"))
    good = jwt.encode(claims(), secret, algorithm="HS256", headers={"kid": "h1"})
    assert (await gate.send(token=good))[0].action is Action.ALLOW
    forged = _hs256_with_rsa_public_key(keys["rsa"], claims())
    assert (await gate.send(token=forged))[0].reasons == ("token.alg_not_allowed",)


async def test_an_algorithm_off_the_allow_list_is_refused(
    tmp_path: Path, keys: dict[str, Key]
) -> None:
    write_json(tmp_path / "jwks.json", jwks(keys["rsa"], keys["ec"]))
    gate = Gate(policy_file(tmp_path, "    algorithms: [RS256]\n"))
    assert (await gate.send(token=mint(keys["rsa"], claims())))[
        0
    ].action is Action.ALLOW
    refused = await gate.send(token=mint(keys["ec"], claims()))
    assert refused[0].reasons == ("token.alg_not_allowed",)
    pss = await gate.send(token=mint(keys["pss"], claims()))
    assert pss[0].reasons == ("token.alg_not_allowed",)


async def test_a_route_may_override_the_audience(
    tmp_path: Path, keys: dict[str, Key]
) -> None:
    write_json(tmp_path / "jwks.json", jwks(keys["ec"]))
    routes = "  - path: /reports\n    tokens: {jwt: {audience: reports-api}}\n"
    gate = Gate(policy_file(tmp_path, "", routes))
    reports = mint(keys["ec"], claims(aud="reports-api"))
    payments = mint(keys["ec"], claims())
    assert (await gate.send("/reports", reports))[0].action is Action.ALLOW
    assert (await gate.send("/reports", payments))[0].reasons == ("token.bad_audience",)
    assert (await gate.send("/payments", reports))[0].reasons == ("token.bad_audience",)


# -- policy mistakes ----------------------------------------------------------


POLICY_MISTAKES = [
    (
        "    algorithms: [none]\n",
        "tokens.jwt.algorithms[0]: expected a signing algorithm (never 'none'",
    ),
    ("    algorithms: [RS257]\n", "tokens.jwt.algorithms[0]: expected one of:"),
    ("    clock_skew: soon\n", "tokens.jwt.clock_skew: expected a duration"),
    ("  dpop: sometimes\n", "tokens.dpop: expected one of: optional, required"),
    ("  dpop: {algorithms: [HS256]}\n", "tokens.dpop.algorithms[0]: expected one of:"),
    ("  source: {query: t}\n", "tokens.source.query: expected one of: cookie, header"),
    (
        "  public_url: https://api.bank.test/v1\n",
        "tokens.public_url: expected scheme and host only",
    ),
    ("  revoked: nowhere.txt\n", "tokens.revoked: expected a readable revocation list"),
    ("  drift: {action: ban}\n", "tokens.drift.action: expected one of: block, score"),
]


@pytest.mark.parametrize(("extra", "message"), POLICY_MISTAKES)
def test_policy_mistakes_are_refused_with_where_and_what(
    tmp_path: Path, keys: dict[str, Key], extra: str, message: str
) -> None:
    write_json(tmp_path / "jwks.json", jwks(keys["ec"]))
    path = policy_file(tmp_path, extra)
    with pytest.raises(PolicyError, match="policy.yaml: " + _escape(message)):
        Gate(path)


@pytest.mark.parametrize(
    ("jwks_value", "message"),
    [
        ("missing.json", "tokens.jwt.jwks: expected a JWKS file with a usable key"),
        ("empty.json", "no key usable with the allowed algorithms"),
        (
            "http://idp.example/jwks",
            "expected an https:// URL (http:// only for a loopback",
        ),
    ],
)
def test_unusable_key_sources_are_refused_at_load(
    tmp_path: Path, jwks_value: str, message: str
) -> None:
    write_json(tmp_path / "empty.json", {"keys": []})
    path = policy_file(tmp_path, "", jwks_path=jwks_value)
    with pytest.raises(PolicyError, match=_escape(message)):
        Gate(path)


def test_hmac_keys_from_a_url_are_refused(tmp_path: Path) -> None:
    path = policy_file(
        tmp_path, "    algorithms: [HS256]\n", jwks_path="https://idp.test/k"
    )
    with pytest.raises(PolicyError, match="a JWKS file, not a URL, for HMAC"):
        Gate(path)


def test_token_settings_without_a_jwt_anywhere_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "upstream: http://127.0.0.1:9\n"
        "routes: [{path: /pay, tokens: {single_use: true}}]\n"
    )
    with pytest.raises(PolicyError, match=r"routes\[0\].tokens.jwt: expected a 'jwt'"):
        Gate(path)


def test_issuer_and_audience_are_required(tmp_path: Path, keys: dict[str, Key]) -> None:
    write_json(tmp_path / "jwks.json", jwks(keys["ec"]))
    text = (
        policy_file(tmp_path, "").read_text().replace(f"    audience: {AUDIENCE}\n", "")
    )
    (tmp_path / "policy.yaml").write_text(text)
    with pytest.raises(
        PolicyError, match="tokens.jwt.audience: expected a setting for 'audience'"
    ):
        Gate(tmp_path / "policy.yaml")


def _escape(text: str) -> str:
    return re.escape(text)


# -- whatever arrives, a decision -------------------------------------------

KNOWN_REASONS = {
    "token.malformed",
    "token.alg_not_allowed",
    "token.bad_signature",
    "token.unknown_key",
    "token.bad_type",
    "token.missing",
}


def _mutate(token: str, position: int, char: str) -> str:
    position %= len(token)
    return token[:position] + char + token[position + 1 :]


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    position=st.integers(min_value=0, max_value=10_000),
    char=st.sampled_from("AZaz09-_.=+/ %\x00\u00e9"),
    noise=st.text(max_size=64),
)
async def test_mutated_or_random_tokens_always_get_a_decision(
    gate: Gate, keys: dict[str, Key], position: int, char: str, noise: str
) -> None:
    # Nothing may raise, and only the genuine token may pass.  A fresh engine
    # per example: the client's running score would otherwise ban it.
    fresh = Gate(gate.policy_path)
    good = _GOOD_TOKENS.setdefault("ec", mint(keys["ec"], claims(exp=int(T0) + 3000)))
    for token in (_mutate(good, position, char), noise.strip() or "x"):
        if token == good:
            continue
        decision, _ = await fresh.send(token=token.encode("utf-8").decode("latin-1"))
        assert decision.action is Action.BLOCK
        assert set(decision.reasons) <= KNOWN_REASONS, decision.reasons


_GOOD_TOKENS: dict[str, str] = {}
