"""Request-smuggling defences: raw bytes over a real socket.

Each case is a message whose length or meaning two HTTP parsers could read
differently (or that is malformed in a way a lenient parser accepts).  The
proxy must answer it itself, close the connection, and forward nothing:
the marker in each target must never reach the upstream.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.fixtures.servers import EchoUpstream, Vaultgate, vaultgate_proc
from tests.proxy.client import exchange, parse

POLICY = """
listen: 127.0.0.1:@PORT@
upstream: "{upstream}"
mode: "off"
audit: {{file: "-"}}
"""

H = b"Host: a\r\n"
CASES = {
    # Conflicting or ambiguous lengths (RFC 9112 6.3).
    "cl-and-te": (
        b"POST /M HTTP/1.1\r\n" + H + b"Content-Length: 6\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nG",
        400,
    ),
    "te-and-cl": (
        b"POST /M HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n"
        b"Content-Length: 3\r\n\r\n0\r\n\r\n",
        400,
    ),
    "cl-repeated-equal": (
        b"POST /M HTTP/1.1\r\n" + H + b"Content-Length: 3\r\n"
        b"Content-Length: 3\r\n\r\nabc",
        400,
    ),
    "cl-repeated-different": (
        b"POST /M HTTP/1.1\r\n" + H + b"Content-Length: 3\r\n"
        b"Content-Length: 4\r\n\r\nabcd",
        400,
    ),
    "cl-list": (b"POST /M HTTP/1.1\r\n" + H + b"Content-Length: 3, 3\r\n\r\nabc", 400),
    "cl-plus": (b"POST /M HTTP/1.1\r\n" + H + b"Content-Length: +3\r\n\r\nabc", 400),
    "cl-negative": (b"POST /M HTTP/1.1\r\n" + H + b"Content-Length: -3\r\n\r\n", 400),
    "cl-hex": (b"POST /M HTTP/1.1\r\n" + H + b"Content-Length: 0x3\r\n\r\nabc", 400),
    "cl-inner-space": (
        b"POST /M HTTP/1.1\r\n" + H + b"Content-Length: 1 2\r\n\r\n",
        400,
    ),
    "cl-empty": (b"POST /M HTTP/1.1\r\n" + H + b"Content-Length: \r\n\r\n", 400),
    "cl-overflow": (
        b"POST /M HTTP/1.1\r\n"
        + H
        + b"Content-Length: 99999999999999999999999\r\n\r\n",
        400,
    ),
    # Transfer-Encoding other than exactly one final "chunked".
    "te-gzip-chunked": (
        b"POST /M HTTP/1.1\r\n"
        + H
        + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    "te-chunked-gzip": (
        b"POST /M HTTP/1.1\r\n"
        + H
        + b"Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
        400,
    ),
    "te-repeated": (
        b"POST /M HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    "te-split": (
        b"POST /M HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    "te-empty-element": (
        b"POST /M HTTP/1.1\r\n" + H + b"Transfer-Encoding: , chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    "te-identity": (
        b"POST /M HTTP/1.1\r\n" + H + b"Transfer-Encoding: identity\r\n\r\nabc",
        400,
    ),
    "te-xchunked": (
        b"POST /M HTTP/1.1\r\n" + H + b"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    "te-vertical-tab": (
        b"POST /M HTTP/1.1\r\n" + H + b"Transfer-Encoding:\x0bchunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    "te-space-before-colon": (
        b"POST /M HTTP/1.1\r\n" + H + b"Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    "te-in-http10": (
        b"POST /M HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    # Obsolete line folding (RFC 9112 5.2).
    "obs-fold": (b"GET /M HTTP/1.1\r\n" + H + b"X-A: b\r\n c\r\n\r\n", 400),
    "obs-fold-te": (
        b"POST /M HTTP/1.1\r\n"
        + H
        + b"Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    # Invalid chunk sizes and chunk framing.
    "chunk-size-letters": (
        b"POST /M HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n\r\n",
        400,
    ),
    "chunk-size-negative": (
        b"POST /M HTTP/1.1\r\n" + H + b"Transfer-Encoding: "
        b"chunked\r\n\r\n-3\r\nabc\r\n0\r\n\r\n",
        400,
    ),
    "chunk-size-0x": (
        b"POST /M HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked"
        b"\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n",
        400,
    ),
    "chunk-size-space": (
        b"POST /M HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked"
        b"\r\n\r\n3 \r\nabc\r\n0\r\n\r\n",
        400,
    ),
    "chunk-size-overflow": (
        b"POST /M HTTP/1.1\r\n" + H + b"Transfer-Encoding: "
        b"chunked\r\n\r\nFFFFFFFFFFFFFFFFF1\r\nabc\r\n",
        400,
    ),
    "chunk-bare-lf": (
        b"POST /M HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked"
        b"\r\n\r\n3\nabc\n0\n\n",
        400,
    ),
    "chunk-data-too-long": (
        b"POST /M HTTP/1.1\r\n" + H + b"Transfer-Encoding: "
        b"chunked\r\n\r\n3\r\nabcdef\r\n0\r\n\r\n",
        400,
    ),
    # Bare CR / LF, NUL, control characters, invalid names.
    "bare-cr-in-value": (b"GET /M HTTP/1.1\r\n" + H + b"X-A: b\rc\r\n\r\n", 400),
    "bare-lf-line-end": (b"GET /M HTTP/1.1\r\n" + H + b"X-A: b\n\r\n", 400),
    "bare-lf-head": (b"GET /M HTTP/1.1\nHost: a\n\n", 400),
    "nul-in-value": (b"GET /M HTTP/1.1\r\n" + H + b"X-A: b\x00c\r\n\r\n", 400),
    "control-in-value": (b"GET /M HTTP/1.1\r\n" + H + b"X-A: b\x01c\r\n\r\n", 400),
    "space-in-name": (b"GET /M HTTP/1.1\r\n" + H + b"X A: b\r\n\r\n", 400),
    "bad-char-in-name": (b"GET /M HTTP/1.1\r\n" + H + b"X(A: b\r\n\r\n", 400),
    "empty-name": (b"GET /M HTTP/1.1\r\n" + H + b": b\r\n\r\n", 400),
    "nul-in-target": (b"GET /M\x00x HTTP/1.1\r\n" + H + b"\r\n", 400),
    # Versions other than 1.0 and 1.1 (RFC 9112 2.3).
    "http09": (b"GET /M\r\n\r\n", 505),
    "http09-explicit": (b"GET /M HTTP/0.9\r\n" + H + b"\r\n", 505),
    "http12": (b"GET /M HTTP/1.2\r\n" + H + b"\r\n", 505),
    "http20-text": (b"GET /M HTTP/2.0\r\n" + H + b"\r\n", 505),
    # Host must be there once (RFC 9112 3.2).
    "two-hosts": (b"GET /M HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    "no-host": (b"GET /M HTTP/1.1\r\nX-A: b\r\n\r\n", 400),
    # Targets whose path the origin could read differently from us.
    "absolute-form": (b"GET http://evil/M HTTP/1.1\r\n" + H + b"\r\n", 400),
    "fragment": (b"GET /ok#/M HTTP/1.1\r\n" + H + b"\r\n", 400),
    "asterisk-not-options": (b"GET * HTTP/1.1\r\n" + H + b"\r\n", 400),
    # Methods an API gateway does not forward.
    "webdav-method": (b"PROPFIND /M HTTP/1.1\r\n" + H + b"\r\n", 501),
    "connect": (b"CONNECT M:443 HTTP/1.1\r\n" + H + b"\r\n", 501),
    "garbage-method": (b"G(T /M HTTP/1.1\r\n" + H + b"\r\n", 400),
    # An upgrade request's body would be read as the new protocol.
    "upgrade-with-body": (
        b"POST /M HTTP/1.1\r\n" + H + b"Connection: upgrade\r\n"
        b"Upgrade: h2c\r\nContent-Length: 3\r\n\r\nabc",
        400,
    ),
    "unknown-expectation": (
        b"POST /M HTTP/1.1\r\n" + H + b"Expect: 200-ok\r\nContent-Length: 1\r\n\r\na",
        417,
    ),
}


@pytest.fixture(scope="module")
def proxy(echo_upstream: EchoUpstream) -> Iterator[Vaultgate]:
    with vaultgate_proc(POLICY.format(upstream=echo_upstream.url)) as running:
        yield running


@pytest.mark.parametrize(("raw", "status"), CASES.values(), ids=CASES.keys())
def test_ambiguous_message_is_refused_and_never_forwarded(
    proxy: Vaultgate, echo_upstream: EchoUpstream, raw: bytes, status: int
) -> None:
    marker = f"smuggle{time.monotonic_ns()}"
    data = raw.replace(b"/M", b"/" + marker.encode()).replace(b"M:", marker.encode())
    # exchange() reads until the proxy closes: a proxy that kept the
    # connection open would fail here with a timeout.
    answers = parse(exchange(proxy.port, data, timeout=5))
    assert [a.status for a in answers] == [status]
    assert answers[0].header("connection") == "close"
    assert answers[0].header("content-type") == "application/problem+json"
    assert echo_upstream.find(marker) == []


def test_smuggled_second_request_is_not_forwarded(
    proxy: Vaultgate, echo_upstream: EchoUpstream
) -> None:
    # CL.TE: a front end using Content-Length and a back end using chunked
    # would see "GET /smuggled" as a second request.
    marker = f"second{time.monotonic_ns()}"
    raw = (
        b"POST /first HTTP/1.1\r\nHost: a\r\nContent-Length: 44\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        b"GET /%s HTTP/1.1\r\nHost: a\r\n\r\n" % marker.encode()
    )
    answers = parse(exchange(proxy.port, raw, timeout=5))
    assert [a.status for a in answers] == [400]
    assert echo_upstream.find(marker) == []


def test_request_after_a_valid_one_is_refused_in_order(
    proxy: Vaultgate, echo_upstream: EchoUpstream
) -> None:
    marker = f"order{time.monotonic_ns()}"
    raw = (
        b"POST /%s/ok HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
        b"GARBAGE /%s/bad\r\n\r\n" % (marker.encode(), marker.encode())
    )
    answers = parse(exchange(proxy.port, raw, timeout=5))
    assert [a.status for a in answers] == [200, 400]
    assert [r.target for r in echo_upstream.find(marker)] == [f"/{marker}/ok"]


def test_trailer_fields_are_dropped(proxy: Vaultgate, echo_upstream: EchoUpstream):
    marker = f"trailer{time.monotonic_ns()}"
    raw = (
        b"POST /%s HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\n3\r\nabc\r\n0\r\nX-Injected: 1\r\n\r\n"
        % marker.encode()
    )
    assert [a.status for a in parse(exchange(proxy.port, raw))] == [200]
    [seen] = echo_upstream.find(marker)
    assert seen.body == b"abc"
    assert seen.header("X-Injected") is None


def test_upgrade_without_body_is_answered_plainly_then_closed(
    proxy: Vaultgate, echo_upstream: EchoUpstream
):
    marker = f"upgrade{time.monotonic_ns()}"
    raw = (
        b"GET /%s HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\n"
        b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n" % marker.encode()
    )
    answers = parse(exchange(proxy.port, raw, timeout=5))
    assert [a.status for a in answers] == [200]
    assert answers[0].header("connection") == "close"
    [seen] = echo_upstream.find(marker)
    names = {n.lower() for n, _ in seen.headers}
    assert not names & {"upgrade", "http2-settings", "connection"}
