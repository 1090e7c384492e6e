"""Reload (SIGHUP), graceful shutdown (SIGTERM) and workers, on real processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.fixtures.servers import (
    VAULTGATE,
    EchoUpstream,
    Vaultgate,
    stop,
    vaultgate_proc,
)
from tests.proxy.client import Answer
from tests.proxy.client import request as send

# Mode off: no guard to build, so each process starts in well under a
# second; a reload is seen in the upstream's path prefix.
POLICY = """
listen: 127.0.0.1:@PORT@
upstream: "{upstream}"
mode: "off"
state: "{state}"
audit: {{file: "-"}}
server:
  drain_timeout: 10s
"""


def policy(upstream: str, state: str = "memory") -> str:
    return POLICY.format(upstream=upstream, state=state)


def state_for(workers: int, request: pytest.FixtureRequest) -> str:
    """Memory for one worker; several share a Redis (memory is refused)."""
    if workers == 1:
        return "memory"
    return str(request.getfixturevalue("redis_server"))


def rewrite(running: Vaultgate, text: str) -> None:
    """Replace the policy file, keeping the port the process listens on."""
    running.policy_path.write_text(text.replace("@PORT@", str(running.port)))


def keep_alive_get(sock: socket.socket, path: str) -> int:
    sock.sendall(b"GET %s HTTP/1.1\r\nHost: a\r\n\r\n" % path.encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += sock.recv(65536)
    return int(head.split(b" ")[1])


@pytest.mark.parametrize("workers", [1, 2])
def test_reload_good_then_bad_policy(
    echo_upstream: EchoUpstream, workers: int, request: pytest.FixtureRequest
):
    state = state_for(workers, request)
    marker = f"reload{time.monotonic_ns()}"
    with vaultgate_proc(policy(echo_upstream.url, state), workers=workers) as running:
        held = socket.create_connection(("127.0.0.1", running.port), timeout=5)
        assert keep_alive_get(held, f"/{marker}/before") == 200

        rewrite(running, policy(echo_upstream.url + "/v2", state))
        running.process.send_signal(signal.SIGHUP)
        _wait_count(running, "policy.reloaded", workers)
        _assert_prefix(running, echo_upstream, marker, "/v2")
        # A connection open across the reload is not dropped.
        assert keep_alive_get(held, f"/{marker}/held") == 200
        assert echo_upstream.find(f"/v2/{marker}/held")

        running.policy_path.write_text("listen: 127.0.0.1:1\nupstream: ftp://x\n")
        running.process.send_signal(signal.SIGHUP)
        log = running.wait_log("policy.reload_refused")
        assert "upstream: expected an http:// or https:// URL, got 'ftp://x'" in log
        # The old policy keeps running.
        _assert_prefix(running, echo_upstream, marker, "/v2")
        assert keep_alive_get(held, f"/{marker}/still") == 200
        held.close()
        assert stop(running.process) == 0


def _assert_prefix(
    running: Vaultgate, upstream: EchoUpstream, marker: str, prefix: str
) -> None:
    # With several workers each connection may reach any of them.
    for i in range(6):
        path = f"/{marker}/n{i}{time.monotonic_ns()}"
        assert send(running.port, "GET", path).status == 200
        assert [r.target for r in upstream.find(path)] == [prefix + path]


def _wait_count(running: Vaultgate, text: str, count: int) -> None:
    deadline = time.monotonic() + 10
    while running.log().count(text) < count:
        assert time.monotonic() < deadline, running.log()[-3000:]
        time.sleep(0.05)


def test_startup_with_a_bad_policy_exits_2(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text("listen: 127.0.0.1:8080\nupstream: gopher://x\n")
    done = subprocess.run(
        [*VAULTGATE, "run", "--policy", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    expected = (
        f"{path}: upstream: expected an http:// or https:// URL, got 'gopher://x'"
    )
    assert expected in done.stderr


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_drains_requests_in_flight(
    echo_upstream: EchoUpstream, workers: int, request: pytest.FixtureRequest
):
    text = policy(echo_upstream.url, state_for(workers, request))
    marker = f"drain{time.monotonic_ns()}"
    answers: list[Answer | Exception] = []

    def slow_request() -> None:
        try:
            answers.append(send(running.port, "GET", f"/x/slow?delay=1&m={marker}"))
        except Exception as exc:  # recorded: the assertion below reports it
            answers.append(exc)

    with vaultgate_proc(text, workers=workers) as running:
        threads = [threading.Thread(target=slow_request) for _ in range(8)]
        for thread in threads:
            thread.start()
        # Every request reached the upstream and waits for its answer.
        deadline = time.monotonic() + 10
        while len(echo_upstream.find(marker)) < 8:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        running.process.send_signal(signal.SIGTERM)
        for thread in threads:
            thread.join(10)
        assert running.process.wait(10) == 0
        log = running.log()
    assert [getattr(a, "status", a) for a in answers] == [200] * 8
    assert "proxy.stopped clean=True" in log
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", running.port), timeout=1)


def test_supervisor_restarts_a_worker_that_dies(
    echo_upstream: EchoUpstream, redis_server: str
):
    with vaultgate_proc(policy(echo_upstream.url, redis_server), workers=2) as running:
        workers = _children(running.process.pid)
        assert len(workers) == 2
        victim = workers[0]
        os.kill(victim, signal.SIGKILL)
        running.wait_log(f"worker.exited pid={victim} code=-9")
        _wait_count(running, "proxy.listening", 3)
        assert len(_children(running.process.pid)) == 2
        assert {send(running.port, "GET", "/ok").status for _ in range(6)} == {200}
        assert stop(running.process) == 0


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]
