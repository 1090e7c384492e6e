"""Throughput and latency, side by side, in one run: ``scripts/bench``.

Compares the bare upstream, nginx as a plain reverse proxy, nginx +
ModSecurity + OWASP CRS (Debian's packages), the floor of any Python relay
(``bench/floor_relay.py``) and vaultgate (detection off, and with full
inspection) for a small GET and a 1 KB JSON POST, with wrk.
Reports requests per second, p50/p99 latency, CPU time per request of the
system under test, and the ratios that matter; the machine is shared and
noisy, so only figures from the same run are compared.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from pathlib import Path

from bench import servers

HERE = Path(__file__).parent
GET_PATH = "/accounts/1001/transactions?from=2026-01-01&limit=50&sort=desc"
POST_PATH = "/payments"
_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    target: str
    workload: str
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_us_per_req: float
    requests: int
    errors: int
    non_2xx: int


def payment_body() -> str:
    """A realistic ~1 KB JSON payment instruction."""
    doc = {
        "from_account": "1001",
        "to_iban": "DE89370400440532013000",
        "amount": "1250.00",
        "currency": "EUR",
        "memo": "Invoice 2026-118 for consulting services, thank you!",
        "beneficiary": {
            "name": "Müller & Söhne GmbH",
            "address": "Königstraße 12, 70173 Stuttgart, Germany",
            "bic": "COBADEFFXXX",
        },
        "reference": "INV-2026-118",
        "execution_date": "2026-12-04",
        "tags": ["supplier", "monthly", "consulting"],
        "metadata": {"channel": "web", "device": "desktop", "session": "s-8842"},
        "notes": "Please process before the end of the quarter. Contact "
        + "O'Reilly in accounts payable for questions about line items 3-7.",
    }
    text = json.dumps(doc, ensure_ascii=False)
    return text + " " * max(0, 1024 - len(text.encode()))


def write_lua(workdir: Path, paced: int = 0, connections: int = 50) -> dict[str, Path]:
    """wrk scripts by workload name; with ``paced``, also each workload at
    that many requests per second in all (every connection waits
    ``connections / paced`` seconds before each request), so that targets
    are compared at the same load, below every one's capacity."""
    headers = (
        'wrk.headers["User-Agent"] = "bank-mobile/5.2 (iPhone; iOS 18.1)"\n'
        'wrk.headers["Accept"] = "application/json"\n'
        'wrk.headers["X-Request-Id"] = "7f1c2a9e-5b1d-4c8e-9d0a-1b2c3d4e5f60"\n'
    )
    get = workdir / "get.lua"
    get.write_text(headers + f'wrk.method = "GET"\nwrk.path = "{GET_PATH}"\n')
    post = workdir / "post.lua"
    body = payment_body().replace("\\", "\\\\").replace('"', '\\"')
    post.write_text(
        headers
        + 'wrk.method = "POST"\n'
        + f'wrk.path = "{POST_PATH}"\n'
        + 'wrk.headers["Content-Type"] = "application/json"\n'
        + f'wrk.body = "{body}"\n'
    )
    scripts = {"GET": get, "POST 1KB JSON": post}
    if paced:
        wait_ms = connections * 1000 / paced
        for name, script in list(scripts.items()):
            slow = workdir / f"paced-{script.name}"
            slow.write_text(
                script.read_text() + f"function delay()\n  return {wait_ms:g}\nend\n"
            )
            scripts[f"{name} at {paced:,}/s"] = slow
    return scripts


def cpu_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total


_LAT = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _first(pattern: str, text: str) -> str:
    """The first group of ``pattern`` in wrk's report (wrk always prints it)."""
    match = re.search(pattern, text)
    if match is None:
        raise RuntimeError(f"wrk printed no {pattern!r}: {text[-300:]}")
    return match.group(1)


def run_wrk(
    port: int, script: Path, seconds: int, connections: int
) -> dict[str, float]:
    argv = [
        "taskset", "-c", servers.AUX_CPU, "wrk", "-t1", f"-c{connections}",
        f"-d{seconds}s", "--latency", "-s", str(script), f"http://127.0.0.1:{port}",
    ]  # fmt: skip
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    lat = {
        m.group(1): float(m.group(2)) * _UNIT[m.group(3)] for m in _LAT.finditer(out)
    }
    requests = int(_first(r"(\d+) requests in", out))
    errors = sum(
        int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out)
    )
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    rps = float(_first(r"Requests/sec:\s+([\d.]+)", out))
    return {
        "rps": rps,
        "p50": lat.get("50", 0.0),
        "p99": lat.get("99", 0.0),
        "requests": requests,
        "errors": errors,
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
    }


def measure(
    target: servers.Target, scripts: dict[str, Path], seconds: int, connections: int
) -> Iterator[Result]:
    for workload, script in scripts.items():
        run_wrk(target.port, script, 1, connections)  # warm up
        before = cpu_ticks(target.pids)
        figures = run_wrk(target.port, script, seconds, connections)
        used_us = (cpu_ticks(target.pids) - before) * 1e6 / _TICKS
        yield Result(
            target.name,
            workload,
            figures["rps"],
            figures["p50"],
            figures["p99"],
            used_us / max(1, figures["requests"]),
            int(figures["requests"]),
            int(figures["errors"]),
            int(figures["non2xx"]),
        )


def policy_text(name: str, upstream_port: int) -> str:
    text = (HERE / "policies" / f"{name}.yaml").read_text()
    return text.replace("@UPSTREAM@", f"http://127.0.0.1:{upstream_port}")


def targets(
    workdir: Path, upstream_port: int, only: set[str] | None
) -> Iterator[tuple[str, Callable[[], AbstractContextManager[servers.Target]]]]:
    def vg(name: str) -> Callable[[], AbstractContextManager[servers.Target]]:
        return lambda: servers.vaultgate(
            workdir, name, policy_text(name, upstream_port)
        )

    table: list[tuple[str, Callable[[], AbstractContextManager[servers.Target]]]] = [
        ("nginx", lambda: servers.nginx_proxy(workdir, upstream_port)),
        ("nginx+modsec+crs", lambda: servers.modsec_proxy(workdir, upstream_port)),
        ("python-floor", lambda: servers.python_floor(workdir, upstream_port)),
        ("vaultgate-off", vg("vaultgate-off")),
        ("vaultgate-inspect", vg("vaultgate-inspect")),
        ("vaultgate-model", vg("vaultgate-model")),
        ("vaultgate-model-cold", vg("vaultgate-model-cold")),
        ("vaultgate-nomodel", vg("vaultgate-nomodel")),
    ]
    for name, start in table:
        if only is None or name in only:
            yield name, start


def markdown(results: list[Result]) -> str:
    lines = [
        "| target | workload | req/s | p50 ms | p99 ms | CPU µs/req | non-2xx |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.target} | {r.workload} | {r.rps:,.0f} | {r.p50_ms:.2f} | "
            f"{r.p99_ms:.2f} | {r.cpu_us_per_req:.1f} | {r.non_2xx} |"
        )
    return "\n".join(lines) + "\n\n" + ratios(results)


def ratios(results: list[Result]) -> str:
    by = {(r.target, r.workload): r for r in results}
    lines = ["| ratio | workload | throughput | p99 |", "|---|---|---:|---:|"]
    pairs = [
        ("python-floor", "nginx"),
        ("vaultgate-off", "nginx"),
        ("vaultgate-off", "python-floor"),
        ("vaultgate-inspect", "nginx"),
        ("vaultgate-inspect", "nginx+modsec+crs"),
        ("vaultgate-model", "vaultgate-nomodel"),
        ("vaultgate-model-cold", "vaultgate-nomodel"),
    ]
    for workload in sorted({r.workload for r in results}):
        for mine, theirs in pairs:
            a, b = by.get((mine, workload)), by.get((theirs, workload))
            if a and b and b.rps and b.p99_ms:
                lines.append(
                    f"| {mine} / {theirs} | {workload} | {a.rps / b.rps:.2f}× | "
                    f"{a.p99_ms / b.p99_ms:.2f}× |"
                )
    return "\n".join(lines) + "\n"


def one_round(
    work: Path,
    upstream_port: int,
    scripts: dict[str, Path],
    only: set[str] | None,
    args: argparse.Namespace,
) -> list[Result]:
    """Every target once, one after the other."""
    results: list[Result] = []
    if only is None or "upstream" in only:
        with servers.upstream(work, cpu=servers.SUT_CPU) as bare:
            bare.name = "bare upstream"
            results += measure(bare, scripts, args.seconds, args.connections)
    for _name, start in targets(work, upstream_port, only):
        with start() as target:
            results += measure(target, scripts, args.seconds, args.connections)
    return results


def medians(results: list[Result]) -> list[Result]:
    """One result per target and workload: the median of each figure.

    Rounds are interleaved, so a slow minute of the shared machine lands
    on every target alike and the median sets it aside.
    """
    groups: dict[tuple[str, str], list[Result]] = {}
    for r in results:
        groups.setdefault((r.target, r.workload), []).append(r)
    merged = []
    for (target, workload), runs in groups.items():
        merged.append(
            Result(
                target,
                workload,
                statistics.median(r.rps for r in runs),
                statistics.median(r.p50_ms for r in runs),
                statistics.median(r.p99_ms for r in runs),
                statistics.median(r.cpu_us_per_req for r in runs),
                sum(r.requests for r in runs),
                sum(r.errors for r in runs),
                sum(r.non_2xx for r in runs),
            )
        )
    return merged


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--only", help="comma-separated target names")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument(
        "--paced",
        type=int,
        default=2000,
        metavar="RATE",
        help="also run each workload at RATE requests/s in all, for latency "
        "at the same load (0: only at full load)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run every target this many times, interleaved; report the medians",
    )
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else None
    results: list[Result] = []
    with servers.workdir() as work:
        scripts = write_lua(work, args.paced, args.connections)
        with servers.upstream(work) as up:
            for _round in range(args.rounds):
                results += one_round(work, up.port, scripts, only, args)
    results = medians(results)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    rounds = f", median of {args.rounds} interleaved rounds" if args.rounds > 1 else ""
    print(
        f"## {stamp}, {args.seconds} s per run, {args.connections} connections"
        f"{rounds}\n"
    )
    print(markdown(results))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
