"""Upstream failures: fast 502/503/504 problem documents, never a hang."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.fixtures.servers import EchoUpstream, Vaultgate, free_port, vaultgate_proc
from tests.proxy.client import Answer, exchange, request

UPSTREAM_TIMEOUT = 0.5
POLICY = """
listen: 127.0.0.1:@PORT@
upstream: "{upstream}"
mode: "off"
audit: {{file: "-"}}
server:
  upstream_timeout: {timeout}s
  upstream_connect_timeout: 0.5s
  upstream_pool_size: {pool}
"""


def policy(upstream: str, pool: int = 8) -> str:
    return POLICY.format(upstream=upstream, timeout=UPSTREAM_TIMEOUT, pool=pool)


@pytest.fixture(scope="module")
def proxy(echo_upstream: EchoUpstream) -> Iterator[Vaultgate]:
    with vaultgate_proc(policy(echo_upstream.url)) as running:
        yield running


def assert_problem(answer: Answer, status: int) -> None:
    assert answer.status == status
    assert answer.header("content-type") == "application/problem+json"
    doc = answer.json()
    assert doc["status"] == status
    assert len(doc["incident_id"]) == 16


def timed(port: int, path: str, method: str = "GET") -> tuple[Answer, float]:
    started = time.monotonic()
    answer = request(port, method, path)
    return answer, time.monotonic() - started


def test_upstream_down_is_a_fast_502():
    with vaultgate_proc(policy(f"http://127.0.0.1:{free_port()}")) as running:
        answer, took = timed(running.port, "/down")
    assert_problem(answer, 502)
    assert took < 2.0  # a refused connect is immediate


def test_upstream_not_accepting_is_a_504_after_the_connect_timeout():
    # A listener whose backlog is full drops new SYNs: connect() hangs.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = [socket.socket() for _ in range(4)]
        for sock in fillers:
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", port))
        try:
            with vaultgate_proc(policy(f"http://127.0.0.1:{port}")) as running:
                answer, took = timed(running.port, "/blackhole")
        finally:
            for sock in fillers:
                sock.close()
    assert_problem(answer, 504)
    assert 0.4 <= took < 3.0


def test_slow_upstream_is_a_504_after_the_upstream_timeout(proxy: Vaultgate):
    answer, took = timed(proxy.port, "/x/slow?delay=3")
    assert_problem(answer, 504)
    assert UPSTREAM_TIMEOUT * 0.9 <= took < UPSTREAM_TIMEOUT + 2.0


def test_answer_within_the_upstream_timeout_is_relayed(proxy: Vaultgate):
    answer, _ = timed(proxy.port, f"/x/slow?delay={UPSTREAM_TIMEOUT / 3}")
    assert answer.status == 200


def test_upstream_failing_mid_answer_cuts_the_client_and_is_not_reused(
    proxy: Vaultgate, echo_upstream: EchoUpstream
):
    raw = b"GET /x/cut HTTP/1.1\r\nHost: a\r\n\r\n"
    data = exchange(proxy.port, raw, timeout=5)
    # The client sees the promised length and fewer bytes, then the close:
    # the only way left to say the answer is incomplete.
    assert b"Content-Length: 1000" in data
    assert data.endswith(b"0123456789")
    marker = f"aftercut{time.monotonic_ns()}"
    assert request(proxy.port, "GET", f"/{marker}").status == 200


def test_stale_pooled_connection_is_retried_for_idempotent_requests(
    proxy: Vaultgate, echo_upstream: EchoUpstream
):
    marker = f"stale{time.monotonic_ns()}"
    assert request(proxy.port, "GET", f"/x/dropnext?m={marker}").status == 200
    # The pooled connection now drops the next request: a GET is sent again
    # on a new connection.
    answer = request(proxy.port, "GET", f"/{marker}/retried")
    assert answer.status == 200
    seen = echo_upstream.find(marker)
    assert [r.target for r in seen][-2:] == [f"/{marker}/retried"] * 2


def test_stale_pooled_connection_is_not_retried_for_post(
    proxy: Vaultgate, echo_upstream: EchoUpstream
):
    marker = f"stalepost{time.monotonic_ns()}"
    assert request(proxy.port, "GET", f"/x/dropnext?m={marker}").status == 200
    answer = request(proxy.port, "POST", f"/{marker}/once", body=b"pay")
    assert_problem(answer, 502)
    assert len(echo_upstream.find(f"{marker}/once")) == 1


def _pool_of_one(upstream: str, first_delay: float) -> tuple[Answer, Answer, float]:
    """A slow request holds the only connection while a second one waits."""
    text = POLICY.format(upstream=upstream, timeout=5, pool=1)
    with vaultgate_proc(text) as running:
        first: list[Answer] = []
        path = f"/x/slow?delay={first_delay}"
        slow = threading.Thread(
            target=lambda: first.append(request(running.port, "GET", path))
        )
        slow.start()
        time.sleep(0.1)
        answer, took = timed(running.port, "/x/slow?delay=0")
        slow.join()
    return first[0], answer, took


def test_full_pool_waits_for_a_free_connection(echo_upstream: EchoUpstream):
    first, second, took = _pool_of_one(echo_upstream.url, 0.3)
    assert (first.status, second.status) == (200, 200)
    assert took >= 0.15  # it waited for the first request's connection


def test_full_pool_refuses_after_the_connect_timeout(echo_upstream: EchoUpstream):
    first, second, took = _pool_of_one(echo_upstream.url, 1.5)
    assert first.status == 200
    assert_problem(second, 503)
    assert 0.4 <= took < 2.5
