"""The rate arithmetic both stores share, in integer microseconds.

How this works: GCRA (the generic cell rate algorithm) keeps one number per
bucket, the theoretical arrival time ``tat`` of the next request at the
sustained rate.  A request at ``now`` is allowed when charging it would not
push ``tat`` more than the bucket's capacity ahead of ``now``.  Integers keep
the memory store and the Redis Lua script bit-for-bit identical: Lua numbers
are doubles, exact for integers below 2**53 (about 285 years in us).

Sliding-window counters are split into ``SLOTS`` sub-windows; a window's sum
covers between ``(SLOTS - 1) / SLOTS`` of the window and all of it, never a
fixed window that resets at a boundary.
"""

from __future__ import annotations

from dataclasses import dataclass

US = 1_000_000  # microseconds per second
# Ten sub-windows: the count forgets events at most a tenth of a window
# early, and a counter costs at most ten hash fields in Redis.
SLOTS = 10


@dataclass(frozen=True, slots=True)
class Bucket:
    """A rate bucket's constants: ``interval`` us per request, ``capacity`` us."""

    interval: int
    capacity: int

    @classmethod
    def of(cls, limit: int, period: float, burst: int) -> Bucket:
        """``limit`` per ``period`` seconds, ``burst`` at once (0: ``limit``)."""
        interval = max(1, round(period * US / limit))
        return cls(interval, interval * (burst or limit))


@dataclass(frozen=True, slots=True)
class Charge:
    """The outcome of charging one bucket."""

    allowed: bool
    tat: int  # the bucket's new theoretical arrival time (unchanged if denied)
    remaining: int
    retry_after: int  # us until the request would be allowed (0 if allowed)
    reset_after: int  # us until the bucket is empty again


def charge(bucket: Bucket, stored: int | None, now: int, cost: int) -> Charge:
    """Charge ``cost`` requests at ``now`` against a bucket whose tat is ``stored``."""
    tat = now if stored is None or stored < now else stored
    new_tat = tat + bucket.interval * cost
    ahead = new_tat - now
    if ahead > bucket.capacity:
        # Clamped: a writer whose clock runs ahead may leave tat past the
        # capacity as seen from a slower clock.
        left = max(0, (bucket.capacity - (tat - now)) // bucket.interval)
        return Charge(False, tat, left, ahead - bucket.capacity, tat - now)
    left = (bucket.capacity - ahead) // bucket.interval
    return Charge(True, new_tat, left, 0, ahead)


def slot_width(window: int) -> int:
    """The width in us of one sub-window of a ``window`` us counter."""
    return max(1, window // SLOTS)


def live_slot(slot: int, width: int, window: int, now: int) -> bool:
    """Whether the sub-window numbered ``slot`` still lies inside the window."""
    return slot * width > now - window


def to_us(seconds: float) -> int:
    """Seconds to integer microseconds."""
    return round(seconds * US)
