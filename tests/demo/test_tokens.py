"""Logging in to the demo API, and the tokens it issues, checked by their JWKS."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest

from tests.fixtures.demo import DemoServer
from vaultgate.demo.data import USERS


def _verify(demo_api: DemoServer, token: str) -> dict[str, Any]:
    keys = jwt.PyJWKSet.from_json(demo_api.jwks_path.read_text())
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in keys.keys if k.key_id == kid)
    claims: dict[str, Any] = jwt.decode(
        token,
        key,
        algorithms=["ES256"],
        audience="payments-api",
        issuer="https://demo-bank.local",
    )
    return claims


@pytest.mark.parametrize(
    ("username", "roles", "accounts", "scope"),
    [
        ("alice", ["customer"], [1001, 1002, 1003], "accounts:read payments:write"),
        ("bob", ["customer"], [1004, 1005, 1006], "accounts:read payments:write"),
        ("carol", ["customer"], [1007, 1008, 1009], "accounts:read payments:write"),
        ("sam", ["support"], [], "accounts:read tickets:write"),
    ],
)
def test_login_issues_an_es256_token_that_the_jwks_verifies(
    demo_api: DemoServer,
    username: str,
    roles: list[str],
    accounts: list[int],
    scope: str,
) -> None:
    before = int(time.time())
    claims = _verify(demo_api, demo_api.login(username))
    assert claims["sub"] == USERS[username].user_id
    assert claims["name"] == USERS[username].name
    assert claims["roles"] == roles
    assert claims["accounts"] == accounts
    assert claims["scope"] == scope
    assert before - 1 <= claims["iat"] == claims["nbf"] <= time.time() + 1
    assert claims["exp"] - claims["iat"] == 15 * 60
    assert len(claims["jti"]) >= 16


def test_login_answer_has_the_oauth_token_shape(demo_api: DemoServer) -> None:
    secret = USERS["alice"].password
    body = {"username": "alice", "password": secret}
    reply = demo_api.request("POST", "/login", body)
    answer = reply.json()
    assert reply.status == 200
    assert answer["token_type"] == "Bearer" and answer["expires_in"] == 900
    assert reply.headers["cache-control"] == "no-store"
    header = jwt.get_unverified_header(answer["access_token"])
    assert header["alg"] == "ES256" and header["typ"] == "JWT"


def test_every_login_gets_a_fresh_jti(demo_api: DemoServer) -> None:
    first = _verify(demo_api, demo_api.login("bob"))
    second = _verify(demo_api, demo_api.login("bob"))
    assert first["jti"] != second["jti"]


def test_login_accepts_a_form_body(demo_api: DemoServer) -> None:
    form = f"username=carol&password={USERS['carol'].password}"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    reply = demo_api.request("POST", "/login", form, headers)
    assert reply.status == 200 and "access_token" in reply.json()


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"username": "alice", "password": "wrong"}, 401),
        ({"username": "mallory", "password": "correct-horse-1"}, 401),
        ({"username": "alice", "password": ""}, 401),
        ({"username": "ALICE", "password": "correct-horse-1"}, 401),
        ({"username": "alice"}, 400),
        ({"username": "alice", "password": 123}, 400),
        ("{not json", 400),
        (["alice", "correct-horse-1"], 400),
    ],
)
def test_login_refusals(demo_api: DemoServer, body: Any, status: int) -> None:
    reply = demo_api.request("POST", "/login", body)
    assert reply.status == status
    assert "access_token" not in reply.json()


def test_the_jwks_endpoint_serves_the_same_keys_as_the_file(
    demo_api: DemoServer,
) -> None:
    served = demo_api.request("GET", "/.well-known/jwks.json").json()
    assert served == json.loads(demo_api.jwks_path.read_text())
    (key,) = served["keys"]
    assert (key["kty"], key["crv"], key["alg"], key["use"]) == (
        "EC",
        "P-256",
        "ES256",
        "sig",
    )
    assert "d" not in key  # the private part never leaves


def _tampered(token: str) -> str:
    head, body, signature = token.split(".")
    flipped = "A" if signature[5] != "A" else "B"
    return ".".join([head, body, signature[:5] + flipped + signature[6:]])


def _unsigned(claims: dict[str, Any]) -> str:
    # alg "none": the oldest JWT attack; no signature at all.
    parts = [{"alg": "none", "typ": "JWT"}, claims]
    encoded = [base64.urlsafe_b64encode(json.dumps(p).encode()) for p in parts]
    return b".".join(e.rstrip(b"=") for e in encoded).decode() + "."


def test_tampered_and_foreign_tokens_are_refused(
    demo_api: DemoServer, alice_token: str
) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    claims = _verify(demo_api, alice_token)
    foreign = jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), "ES256")
    unsigned = _unsigned(claims)
    for token in [_tampered(alice_token), foreign, unsigned]:
        assert demo_api.request("GET", "/accounts", token=token).status == 401
