"""Forwarding through a real ``vaultgate run`` to a recording upstream."""

from __future__ import annotations

import hashlib
import socket
import uuid
from collections.abc import Iterator

import pytest

from tests.fixtures.servers import EchoUpstream, Vaultgate, pattern, vaultgate_proc
from tests.proxy.client import exchange, one, parse, read_until_close, request

POLICY = """
listen: 127.0.0.1:@PORT@
upstream: "{upstream}"
mode: "off"
audit: {{file: "-"}}
server:
  inspect_body_bytes: 1KiB
  upstream_timeout: 5s
"""


@pytest.fixture(scope="module")
def proxy(echo_upstream: EchoUpstream) -> Iterator[Vaultgate]:
    with vaultgate_proc(POLICY.format(upstream=echo_upstream.url)) as running:
        yield running


def marker() -> str:
    return uuid.uuid4().hex[:12]


def test_get_is_forwarded_with_its_fields(
    proxy: Vaultgate, echo_upstream: EchoUpstream
):
    m = marker()
    answer = request(proxy.port, "GET", f"/a/{m}?q=1", headers={"X-Custom": "v"})
    assert answer.status == 200
    [seen] = echo_upstream.find(m)
    assert (seen.method, seen.target, seen.version) == (
        "GET",
        f"/a/{m}?q=1",
        "HTTP/1.1",
    )
    assert seen.header("X-Custom") == "v"
    assert seen.header("Host") == f"127.0.0.1:{proxy.port}"


def test_keep_alive_carries_several_requests(
    proxy: Vaultgate, echo_upstream: EchoUpstream
):
    m = marker()
    raw = b"".join(
        b"GET /k/%s/%d HTTP/1.1\r\nHost: x\r\n\r\n" % (m.encode(), i) for i in range(3)
    )
    raw += (
        b"GET /k/%s/last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % m.encode()
    )
    answers = parse(exchange(proxy.port, raw))
    # Pipelined requests are answered in order, on the one connection.
    targets = [a.json()["target"] for a in answers]
    assert targets == [f"/k/{m}/0", f"/k/{m}/1", f"/k/{m}/2", f"/k/{m}/last"]
    assert answers[-1].header("connection") == "close"
    # The upstream side reused its keep-alive connections too.
    assert len({r.connection for r in echo_upstream.find(m)}) < 4


def test_content_length_body_is_forwarded(
    proxy: Vaultgate, echo_upstream: EchoUpstream
):
    m = marker()
    body = b'{"amount": "12.50"}'
    answer = request(proxy.port, "POST", f"/p/{m}", body=body)
    assert answer.json()["body_sha256"] == hashlib.sha256(body).hexdigest()
    [seen] = echo_upstream.find(m)
    assert seen.header("Content-Length") == str(len(body))


def test_chunked_request_read_whole_goes_with_a_length(
    proxy: Vaultgate, echo_upstream: EchoUpstream
):
    m = marker()
    raw = (
        b"POST /c/%s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n" % m.encode()
    )
    assert one(exchange(proxy.port, raw)).status == 200
    [seen] = echo_upstream.find(m)
    assert seen.body == b"hello world"
    assert seen.header("Content-Length") == "11"
    assert seen.header("Transfer-Encoding") is None


@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
def test_large_body_is_streamed_past_the_inspection_limit(
    proxy: Vaultgate, echo_upstream: EchoUpstream, chunked: bool
):
    m = marker()
    body = pattern(300 * 1024)  # 300 times the 1 KiB inspection limit
    head = b"POST /big/%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" % m.encode()
    if chunked:
        pieces = [body[i : i + 7000] for i in range(0, len(body), 7000)]
        framed = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces)
        raw = head + b"Transfer-Encoding: chunked\r\n\r\n" + framed + b"0\r\n\r\n"
    else:
        raw = head + b"Content-Length: %d\r\n\r\n" % len(body) + body
    answer = one(exchange(proxy.port, raw))
    assert answer.json()["body_sha256"] == hashlib.sha256(body).hexdigest()
    [seen] = echo_upstream.find(m)
    framing = "Transfer-Encoding" if chunked else "Content-Length"
    assert seen.header(framing) is not None


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/x/chunked?parts=4&size=3000", b"a" * 3000 + b"b" * 3000 + b"c" * 3000),
        ("/x/big?size=2000000", None),
        ("/x/close", b"until the end"),
    ],
    ids=["chunked", "large-length", "close-delimited"],
)
def test_response_bodies_are_relayed(
    proxy: Vaultgate, path: str, expected: bytes | None
):
    answer = request(proxy.port, "GET", path)
    assert answer.status == 200
    if expected is None:
        assert answer.body == pattern(2_000_000)
    else:
        assert answer.body.startswith(expected)


def test_chunked_response_stays_chunked_while_streaming(proxy: Vaultgate):
    raw = b"GET /x/chunked?parts=40&size=30000 HTTP/1.1\r\nHost: x\r\n"
    answer = one(exchange(proxy.port, raw + b"Connection: close\r\n\r\n"))
    assert len(answer.body) == 40 * 30000
    # Trailers are not forwarded.
    assert b"X-Trailer" not in answer.body


def test_http10_client_gets_a_body_it_can_read(proxy: Vaultgate):
    raw = b"GET /x/chunked?parts=30&size=20000 HTTP/1.0\r\n\r\n"
    data = exchange(proxy.port, raw)
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding" not in head  # a 1.0 client cannot read chunks
    assert len(body) == 30 * 20000


def test_head_gets_the_fields_and_no_body(
    proxy: Vaultgate, echo_upstream: EchoUpstream
):
    m = marker()
    raw = (
        b"HEAD /h/%s HTTP/1.1\r\nHost: x\r\n\r\nGET /h/%s/2 HTTP/1.1\r\nHost: x\r\n"
        % (
            m.encode(),
            m.encode(),
        )
    )
    data = exchange(proxy.port, raw + b"Connection: close\r\n\r\n")
    first, _, rest = data.partition(b"\r\n\r\n")
    assert first.startswith(b"HTTP/1.1 200")
    assert b"Content-Length:" in first
    # The next response follows the HEAD response's head directly.
    assert rest.startswith(b"HTTP/1.1 200")
    assert one(rest).json()["target"] == f"/h/{m}/2"


def test_expect_100_continue(proxy: Vaultgate, echo_upstream: EchoUpstream):
    m = marker()
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
        sock.sendall(
            b"POST /e/%s HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
            b"Expect: 100-continue\r\nConnection: close\r\n\r\n" % m.encode()
        )
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"hello")
        answer = one(read_until_close(sock))
    assert answer.status == 200
    [seen] = echo_upstream.find(m)
    assert seen.body == b"hello"
    assert seen.header("Expect") is None


def test_hop_by_hop_fields_are_removed_both_ways(
    proxy: Vaultgate, echo_upstream: EchoUpstream
):
    m = marker()
    raw = (
        b"GET /hop/%s HTTP/1.1\r\nHost: x\r\nConnection: close, X-Private\r\n"
        b"X-Private: secret\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n"
        b"Proxy-Authorization: Basic eDp5\r\nProxy-Connection: keep-alive\r\n"
        b"X-Public: ok\r\n\r\n" % m.encode()
    )
    assert one(exchange(proxy.port, raw)).status == 200
    [seen] = echo_upstream.find(m)
    names = {n.lower() for n, _ in seen.headers}
    for dropped in ("x-private", "keep-alive", "te", "proxy-authorization"):
        assert dropped not in names
    assert "proxy-connection" not in names and "connection" not in names
    assert seen.header("X-Public") == "ok"
    answer = request(proxy.port, "GET", "/x/hop")
    kept = {n.lower() for n, _ in answer.headers}
    assert "x-kept" in kept
    assert not kept & {"x-up-private", "keep-alive", "proxy-authenticate"}


def test_forwarding_fields_name_the_peer(proxy: Vaultgate, echo_upstream: EchoUpstream):
    m = marker()
    # The peer (127.0.0.1) is not a trusted proxy: its claims are dropped.
    headers = {"X-Forwarded-For": "6.6.6.6", "Forwarded": "for=6.6.6.6"}
    request(proxy.port, "GET", f"/fwd/{m}", headers=headers)
    [seen] = echo_upstream.find(m)
    assert seen.header("X-Forwarded-For") == "127.0.0.1"
    assert seen.header("X-Forwarded-Proto") == "http"
    assert seen.header("Forwarded") == "for=127.0.0.1;proto=http"


def test_audit_event_for_each_request(proxy: Vaultgate):
    m = marker()
    request(proxy.port, "GET", f"/audit/{m}")
    events = _wait_events(proxy, m)
    assert events[0]["http"]["response"]["status_code"] == 200
    assert events[0]["http"]["response"]["bytes"] > 0


def _wait_events(proxy: Vaultgate, m: str) -> list[dict[str, object]]:
    import time

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found = [e for e in proxy.audit() if m in str(e.get("url"))]
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("no audit event")
