"""The embedded store: one process, no external service.

Every operation runs to completion inside one call on one event loop, so
each is atomic without locks.  Expired entries are dropped when touched and
by a sweep every ``_SWEEP_EVERY`` writes; the number of keys is capped so
that an attacker rotating addresses cannot grow memory without bound.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

from vaultgate.state.base import RateCheck, RateResult, Store

# One million keys of a few hundred bytes each stays under ~500 MB even in
# the worst case; past it the oldest-expiring keys are dropped first.
MAX_KEYS = 1_000_000
# Sweep expired entries every 10,000 writes: amortised O(1) per write.
_SWEEP_EVERY = 10_000
# A sliding-window counter keeps at most this many sub-buckets per window.
_SLOTS = 10


class MemoryStore(Store):
    """An in-process ``Store``."""

    def __init__(self, max_keys: int = MAX_KEYS) -> None:
        self._max_keys = max_keys
        self._tat: dict[str, tuple[float, float]] = {}  # key -> (tat, expiry)
        self._windows: dict[str, tuple[deque[tuple[float, int]], float]] = {}
        self._seen: dict[str, float] = {}
        self._sets: dict[str, tuple[dict[str, float], float]] = {}
        self._bans: dict[str, tuple[str, float]] = {}
        self._values: dict[str, tuple[bytes, float]] = {}
        self._writes = 0

    async def rate(self, checks: Sequence[RateCheck], now: float) -> list[RateResult]:
        self._observe(now)
        return [self._gcra(check, now) for check in checks]

    def _gcra(self, check: RateCheck, now: float) -> RateResult:
        interval = check.period / check.limit
        capacity = (check.limit + check.burst) * interval
        stored = self._tat.get(check.key)
        tat = max(stored[0], now) if stored and stored[1] > now else now
        new_tat = tat + interval * check.cost
        if new_tat - now > capacity + 1e-9:
            retry = new_tat - now - capacity
            left = max(0, math.floor((capacity - (tat - now)) / interval + 1e-9))
            return RateResult(False, check.limit, left, retry, tat - now)
        self._write()
        self._tat[check.key] = (new_tat, new_tat)
        left = math.floor((capacity - (new_tat - now)) / interval + 1e-9)
        return RateResult(True, check.limit, left, 0.0, new_tat - now)

    async def hit(self, key: str, window: float, now: float, amount: int = 1) -> int:
        slots, _ = self._windows.get(key) or (deque(), 0.0)
        self._trim(slots, window, now)
        width = window / _SLOTS
        start = now - (now % width)
        if slots and slots[-1][0] == start:
            slots[-1] = (start, slots[-1][1] + amount)
        else:
            slots.append((start, amount))
        self._write()
        self._windows[key] = (slots, now + window)
        return sum(n for _, n in slots)

    async def count(self, key: str, window: float, now: float) -> int:
        entry = self._windows.get(key)
        if entry is None:
            return 0
        self._trim(entry[0], window, now)
        return sum(n for _, n in entry[0])

    @staticmethod
    def _trim(slots: deque[tuple[float, int]], window: float, now: float) -> None:
        while slots and slots[0][0] <= now - window:
            slots.popleft()

    async def first_seen(self, key: str, ttl: float, now: float) -> bool:
        self._observe(now)
        expiry = self._seen.get(key)
        if expiry is not None and expiry > now:
            return False
        self._write()
        self._seen[key] = now + ttl
        return True

    async def distinct(self, key: str, member: str, window: float, now: float) -> int:
        self._observe(now)
        members, _ = self._sets.get(key) or ({}, 0.0)
        for name in [m for m, t in members.items() if t <= now]:
            del members[name]
        members[member] = now + window
        self._write()
        self._sets[key] = (members, now + window)
        return len(members)

    async def ban(self, subject: str, ttl: float, reason: str, now: float) -> None:
        self._observe(now)
        self._write()
        self._bans[subject] = (reason, now + ttl)

    async def banned(self, subjects: Sequence[str], now: float) -> str | None:
        self._observe(now)
        for subject in subjects:
            entry = self._bans.get(subject)
            if entry is not None:
                if entry[1] > now:
                    return entry[0]
                del self._bans[subject]
        return None

    async def unban(self, subject: str) -> None:
        self._bans.pop(subject, None)

    async def get(self, key: str) -> bytes | None:
        entry = self._values.get(key)
        if entry is None or entry[1] <= self._latest:
            return None
        return entry[0]

    async def put(self, key: str, value: bytes, ttl: float, now: float) -> None:
        self._observe(now)
        self._write()
        self._values[key] = (value, now + ttl)

    # -- housekeeping ---------------------------------------------------------

    _latest = 0.0

    def _observe(self, now: float) -> None:
        if now > self._latest:
            self._latest = now

    def _write(self) -> None:
        self._writes += 1
        if self._writes % _SWEEP_EVERY == 0 or self._size() > self._max_keys:
            self._sweep()

    def _size(self) -> int:
        return (
            len(self._tat)
            + len(self._windows)
            + len(self._seen)
            + len(self._sets)
            + len(self._bans)
            + len(self._values)
        )

    def _sweep(self) -> None:
        now = self._latest
        for table in (self._tat, self._windows, self._sets, self._bans, self._values):
            expired = [k for k, v in table.items() if v[1] <= now]
            for key in expired:
                del table[key]
        for key in [k for k, t in self._seen.items() if t <= now]:
            del self._seen[key]
