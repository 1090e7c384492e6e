"""Cost of the attack-likelihood model per request, in-process, on one core.

Measures what the ``learned`` guard adds to a request whose values the
inspection guard has already extracted and decoded (as in the proxy):
the fast path over every value, then one scored batch ("cold": no score
cache; "cache warm": every value seen before, as wrk's repeated request
is after the first).  Requests: the
~1 KB JSON payment of ``bench.throughput`` (with its headers) and the
small GET of the same benchmark, plus a worst case in which every value
of the 1 KB request must be scored.  Prints microseconds per request
(best of several rounds: the machine is shared).  Not a test.

    .venv/bin/python -m bench.model_cost [--rounds 7] [--number 2000]
"""

from __future__ import annotations

import argparse
import timeit
from collections.abc import Callable

import numpy as np

from bench.throughput import GET_PATH, POST_PATH, payment_body
from vaultgate.core.request import Request
from vaultgate.detect.base import Value
from vaultgate.detect.extract import extract
from vaultgate.detect.normalize import expand_all
from vaultgate.ml.model import Model, ScoreCache, load_model

HEADERS = [
    ("Host", "127.0.0.1:8080"),
    ("User-Agent", "bank-mobile/5.2 (iPhone; iOS 18.1)"),
    ("Accept", "application/json"),
    ("X-Request-Id", "7f1c2a9e-5b1d-4c8e-9d0a-1b2c3d4e5f60"),
]


def requests() -> dict[str, Request]:
    body = payment_body().encode()
    post = Request(
        "POST",
        POST_PATH,
        [*HEADERS, ("Content-Type", "application/json")],
        "10.0.0.1",
        body=body,
        body_length=len(body),
    )
    get = Request("GET", GET_PATH, list(HEADERS), "10.0.0.1")
    return {"POST 1KB JSON": post, "GET": get}


def measure(rounds: int, number: int, path: str = "") -> None:
    model = load_model(path)
    # A yardstick of how loaded the machine is: about 1 µs when idle.
    small = np.arange(10.0)
    cost = best(lambda: np.maximum(small + 1.0, 0.0), rounds, number)
    print(f"{'reference':14} two numpy operations on 10 floats: {cost:6.2f} µs")
    for name, request in requests().items():
        raw = extract(request).values
        values = expand_all(raw)
        texts = frozenset(v.text for v in raw)
        scored = model.assess(values, texts).scored
        cost = best(lambda v=values, t=texts: model.assess(v, t), rounds, number)
        print(f"{name:14} {len(values):3} values, {scored:2} scored: {cost:6.1f} µs")
        warm = best(_warm(model, values, texts), rounds, number)
        print(f"{'  cache warm':14} (the same values seen before): {warm:6.1f} µs")
        if name.startswith("POST"):
            every = [v.text for v in values]
            flags = [False] * len(every)
            cost = best(lambda e=every, f=flags: model.logits(e, f), rounds, number)
            print(
                f"{'every value':14} {len(every):3} values, all scored: {cost:6.1f} µs"
            )


def _warm(
    model: Model, values: list[Value], raw: frozenset[str]
) -> Callable[[], object]:
    cache = ScoreCache(4096)
    return lambda: model.assess(values, raw, cache)


def best(call: Callable[[], object], rounds: int, number: int) -> float:
    """Microseconds per call, best of ``rounds`` (the machine is shared)."""
    return min(timeit.repeat(call, number=number, repeat=rounds)) / number * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--model", default="", help="a model file (default: shipped)")
    args = parser.parse_args()
    measure(args.rounds, args.number, args.model)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
