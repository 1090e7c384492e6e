"""DPoP (RFC 9449) and certificate-bound (RFC 8705) tokens, end to end in the engine."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.guards.jose_kit import (
    T0,
    Gate,
    Key,
    claims,
    ec_key,
    ed_key,
    jwks,
    mint,
    policy_file,
    proof,
    rsa_key,
    write_json,
)
from vaultgate.core.binding import b64url, normalize_url, thumbprint
from vaultgate.core.model import Action

URL = "http://api.bank.test/payments"
ROUTES = """\
  - path: /payments
    methods: [POST]
    tokens: {dpop: required}
  - path: /accounts
  - path: /statements
    tokens: {mtls: required}
"""


@pytest.fixture(scope="module")
def keys() -> dict[str, Key]:
    return {
        "issuer": ec_key("iss-1"),
        "client": ec_key("client"),
        "client_ed": ed_key("client-ed"),
        "client_rsa": rsa_key("client-rsa", slot=1),
        "thief": ec_key("thief"),
    }


@pytest.fixture
def gate(tmp_path: Path, keys: dict[str, Key]) -> Gate:
    write_json(tmp_path / "jwks.json", jwks(keys["issuer"]))
    return Gate(policy_file(tmp_path, "", ROUTES))


def bound_token(keys: dict[str, Key], holder: str = "client", **over: Any) -> str:
    return mint(keys["issuer"], claims(cnf={"jkt": keys[holder].jkt}, **over))


def dpop_headers(value: str) -> list[tuple[str, str]]:
    return [("DPoP", value)]


@pytest.mark.parametrize("holder", ["client", "client_ed", "client_rsa"])
async def test_a_valid_proof_passes_for_each_key_type(
    gate: Gate, keys: dict[str, Key], holder: str
) -> None:
    token = bound_token(keys, holder)
    value = proof(keys[holder], "POST", URL, token)
    decision, ex = await gate.send(
        "/payments", token, "POST", "DPoP", dpop_headers(value)
    )
    assert decision.action is Action.ALLOW
    assert ex.principal is not None and ex.principal.id == "alice"
    assert ex.tags["token.binding"] == "dpop"


def _proof_cases() -> list[tuple[str, Any, str]]:
    # (what, make(keys, token) -> proof header value, reason)
    return [
        (
            "proof for another URL",
            lambda k, t: proof(k["client"], "POST", URL + "/x", t),
            "dpop.wrong_url",
        ),
        (
            "proof for another host",
            lambda k, t: proof(k["client"], "POST", "http://evil.test/payments", t),
            "dpop.wrong_url",
        ),
        (
            "proof for another method",
            lambda k, t: proof(k["client"], "GET", URL, t),
            "dpop.wrong_method",
        ),
        (
            "bad ath",
            lambda k, t: proof(k["client"], "POST", URL, t + "x"),
            "dpop.bad_ath",
        ),
        ("no ath", lambda k, t: proof(k["client"], "POST", URL, None), "dpop.bad_ath"),
        (
            "stale proof",
            lambda k, t: proof(k["client"], "POST", URL, t, now=T0 - 120),
            "dpop.stale",
        ),
        (
            "proof from the future",
            lambda k, t: proof(k["client"], "POST", URL, t, now=T0 + 60),
            "dpop.stale",
        ),
        (
            "thief's key",
            lambda k, t: proof(k["thief"], "POST", URL, t),
            "dpop.key_mismatch",
        ),
        (
            "typ JWT",
            lambda k, t: proof(k["client"], "POST", URL, t, typ="JWT"),
            "dpop.malformed",
        ),
        (
            "no jti",
            lambda k, t: proof(k["client"], "POST", URL, t, jti=None),
            "dpop.malformed",
        ),
        ("garbage", lambda k, t: "garbage", "dpop.malformed"),
        (
            "two proofs",
            lambda k, t: proof(k["client"], "POST", URL, t) + ", x.y.z",
            "dpop.malformed",
        ),
        (
            "forged signature",
            lambda k, t: _swap_signature(
                proof(k["client"], "POST", URL, t), proof(k["thief"], "POST", URL, t)
            ),
            "dpop.bad_signature",
        ),
        (
            "private key in jwk",
            lambda k, t: _with_private_jwk(k["client"], t),
            "dpop.malformed",
        ),
    ]


PROOF_CASES = _proof_cases()


@pytest.mark.parametrize(
    ("make", "reason"), [c[1:] for c in PROOF_CASES], ids=[c[0] for c in PROOF_CASES]
)
async def test_bad_proofs_are_refused_with_their_own_reason(
    gate: Gate, keys: dict[str, Key], make: Any, reason: str
) -> None:
    token = bound_token(keys)
    decision, ex = await gate.send(
        "/payments", token, "POST", "DPoP", dpop_headers(make(keys, token))
    )
    assert (decision.status, decision.reasons) == (401, (reason,))
    challenge = dict(decision.headers)["WWW-Authenticate"]
    assert challenge.startswith('DPoP algs="ES256 EdDSA PS256 RS256", error="')
    assert ex.principal is None


def _swap_signature(good: str, other: str) -> str:
    return good.rsplit(".", 1)[0] + "." + other.rsplit(".", 1)[1]


def _with_private_jwk(key: Key, token: str) -> str:
    import jwt as pyjwt
    from jwt.algorithms import ECAlgorithm

    private_jwk = ECAlgorithm.to_jwk(key.private, as_dict=True)
    body = {"jti": "p", "htm": "POST", "htu": URL, "iat": int(T0)}
    headers = {"typ": "dpop+jwt", "jwk": private_jwk}
    return pyjwt.encode(body, key.private, algorithm="ES256", headers=headers)


async def test_a_replayed_proof_is_refused(gate: Gate, keys: dict[str, Key]) -> None:
    token = bound_token(keys)
    value = proof(keys["client"], "POST", URL, token)
    first, _ = await gate.send("/payments", token, "POST", "DPoP", dpop_headers(value))
    again, _ = await gate.send("/payments", token, "POST", "DPoP", dpop_headers(value))
    assert first.action is Action.ALLOW
    assert again.reasons == ("dpop.replayed",)
    assert (
        'error="invalid_dpop_proof", error_description="proof replayed"'
        in dict(again.headers)["WWW-Authenticate"]
    )


@pytest.mark.parametrize(
    ("path", "scheme", "with_proof", "bound", "reason"),
    [
        ("/payments", "DPoP", False, True, "dpop.missing"),
        ("/payments", "Bearer", True, True, "dpop.bearer_scheme"),
        ("/payments", "Bearer", False, False, "dpop.unbound_token"),
        ("/payments", "DPoP", True, False, "dpop.unbound_token"),
        # A bound token is checked on a route that does not ask for DPoP.
        ("/accounts", "Bearer", False, True, "dpop.bearer_scheme"),
        ("/accounts", "DPoP", False, True, "dpop.missing"),
    ],
)
async def test_binding_is_enforced_whatever_the_route_says(
    gate: Gate,
    keys: dict[str, Key],
    path: str,
    scheme: str,
    with_proof: bool,
    bound: bool,
    reason: str,
) -> None:
    token = bound_token(keys) if bound else mint(keys["issuer"], claims())
    url = "http://api.bank.test" + path
    headers = (
        dpop_headers(proof(keys["client"], "POST", url, token)) if with_proof else []
    )
    decision, _ = await gate.send(path, token, "POST", scheme, headers)
    assert (decision.status, decision.reasons) == (401, (reason,))
    # A missing proof is the proof's fault; the others are the token's.
    error = "invalid_dpop_proof" if reason == "dpop.missing" else "invalid_token"
    assert f'error="{error}"' in dict(decision.headers)["WWW-Authenticate"]


async def test_unbound_bearer_token_passes_where_dpop_is_optional(
    gate: Gate, keys: dict[str, Key]
) -> None:
    decision, _ = await gate.send("/accounts", mint(keys["issuer"], claims()))
    assert decision.action is Action.ALLOW


async def test_missing_token_on_a_dpop_route_gets_a_dpop_challenge(gate: Gate) -> None:
    decision, _ = await gate.send("/payments", method="POST")
    header = dict(decision.headers)["WWW-Authenticate"]
    assert header == 'DPoP algs="ES256 EdDSA PS256 RS256"'


async def test_public_url_names_the_address_clients_use_behind_a_proxy(
    tmp_path: Path, keys: dict[str, Key]
) -> None:
    write_json(tmp_path / "jwks.json", jwks(keys["issuer"]))
    gate = Gate(policy_file(tmp_path, "  public_url: https://api.bank.example\n"))
    token = bound_token(keys)
    public = proof(keys["client"], "GET", "https://api.bank.example/accounts", token)
    decision, _ = await gate.send(
        "/accounts", token, "GET", "DPoP", dpop_headers(public)
    )
    assert decision.action is Action.ALLOW
    internal = proof(keys["client"], "GET", "http://api.bank.test/accounts", token)
    decision, _ = await gate.send(
        "/accounts", token, "GET", "DPoP", dpop_headers(internal)
    )
    assert decision.reasons == ("dpop.wrong_url",)


async def test_htu_comparison_ignores_query_and_normalises_the_url(
    gate: Gate, keys: dict[str, Key]
) -> None:
    token = bound_token(keys)
    value = proof(
        keys["client"], "POST", "HTTP://API.bank.test:80/%70ayments?x=1", token
    )
    decision, _ = await gate.send(
        "/payments?page=2", token, "POST", "DPoP", dpop_headers(value)
    )
    assert decision.action is Action.ALLOW


def test_thumbprint_matches_rfc_7638_example() -> None:
    # The RSA key of RFC 7638 section 3.1 and its published thumbprint.
    jwk = {
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aP"
        "FFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt"
        "7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQ"
        "vRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_"
        "xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    assert thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://API.example/a", "https://api.example/a"),
        ("https://api.example:443/a", "https://api.example/a"),
        ("https://api.example/%7euser", "https://api.example/~user"),
        ("https://api.example/a%2fb", "https://api.example/a%2Fb"),
        ("https://api.example", "https://api.example/"),
        ("https://api.example/a?q=1#f", "https://api.example/a"),
    ],
)
def test_urls_that_are_the_same_normalise_the_same(a: str, b: str) -> None:
    assert normalize_url(a) == normalize_url(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://api.example/a", "http://api.example/a"),
        ("https://api.example:8443/a", "https://api.example/a"),
        ("https://api.example/a%2Fb", "https://api.example/a/b"),
        ("https://api.example/A", "https://api.example/a"),
    ],
)
def test_urls_that_differ_normalise_differently(a: str, b: str) -> None:
    assert normalize_url(a) != normalize_url(b)


# -- certificate-bound tokens (RFC 8705) ---------------------------------------


def _certificate(name: str) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


@pytest.mark.parametrize(
    ("path", "bound_to", "presented", "reason"),
    [
        ("/accounts", "client", "client", ""),
        ("/statements", "client", "client", ""),
        ("/accounts", "client", "thief", "token.cert_mismatch"),
        ("/accounts", "client", None, "token.cert_mismatch"),
        ("/statements", None, "client", "token.cert_unbound"),
        ("/accounts", None, "thief", ""),  # unbound token, mtls optional
    ],
)
async def test_certificate_bound_tokens(
    gate: Gate,
    keys: dict[str, Key],
    path: str,
    bound_to: str | None,
    presented: str | None,
    reason: str,
) -> None:
    certs = {"client": _CERTS[0], "thief": _CERTS[1]}
    cnf = (
        {"x5t#S256": b64url(hashlib.sha256(certs[bound_to]).digest())}
        if bound_to
        else None
    )
    token = mint(keys["issuer"], claims(cnf=cnf))
    der = certs[presented] if presented else None
    decision, ex = await gate.send(path, token, cert_der=der)
    if reason:
        assert (decision.status, decision.reasons) == (401, (reason,))
    else:
        assert decision.action is Action.ALLOW
        assert ex.tags.get("token.binding") == ("mtls" if bound_to else None)


_CERTS = (_certificate("client"), _certificate("thief"))
