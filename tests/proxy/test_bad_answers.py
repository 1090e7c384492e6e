"""Malformed answers from the upstream: a 502 problem document, never relayed.

An answer the proxy cannot frame unambiguously could desynchronise the
client's connection or reach the client (and the response filter) in a form
nobody inspected.  A raw upstream sends each malformed answer byte for byte;
the proxy, with every route off and with every route blocking, must refuse it
with 502 and keep serving.
"""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator

import pytest

from tests.fixtures.servers import Vaultgate, vaultgate_proc
from tests.proxy.client import exchange, one

# Answers by name; the request path names the one to send.
MALFORMED = {
    "status-line": b"HTTX/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "length-and-chunked": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"2\r\nok\r\n0\r\n\r\n"
    ),
    "two-lengths": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!"
    ),
    "negative-length": b"HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\nok",
    "chunk-size": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n"
    ),
    "gzip-coding": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n\x1f\x8b\x08\x00"
    ),
    "coding-twice": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked"
        b"\r\n\r\n2\r\nok\r\n0\r\n\r\n"
    ),
    "nul-in-value": b"HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 2\r\n\r\nok",
    "bare-cr-in-value": (
        b"HTTP/1.1 200 OK\r\nX-A: a\rSet-Cookie: x=1\r\nContent-Length: 2\r\n\r\nok"
    ),
    "folded-field": b"HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 2\r\n\r\nok",
    "space-in-name": b"HTTP/1.1 200 OK\r\nX A: b\r\nContent-Length: 2\r\n\r\nok",
    "bare-lf-lines": b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
    "huge-field": (
        b"HTTP/1.1 200 OK\r\nX-A: " + b"a" * 70_000 + b"\r\nContent-Length: 2\r\n\r\nok"
    ),
}
EARLY_HINTS = (
    b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n"
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
)


class _RawAnswers(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        line = self.rfile.readline()
        while self.rfile.readline() not in (b"\r\n", b""):
            pass  # the rest of the head
        name = line.split()[1].decode().rsplit("/", 1)[-1]
        self.wfile.write(MALFORMED.get(name, EARLY_HINTS))
        self.wfile.flush()


@pytest.fixture(scope="module", params=["off", "block"])
def proxy(request: pytest.FixtureRequest) -> Iterator[Vaultgate]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _RawAnswers)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    policy = (
        "listen: 127.0.0.1:@PORT@\n"
        f'upstream: "http://127.0.0.1:{server.server_address[1]}"\n'
        f'mode: "{request.param}"\n'
        'audit: {file: "-"}\n'
        "server: {upstream_timeout: 2s}\n"
    )
    try:
        with vaultgate_proc(policy) as running:
            yield running
    finally:
        server.shutdown()
        server.server_close()


def _get(proxy: Vaultgate, name: str) -> bytes:
    raw = f"GET /answers/{name} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    return exchange(proxy.port, raw.encode(), timeout=5)


@pytest.mark.parametrize("name", MALFORMED)
def test_a_malformed_answer_is_a_502_problem(proxy: Vaultgate, name: str) -> None:
    answer = one(_get(proxy, name))
    assert answer.status == 502
    assert answer.header("content-type") == "application/problem+json"
    assert answer.json()["status"] == 502
    assert answer.header("set-cookie") is None


def test_an_interim_answer_is_skipped_and_the_final_one_relayed(
    proxy: Vaultgate,
) -> None:
    answer = one(_get(proxy, "early-hints"))
    assert (answer.status, answer.body) == (200, b"ok")
