"""Requests answered from callbacks and by the task, mixed on one connection.

A whole request on a route in mode off is forwarded from the parser's
callback and answered from the upstream's; any other waits for the
connection's task.  Pipelined requests of both kinds must still be
answered in order, each exactly once, each with its audit event, and an
answer that is not whole (streamed, failed, retried) must finish in a
task as it would have without the fast path.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fixtures.servers import EchoUpstream, Vaultgate, pattern, vaultgate_proc
from tests.proxy.client import exchange, parse

POLICY = """
listen: 127.0.0.1:@PORT@
upstream: "{upstream}"
mode: "off"
audit: {{file: "-"}}
allowed_methods: [GET, POST]
routes:
  - path: /watched/{{rest*}}
    mode: monitor
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


def get(path: str, last: bool = False) -> bytes:
    close = b"Connection: close\r\n" if last else b""
    return b"GET %s HTTP/1.1\r\nHost: api.bank.test\r\n%s\r\n" % (path.encode(), close)


def post(path: str, body: bytes) -> bytes:
    head = b"POST %s HTTP/1.1\r\nHost: api.bank.test\r\n" % path.encode()
    head += b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
    return head + body


def events(proxy: Vaultgate, m: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 5  # the audit log is flushed once a second
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        found = [e for e in proxy.audit() if m in e["url"]["path"]]
        if len(found) >= count:
            break
        time.sleep(0.1)
    return found


def test_pipelined_off_and_monitored_requests_are_answered_in_order(
    proxy: Vaultgate, echo_upstream: EchoUpstream
):
    m = marker()
    raw = (
        get(f"/a/{m}/1")
        + get(f"/watched/{m}/2")
        + post(f"/a/{m}/3", b'{"amount": "10.00"}')
        + get(f"/a/{m}/4")
        + get(f"/watched/{m}/5")
        + get(f"/a/{m}/6", last=True)
    )
    answers = parse(exchange(proxy.port, raw))
    targets = [a.json()["target"] for a in answers]
    routes = ["a", "watched", "a", "a", "watched", "a"]
    assert targets == [f"/{r}/{m}/{i}" for i, r in enumerate(routes, 1)]
    assert [a.status for a in answers] == [200] * 6
    assert answers[2].json()["body_length"] == len(b'{"amount": "10.00"}')
    # Each request reached the upstream once and has exactly one event,
    # in its route's mode.
    assert len(echo_upstream.find(m)) == 6
    found = events(proxy, m, 6)
    modes = sorted((e["url"]["path"][-1], e["vaultgate"]["mode"]) for e in found)
    assert modes == [(str(i), "monitor" if i in (2, 5) else "off") for i in range(1, 7)]


def test_streamed_answer_after_whole_ones_on_one_connection(proxy: Vaultgate):
    m = marker()
    size = 300_000  # past what one read brings: the answer goes on in a task
    raw = (
        get(f"/a/{m}/1")
        + get(f"/x/big?size={size}&m={m}")
        + get(f"/x/chunked?parts=4&size=7&m={m}")
        + get(f"/a/{m}/4", last=True)
    )
    answers = parse(exchange(proxy.port, raw))
    assert [a.status for a in answers] == [200] * 4
    assert answers[0].json()["target"] == f"/a/{m}/1"
    assert answers[1].body == pattern(size)
    assert answers[2].body == b"a" * 7 + b"b" * 7 + b"c" * 7 + b"d" * 7
    assert answers[3].json()["target"] == f"/a/{m}/4"


def test_upstream_failure_of_an_inline_request_is_answered(proxy: Vaultgate):
    m = marker()
    # The upstream cuts its answer short; the next request on the client's
    # connection is not sent since the client's one is cut with it.
    raw = get(f"/a/{m}/1") + get(f"/x/{m}/cut") + get(f"/a/{m}/3", last=True)
    received = exchange(proxy.port, raw)
    assert received.count(b"HTTP/1.1 200") == 2
    assert f"/a/{m}/1".encode() in received
    assert f"/a/{m}/3".encode() not in received
    found = events(proxy, m, 2)
    assert len(found) == 2
    cut = [e for e in found if e["url"]["path"].endswith("/cut")]
    assert cut[0]["vaultgate"]["tags"]["upstream_error"] == "reset"


@pytest.mark.parametrize("status", [204, 404, 503])
def test_status_and_empty_bodies_from_the_callback_path(proxy: Vaultgate, status: int):
    raw = get(f"/x/status?code={status}") + get("/a/after", last=True)
    answers = parse(exchange(proxy.port, raw))
    assert [a.status for a in answers] == [status, 200]
    assert answers[0].body == b""
    assert answers[1].json()["target"] == "/a/after"
    # RFC 9110 8.6: a 204 carries no Content-Length, whatever the upstream sent.
    length = answers[0].header("Content-Length")
    assert length is None if status == 204 else length == "0"
