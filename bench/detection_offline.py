"""Detection and false-positive rates per corpus, offline, through the real pipeline.

Feeds the exact request bytes that ``../shared/tools/waf_eval.py`` would send
(exported with ``--export-requests``) through ``core.rawhttp`` and the
``Engine`` (a ``MemoryStore``, no network), and counts what the pipeline
would block.  A request the HTTP parser refuses counts as answered 400,
which waf_eval counts as passed.

    .venv/bin/python ../shared/tools/waf_eval.py --target http://127.0.0.1:1 \\
        --export-requests /tmp/reqs.jsonl
    .venv/bin/python bench/detection_offline.py /tmp/reqs.jsonl \\
        [--policy P] [--corpus gotestwaf,crs] [--misses out.jsonl] [--by rule_pl]

Each request gets its own client address so that rate limits and bans,
which react to who sends rather than what is sent, stay out of the figures
(as tools/README.md asks of a live run).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import json
import sys
import time
from typing import Any

from vaultgate.core.policy import Policy, load_policy, parse_policy
from vaultgate.core.rawhttp import ParseFailure, parse_request
from vaultgate.engine import Engine
from vaultgate.guards import load_all
from vaultgate.state.memory import MemoryStore
from vaultgate.telemetry.audit import AuditLog, AuditSettings

MINIMAL_POLICY = "upstream: http://127.0.0.1:9\naudit: {file: /dev/null}\n"


def client_ip(index: int) -> str:
    return f"10.{index >> 16 & 255}.{index >> 8 & 255}.{index & 255}"


async def verdict(engine: Engine, raw: bytes, index: int) -> tuple[str, list[str]]:
    """("blocked" | "passed" | "400", reasons) for one request's bytes."""
    request = parse_request(raw, client_ip(index))
    if isinstance(request, ParseFailure):
        return "400", [request.reason]
    ex = engine.begin(request)
    decision = await engine.decide(ex)
    blocked = decision.action.stops and decision.status == 403
    return ("blocked" if blocked else "passed"), list(decision.reasons)


async def run(
    policy: Policy, records: list[dict[str, Any]]
) -> list[tuple[str, list[str]]]:
    engine = Engine(policy, MemoryStore(), AuditLog(AuditSettings("/dev/null")))
    out = []
    started = time.monotonic()
    for index, record in enumerate(records):
        out.append(await verdict(engine, base64.b64decode(record["raw_b64"]), index))
        if index % 2000 == 0:
            print(
                f"\r{index}/{len(records)} {time.monotonic() - started:.0f}s",
                end="",
                file=sys.stderr,
            )
    print(file=sys.stderr)
    return out


def table(
    records: list[dict[str, Any]], results: list[tuple[str, list[str]]], by: str | None
) -> None:
    groups: dict[tuple[str, str], collections.Counter[str]] = collections.defaultdict(
        collections.Counter
    )
    for record, (outcome, _) in zip(records, results, strict=True):
        label = record["labels"].get(by, "") if by else ""
        key = (
            record["corpus"] + ("" if record["kind"] != "info" else " [info]"),
            str(label),
        )
        groups[key][outcome] += 1
        groups[key]["kind:" + record["kind"]] = 1
    print(
        f"{'corpus':28} {'label':28} {'sent':>7} {'blocked':>8} {'400':>6} {'rate':>8}"
    )
    for (corpus, label), counts in sorted(groups.items()):
        sent = counts["blocked"] + counts["passed"] + counts["400"]
        rate = 100.0 * counts["blocked"] / sent if sent else 0.0
        print(
            f"{corpus:28} {label:28} {sent:7} {counts['blocked']:8} "
            f"{counts['400']:6} {rate:7.2f}%"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("requests", help="waf_eval.py --export-requests output")
    parser.add_argument("--policy", help="policy file (default: a minimal policy)")
    parser.add_argument("--corpus", help="only these corpora (comma-separated)")
    parser.add_argument("--by", help="a label to break the table down by")
    parser.add_argument("--misses", help="write missed attacks and false positives")
    args = parser.parse_args()

    load_all()  # registers the policy sections before the policy is read
    policy = load_policy(args.policy) if args.policy else parse_policy(MINIMAL_POLICY)
    wanted = set(args.corpus.split(",")) if args.corpus else None
    with open(args.requests, encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle]
    records = [r for r in records if wanted is None or r["corpus"] in wanted]
    results = asyncio.run(run(policy, records))
    table(records, results, args.by)
    if args.misses:
        with open(args.misses, "w", encoding="utf-8") as out:
            for record, (outcome, reasons) in zip(records, results, strict=True):
                wrong = (record["kind"] == "attack") != (outcome == "blocked")
                if wrong and record["kind"] != "info":
                    raw = base64.b64decode(record["raw_b64"]).decode("latin-1")
                    out.write(
                        json.dumps(
                            {
                                "id": record["id"],
                                "corpus": record["corpus"],
                                "outcome": outcome,
                                "reasons": reasons,
                                "raw": raw[:3000],
                            }
                        )
                        + "\n"
                    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
