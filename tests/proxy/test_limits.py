"""Every server limit, at its value (accepted) and just over (refused)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from tests.fixtures.servers import EchoUpstream, Vaultgate, vaultgate_proc
from tests.proxy.client import closed_within, exchange, one, parse, read_until_close

MAX_URL = 200
MAX_HEADER_BYTES = 1000
MAX_HEADERS = 10
MAX_BODY = 2000
TIMEOUT = 1.0  # header, body and idle timeouts
# How late a timeout may fire on a busy shared machine: the watchdog's
# sweep interval (a quarter of the timeout) plus scheduling delays.
SLACK = 2.0

POLICY = f"""
listen: 127.0.0.1:@PORT@
upstream: "{{upstream}}"
mode: "off"
audit: {{{{file: "-"}}}}
server:
  max_url_bytes: {MAX_URL}
  max_header_bytes: {MAX_HEADER_BYTES}
  max_headers: {MAX_HEADERS}
  max_body_bytes: {MAX_BODY}
  inspect_body_bytes: 1000
  header_timeout: {TIMEOUT}s
  body_timeout: {TIMEOUT}s
  idle_timeout: {TIMEOUT}s
"""


@pytest.fixture(scope="module")
def proxy(echo_upstream: EchoUpstream) -> Iterator[Vaultgate]:
    with vaultgate_proc(POLICY.format(upstream=echo_upstream.url)) as running:
        yield running


def status_of(proxy: Vaultgate, raw: bytes) -> int:
    return one(exchange(proxy.port, raw, timeout=5)).status


def target(length: int) -> bytes:
    """A request-target of exactly ``length`` bytes."""
    return b"/" + b"u" * (length - 1)


@pytest.mark.parametrize(("length", "status"), [(MAX_URL, 200), (MAX_URL + 1, 414)])
def test_url_length(proxy: Vaultgate, length: int, status: int):
    raw = b"GET %s HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" % target(length)
    assert status_of(proxy, raw) == status


def fields_of_size(total: int) -> bytes:
    """Host, Connection and one filler field: ``total`` header bytes in all.

    Each field counts name + value + 4 (": " and CRLF).
    """
    fixed = (4 + 1 + 4) + (10 + 5 + 4)  # Host: a, Connection: close
    filler = total - fixed - (6 + 4)  # X-Fill: <value>
    return b"Host: a\r\nConnection: close\r\nX-Fill: " + b"f" * filler + b"\r\n"


@pytest.mark.parametrize(
    ("size", "status"), [(MAX_HEADER_BYTES, 200), (MAX_HEADER_BYTES + 1, 431)]
)
def test_header_bytes(proxy: Vaultgate, size: int, status: int):
    raw = b"GET /hb HTTP/1.1\r\n" + fields_of_size(size) + b"\r\n"
    assert status_of(proxy, raw) == status


@pytest.mark.parametrize(
    ("count", "status"), [(MAX_HEADERS, 200), (MAX_HEADERS + 1, 431)]
)
def test_header_count(proxy: Vaultgate, count: int, status: int):
    extra = b"".join(b"X-%d: v\r\n" % i for i in range(count - 2))
    raw = b"GET /hc HTTP/1.1\r\nHost: a\r\nConnection: close\r\n" + extra + b"\r\n"
    assert status_of(proxy, raw) == status


def test_endless_header_line_is_cut_off(proxy: Vaultgate):
    # One field that never ends: refused once the head outgrows every limit,
    # without waiting for the line end.
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
        sock.sendall(b"GET /endless HTTP/1.1\r\nHost: a\r\nX-Long: ")
        status = 0
        for _ in range(100):
            try:
                sock.sendall(b"x" * 4096)
            except (BrokenPipeError, ConnectionResetError):
                break
        data = read_until_close(sock, 5)
        status = one(data).status if data else 0
    assert status == 431


@pytest.mark.parametrize(("size", "status"), [(MAX_BODY, 200), (MAX_BODY + 1, 413)])
def test_body_size_by_content_length(
    proxy: Vaultgate, echo_upstream: EchoUpstream, size: int, status: int
):
    marker = f"bodycl{size}{time.monotonic_ns()}"
    raw = b"POST /%s HTTP/1.1\r\nHost: a\r\nConnection: close\r\n" % marker.encode()
    raw += b"Content-Length: %d\r\n\r\n" % size + b"b" * size
    assert status_of(proxy, raw) == status
    assert len(echo_upstream.find(marker)) == (1 if status == 200 else 0)


@pytest.mark.parametrize(("size", "status"), [(MAX_BODY, 200), (MAX_BODY + 1, 413)])
def test_body_size_chunked(
    proxy: Vaultgate, echo_upstream: EchoUpstream, size: int, status: int
):
    marker = f"bodych{size}{time.monotonic_ns()}"
    raw = b"POST /%s HTTP/1.1\r\nHost: a\r\nConnection: close\r\n" % marker.encode()
    raw += b"Transfer-Encoding: chunked\r\n\r\n"
    raw += b"%x\r\n%s\r\n0\r\n\r\n" % (size, b"b" * size)
    assert status_of(proxy, raw) == status
    assert len(echo_upstream.find(marker)) == (1 if status == 200 else 0)


def test_header_timeout_is_not_hit_by_a_head_sent_in_time(proxy: Vaultgate):
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
        sock.sendall(b"GET /slowhead HTTP/1.1\r\n")
        time.sleep(TIMEOUT * 0.6)
        sock.sendall(b"Host: a\r\nConnection: close\r\n\r\n")
        assert one(read_until_close(sock)).status == 200


def test_header_timeout_cuts_off_a_slow_head(proxy: Vaultgate):
    # Slowloris: a head that never completes gets 408 and a closed socket.
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
        sock.sendall(b"GET /slowloris HTTP/1.1\r\nHost: a\r\n")
        started = time.monotonic()
        data = read_until_close(sock, 5)
        waited = time.monotonic() - started
    assert one(data).status == 408
    assert TIMEOUT * 0.9 <= waited <= TIMEOUT + SLACK


def test_header_timeout_applies_to_a_silent_connection(proxy: Vaultgate):
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
        assert closed_within(sock, TIMEOUT + SLACK)


def test_body_timeout_is_not_hit_by_a_body_sent_in_time(proxy: Vaultgate):
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
        sock.sendall(b"POST /bt HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n")
        sock.sendall(b"Connection: close\r\n\r\nab")
        time.sleep(TIMEOUT * 0.6)
        sock.sendall(b"cd")
        assert one(read_until_close(sock)).status == 200


def test_body_timeout_cuts_off_a_slow_body(
    proxy: Vaultgate, echo_upstream: EchoUpstream
):
    marker = f"slowbody{time.monotonic_ns()}"
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
        sock.sendall(
            b"POST /%s HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nab"
            % marker.encode()
        )
        started = time.monotonic()
        data = read_until_close(sock, 5)
        waited = time.monotonic() - started
    assert one(data).status == 408
    assert TIMEOUT * 0.9 <= waited <= TIMEOUT + SLACK
    assert echo_upstream.find(marker) == []


def test_idle_keep_alive_connection(proxy: Vaultgate):
    request = b"GET /idle HTTP/1.1\r\nHost: a\r\n\r\n"
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
        sock.sendall(request)
        assert _read_one(sock).status == 200
        time.sleep(TIMEOUT * 0.6)  # within the idle timeout: still open
        sock.sendall(request)
        assert _read_one(sock).status == 200
        started = time.monotonic()
        assert closed_within(sock, TIMEOUT + SLACK)
        assert time.monotonic() - started >= TIMEOUT * 0.9


def _read_one(sock: socket.socket) -> object:
    data = b""
    while True:
        data += sock.recv(65536)
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep and b"Content-Length" in head:
            length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            if len(body) >= length:
                return parse(data)[0]
