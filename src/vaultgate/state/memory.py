"""The embedded store: one process, no external service.

Every operation runs to completion inside one call on one event loop, so
each is atomic without locks.  The arithmetic is ``state.gcra``'s, the same
as the Redis script's.  Expired entries are dropped when touched and by a
sweep every ``_SWEEP_EVERY`` writes.  The number of keys is capped: past
the cap, expired keys go first, then the keys closest to expiring, so an
attacker rotating addresses cannot grow memory without bound.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from typing import Any

from vaultgate.state import gcra
from vaultgate.state.base import MAX_MEMBERS, RateCheck, RateResult, Store, Tally

# One million keys of a few hundred bytes each stays under ~500 MB even in
# the worst case.
MAX_KEYS = 1_000_000
# Sweep expired entries every 10,000 writes: amortised O(1) per write.
_SWEEP_EVERY = 10_000
# Evicting down to 99% of the cap makes eviction run once per 1% of the
# cap's writes instead of on every write once the store is full.
_EVICT_TO = 0.99

_US = gcra.US


class MemoryStore(Store):
    """An in-process ``Store``; every table maps key -> (value, expiry us)."""

    def __init__(self, max_keys: int = MAX_KEYS) -> None:
        self._max_keys = max_keys
        self._tat: dict[str, tuple[int, int]] = {}
        self._windows: dict[str, tuple[dict[int, int], int]] = {}
        self._seen: dict[str, tuple[bool, int]] = {}
        self._sets: dict[str, tuple[dict[str, int], int]] = {}
        self._bans: dict[str, tuple[str, int]] = {}
        self._values: dict[str, tuple[bytes, int]] = {}
        self._tables: tuple[dict[str, tuple[Any, int]], ...] = (
            self._tat,
            self._windows,
            self._seen,
            self._sets,
            self._bans,
            self._values,
        )
        self._writes = 0
        self._latest = 0

    def __len__(self) -> int:
        """How many keys the store holds, expired or not."""
        return sum(len(table) for table in self._tables)

    # -- rate buckets ----------------------------------------------------------

    async def rate(self, checks: Sequence[RateCheck], now: float) -> list[RateResult]:
        at = self._observe(now)
        charges = [self._charge(check, at) for check in checks]
        if all(c.allowed for c in charges):
            for check, result in zip(checks, charges, strict=True):
                self._write(self._tat, check.key, result.tat, result.tat)
        return [_result(check, c) for check, c in zip(checks, charges, strict=True)]

    def _charge(self, check: RateCheck, at: int) -> gcra.Charge:
        bucket = gcra.Bucket.of(check.limit, check.period, check.burst)
        entry = self._tat.get(check.key)
        stored = entry[0] if entry is not None and entry[1] > at else None
        return gcra.charge(bucket, stored, at, check.cost)

    # -- sliding-window counters -----------------------------------------------

    async def hit(self, key: str, window: float, now: float, amount: int = 1) -> int:
        at, span = self._observe(now), gcra.to_us(window)
        slots = self._live_slots(key, span, at)
        width = gcra.slot_width(span)
        slots[at // width] = slots.get(at // width, 0) + amount
        self._write(self._windows, key, slots, at + span)
        return sum(slots.values())

    async def count(self, key: str, window: float, now: float) -> int:
        at = self._observe(now)
        return sum(self._live_slots(key, gcra.to_us(window), at).values())

    def _live_slots(self, key: str, span: int, at: int) -> dict[int, int]:
        entry = self._windows.get(key)
        if entry is None or entry[1] <= at:
            return {}
        width = gcra.slot_width(span)
        slots = entry[0]
        for slot in [s for s in slots if not gcra.live_slot(s, width, span, at)]:
            del slots[slot]
        return slots

    async def _tally(self, tally: Tally, now: float) -> int:
        if tally.distinct and tally.amount < 0:
            entry = self._sets.get(tally.key)
            if entry is not None:
                entry[0].pop(tally.member, None)
            return await self.distinct(tally.key, "", tally.window, now)
        return await super()._tally(tally, now)

    # -- sets and markers ------------------------------------------------------

    async def first_seen(self, key: str, ttl: float, now: float) -> bool:
        at = self._observe(now)
        entry = self._seen.get(key)
        if entry is not None and entry[1] > at:
            return False
        self._write(self._seen, key, True, at + gcra.to_us(ttl))
        return True

    async def distinct(self, key: str, member: str, window: float, now: float) -> int:
        at, span = self._observe(now), gcra.to_us(window)
        entry = self._sets.get(key)
        members = entry[0] if entry is not None and entry[1] > at else {}
        # Members are kept in insertion order and all share one window, so
        # the oldest expire first: trimming stops at the first live one.
        expired = []
        for name, expiry in members.items():
            if expiry > at:
                break
            expired.append(name)
        for name in expired:
            del members[name]
        if not member:
            return len(members)
        if member in members or len(members) < MAX_MEMBERS:
            members.pop(member, None)
            members[member] = at + span
        self._write(self._sets, key, members, at + span)
        return len(members)

    # -- bans and values -------------------------------------------------------

    async def ban(self, subject: str, ttl: float, reason: str, now: float) -> None:
        at = self._observe(now)
        self._write(self._bans, subject, reason, at + gcra.to_us(ttl))

    async def banned(self, subjects: Sequence[str], now: float) -> str | None:
        at = self._observe(now)
        for subject in subjects:
            entry = self._bans.get(subject)
            if entry is not None:
                if entry[1] > at:
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
        at = self._observe(now)
        self._write(self._values, key, value, at + gcra.to_us(ttl))

    # -- housekeeping ----------------------------------------------------------

    def _observe(self, now: float) -> int:
        at = gcra.to_us(now)
        if at > self._latest:
            self._latest = at
        return at

    def _write(self, table: dict[str, Any], key: str, value: Any, expiry: int) -> None:
        table[key] = (value, expiry)
        self._writes += 1
        if self._writes % _SWEEP_EVERY == 0:
            self._sweep()
        if len(self) > self._max_keys:
            self._sweep()
            self._evict(len(self) - int(self._max_keys * _EVICT_TO))

    def _sweep(self) -> None:
        now = self._latest
        for table in self._tables:
            for key in [k for k, v in table.items() if v[1] <= now]:
                del table[key]

    def _evict(self, excess: int) -> None:
        # The keys closest to expiring carry the least future effect: a
        # bucket about to drain, a ban about to lift.
        if excess <= 0:
            return
        for _, i, key in heapq.nsmallest(excess, self._entries()):
            self._tables[i].pop(key, None)

    def _entries(self) -> Iterator[tuple[int, int, str]]:
        for i, table in enumerate(self._tables):
            for key, (_, expiry) in table.items():
                yield expiry, i, key


def _result(check: RateCheck, charge: gcra.Charge) -> RateResult:
    return RateResult(
        allowed=charge.allowed,
        limit=check.limit,
        remaining=charge.remaining,
        retry_after=charge.retry_after / _US,
        reset_after=charge.reset_after / _US,
    )
