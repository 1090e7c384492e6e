"""The GCRA arithmetic both stores share, pinned on exact values."""

from __future__ import annotations

import pytest

from vaultgate.state.gcra import US, Bucket, Charge, charge

NOW = 1_800_000_000 * US

# (limit, period s, burst) -> (interval us, capacity us)
BUCKETS = [
    ((10, 60.0, 0), (6 * US, 60 * US)),
    ((10, 60.0, 1), (6 * US, 6 * US)),
    ((5, 900.0, 0), (180 * US, 900 * US)),
    ((3, 1.0, 5), (333_333, 1_666_665)),
]


@pytest.mark.parametrize(("args", "expected"), BUCKETS)
def test_bucket_constants(args: tuple[int, float, int], expected: tuple[int, int]):
    bucket = Bucket.of(*args)
    assert (bucket.interval, bucket.capacity) == expected


# (stored tat offset from NOW or None, cost) -> expected Charge (offsets)
CHARGES = [
    (None, 1, (True, 6, 9, 0, 6)),  # empty bucket
    (-100, 1, (True, 6, 9, 0, 6)),  # a stale tat counts as empty
    (54, 1, (True, 60, 0, 0, 60)),  # the last request of the burst
    (60, 1, (False, 60, 0, 6, 60)),  # full: retry in one interval
    (30, 6, (False, 30, 5, 6, 30)),  # too costly; five would still fit
    (70, 1, (False, 70, 0, 16, 70)),  # written by a clock running ahead
]


@pytest.mark.parametrize(("stored", "cost", "expected"), CHARGES)
def test_charge(stored: int | None, cost: int, expected: tuple) -> None:
    bucket = Bucket.of(10, 60.0, 0)
    tat = None if stored is None else NOW + stored * US
    allowed, new_tat, remaining, retry, reset = expected
    assert charge(bucket, tat, NOW, cost) == Charge(
        allowed, NOW + new_tat * US, remaining, retry * US, reset * US
    )
