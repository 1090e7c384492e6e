"""End to end: a real ``vaultgate run`` in front of the demo API and over TLS."""

from __future__ import annotations

import datetime as dt
import hashlib
import http.client
import ipaddress
import json
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.fixtures.demo import DemoServer
from tests.fixtures.servers import EchoUpstream, Vaultgate, vaultgate_proc
from tests.guards.jose_kit import claims, ec_key, jwks, mint, write_json
from vaultgate.core.binding import b64url

DEMO_POLICY = """\
listen: 127.0.0.1:@PORT@
upstream: {upstream}
audit: {{file: "-"}}
tokens:
  jwt:
    jwks: "{jwks}"
    issuer: https://demo-bank.local
    audience: payments-api
routes:
  - path: /login
    methods: [POST]
    tokens: false
  - path: /health
    tokens: false
"""


def call(
    gate: Vaultgate,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    context: ssl.SSLContext | None = None,
) -> tuple[int, dict[str, str], bytes]:
    if context is None:
        conn: http.client.HTTPConnection = http.client.HTTPConnection(
            gate.host, gate.port, timeout=10
        )
    else:
        conn = http.client.HTTPSConnection(
            gate.host, gate.port, timeout=10, context=context
        )
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        answer = {k.lower(): v for k, v in response.getheaders()}
        return response.status, answer, response.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def demo_gate(demo_api: DemoServer) -> Iterator[Vaultgate]:
    policy = DEMO_POLICY.format(upstream=demo_api.url, jwks=demo_api.jwks_path)
    with vaultgate_proc(policy) as gate:
        yield gate


def _login(gate: Vaultgate) -> str:
    body = b'{"username": "alice", "password": "correct-horse-1"}'
    status, _, answer = call(
        gate, "POST", "/login", {"Content-Type": "application/json"}, body
    )
    assert status == 200, answer
    token: str = json.loads(answer)["access_token"]
    return token


def _tamper(token: str) -> str:
    head, payload, signature = token.split(".")
    # Flip one character of the signature: still base64url, no longer valid.
    flipped = ("A" if signature[5] != "A" else "B").join((signature[:5], signature[6:]))
    return f"{head}.{payload}.{flipped}"


def test_demo_login_token_passes_and_a_tampered_one_is_refused(
    demo_gate: Vaultgate,
) -> None:
    token = _login(demo_gate)
    status, _, body = call(
        demo_gate, "GET", "/accounts", {"Authorization": f"Bearer {token}"}
    )
    assert status == 200, body

    status, headers, body = call(
        demo_gate, "GET", "/accounts", {"Authorization": f"Bearer {_tamper(token)}"}
    )
    assert status == 401
    assert headers["www-authenticate"] == (
        'Bearer error="invalid_token", error_description="token signature invalid"'
    )
    assert headers["content-type"] == "application/problem+json"

    status, headers, _ = call(demo_gate, "GET", "/accounts")
    assert (status, headers["www-authenticate"]) == (401, "Bearer")
    reasons = _reasons(demo_gate)
    assert "token.bad_signature" in reasons and "token.missing" in reasons


def _reasons(gate: Vaultgate) -> list[str]:
    # Audit events are flushed once a second.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found = [e.get("event", {}).get("reason", "") for e in gate.audit()]
        if "token.missing" in found:
            return found
        time.sleep(0.1)
    return found


# -- certificate-bound tokens over real TLS -----------------------------------


def _name(text: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def _issue(
    subject: str, key: Any, issuer: x509.Name, issuer_key: Any, ca: bool = False
) -> x509.Certificate:
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if subject == "127.0.0.1":
        san = x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address(subject))]
        )
        builder = builder.add_extension(san, critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(path: Path, cert: x509.Certificate, key: Any) -> tuple[Path, Path]:
    cert_path, key_path = path.with_suffix(".crt"), path.with_suffix(".key")
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _issue("test ca", ca_key, _name("test ca"), ca_key, ca=True)
    out: dict[str, Any] = {"ca": _pem(tmp / "ca", ca, ca_key)[0]}
    for name in ("127.0.0.1", "client", "thief"):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _issue(name, key, ca.subject, ca_key)
        out[name] = _pem(tmp / name.replace(".", "_"), cert, key)
        out[name + ".der"] = cert.public_bytes(serialization.Encoding.DER)
    return out


def _client_context(pki: dict[str, Any], who: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki["ca"]))
    if who is not None:
        context.load_cert_chain(*map(str, pki[who]))
    return context


@pytest.fixture(scope="module")
def tls_gate(
    tmp_path_factory: pytest.TempPathFactory,
    pki: dict[str, Any],
    echo_upstream: EchoUpstream,
) -> Iterator[tuple[Vaultgate, str]]:
    tmp = tmp_path_factory.mktemp("tls-gate")
    issuer = ec_key("tls-issuer")
    write_json(tmp / "jwks.json", jwks(issuer))
    cert, key = pki["127.0.0.1"]
    policy = (
        "listen: 127.0.0.1:@PORT@\n"
        f"upstream: {echo_upstream.url}\n"
        f'tls: {{cert: "{cert}", key: "{key}", client_ca: "{pki["ca"]}"}}\n'
        "tokens:\n"
        f'  jwt: {{jwks: "{tmp / "jwks.json"}", issuer: "https://idp.bank.test",'
        " audience: payments-api}\n"
        "  mtls: required\n"
    )
    thumbprint = b64url(hashlib.sha256(pki["client.der"]).digest())
    token = mint(issuer, claims(now=time.time(), cnf={"x5t#S256": thumbprint}))
    with vaultgate_proc(policy) as gate:
        yield gate, token


@pytest.mark.parametrize(
    ("presented", "status"), [("client", 200), ("thief", 401), (None, 401)]
)
def test_certificate_bound_token_over_tls(
    tls_gate: tuple[Vaultgate, str],
    pki: dict[str, Any],
    presented: str | None,
    status: int,
) -> None:
    gate, token = tls_gate
    got, headers, body = call(
        gate,
        "GET",
        f"/statements/e2e-mtls-{presented}",
        {"Authorization": f"Bearer {token}"},
        context=_client_context(pki, presented),
    )
    assert got == status, body
    if status == 401:
        assert (
            'error_description="token not bound to this certificate"'
            in (headers["www-authenticate"])
        )
