"""Start the servers a benchmark compares, each as a real process.

Every target listens on a free loopback port and is pinned to one CPU with
``taskset`` so that a one-core figure means one core: the system under test
gets CPU 1, the load generator and the upstream CPU 0.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

SUT_CPU = "1"
AUX_CPU = "0"
MODSEC_MODULE = "/usr/lib/nginx/modules/ngx_http_modsecurity_module.so"
# libmodsecurity3 has no IncludeOptional, so Debian's owasp-crs.load cannot
# be included as it is: the same files are named one by one.
CRS_DIR_ETC = "/etc/modsecurity/crs"
CRS_RULES = "/usr/share/modsecurity-crs/rules"
DEBIAN_MODSEC_CONF = "/etc/nginx/modsecurity.conf"
UPSTREAM_BODY = '{"ok":true,"balance":"1204.50","currency":"EUR"}'


@dataclass
class Target:
    """A running server: where it listens and the processes that serve."""

    name: str
    port: int
    pids: list[int] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


def children(pid: int) -> list[int]:
    """``pid`` and its descendants (nginx workers, vaultgate workers)."""
    found = [pid]
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return found
    for kid in kids:
        found.extend(children(int(kid)))
    return found


def _nginx_conf(workdir: Path, port: int, server_block: str, extra: str = "") -> Path:
    conf = workdir / f"nginx-{port}.conf"
    conf.write_text(
        f"""{extra}
worker_processes 1;
daemon off;
pid {workdir}/nginx-{port}.pid;
error_log {workdir}/nginx-{port}.err warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {workdir}/body-{port};
    proxy_temp_path {workdir}/proxy-{port};
    {server_block}
}}
"""
    )
    return conf


@contextmanager
def _process(
    name: str, argv: list[str], port: int, cpu: str, log: Path
) -> Iterator[Target]:
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            ["taskset", "-c", cpu, *argv], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_listening(port)
        time.sleep(0.3)  # let worker processes start
        yield Target(name, port, children(proc.pid))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def upstream(workdir: Path, cpu: str = AUX_CPU) -> Iterator[Target]:
    """nginx answering every request with a small JSON document."""
    port = free_port()
    block = f"""server {{
        listen 127.0.0.1:{port};
        keepalive_requests 1000000;
        location / {{
            default_type application/json;
            return 200 '{UPSTREAM_BODY}';
        }}
    }}"""
    conf = _nginx_conf(workdir, port, block)
    argv = ["nginx", "-c", str(conf), "-p", str(workdir)]
    with _process("upstream", argv, port, cpu, workdir / "upstream.log") as target:
        yield target


def _proxy_block(port: int, upstream_port: int, inner: str = "") -> str:
    return f"""upstream origin {{ server 127.0.0.1:{upstream_port}; keepalive 128; }}
    server {{
        listen 127.0.0.1:{port};
        keepalive_requests 1000000;
        client_max_body_size 10m;
        {inner}
        location / {{
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}"""


@contextmanager
def nginx_proxy(workdir: Path, upstream_port: int) -> Iterator[Target]:
    """nginx as a plain reverse proxy."""
    port = free_port()
    conf = _nginx_conf(workdir, port, _proxy_block(port, upstream_port))
    argv = ["nginx", "-c", str(conf), "-p", str(workdir)]
    with _process("nginx", argv, port, SUT_CPU, workdir / "nginx.log") as target:
        yield target


@contextmanager
def python_floor(workdir: Path, upstream_port: int) -> Iterator[Target]:
    """The least a Python relay does per request (``bench/floor_relay.py``)."""
    port = free_port()
    argv = [sys.executable, "-m", "bench.floor_relay", str(port), str(upstream_port)]
    log = workdir / "python-floor.log"
    with _process("python-floor", argv, port, SUT_CPU, log) as target:
        yield target


def modsec_rules(workdir: Path) -> Path:
    """Debian's ModSecurity settings, blocking, with Debian's CRS at PL 1."""
    rules = workdir / "modsec-main.conf"
    rules.write_text(
        f"""Include {DEBIAN_MODSEC_CONF}
SecRuleEngine On
SecAuditEngine Off
Include {CRS_DIR_ETC}/crs-setup.conf
Include {CRS_DIR_ETC}/REQUEST-900-EXCLUSION-RULES-BEFORE-CRS.conf
Include {CRS_RULES}/*.conf
Include {CRS_DIR_ETC}/RESPONSE-999-EXCLUSION-RULES-AFTER-CRS.conf
"""
    )
    return rules


@contextmanager
def modsec_proxy(workdir: Path, upstream_port: int) -> Iterator[Target]:
    """nginx + ModSecurity v3 + OWASP CRS, all from Debian's packages."""
    port = free_port()
    inner = f"modsecurity on;\n        modsecurity_rules_file {modsec_rules(workdir)};"
    extra = f"load_module {MODSEC_MODULE};"
    conf = _nginx_conf(workdir, port, _proxy_block(port, upstream_port, inner), extra)
    argv = ["nginx", "-c", str(conf), "-p", str(workdir)]
    log = workdir / "modsec.log"
    with _process("nginx+modsec+crs", argv, port, SUT_CPU, log) as target:
        yield target


@contextmanager
def vaultgate(
    workdir: Path, name: str, policy_text: str, workers: int = 1
) -> Iterator[Target]:
    """``vaultgate run`` with a policy given as text."""
    port = free_port()
    policy = workdir / f"{name}.yaml"
    policy.write_text(policy_text.replace("@PORT@", str(port)))
    argv = [sys.executable, "-m", "vaultgate.cli", "run", "--policy", str(policy)]
    if workers > 1:
        argv += ["--workers", str(workers)]
    cpu = SUT_CPU if workers == 1 else f"{AUX_CPU},{SUT_CPU}"
    with _process(name, argv, port, cpu, workdir / f"{name}.log") as target:
        yield target


@contextmanager
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="vaultgate-bench-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def have(command: str) -> bool:
    return shutil.which(command) is not None or os.path.exists(f"/usr/sbin/{command}")
