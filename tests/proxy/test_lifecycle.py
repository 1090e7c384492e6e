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
from tests.proxy.client import Answer, request

POLICY = """
listen: 127.0.0.1:@PORT@
upstream: "{upstream}"
mode: block
audit: {{file: "-"}}
allowed_methods: {methods}
server:
  drain_timeout: 10s
"""


def policy(upstream: str, methods: str = "[GET]") -> str:
    return POLICY.format(upstream=upstream, methods=methods)


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
def test_reload_good_then_bad_policy(echo_upstream: EchoUpstream, workers: int):
    with vaultgate_proc(policy(echo_upstream.url), workers=workers) as running:
        held = socket.create_connection(("127.0.0.1", running.port), timeout=5)
        assert keep_alive_get(held, "/before") == 200
        assert request(running.port, "POST", "/pay", body=b"{}").status == 405

        rewrite(running, policy(echo_upstream.url, "[GET, POST]"))
        running.process.send_signal(signal.SIGHUP)
        _wait_count(running, "policy.reloaded", workers)
        assert _post_status(running) == 200
        # A connection open across the reload is not dropped.
        assert keep_alive_get(held, "/after") == 200

        running.policy_path.write_text("listen: 127.0.0.1:1\nupstream: ftp://x\n")
        running.process.send_signal(signal.SIGHUP)
        log = running.wait_log("policy.reload_refused")
        assert "upstream: expected an http:// or https:// URL, got 'ftp://x'" in log
        # The old policy keeps running.
        assert _post_status(running) == 200
        assert keep_alive_get(held, "/still") == 200
        held.close()
        assert stop(running.process) == 0


def _wait_count(running: Vaultgate, text: str, count: int) -> None:
    deadline = time.monotonic() + 10
    while running.log().count(text) < count:
        assert time.monotonic() < deadline, running.log()[-3000:]
        time.sleep(0.05)


def _post_status(running: Vaultgate) -> int:
    # With several workers each connection may reach any of them.
    statuses = {
        request(running.port, "POST", "/pay", body=b"{}").status for _ in range(6)
    }
    assert len(statuses) == 1, statuses
    return statuses.pop()


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
def test_sigterm_drains_requests_in_flight(echo_upstream: EchoUpstream, workers: int):
    answers: list[Answer | Exception] = []

    def slow_request() -> None:
        try:
            answers.append(request(running.port, "GET", "/x/slow?delay=1"))
        except Exception as exc:  # recorded: the assertion below reports it
            answers.append(exc)

    with vaultgate_proc(policy(echo_upstream.url), workers=workers) as running:
        threads = [threading.Thread(target=slow_request) for _ in range(8)]
        for thread in threads:
            thread.start()
        time.sleep(0.4)  # every request is now waiting on the upstream
        running.process.send_signal(signal.SIGTERM)
        for thread in threads:
            thread.join(10)
        assert running.process.wait(10) == 0
        log = running.log()
    assert [getattr(a, "status", a) for a in answers] == [200] * 8
    assert "proxy.stopped clean=True" in log
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", running.port), timeout=1)


def test_supervisor_restarts_a_worker_that_dies(echo_upstream: EchoUpstream):
    with vaultgate_proc(policy(echo_upstream.url), workers=2) as running:
        workers = _children(running.process.pid)
        assert len(workers) == 2
        victim = workers[0]
        os.kill(victim, signal.SIGKILL)
        running.wait_log(f"worker.exited pid={victim} code=-9")
        _wait_count(running, "proxy.listening", 3)
        assert len(_children(running.process.pid)) == 2
        assert {request(running.port, "GET", "/ok").status for _ in range(6)} == {200}
        assert stop(running.process) == 0


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]
