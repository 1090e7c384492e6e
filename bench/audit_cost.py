"""What audit events and metrics cost the request path, in process (not a test).

Two measures:

1. CPU time per request (``time.thread_time``, so other processes on a
   shared machine do not count) of ``AuditLog.record``: metrics only, then
   building + encoding + queuing the event of a clean request and of an
   alerting one (detail + a separate alert event).
2. The engine's per-request work (``begin``, ``decide``, ``finish``) on
   one event loop, with the sinks' delivery tasks running on it as in
   ``vaultgate run``: audit off (metrics only), a file sink, a Splunk HEC
   sink (a receiver in another process, gzip on), and both.  Measured as
   CPU time of the whole process (delivery threads, gzip included) per
   request, since wall-clock rates on a shared machine mean little; the
   throughput cost is what that CPU would cost a saturated core.  Each
   variant runs ``--rounds`` times, interleaved; the median counts.  The
   time includes draining the queues at the end, so nothing is left
   unpaid.

3. With ``--wrk SECONDS``: ``vaultgate run`` (full inspection, one core)
   in front of the benchmark upstream, driven by wrk as ``bench/throughput``
   does, with audit off, a file sink and a HEC sink: requests per second
   and CPU per request of the vaultgate process.

    .venv/bin/python bench/audit_cost.py [--requests 20000] [--rounds 3]
    .venv/bin/python bench/audit_cost.py --wrk 10

Bar (issue 7): the file sink and the HEC sink each cost <= 10% throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import uvloop

from vaultgate.core.model import Finding
from vaultgate.core.policy import parse_policy
from vaultgate.core.request import Request
from vaultgate.engine import Engine
from vaultgate.guards import load_all
from vaultgate.state.memory import MemoryStore
from vaultgate.telemetry.audit import AuditLog, Timings
from vaultgate.telemetry.metrics import RECORDER

HEADERS = [
    ("Host", "api.bank.example"),
    ("User-Agent", "bank-mobile/5.2 (iPhone; iOS 18.1)"),
    ("Accept", "application/json"),
    ("Authorization", "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln"),
    ("X-Request-Id", "7f1c2a9e-5b1d-4c8e-9d0a-1b2c3d4e5f60"),
]
CLEAN = "/accounts/1001/transactions?from=2026-01-01&limit=50&sort=desc"
ATTACK = (
    "/accounts/1001/transactions?q=1%27%20UNION%20SELECT%20password%20FROM%20users--"
)
ATTACK_EVERY = 20  # 5% of requests are blocked attacks: detail + alert event
TIMINGS = Timings(40, 900, 1000, 120, 2048)
T = TypeVar("T")

# A stand-in for Splunk HEC in another process, so its CPU is not ours.
HEC_SERVER = """
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        body = b'{"text":"Success","code":0}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def sinks_yaml(variant: str, tmp: Path, hec_port: int) -> str:
    file_sink = f"{{file: {{path: {tmp / 'audit.jsonl'}, max_size: 64MiB, keep: 2}}}}"
    hec_sink = (
        f"{{splunk_hec: {{url: 'http://127.0.0.1:{hec_port}', token_env: BENCH_HEC,"
        " queue_size: 100000}}"
    )
    chosen = {
        "off": [],
        "file": [file_sink],
        "hec": [hec_sink],
        "file+hec": [file_sink, hec_sink],
    }[variant]
    return "[" + ", ".join(chosen) + "]"


def make_gate(
    variant: str, tmp: Path, hec_port: int, extra: str = ""
) -> tuple[Engine, AuditLog]:
    sinks = sinks_yaml(variant, tmp, hec_port)
    text = (
        "upstream: http://127.0.0.1:9\n"
        f"audit: {{spool_dir: {tmp / 'spool'}, sinks: {sinks}{extra}}}\n"
    )
    policy = parse_policy(text)
    audit = AuditLog(policy.settings["audit"])
    return Engine(policy, MemoryStore(), audit), audit


def request(i: int) -> Request:
    """Request ``i``: from its own client address, as traffic from many
    users is (one address sending attacks would soon be banned, and every
    request of a banned client is a blocked one, with its detail)."""
    target = ATTACK if i % ATTACK_EVERY == 0 else CLEAN
    client = f"198.51.{i // 250 % 250}.{i % 250 + 1}"
    return Request("GET", target, list(HEADERS), client, peer_ip="10.0.0.2")


async def pipeline(engine: Engine, count: int) -> None:
    for i in range(count):
        ex = engine.begin(request(i))
        await engine.decide(ex)
        engine.finish(ex, 200, TIMINGS)
        if i % 32 == 0:
            await asyncio.sleep(0)  # the proxy yields on every socket read


async def cpu_per_request(variant: str, tmp: Path, hec_port: int, count: int) -> float:
    """CPU microseconds per request of this process, every thread counted."""
    engine, audit = make_gate(variant, tmp, hec_port)
    await audit.start()
    await pipeline(engine, 500)  # warm caches and connections
    started = time.process_time()
    await pipeline(engine, count)
    await audit.aclose()  # everything queued is delivered before the clock stops
    used = time.process_time() - started
    lost = sum(sum(c.stats.dropped.values()) for c in audit.channels)
    if lost:
        print(f"  warning: {variant} dropped {lost} events", file=sys.stderr)
    return used / count * 1e6


def cpu_us(action: Callable[[], None], count: int, audit: AuditLog) -> float:
    """CPU microseconds per call; the queue emptied as a deliverer would."""
    queues = [c._queue for c in audit.channels]  # noqa: SLF001 - measuring
    started = time.thread_time()
    for i in range(count):
        action()
        if i % 1000 == 999:
            for queue in queues:
                queue.clear()
    return (time.thread_time() - started) / count * 1e6


async def micro(tmp: Path, count: int) -> dict[str, float]:
    """CPU microseconds per call of the parts of ``record``."""
    # No detail budget here: the second figure is a full capture every time.
    engine, audit = make_gate("file", tmp, 0, ", detail_rate: 1000000/second")
    clean, attack = engine.begin(request(1)), engine.begin(request(0))
    await engine.decide(clean)
    attack.add(Finding("sqli", "sqli.union", 5, "query:q", "' UNION SELECT password"))
    await engine.decide(attack)
    audit.record(attack, 403, TIMINGS)  # compile the masker first
    out = {
        "metrics only (Recorder.observe)": cpu_us(
            lambda: RECORDER.observe(clean, 200, TIMINGS, ()), count, audit
        ),
        "record, clean request (event built, encoded, queued)": cpu_us(
            lambda: audit.record(clean, 200, TIMINGS), count, audit
        ),
        "record, blocked attack (detail + alert event)": cpu_us(
            lambda: audit.record(attack, 403, TIMINGS), count, audit
        ),
    }
    audit.close()
    engine, audit = make_gate("file", tmp, 0, ", detail_rate: 1/hour")
    audit.record(attack, 403, TIMINGS)  # the budget's one capture
    out["record, blocked attack over audit.detail_rate"] = cpu_us(
        lambda: audit.record(attack, 403, TIMINGS), count, audit
    )
    audit.close()
    return out


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run on uvloop, as ``vaultgate run`` does."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


def start_hec() -> tuple[subprocess.Popen[str], int]:
    # On the load generator's CPU when taskset is there: not the proxy's.
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    process = subprocess.Popen(
        [*pin, sys.executable, "-c", HEC_SERVER], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    return process, int(process.stdout.readline())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--wrk", type=int, metavar="SECONDS", default=0)
    parser.add_argument("--connections", type=int, default=50)
    args = parser.parse_args()
    load_all()
    os.environ.setdefault("BENCH_HEC", "bench-token")
    hec, port = start_hec()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            if args.wrk:
                wrk_report(Path(tmp), port, args.wrk, args.connections, args.rounds)
            else:
                report(Path(tmp), port, args.requests, args.rounds)
    finally:
        hec.terminate()
        hec.wait()


@contextmanager
def _vaultgate(tmp: Path, name: str, text: str) -> Iterator[Any]:
    """``vaultgate run`` on the proxy's CPU; a minute to load its rules."""
    from bench import servers

    port = servers.free_port()
    policy = tmp / f"{name}.yaml"
    policy.write_text(text.replace("@PORT@", str(port)))
    command = str(Path(sys.executable).with_name("vaultgate"))
    argv = ["taskset", "-c", servers.SUT_CPU, command, "run", "--policy", str(policy)]
    with open(tmp / f"{name}.log", "ab") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        servers.wait_listening(port, timeout=90)
        yield servers.Target(name, port, servers.children(process.pid))
    finally:
        process.terminate()
        process.wait(timeout=30)


def wrk_report(
    tmp: Path, hec_port: int, seconds: int, connections: int, rounds: int
) -> None:
    """``vaultgate run`` under wrk with each audit variant (needs wrk)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench import servers, throughput

    scripts = throughput.write_lua(tmp)
    for script in scripts.values():  # a name, not 127.0.0.1: an IP as Host
        with open(script, "a") as lua:  # is a finding, and a ban soon after
            lua.write('wrk.headers["Host"] = "api.bank.example"\n')
    runs: dict[tuple[str, str], list[Any]] = {}
    with servers.upstream(tmp) as upstream:
        for _ in range(rounds):
            for variant in ("off", "file", "hec"):
                text = wrk_policy(variant, tmp, upstream.port, hec_port)
                with _vaultgate(tmp, f"audit-{variant}", text) as target:
                    for r in throughput.measure(target, scripts, seconds, connections):
                        runs.setdefault((variant, r.workload), []).append(r)
    print(
        f"vaultgate run under wrk, {seconds} s per run, {connections} connections,"
        f" median of {rounds}:"
    )
    for (variant, workload), results in runs.items():
        cpu = statistics.median(r.cpu_us_per_req for r in results)
        rps = statistics.median(r.rps for r in results)
        base = statistics.median(r.cpu_us_per_req for r in runs[("off", workload)])
        print(
            f"  audit {variant:5s} {workload:14s} {rps:7.0f} req/s"
            f"  {cpu:6.1f} us CPU/req  CPU cost {(1 - base / cpu) * 100:5.1f}%"
            f"  non-2xx {sum(r.non_2xx for r in results)}"
        )


def wrk_policy(variant: str, tmp: Path, upstream_port: int, hec_port: int) -> str:
    return (
        "listen: 127.0.0.1:@PORT@\n"
        f"upstream: http://127.0.0.1:{upstream_port}\n"
        "mode: block\n"
        f"audit: {{spool_dir: {tmp / 'spool'},"
        f" sinks: {sinks_yaml(variant, tmp, hec_port)}}}\n"
    )


def report(tmp: Path, port: int, count: int, rounds: int) -> None:
    print("audit cost per request, CPU time, one thread:")
    for name, value in run(micro(tmp, count)).items():
        print(f"  {name:55s} {value:6.1f} us")
    variants = ("off", "file", "hec", "file+hec")
    runs: dict[str, list[float]] = {v: [] for v in variants}
    for _ in range(rounds):
        for variant in variants:
            runs[variant].append(run(cpu_per_request(variant, tmp, port, count)))
    base = statistics.median(runs["off"])
    print(
        f"engine pipeline, CPU per request, all threads ({count} requests,"
        f" {100 // ATTACK_EVERY}% attacks, median of {rounds}):"
    )
    for variant in variants:
        used = statistics.median(runs[variant])
        cost = (1 - base / used) * 100  # throughput lost on a saturated core
        print(
            f"  audit {variant:9s} {used:7.1f} us/request"
            f"  ({1e6 / used:7.0f} req/s per core)  throughput cost {cost:5.1f}%"
        )


if __name__ == "__main__":
    main()
