"""What the rate phase costs per request, with the memory store and with Redis.

Runs the ``limits`` guard of a real engine (two limits: per address, and
per address and route) on requests from rotating addresses, in process:
sequentially (latency per request) and with 64 requests in flight
(throughput).  For Redis it also counts the script calls the server ran
per request, which shows that one request is one round trip.  Starts its
own ``redis-server`` on a free loopback port unless given ``--redis URL``.
Not a test: it prints figures.

    .venv/bin/python bench/ratelimit_cost.py [--requests 20000] [--redis URL]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import statistics
import subprocess
import tempfile
import time

import redis

from vaultgate.core.exchange import Exchange
from vaultgate.core.policy import parse_policy
from vaultgate.core.request import Request
from vaultgate.engine import Engine
from vaultgate.guards import load_all
from vaultgate.guards.base import Guard
from vaultgate.state import open_store
from vaultgate.state.base import Store
from vaultgate.telemetry.audit import AuditLog, AuditSettings

POLICY = """
upstream: http://127.0.0.1:9
limits:
  - {key: ip, rate: 1000000/minute}
  - {key: [ip, route], rate: 1000000/minute}
routes: [{path: '/accounts/{id}'}]
"""
CONCURRENCY = 64
# Enough distinct addresses that the store holds many buckets.
ADDRESSES = 5000


def _exchanges(engine: Engine, n: int) -> list[Exchange]:
    out = []
    for i in range(n):
        ip = f"10.{(i % ADDRESSES) // 250}.{(i % ADDRESSES) % 250}.1"
        request = Request("GET", f"/accounts/{i}", [("Host", "bank.test")], ip)
        out.append(engine.begin(request))
    return out


def _limits_guard(engine: Engine, ex: Exchange) -> Guard:
    plan = engine._plans[ex.route.index]
    return next(g for g in plan.guards if g.name == "limits")


async def _sequential(guard: Guard, exchanges: list[Exchange]) -> list[float]:
    took = []
    for ex in exchanges:
        start = time.perf_counter_ns()
        await guard.check(ex)
        took.append((time.perf_counter_ns() - start) / 1000)
    return took


async def _concurrent(guard: Guard, exchanges: list[Exchange]) -> float:
    queue = iter(exchanges)

    async def worker() -> None:
        for ex in queue:
            await guard.check(ex)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return len(exchanges) / (time.perf_counter() - start)


def _commands(url: str) -> int:
    """Script calls the server ran: commands inside a script are not trips."""
    client = redis.Redis.from_url(url)
    stats = client.info("commandstats")
    client.close()
    calls = [stats.get(name, {}).get("calls", 0) for name in _TRIPS]
    return sum(int(c) for c in calls)


# Every store call of the rate phase is one of these, sent as one command.
_TRIPS = ("cmdstat_evalsha", "cmdstat_eval")


async def measure(name: str, store: Store, n: int, url: str = "") -> None:
    load_all()
    await store.open()
    engine = Engine(parse_policy(POLICY), store, AuditLog(AuditSettings("/dev/null")))
    warm = _exchanges(engine, 500)
    guard = _limits_guard(engine, warm[0])
    await _sequential(guard, warm)
    before = _commands(url) if url else 0
    took = await _sequential(guard, _exchanges(engine, n))
    per_request = (_commands(url) - before) / n if url else 0.0
    rate = await _concurrent(guard, _exchanges(engine, n))
    took.sort()
    print(
        f"{name:6} sequential: mean {statistics.fmean(took):7.1f} us, "
        f"p50 {took[len(took) // 2]:7.1f} us, p99 {took[int(len(took) * 0.99)]:7.1f} us"
    )
    print(f"{name:6} {CONCURRENCY} in flight: {rate:9.0f} requests/s")
    if url:
        print(f"{name:6} Redis round trips (EVALSHA) per request: {per_request:.2f}")
    await store.close()


def _start_redis() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        + ["--appendonly", "no", "--dir", tempfile.mkdtemp()],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(200):
        try:
            redis.Redis.from_url(url).ping()
            return proc, url
        except redis.ConnectionError:
            time.sleep(0.02)
    raise RuntimeError("redis-server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--redis", default="")
    args = parser.parse_args()
    asyncio.run(measure("memory", open_store("memory"), args.requests))
    proc, url = (None, args.redis) if args.redis else _start_redis()
    try:
        # A generous timeout: this measures cost, not the timeout path.
        store = open_store(url, timeout=1.0)
        asyncio.run(measure("redis", store, args.requests, url))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
