"""Bars with real processes: two ``vaultgate run`` sharing one Redis limit,
the workers rule, and a dead store answered quickly through the proxy."""

from __future__ import annotations

import http.client
import subprocess
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.fixtures.servers import VAULTGATE, EchoUpstream, Vaultgate, vaultgate_proc

# A limit no refill can reach during the test: one request per 72 s.
LIMIT = 50
POLICY = """
listen: 127.0.0.1:@PORT@
upstream: {upstream}
state: {state}
state_timeout: {timeout}
audit: {{file: /dev/null}}
reputation: {{score: {{points: {{finding: 0, blocked: 0, client_error: 0}}}}}}
routes:
  - path: /shared
    limits: [{{key: route, rate: {limit}/hour}}]
  - path: /pay
    on_state_error: block
"""


def _get(proxy: Vaultgate, target: str, count: int) -> list[int]:
    statuses = []
    conn = http.client.HTTPConnection(proxy.host, proxy.port, timeout=10)
    for _ in range(count):
        conn.request("GET", target, headers={"Host": "bank.test"})
        response = conn.getresponse()
        response.read()
        statuses.append(response.status)
    conn.close()
    return statuses


def test_two_processes_sharing_a_limit_let_through_exactly_the_limit(
    redis_url: str, echo_upstream: EchoUpstream
) -> None:
    # The longest store timeout allowed: a request whose store call times
    # out is let through (on_state_error: allow) although Redis may still
    # count it, and a loaded CI machine can stall a call for 200 ms.  The
    # exact shared count is what this test is about, not the timeout.
    text = POLICY.format(
        upstream=echo_upstream.url, state=redis_url, timeout="1s", limit=LIMIT
    )
    marker = uuid.uuid4().hex
    target = f"/shared?run={marker}"
    # Eight clients per process, 25 requests each: 400 against 50.
    with (
        vaultgate_proc(text) as first,
        vaultgate_proc(text) as second,
        ThreadPoolExecutor(max_workers=16) as pool,
    ):
        jobs = [
            pool.submit(_get, proxy, target, 25)
            for proxy in (first, second)
            for _ in range(8)
        ]
        statuses = Counter(s for job in jobs for s in job.result())
        logs = first.log() + second.log()
    assert "state.error" not in logs
    assert statuses == {200: LIMIT, 429: 400 - LIMIT}
    assert len(echo_upstream.find(marker)) == LIMIT


def test_the_memory_store_is_refused_for_several_workers(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("listen: 127.0.0.1:0\nupstream: http://127.0.0.1:9\n")
    run = subprocess.run(
        [*VAULTGATE, "run", "--policy", str(policy), "--workers", "2"],
        capture_output=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert b"redis://" in run.stderr and b"--workers 1" in run.stderr


def test_a_hung_store_is_answered_per_route_without_hanging(
    silent_port: int, echo_upstream: EchoUpstream
) -> None:
    text = POLICY.format(
        upstream=echo_upstream.url,
        state=f"redis://127.0.0.1:{silent_port}/0",
        timeout="5ms",
        limit=LIMIT,
    )
    with vaultgate_proc(text) as proxy:
        started = time.monotonic()
        allowed = _get(proxy, f"/shared?run={uuid.uuid4().hex}", 5)
        blocked = _get(proxy, "/pay", 5)
        took = time.monotonic() - started
        log = proxy.wait_log("state.error")
    assert allowed == [200] * 5  # on_state_error: allow (the default)
    assert blocked == [503] * 5  # on_state_error: block
    assert took < 2.0  # ten requests, each bounded by the 5 ms timeout
    assert "route=/pay action=block" in log
