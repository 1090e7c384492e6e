"""Response filtering cost for a 10 KB JSON answer, in microseconds, one core.

The answer is an account with a statement page, shaped like the demo API's
(names, IBANs, memos, timestamps, amounts, ids) and cut to about 10 KB.
Each figure is the response filter's whole ``filter_body`` as the proxy
calls it, with the in-memory store:

* clean, default masking: nothing to mask, so the body passes untouched
  (parse, one masking scan, no re-encoding);
* owner view: three fields removed, card numbers and IBANs masked, the
  body re-encoded; the demo's statement repeats its payees' IBANs, so the
  same view is also timed on a page where every IBAN is distinct;
* role allow-list: only named fields kept, then masked;
* gzip: the owner view on a gzip-encoded answer;
* for scale, ``redact`` over the same 10 KB as one text, and orjson's
  parse plus encode alone.

Prints one line per figure.  Not a test: ``python -m bench.response_filter_cost``.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson

from vaultgate.core.masking import redact
from vaultgate.core.model import Principal
from vaultgate.core.policy import parse_policy
from vaultgate.core.request import Request
from vaultgate.demo.data import ACCOUNTS, TRANSACTIONS, iban
from vaultgate.engine import Engine
from vaultgate.guards import load_all
from vaultgate.guards.response_filter import ResponseFilter
from vaultgate.state.memory import MemoryStore
from vaultgate.telemetry.audit import AuditLog, AuditSettings

POLICY = """\
upstream: http://127.0.0.1:9
routes:
  - path: /plain/{id}
  - path: /accounts/{id}
    response:
      deny_fields: [internal_risk_score, kyc_notes, $.owner.national_id]
      mask: [card_number, iban, secret]
      roles:
        auditor:
          allow_fields: [id, status, booked_at, amount, currency, category]
"""
TARGET_BYTES = 10 * 1024


def answer(size: int = TARGET_BYTES, distinct: bool = False) -> bytes:
    """An account and as many of its transactions as fit in ``size`` bytes."""
    account = ACCOUNTS[1004]
    document: dict[str, Any] = {
        "id": account.id,
        "status": account.status,
        "iban": account.iban,
        "card_number": account.card_number,
        "balance": str(account.balance),
        "internal_risk_score": account.internal_risk_score,
        "kyc_notes": account.kyc_notes,
        "owner": {"name": account.owner.name, "national_id": account.owner.national_id},
        "transactions": [],
    }
    for n, tx in enumerate(TRANSACTIONS[account.id] * 4):
        payee_iban = iban("GB", f"BNCH{n:06d}{n * 7919:08d}") if distinct else None
        item = {
            "id": tx.id,
            "booked_at": tx.booked_at,
            "amount": str(tx.amount),
            "currency": tx.currency,
            "counterparty": tx.counterparty,
            "counterparty_iban": payee_iban or tx.counterparty_iban,
            "memo": tx.memo,
            "category": tx.category,
        }
        document["transactions"].append(item)
        if len(orjson.dumps(document)) > size:
            document["transactions"].pop()
            break
    return orjson.dumps(document)


def timed(run: Callable[[], Awaitable[object]], rounds: int) -> tuple[float, float]:
    """Median and 99th percentile microseconds of ``run``, after a warm-up."""

    async def measure() -> list[float]:
        for _ in range(min(200, rounds)):
            await run()
        samples = []
        for _ in range(rounds):
            start = time.perf_counter_ns()
            await run()
            samples.append((time.perf_counter_ns() - start) / 1000)
        return samples

    samples = asyncio.run(measure())
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3000)
    args = parser.parse_args()

    load_all()
    directory = Path("/tmp/vaultgate-bench-response")
    directory.mkdir(exist_ok=True)
    audit = AuditLog(AuditSettings(str(directory / "audit.jsonl")))
    engine = Engine(parse_policy(POLICY), MemoryStore(), audit, time.time)
    body = answer()
    every_distinct = answer(distinct=True)
    clean = orjson.dumps(_without_secrets(orjson.loads(body)))
    packed = gzip.compress(body)
    customer = Principal("user", "u-1", frozenset({"customer"}))
    auditor = Principal("user", "u-2", frozenset({"auditor"}))

    def case(
        path: str, raw: bytes, who: Principal | None, coding: str = ""
    ) -> Callable[[], Awaitable[object]]:
        ex = engine.begin(Request("GET", path, [], "192.0.2.1"))
        ex.principal = who
        guard = next(
            g for g in engine.response_guards(ex) if isinstance(g, ResponseFilter)
        )
        base = [("Content-Type", "application/json")]
        if coding:
            base.append(("Content-Encoding", coding))

        async def run() -> object:
            return await guard.filter_body(ex, 200, list(base), raw)

        return run

    async def parse_encode() -> object:
        return orjson.dumps(orjson.loads(body))

    async def redact_text() -> object:
        return redact(text)

    text = body.decode()
    print(f"answer: {len(body)} bytes JSON, {len(packed)} bytes gzip")
    figures = [
        ("clean answer, default masking (unchanged)", case("/plain/1", clean, None)),
        (
            "owner view: 3 fields removed, PAN+IBANs masked",
            case("/accounts/1", body, customer),
        ),
        (
            "owner view, every IBAN distinct",
            case("/accounts/1", every_distinct, customer),
        ),
        ("role allow-list, then masked", case("/accounts/1", body, auditor)),
        (
            "owner view, gzip-encoded answer",
            case("/accounts/1", packed, customer, "gzip"),
        ),
        ("for scale: redact() over the 10 KB as text", redact_text),
        ("for scale: orjson parse + encode only", parse_encode),
    ]
    for label, run in figures:
        median, p99 = timed(run, args.rounds)
        print(f"{label:<50} median {median:8.1f} us   p99 {p99:8.1f} us")


def _without_secrets(document: dict[str, Any]) -> dict[str, Any]:
    document.pop("card_number")
    document.pop("iban")
    for item in document["transactions"]:
        item.pop("counterparty_iban")
    return document


if __name__ == "__main__":
    main()
