"""TLS: termination with optional client certificates, and HTTPS upstreams.

Certificates are made in the test with ``cryptography``: a CA, a server
certificate for 127.0.0.1, and client certificates from the trusted CA and
from another one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import http.client
import ipaddress
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvloop
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.fixtures.servers import EchoUpstream, Vaultgate, echo_server, vaultgate_proc
from vaultgate.core.policy import TLSSettings
from vaultgate.core.request import TLSInfo
from vaultgate.errors import PolicyError
from vaultgate.proxy.tls import server_context, tls_info


@dataclass
class Issued:
    cert: Path
    key: Path
    der: bytes


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def issue(
    directory: Path,
    stem: str,
    common: str,
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None,
    server: bool = False,
) -> tuple[Issued, x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A certificate (self-signed CA when ``ca`` is None) written as PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    issuer_cert, issuer_key = ca if ca else (None, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common))
        .issuer_name(issuer_cert.subject if issuer_cert else _name(common))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca is None, path_length=None), True)
    )
    if server:
        san = [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        builder = builder.add_extension(x509.SubjectAlternativeName(san), False)
    cert = builder.sign(issuer_key, hashes.SHA256())
    cert_path, key_path = directory / f"{stem}.pem", directory / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    return Issued(cert_path, key_path, der), cert, key


@dataclass
class Pki:
    ca: Issued
    server: Issued
    client: Issued
    stranger: Issued  # a client certificate from a CA nobody trusts


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca, ca_cert, ca_key = issue(directory, "ca", "Test CA")
    server, _, _ = issue(directory, "server", "127.0.0.1", (ca_cert, ca_key), True)
    client, _, _ = issue(directory, "client", "teller-7", (ca_cert, ca_key))
    _, other_cert, other_key = issue(directory, "other-ca", "Other CA")
    stranger, _, _ = issue(directory, "stranger", "x", (other_cert, other_key))
    return Pki(ca, server, client, stranger)


POLICY = """
listen: 127.0.0.1:@PORT@
upstream: "{upstream}"
mode: "off"
audit: {{file: "-"}}
tls:
  cert: {cert}
  key: {key}
  client_ca: {ca}
"""


@pytest.fixture(scope="module")
def proxy(pki: Pki, echo_upstream: EchoUpstream) -> Iterator[Vaultgate]:
    text = POLICY.format(
        upstream=echo_upstream.url,
        cert=pki.server.cert,
        key=pki.server.key,
        ca=pki.ca.cert,
    )
    with vaultgate_proc(text) as running:
        yield running


def client_context(pki: Pki, cert: Issued | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca.cert))
    if cert is not None:
        context.load_cert_chain(cert.cert, cert.key)
    return context


def https_get(
    port: int, path: str, context: ssl.SSLContext
) -> http.client.HTTPResponse:
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    conn.request("GET", path)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


@pytest.mark.parametrize(
    "with_cert", [False, True], ids=["no-client-cert", "client-cert"]
)
def test_https_is_terminated_and_forwarded(
    proxy: Vaultgate, pki: Pki, echo_upstream: EchoUpstream, with_cert: bool
):
    marker = f"tls{time.monotonic_ns()}"
    context = client_context(pki, pki.client if with_cert else None)
    assert https_get(proxy.port, f"/{marker}", context).status == 200
    [seen] = echo_upstream.find(marker)
    assert seen.header("X-Forwarded-Proto") == "https"


def test_client_certificate_from_an_unknown_ca_is_refused(proxy: Vaultgate, pki: Pki):
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        https_get(proxy.port, "/stranger", client_context(pki, pki.stranger))


def test_plain_http_on_the_tls_port_gets_no_answer(proxy: Vaultgate):
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        conn.request("GET", "/plain")
        conn.getresponse()


@pytest.mark.parametrize(
    ("with_cert", "name"),
    [(False, "127.0.0.1"), (True, "127.0.0.1"), (True, "api.test")],
)
def test_tls_info_carries_the_client_certificate_digest(
    pki: Pki, with_cert: bool, name: str
):
    # The server side, through a real handshake on uvloop, as the proxy has it.
    settings = TLSSettings(str(pki.server.cert), str(pki.server.key), str(pki.ca.cert))
    seen: list[TLSInfo] = []

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            seen.append(tls_info(transport))
            transport.close()

    async def handshake() -> None:
        server = await asyncio.get_running_loop().create_server(
            Probe, "127.0.0.1", 0, ssl=server_context(settings, "p.yaml")
        )
        port = server.sockets[0].getsockname()[1]
        context = client_context(pki, pki.client if with_cert else None)
        context.check_hostname = name == "127.0.0.1"
        _, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=context, server_hostname=name
        )
        await asyncio.sleep(0.1)
        writer.close()
        server.close()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(handshake())
    [info] = seen
    expected = hashlib.sha256(pki.client.der).digest() if with_cert else b""
    assert info.client_cert_sha256 == expected
    assert info.version in ("TLSv1.2", "TLSv1.3")
    # An IP address is not sent as SNI (RFC 6066 section 3).
    assert info.sni == ("" if name == "127.0.0.1" else name)


def test_unreadable_certificate_is_a_policy_error(pki: Pki, tmp_path: Path):
    settings = TLSSettings(str(tmp_path / "missing.pem"), str(pki.server.key))
    with pytest.raises(
        PolicyError, match=r"p\.yaml: tls\.cert: expected a readable PEM"
    ):
        server_context(settings, "p.yaml")


def test_https_upstream(pki: Pki):
    upstream_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    upstream_tls.load_cert_chain(pki.server.cert, pki.server.key)
    policy = 'listen: 127.0.0.1:@PORT@\nupstream: "{url}"\nmode: "off"\n'
    # The proxy verifies the upstream against the system trust store, which
    # OpenSSL reads from SSL_CERT_FILE when it is set.
    env = {"SSL_CERT_FILE": str(pki.ca.cert)}
    with (
        echo_server(upstream_tls) as upstream,
        vaultgate_proc(policy.format(url=upstream.url), env=env) as running,
    ):
        conn = http.client.HTTPConnection("127.0.0.1", running.port, timeout=10)
        conn.request("GET", "/over-tls")
        response = conn.getresponse()
        assert response.status == 200
        assert b'"target": "/over-tls"' in response.read()
