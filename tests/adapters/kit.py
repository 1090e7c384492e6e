"""A running ``vaultgate authz``, raw HTTP calls and a real nginx, for tests.

``authz_proc(policy_text)`` writes the policy (``@NGINX@``, ``@ENVOY_HTTP@``
and ``@ENVOY_GRPC@`` replaced by free loopback ports), runs ``vaultgate
authz`` on it and waits until every adapter listens.  ``call`` sends one
HTTP/1.1 request from a chosen loopback source address and returns what
came back.  ``nginx_proc`` runs nginx on the configuration in
docs/adapters.md, with only its addresses changed.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fixtures.servers import STARTUP_SECONDS, VAULTGATE, free_port, stop

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "adapters.md"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
# ``vaultgate authz`` compiles every detector before it listens; on a
# shared 2-core machine under other suites' load that took up to ~20 s.
AUTHZ_STARTUP = 2 * STARTUP_SECONDS
PLACEHOLDERS = {
    "@NGINX@": "nginx",
    "@ENVOY_HTTP@": "envoy_http",
    "@ENVOY_GRPC@": "envoy_grpc",
}


@dataclass
class Authz:
    """A running ``vaultgate authz`` and its adapters' ports."""

    process: subprocess.Popen[bytes]
    ports: dict[str, int]
    policy_path: Path
    log_path: Path
    audit_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def audit(self) -> list[dict[str, Any]]:
        """The audit events flushed so far (once a second)."""
        text = self.audit_path.read_text(errors="replace")
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def event(self, incident: str, timeout: float = 5.0) -> dict[str, Any]:
        """The request event (not an alert) of ``incident``, once flushed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for doc in self.audit():
                if doc.get("event", {}).get("id") == incident:
                    return doc
            time.sleep(0.1)
        raise AssertionError(f"no audit event for {incident}")

    def reload(self, policy_text: str) -> None:
        """Write a new policy, send SIGHUP and wait for the reload."""
        before = self.log().count("policy.reloaded")
        self.policy_path.write_text(self.fill(policy_text))
        self.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while self.log().count("policy.reloaded") == before:
            assert time.monotonic() < deadline, self.log()[-2000:]
            time.sleep(0.05)

    def fill(self, text: str) -> str:
        return fill(text, self.ports, self.audit_path)


def fill(text: str, ports: dict[str, int], audit: Path) -> str:
    """``text`` with the port placeholders and ``@AUDIT@`` filled in."""
    for mark, name in PLACEHOLDERS.items():
        text = text.replace(mark, str(ports[name]))
    return text.replace("@AUDIT@", str(audit))


@contextmanager
def authz_proc(policy_text: str) -> Iterator[Authz]:
    """Run ``vaultgate authz`` on ``policy_text`` until the block ends."""
    directory = Path(tempfile.mkdtemp(prefix="vaultgate-authz-"))
    ports = {name: free_port() for name in ("nginx", "envoy_http", "envoy_grpc")}
    policy = directory / "policy.yaml"
    log_path, audit_path = directory / "stderr.log", directory / "audit.jsonl"
    policy.write_text(fill(policy_text, ports, audit_path))
    argv = [*VAULTGATE, "authz", "--policy", str(policy)]
    with log_path.open("wb") as err:
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)
    running = Authz(process, ports, policy, log_path, audit_path)
    try:
        _wait(running, policy_text.count("listen:"))
        yield running
        # SIGTERM drains and exits 0, gRPC server included.
        assert stop(running.process) == 0, running.log()[-3000:]
        assert "adapter.stopped clean=True" in running.log()
    finally:
        stop(running.process)
        shutil.rmtree(directory, ignore_errors=True)


def _wait(running: Authz, adapters: int) -> None:
    deadline = time.monotonic() + AUTHZ_STARTUP
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise RuntimeError(f"vaultgate authz exited: {running.log()[-3000:]}")
        if running.log().count("adapter.listening") >= adapters:
            return
        time.sleep(0.05)
    raise RuntimeError(f"vaultgate authz never listened: {running.log()[-3000:]}")


@dataclass
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names, repeated ones joined
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    port: int,
    method: str,
    target: str,
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    source: str = "127.0.0.1",
) -> Answer:
    """One HTTP/1.1 request to ``127.0.0.1:port`` sent from ``source``."""
    fields = [("Host", "api.bank.example"), *(headers or [])]
    if body or method in ("POST", "PUT", "PATCH"):
        fields.append(("Content-Length", str(len(body))))
    fields.append(("Connection", "close"))
    head = f"{method} {target} HTTP/1.1\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in fields) + "\r\n"
    with socket.create_connection(("127.0.0.1", port), 5, (source, 0)) as sock:
        sock.sendall(head.encode("latin-1") + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return parse_answer(data)


def parse_answer(data: bytes) -> Answer:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        key = name.strip().lower()
        value = value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    if headers.get("transfer-encoding") == "chunked":
        body = _unchunk(body)
    return Answer(int(lines[0].split(" ")[1]), headers, body)


def _unchunk(body: bytes) -> bytes:
    out = b""
    while True:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return out
        out, body = out + body[:size], body[size + 2 :]


def nginx_snippet() -> str:
    """The first ```nginx block of docs/adapters.md, as users copy it."""
    match = re.search(r"```nginx\n(.*?)```", DOC.read_text(), re.S)
    assert match, "docs/adapters.md has no nginx block"
    return match.group(1)


@contextmanager
def nginx_proc(authz_port: int, upstream_port: int) -> Iterator[int]:
    """nginx on the documented configuration; yields its port."""
    port = free_port()
    snippet = nginx_snippet()
    for old, new in (
        ("127.0.0.1:9100", f"127.0.0.1:{authz_port}"),
        ("127.0.0.1:9000", f"127.0.0.1:{upstream_port}"),
        ("listen 8080;", f"listen 127.0.0.1:{port};"),
    ):
        assert old in snippet, f"the documented snippet lost {old!r}"
        snippet = snippet.replace(old, new)
    prefix = Path(tempfile.mkdtemp(prefix="vaultgate-nginx-"))
    (prefix / "logs").mkdir()
    conf = prefix / "nginx.conf"
    conf.write_text(_NGINX_MAIN.format(prefix=prefix, snippet=snippet))
    argv = [NGINX, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
    process = subprocess.Popen(argv, stderr=subprocess.PIPE)
    try:
        _wait_port(port, process)
        yield port
    finally:
        process.send_signal(signal.SIGQUIT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(prefix, ignore_errors=True)


def _wait_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited: {process.stderr.read()!r}")  # type: ignore[union-attr]
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nginx never listened")


# One process, in the foreground, everything under the temporary prefix.
_NGINX_MAIN = """
daemon off;
master_process off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
{snippet}
}}
"""


def loopback(n: int) -> str:
    """A loopback source address of its own for test case ``n``."""
    return f"127.0.0.{10 + n}"
