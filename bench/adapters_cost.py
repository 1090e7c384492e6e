"""What an authorization check costs, in microseconds, per adapter.

Two measures, on this machine:

* in process: the adapter's own work plus the engine (the request rebuilt
  from what nginx or Envoy sends, the pipeline with the default guards, the
  audit record, the answer built), against the engine alone on the same
  request, so the adapter's overhead shows;
* over loopback: ``vaultgate authz`` in its own process, a client sending
  checks one after another on one kept-alive connection (nginx and Envoy
  HTTP) or channel (gRPC), then 8 at once; latencies include the Python
  client's own cost, which a real nginx or Envoy does not have.

No upstream is involved: a check is the pipeline and nothing else.
Prints one line per figure.  Not a test: run ``python -m bench.adapters_cost``.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import uvloop
from envoy.service.auth.v3 import external_auth_pb2 as envoy
from envoy.service.auth.v3 import external_auth_pb2_grpc as envoy_grpc

from vaultgate.adapters import envoy_grpc as grpc_adapter
from vaultgate.adapters import envoy_proto as pb
from vaultgate.adapters import nginx as nginx_adapter
from vaultgate.adapters.check import check
from vaultgate.adapters.verdict import verdict
from vaultgate.core.model import ALLOW
from vaultgate.core.policy import parse_policy
from vaultgate.core.request import Request
from vaultgate.engine import Engine
from vaultgate.guards import load_all
from vaultgate.state.memory import MemoryStore
from vaultgate.telemetry.audit import AuditLog, AuditSettings

POLICY = """
mode: block
audit: {file: /dev/null}
adapters:
  nginx: {listen: 127.0.0.1:@NGINX@}
  envoy_http: {listen: 127.0.0.1:@HTTP@, path_prefix: /authz}
  envoy_grpc: {listen: 127.0.0.1:@GRPC@}
"""
TARGET = "/accounts/42/transactions?from=2026-01-01&limit=50"
CLIENT_FIELDS = [
    ("Host", "api.bank.example"),
    ("User-Agent", "bank-app/5.2 (iOS 19.1)"),
    ("Accept", "application/json"),
    ("Authorization", "Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln"),
    ("X-Request-Id", "6f1c2a9e-5d1b-4a7e-9d8e-2b3c4d5e6f70"),
]
NGINX_FIELDS = [
    *CLIENT_FIELDS,
    ("X-Original-Method", "GET"),
    ("X-Original-URI", TARGET),
    ("X-Real-IP", "198.51.100.7"),
]


def _engine() -> Engine:
    text = POLICY.replace("@NGINX@", "1").replace("@HTTP@", "2")
    policy = parse_policy(text.replace("@GRPC@", "3"), require_upstream=False)
    return Engine(policy, MemoryStore(), AuditLog(AuditSettings("/dev/null")))


def _check_request() -> Any:
    message = envoy.CheckRequest()
    address = message.attributes.source.address.socket_address
    address.address, address.port_value = "198.51.100.7", 40000
    http = message.attributes.request.http
    http.method, http.path, http.host = "GET", TARGET, "api.bank.example"
    http.scheme, http.protocol = "http", "HTTP/1.1"
    http.headers.update({k.lower(): v for k, v in CLIENT_FIELDS})
    http.headers.update({":method": "GET", ":path": TARGET})
    return message


async def _per_call(run: Callable[[], Awaitable[Any]], count: int) -> float:
    """Microseconds per call (best of 3 rounds of ``count``)."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter_ns()
        for _ in range(count):
            await run()
        best = min(best, (time.perf_counter_ns() - start) / count / 1000)
    return best


async def bench_in_process(count: int) -> None:
    engine = _engine()
    plain = Request("GET", TARGET, list(CLIENT_FIELDS), "198.51.100.7")

    async def engine_only() -> None:
        await check(engine, Request(*_fields(plain)), "bench")

    async def nginx() -> None:
        found = nginx_adapter.original_request(NGINX_FIELDS, "127.0.0.1", _never)
        assert not isinstance(found, str)
        result = await check(engine, found, "nginx")
        assert result.allowed
        nginx_adapter._fields(result)

    wire = _check_request().SerializeToString()

    async def grpc_check() -> None:
        message = pb.CheckRequest.FromString(wire)
        found = grpc_adapter.original_request(message, "127.0.0.1", _never, 131072)
        assert not isinstance(found, str)
        result = await check(engine, found, "envoy_grpc")
        grpc_adapter.check_response(result).SerializeToString()

    fixed = verdict(ALLOW, "00112233aabbccdd")

    async def nginx_alone() -> None:
        nginx_adapter.original_request(NGINX_FIELDS, "127.0.0.1", _never)
        nginx_adapter._fields(fixed)

    async def grpc_alone() -> None:
        message = pb.CheckRequest.FromString(wire)
        grpc_adapter.original_request(message, "127.0.0.1", _never, 131072)
        grpc_adapter.check_response(fixed).SerializeToString()

    for label, run in (
        ("nginx adapter alone (rebuild, answer)", nginx_alone),
        ("envoy gRPC adapter alone (parse..serialize)", grpc_alone),
        ("engine alone (same request)", engine_only),
        ("nginx adapter + engine", nginx),
        ("envoy gRPC adapter + engine (parse+serialize)", grpc_check),
    ):
        print(f"in process  {label:46} {await _per_call(run, count):8.1f} us")


def _fields(request: Request) -> tuple[str, str, list[tuple[str, str]], str]:
    return request.method, request.target, list(request.headers), request.client_ip


def _never(address: str) -> bool:
    return False


# -- over loopback -----------------------------------------------------------------


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for sock in socks:
        sock.bind(("127.0.0.1", 0))
    ports = [int(s.getsockname()[1]) for s in socks]
    for sock in socks:
        sock.close()
    return ports


def _start(ports: list[int], directory: Path) -> subprocess.Popen[bytes]:
    text = POLICY.replace("@NGINX@", str(ports[0])).replace("@HTTP@", str(ports[1]))
    policy = directory / "policy.yaml"
    policy.write_text(text.replace("@GRPC@", str(ports[2])))
    log = directory / "authz.log"
    command = "import sys; from vaultgate.cli import main; sys.exit(main())"
    argv = [sys.executable, "-c", command, "authz", "--policy", str(policy)]
    process = subprocess.Popen(argv, stderr=log.open("wb"))
    deadline = time.monotonic() + 30
    while log.read_text().count("adapter.listening") < 3:
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("vaultgate authz did not start: " + log.read_text())
        time.sleep(0.05)
    return process


def _http_request(kind: str) -> bytes:
    if kind == "nginx":
        line, fields = "GET /.vaultgate/check HTTP/1.1", NGINX_FIELDS
    else:
        fields = [*CLIENT_FIELDS, ("x-real-ip", "198.51.100.7")]
        line = f"GET /authz{TARGET} HTTP/1.1"
    head = line + "\r\n" + "".join(f"{n}: {v}\r\n" for n, v in fields)
    return (head + "Content-Length: 0\r\n\r\n").encode()


async def _http_client(port: int, request: bytes, count: int) -> list[float]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    times = []
    for _ in range(count):
        start = time.perf_counter_ns()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        times.append((time.perf_counter_ns() - start) / 1000)
    writer.close()
    return times


async def _grpc_client(stub: Any, message: Any, count: int) -> list[float]:
    times = []
    for _ in range(count):
        start = time.perf_counter_ns()
        answer = await stub.Check(message)
        times.append((time.perf_counter_ns() - start) / 1000)
        assert answer.status.code == 0
    return times


def _report(label: str, times: list[float], elapsed: float) -> None:
    times.sort()
    p50 = times[len(times) // 2]
    p99 = times[int(len(times) * 0.99)]
    rate = len(times) / elapsed
    print(
        f"loopback    {label:30} p50 {p50:7.0f} us  p99 {p99:7.0f} us  "
        f"mean {statistics.fmean(times):7.0f} us  {rate:7.0f} checks/s"
    )


async def _timed(label: str, runs: list[Awaitable[list[float]]]) -> None:
    start = time.perf_counter()
    results = await asyncio.gather(*runs)
    _report(label, [t for r in results for t in r], time.perf_counter() - start)


async def bench_loopback(ports: list[int], count: int) -> None:
    for kind, port in (("nginx", ports[0]), ("envoy_http", ports[1])):
        request = _http_request(kind)
        await _http_client(port, request, 200)  # warm up
        await _timed(f"{kind} 1 at a time", [_http_client(port, request, count)])
        runs = [_http_client(port, request, count // 8) for _ in range(8)]
        await _timed(f"{kind} 8 at once", runs)
    message = _check_request()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{ports[2]}") as channel:
        stub = envoy_grpc.AuthorizationStub(channel)
        await _grpc_client(stub, message, 200)
        await _timed("envoy_grpc 1 at a time", [_grpc_client(stub, message, count)])
        runs = [_grpc_client(stub, message, count // 8) for _ in range(8)]
        await _timed("envoy_grpc 8 at once", runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=3000, help="checks per figure")
    args = parser.parse_args()
    load_all()
    uvloop.run(bench_in_process(args.count))
    ports = _free_ports(3)
    with tempfile.TemporaryDirectory() as directory:
        process = _start(ports, Path(directory))
        try:
            uvloop.run(bench_loopback(ports, args.count))
        finally:
            process.terminate()
            process.wait(20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
