"""Envoy ext_authz HTTP service, with check requests shaped as Envoy sends them.

Envoy's HTTP client sends the original method, ``path_prefix`` + the
original path and query, the original Host, Authorization and the allowed
fields, ``headers_to_add`` (here ``x-real-ip``), a Content-Length for the
body it buffered and ``x-envoy-auth-partial-body`` with
``with_request_body``.  Each case asserts what Envoy would pass on: 200 and
the upstream fields, or the status, fields and body for the client.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import pytest

from tests.adapters.kit import Answer, Authz, authz_proc, call, parse_answer

POLICY = """
mode: block
audit: {file: "@AUDIT@", spool_dir: "@AUDIT@.spool"}
traps:
  honeytokens: {bearer_tokens: [vg-honey-token-0002]}
routes:
  - path: /limited/{name}
    limits: [{key: ip, rate: 2/minute}]
adapters:
  envoy_http: {listen: 127.0.0.1:@ENVOY_HTTP@, path_prefix: /authz}
  trusted_peers: [127.0.0.1/32]
"""
INCIDENT = re.compile(r"^[0-9a-f]{16}$")
XSS_BODY = b'{"memo": "<script>alert(document.cookie)</script>"}'
CLEAN_BODY = b'{"amount": "12.50", "currency": "EUR", "to": "DE89370400440532013000"}'


@pytest.fixture(scope="module")
def authz() -> Iterator[Authz]:
    with authz_proc(POLICY) as running:
        yield running


def envoy_check(
    authz: Authz,
    method: str,
    target: str,
    client: str,
    fields: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    partial: bool | None = None,
    source: str = "127.0.0.1",
) -> Answer:
    """One check as Envoy's ext_authz HTTP client would send it."""
    sent = [("x-envoy-expected-rq-timeout-ms", "250"), *(fields or [])]
    if client:
        sent.append(("x-real-ip", client))
    if partial is not None:
        sent.append(("x-envoy-auth-partial-body", "true" if partial else "false"))
    port = authz.ports["envoy_http"]
    return call(port, method, "/authz" + target, sent, body, source=source)


def no_marks(answer: Answer) -> bool:
    return not [name for name in answer.headers if name.startswith("x-vaultgate")]


JSON = [("content-type", "application/json")]
# (case, method, target, fields, body, partial, status Envoy passes on)
CASES = [
    ("clean-get", "GET", "/accounts/1?view=full", [], b"", None, 200),
    ("clean-body", "POST", "/payments", JSON, CLEAN_BODY, False, 200),
    ("sqli-query", "GET", "/accounts?id=1%27%20OR%201=1--", [], b"", None, 403),
    ("xss-body", "POST", "/payments", JSON, XSS_BODY, False, 403),
    # Envoy sent only part of the body: inspection is incomplete and the
    # policy decides (scoring.on_incomplete, default block).
    ("partial-body", "POST", "/payments", JSON, CLEAN_BODY, True, 403),
    (
        "honeytoken",
        "GET",
        "/accounts/2",
        [("authorization", "Bearer vg-honey-token-0002")],
        b"",
        None,
        401,
    ),
]


@pytest.mark.parametrize(
    ("case", "method", "target", "fields", "body", "partial", "status"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_envoy_receives_the_verdict(
    authz: Authz,
    case: str,
    method: str,
    target: str,
    fields: list[tuple[str, str]],
    body: bytes,
    partial: bool | None,
    status: int,
) -> None:
    client = f"198.51.100.{CASES.index(next(c for c in CASES if c[0] == case)) + 1}"
    answer = envoy_check(authz, method, target, client, fields, body, partial)
    assert answer.status == status, answer
    if status == 200:
        # For allowed_upstream_headers; no body, as Envoy ignores it.
        assert answer.headers["x-vaultgate-decision"] == "allow"
        assert INCIDENT.match(answer.headers["x-vaultgate-incident"])
        assert answer.body == b""
        return
    assert no_marks(answer)
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    event = authz.event(problem["incident_id"])
    assert event["vaultgate"]["tags"]["adapter"] == "envoy_http"
    assert event["client"]["ip"] == client
    if case == "partial-body":
        assert event["vaultgate"]["inspection_incomplete"]
    if case == "honeytoken":
        assert answer.headers["www-authenticate"].startswith("Bearer")


def test_throttle_reaches_envoy_as_429_per_client_address(authz: Authz) -> None:
    statuses = [
        envoy_check(authz, "GET", "/limited/x", "203.0.113.7") for _ in range(3)
    ]
    assert [a.status for a in statuses] == [200, 200, 429]
    assert int(statuses[-1].headers["retry-after"]) > 0
    # x-real-ip names the client: another address has its own budget.
    assert envoy_check(authz, "GET", "/limited/x", "203.0.113.8").status == 200


def test_without_x_real_ip_the_forwarded_chain_names_the_client(authz: Authz) -> None:
    # Envoy (a trusted peer) passed on x-forwarded-for: the rightmost hop
    # that is not trusted is the client.
    chain = [("x-forwarded-for", "10.9.9.9, 203.0.113.50")]
    target = "/accounts?id=1%27%20OR%201=1--&case=xff"
    answer = envoy_check(authz, "GET", target, "", chain)
    assert answer.status == 403
    event = authz.event(answer.json()["incident_id"])
    assert event["client"]["ip"] == "203.0.113.50"


@pytest.mark.parametrize(
    ("target", "reason"),
    [("/other/accounts", "adapter:path-prefix"), ("/authzed", "adapter:path-prefix")],
)
def test_a_check_outside_the_prefix_is_refused(
    authz: Authz, target: str, reason: str
) -> None:
    port = authz.ports["envoy_http"]
    answer = call(port, "GET", target, [("x-real-ip", "198.51.100.90")])
    assert answer.status == 403
    event = authz.event(answer.json()["incident_id"])
    assert event["event"]["reason"] == reason


def test_an_untrusted_caller_is_refused(authz: Authz) -> None:
    answer = envoy_check(
        authz, "GET", "/accounts/1", "198.51.100.91", source="127.0.0.9"
    )
    assert answer.status == 403
    event = authz.event(answer.json()["incident_id"])
    assert event["event"]["reason"] == "adapter:untrusted-peer"
    assert event["source"]["ip"] == "127.0.0.9"


def test_checks_share_a_kept_alive_connection(authz: Authz) -> None:
    # Envoy keeps its connections to the authorization cluster open.
    one = (
        "GET /authz/accounts/{n} HTTP/1.1\r\nhost: api\r\nx-real-ip: 198.51.100.99\r\n"
        "content-length: 0\r\n\r\n"
    )
    wire = "".join(one.format(n=n) for n in range(3)).encode()
    with socket.create_connection(("127.0.0.1", authz.ports["envoy_http"]), 5) as s:
        s.sendall(wire)
        data = b""
        while data.count(b"HTTP/1.1 200") < 3:
            chunk = s.recv(65536)
            assert chunk, data
            data += chunk
    answers = [
        parse_answer(b"HTTP/1.1 200" + part) for part in data.split(b"HTTP/1.1 200")[1:]
    ]
    incidents = {a.headers["x-vaultgate-incident"] for a in answers}
    assert len(incidents) == 3
