"""Inspection cost per request, in process, on one core (not a test).

CPU time of this thread (``time.thread_time``), so that other processes on
a shared machine do not inflate the figure.

Measures extraction + decoding + scan + confirmation (``guards.inspection
.inspect``) for a typical 1 KB JSON payment request and a small GET, with the
default rule set at paranoia 1, and prints microseconds per request.

    .venv/bin/python bench/inspect_cost.py [--seconds 2]

Bars (issue 3): <= 40 us per 1 KB JSON request, <= 15 us per small GET.
"""

from __future__ import annotations

import argparse
import json
import time

from vaultgate.core.request import Request
from vaultgate.detect import load_detectors
from vaultgate.detect.base import all_rules
from vaultgate.detect.engine import Inspector
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
    make: type[Request] | object,
    inspector: Inspector,
    settings: InspectionSettings,
    seconds: float,
) -> float:
    """Microseconds per request; a fresh Request each time (no cached parse)."""
    factory = make  # a zero-argument callable returning a Request
    count, started = 0, time.thread_time()
    deadline = started + seconds
    while time.thread_time() < deadline:
        for _ in range(200):
            inspect(factory(), settings, inspector)  # type: ignore[operator]
        count += 200
    return (time.thread_time() - started) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--families", help="only these rule families (a,b)")
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


if __name__ == "__main__":
    main()
