"""Answers too large for the response filter to hold, through a real proxy.

The proxy holds at most ``MAX_FILTER_BYTES`` of an answer for the filter.
A larger one on a route whose filter says ``on_oversize: block`` must not
reach the client unread; with ``pass`` it is relayed whole and the audit
event says it went unfiltered.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fixtures.servers import EchoUpstream, Vaultgate, pattern, vaultgate_proc
from tests.proxy.client import parse, request
from vaultgate.proxy.forward import MAX_FILTER_BYTES

POLICY = """
listen: 127.0.0.1:@PORT@
upstream: "{upstream}"
audit: {{file: "-"}}
routes:
  - path: /x/{{run}}/{{what}}
    response: {{mask: [card_number], on_oversize: {action}}}
"""
OVER = MAX_FILTER_BYTES + 300_000
TARGETS = {
    "length": f"big?size={OVER}&type=application/json",
    "chunked": f"chunked?parts=26&size={OVER // 26 + 1}&type=text/plain",
}


@pytest.fixture(scope="module", params=["block", "pass"])
def proxy(request: Any, echo_upstream: EchoUpstream) -> Iterator[Vaultgate]:
    text = POLICY.format(upstream=echo_upstream.url, action=request.param)
    with vaultgate_proc(text) as running:
        yield running


def _action(proxy: Vaultgate) -> str:
    return "block" if "on_oversize: block" in proxy.policy_path.read_text() else "pass"


def _audit_for(proxy: Vaultgate, marker: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for event in proxy.audit():
            if marker in event["url"]["path"]:
                return event
        time.sleep(0.1)
    raise AssertionError(f"no audit event for {marker}")


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_an_answer_over_the_buffer_limit(proxy: Vaultgate, framing: str) -> None:
    marker = uuid.uuid4().hex
    answer = request(proxy.port, "GET", f"/x/{marker}/{TARGETS[framing]}")
    tags = _audit_for(proxy, marker)["vaultgate"]["tags"]
    assert tags["response.incomplete"] == "too-large-or-encoded"
    if _action(proxy) == "block":
        assert tags["response_filter"] == "skipped: body over MAX_FILTER_BYTES"
        assert answer.status == 502
        assert answer.header("Content-Type") == "application/problem+json"
        problem = answer.json()
        assert problem["status"] == 502
        assert len(answer.body) < 1000
    else:
        assert answer.status == 200
        assert len(answer.body) >= OVER
        if framing == "length":
            assert answer.body == pattern(OVER)


def test_the_connection_goes_on_after_a_refused_answer(proxy: Vaultgate) -> None:
    # Two requests on one connection: the big answer, then a small one.
    raw = (
        f"GET /x/1/{TARGETS['length']} HTTP/1.1\r\nHost: x\r\n\r\n"
        "GET /x/2/big?size=40&type=application/json HTTP/1.1\r\nHost: x\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock:
        sock.sendall(raw)
        data = b""
        while chunk := sock.recv(1 << 16):
            data += chunk
    first, second = parse(data)
    assert first.status == (502 if _action(proxy) == "block" else 200)
    assert (second.status, second.body) == (200, pattern(40))
