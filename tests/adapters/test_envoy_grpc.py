"""Envoy ext_authz over gRPC, called with Envoy's own messages and stub.

The client is a grpc.aio channel over loopback using the classes generated
from Envoy's API (the ``xds-protos`` package), not vaultgate's minimal
declarations: what parses here is what a real Envoy sends and reads.
"""

from __future__ import annotations

import hashlib
import json
import re
import ssl
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from envoy.service.auth.v3 import external_auth_pb2 as envoy
from envoy.service.auth.v3 import external_auth_pb2_grpc as envoy_grpc

from tests.adapters.kit import Authz, authz_proc
from vaultgate.adapters import envoy_grpc as adapter
from vaultgate.adapters import envoy_proto as ours

POLICY = """
mode: block
audit: {file: "@AUDIT@", spool_dir: "@AUDIT@.spool"}
traps:
  honeytokens: {bearer_tokens: [vg-honey-token-0003]}
routes:
  - path: /limited/{name}
    limits: [{key: ip, rate: 2/minute}]
adapters:
  envoy_grpc: {listen: 127.0.0.1:@ENVOY_GRPC@}
"""
INCIDENT = re.compile(r"^[0-9a-f]{16}$")
SQLI = "/accounts?id=1%27%20OR%201=1--"
XSS = '{"memo": "<script>alert(document.cookie)</script>"}'
CLEAN = '{"amount": "12.50", "currency": "EUR"}'
OK, DENIED, EXHAUSTED, UNAUTHENTICATED = 0, 7, 8, 16


@pytest.fixture(scope="module")
def authz() -> Iterator[Authz]:
    with authz_proc(POLICY) as running:
        yield running


@pytest.fixture
async def stub(authz: Authz) -> AsyncIterator[Any]:
    address = f"127.0.0.1:{authz.ports['envoy_grpc']}"
    async with grpc.aio.insecure_channel(address) as channel:
        yield envoy_grpc.AuthorizationStub(channel)


def check_request(
    method: str,
    path: str,
    client: str,
    headers: dict[str, str] | None = None,
    body: str = "",
    raw_body: bytes = b"",
) -> Any:
    """A CheckRequest as Envoy fills it for an HTTP/1.1 request."""
    message = envoy.CheckRequest()
    source = message.attributes.source.address.socket_address
    source.address, source.port_value = client, 41000
    http = message.attributes.request.http
    http.id, http.method, http.path = "1234", method, path
    http.host, http.scheme, http.protocol = "api.bank.example", "http", "HTTP/1.1"
    # Envoy's header map holds the pseudo-headers too.
    fields = {":authority": "api.bank.example", ":method": method, ":path": path}
    fields.update(headers or {})
    http.headers.update(fields)
    if body or raw_body:
        http.headers["content-length"] = str(len(raw_body or body.encode()))
    http.body, http.raw_body = body, raw_body
    return message


JSON = {"content-type": "application/json"}
# (case, method, path, headers, body, raw_body, gRPC code, HTTP status)
CASES = [
    ("clean-get", "GET", "/accounts/1?view=full", {}, "", b"", OK, 0),
    ("clean-body", "POST", "/payments", JSON, CLEAN, b"", OK, 0),
    ("sqli-query", "GET", SQLI, {}, "", b"", DENIED, 403),
    ("xss-body", "POST", "/payments", JSON, XSS, b"", DENIED, 403),
    ("xss-raw-body", "POST", "/payments", JSON, "", XSS.encode(), DENIED, 403),
    (
        "partial-body",
        "POST",
        "/payments",
        {**JSON, "x-envoy-auth-partial-body": "true"},
        CLEAN,
        b"",
        DENIED,
        403,
    ),
    (
        "honeytoken",
        "GET",
        "/accounts/3",
        {"authorization": "Bearer vg-honey-token-0003"},
        "",
        b"",
        UNAUTHENTICATED,
        401,
    ),
]


@pytest.mark.parametrize(
    ("case", "method", "path", "headers", "body", "raw", "code", "status"),
    CASES,
    ids=[c[0] for c in CASES],
)
async def test_envoy_receives_the_verdict(
    authz: Authz,
    stub: Any,
    case: str,
    method: str,
    path: str,
    headers: dict[str, str],
    body: str,
    raw: bytes,
    code: int,
    status: int,
) -> None:
    client = f"198.51.100.{CASES.index(next(c for c in CASES if c[0] == case)) + 1}"
    answer = await stub.Check(check_request(method, path, client, headers, body, raw))
    assert answer.status.code == code, answer
    if code == OK:
        assert answer.HasField("ok_response")
        added = {o.header.key: o.header.value for o in answer.ok_response.headers}
        assert added["x-vaultgate-decision"] == "allow"
        assert INCIDENT.match(added["x-vaultgate-incident"])
        return
    denied = answer.denied_response
    assert denied.status.code == status
    fields = {o.header.key: o.header.value for o in denied.headers}
    assert fields["content-type"] == "application/problem+json"
    assert not [name for name in fields if name.startswith("x-vaultgate")]
    incident = _incident(denied.body)
    event = authz.event(incident)
    assert event["vaultgate"]["tags"]["adapter"] == "envoy_grpc"
    assert event["client"]["ip"] == client
    if case == "honeytoken":
        assert fields["www-authenticate"].startswith("Bearer")


async def test_throttle_is_resource_exhausted_with_retry_after(stub: Any) -> None:
    answers = [
        await stub.Check(check_request("GET", "/limited/x", "203.0.113.7"))
        for _ in range(3)
    ]
    assert [a.status.code for a in answers] == [OK, OK, EXHAUSTED]
    denied = answers[-1].denied_response
    assert denied.status.code == 429
    fields = {o.header.key: o.header.value for o in denied.headers}
    assert int(fields["retry-after"]) > 0
    # The source address names the client: another one has its own budget.
    other = await stub.Check(check_request("GET", "/limited/x", "203.0.113.8"))
    assert other.status.code == OK


async def test_raw_header_map_is_read(stub: Any) -> None:
    # encode_raw_headers: the fields come in header_map, values as bytes.
    message = check_request("GET", "/accounts/4", "198.51.100.40")
    message.attributes.request.http.headers.clear()
    raw = message.attributes.request.http.header_map.headers
    raw.add(key=":path", raw_value=b"/accounts/4")
    raw.add(key="authorization", raw_value=b"Bearer vg-honey-token-0003")
    answer = await stub.Check(message)
    assert answer.status.code == UNAUTHENTICATED


async def test_a_check_without_a_source_address_is_refused(
    authz: Authz, stub: Any
) -> None:
    answer = await stub.Check(check_request("GET", "/accounts/5", ""))
    assert answer.status.code == DENIED
    event = authz.event(_incident(answer.denied_response.body))
    assert event["event"]["reason"] == "adapter:client-address"


def _incident(body: str) -> str:
    return str(json.loads(body)["incident_id"])


# -- the minimal schema against Envoy's -----------------------------------------


def test_our_messages_read_what_envoy_writes() -> None:
    message = check_request("POST", "/p?q=1", "192.0.2.4", JSON, CLEAN)
    message.attributes.tls_session.sni = "api.bank.example"
    message.attributes.source.certificate = "cert"
    mine = ours.CheckRequest.FromString(message.SerializeToString())
    http = mine.attributes.request.http
    assert (http.method, http.path, http.body) == ("POST", "/p?q=1", CLEAN)
    assert http.headers["content-type"] == "application/json"
    assert mine.attributes.source.address.socket_address.address == "192.0.2.4"
    assert mine.attributes.source.address.socket_address.port_value == 41000
    assert mine.attributes.tls_session.sni == "api.bank.example"
    assert mine.attributes.source.certificate == "cert"


def test_envoy_reads_what_our_messages_write() -> None:
    mine = ours.CheckResponse()
    mine.status.code = EXHAUSTED
    mine.denied_response.status.code = 429
    mine.denied_response.body = "{}"
    option = mine.denied_response.headers.add()
    option.header.key, option.header.value = "retry-after", "7"
    theirs = envoy.CheckResponse.FromString(mine.SerializeToString())
    assert theirs.status.code == EXHAUSTED
    assert theirs.denied_response.status.code == 429
    assert theirs.denied_response.headers[0].header.value == "7"
    assert not theirs.denied_response.headers[0].HasField("append")
    allowed = ours.CheckResponse()
    allowed.status.code = OK
    allowed.ok_response.headers.add().header.key = "x-vaultgate-decision"
    again = envoy.CheckResponse.FromString(allowed.SerializeToString())
    assert again.WhichOneof("http_response") == "ok_response"


def test_client_certificate_digest_comes_from_envoy_pem() -> None:
    pem = _certificate()
    message = check_request("GET", "/accounts/6", "192.0.2.5")
    message.attributes.request.http.scheme = "https"
    message.attributes.source.certificate = quote(pem)
    mine = ours.CheckRequest.FromString(message.SerializeToString())
    request = adapter.original_request(mine, "127.0.0.1", lambda a: False, 1024)
    assert not isinstance(request, str)
    assert request.tls is not None
    expected = hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).digest()
    assert request.tls.client_cert_sha256 == expected


def test_a_length_that_is_no_number_is_not_believed() -> None:
    message = check_request("POST", "/p", "192.0.2.6", body="ab")
    message.attributes.request.http.headers["content-length"] = "\u00b2"
    mine = ours.CheckRequest.FromString(message.SerializeToString())
    request = adapter.original_request(mine, "127.0.0.1", lambda a: False, 1024)
    assert not isinstance(request, str)
    assert request.body_length == 2  # the body's own length


@pytest.mark.parametrize(
    ("peer", "address"),
    [
        ("ipv4:127.0.0.1:5000", "127.0.0.1"),
        ("ipv6:[::1]:5000", "::1"),
        ("ipv6:%5B::1%5D:5000", "::1"),
        ("ipv6:[::ffff:127.0.0.1]:5000", "127.0.0.1"),
        ("unix:/tmp/sock", "unix"),
    ],
)
def test_peer_address(peer: str, address: str) -> None:
    assert adapter.peer_address(peer) == address


def _certificate() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "client")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()
