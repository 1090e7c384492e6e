"""Inspection cost per request, in process, on one core (not a test).

CPU time of this thread (``time.thread_time``), so that other processes on
a shared machine do not inflate the figure.

Measures extraction + decoding + scan + confirmation (``guards.inspection
.inspect``) for a typical 1 KB JSON payment request and a small GET, with the
default rule set at paranoia 1, and prints microseconds per request.

    .venv/bin/python bench/inspect_cost.py [--seconds 2] [--stages]

``--stages`` also prints where the time goes: extraction, decoding, the
scan, and each request-level check, each timed on its own.  Extraction
pays for parsing the headers, query and body, as it does in ``inspect``;
the later stages run on requests already parsed.

Bars (issue 3): <= 40 us per 1 KB JSON request, <= 15 us per small GET.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Iterable

from vaultgate.core.request import Request
from vaultgate.detect import load_detectors
from vaultgate.detect.base import all_rules
from vaultgate.detect.engine import Inspector
from vaultgate.detect.extract import extract
from vaultgate.detect.normalize import expand_all
from vaultgate.guards.inspection import InspectionSettings, inspect

HEADERS = [
    ("Host", "api.bank.example"),
    (
        "User-Agent",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    ),
    ("Accept", "application/json"),
    ("Accept-Encoding", "gzip, deflate, br"),
    ("Authorization", "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln"),
    ("X-Request-Id", "7f3c2a9e-5b1d-4c8e-9f00-2d4e6a8b1c3d"),
]

PAYMENT = {
    "debtor": {"iban": "DE89370400440532013000", "name": "Anne O'Reilly"},
    "creditor": {
        "iban": "FR1420041010050500013M02606",
        "name": "Émile Zola SARL",
        "address": {"street": "12 rue de la Paix", "city": "Paris", "country": "FR"},
    },
    "amount": {"value": "1250.00", "currency": "EUR"},
    "reference": "INV-2024-0042",
    "memo": "Rent for March and April; select a payee later - drop-off at 5 or 6",
    "execution_date": "2024-04-02",
    "tags": ["rent", "monthly", "household"],
    "metadata": {
        "channel": "mobile",
        "device": "iPhone15,2",
        "app": "4.12.1",
        "session": "b3f1c2d4e5f60718293a4b5c6d7e8f90",
    },
}


BODY = json.dumps(PAYMENT).encode()
BODY += b" " * max(0, 1024 - len(BODY))  # pad to 1 KB exactly
JSON_HEADERS = [
    *HEADERS,
    ("Content-Type", "application/json"),
    ("Content-Length", str(len(BODY))),
]


def json_request() -> Request:
    return Request(
        "POST",
        "/v1/payments",
        JSON_HEADERS,
        "198.51.100.7",
        body=BODY,
        body_length=len(BODY),
    )


def get_request() -> Request:
    return Request(
        "GET", "/v1/accounts/1001/transactions?page=2&limit=50", HEADERS, "198.51.100.7"
    )


def per_request(
    factory: Callable[[], Request],
    inspector: Inspector,
    settings: InspectionSettings,
    seconds: float,
) -> float:
    """Microseconds per request; a fresh Request each time (no cached parse)."""
    count, started = 0, time.thread_time()
    deadline = started + seconds
    while time.thread_time() < deadline:
        for _ in range(200):
            inspect(factory(), settings, inspector)
        count += 200
    return (time.thread_time() - started) / count * 1e6


def stages(
    factory: Callable[[], Request],
    inspector: Inspector,
    settings: InspectionSettings,
    seconds: float,
) -> list[tuple[str, float]]:
    """Microseconds per request of each stage of ``inspect``, on its own.

    Extraction runs on fresh requests, so it pays for parsing the headers,
    query and body, as it does in ``inspect``; the later stages run on
    requests already parsed.
    """
    limits, rounds = settings.limits, settings.decode_rounds
    raw = extract(factory(), limits).values
    values = expand_all(raw, rounds)
    steps: list[tuple[str, bool, Callable[[Request], object]]] = [
        ("extract", False, lambda request: extract(request, limits)),
        ("decode", True, lambda request: expand_all(raw, rounds)),
        ("scan", True, lambda request: inspector.scan(values)),
    ]
    for name, check in inspector._checks:
        steps.append((f"check {name}", True, _listed(check, inspector.paranoia)))
    return [(name, _cpu(factory, step, warm, seconds)) for name, warm, step in steps]


def _listed(
    check: Callable[[Request, int], Iterable[object]], paranoia: int
) -> Callable[[Request], object]:
    return lambda request: list(check(request, paranoia))


def _cpu(
    factory: Callable[[], Request],
    step: Callable[[Request], object],
    warm: bool,
    seconds: float,
) -> float:
    """CPU microseconds of ``step`` per request, over fresh requests."""
    count, spent = 0, 0.0
    while spent < seconds:
        requests = [factory() for _ in range(200)]
        if warm:
            for request in requests:
                _parse(request)
        started = time.thread_time()
        for request in requests:
            step(request)
        spent += time.thread_time() - started
        count += len(requests)
    return spent / count * 1e6


def _parse(request: Request) -> None:
    """Fill the request's lazily parsed parts, as extraction does first."""
    request.header_index()
    request.args  # noqa: B018
    request.cookies  # noqa: B018
    request.json()
    request.form()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--families", help="only these rule families (a,b)")
    parser.add_argument("--stages", action="store_true", help="time each stage")
    args = parser.parse_args()
    load_detectors()
    settings = InspectionSettings()
    rules = list(all_rules().values())
    if args.families:
        wanted = set(args.families.split(","))
        rules = [rule for rule in rules if rule.family in wanted]
    inspector = Inspector(rules, settings.paranoia)
    if args.families:
        inspector._checks = ()  # request-level checks belong to other families
    print(
        f"rules enabled at paranoia {settings.paranoia}: {len(inspector.rules)}, "
        f"request checks: {len(inspector._checks)}"
    )
    for name, factory in (("1 KB JSON POST", json_request), ("small GET", get_request)):
        findings = inspect(factory(), settings, inspector).findings
        if findings:
            print(f"  (benign {name} raised: {[f.rule_id for f in findings]})")
        cost = per_request(factory, inspector, settings, args.seconds)
        print(f"{name:16} {cost:7.1f} us/request")
        if args.stages:
            for stage, spent in stages(factory, inspector, settings, args.seconds / 4):
                print(f"  {stage:20} {spent:7.1f} us")


if __name__ == "__main__":
    main()
