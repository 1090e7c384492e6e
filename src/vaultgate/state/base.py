"""The state store interface that guards share.

Everything a guard must share between processes and machines goes through
this interface: rate buckets (GCRA), sliding-window counters, "seen once"
markers (replay caches, nonces), distinct-member counts and bans, each with
an expiry.  Every operation is atomic in each implementation: the memory
store because one event loop runs it, the Redis store by single commands
or Lua scripts.  Times are passed in (``now``, seconds), never read here.

``admit`` is what a request-time guard calls: it checks bans, charges rate
buckets and reads or adds counters in one call, which the Redis store turns
into one round trip.  The single-purpose methods remain for everything else.
A failing store raises ``errors.StateError`` and nothing else.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass

# A distinct-members set stops growing at this many members: thresholds
# that matter (distinct usernames per address) are far lower, and the cap
# keeps an attacker spraying names from growing one key without bound.
MAX_MEMBERS = 10_000


@dataclass(frozen=True, slots=True)
class RateCheck:
    """One GCRA bucket to charge: ``limit`` per ``period`` s.

    ``burst`` is how many requests the bucket lets through at once; 0 means
    ``limit``.  Any window of one period admits at most ``limit + burst - 1``
    requests, and a flood on an empty bucket exactly ``burst``.
    """

    key: str
    limit: int
    period: float
    burst: int = 0
    cost: int = 1


@dataclass(frozen=True, slots=True)
class RateResult:
    allowed: bool
    limit: int
    remaining: int  # requests still allowed right now
    retry_after: float  # seconds until one more is allowed (0 when allowed)
    reset_after: float  # seconds until the bucket is empty again


@dataclass(frozen=True, slots=True)
class Tally:
    """A sliding-window counter to add to (``amount``) or read (``amount=0``).

    A negative amount takes back what an earlier tally added.  With
    ``distinct`` set, the key is a set of members kept ``window`` s and the
    value is how many distinct members it holds; ``member`` is added when
    ``amount`` is positive and removed when it is negative.
    """

    key: str
    window: float
    amount: int = 1
    member: str = ""
    distinct: bool = False


@dataclass(frozen=True, slots=True)
class Admission:
    """What ``admit`` found: a ban, the buckets' verdicts and the counters."""

    banned: str | None
    rates: list[RateResult]
    counts: list[int]

    @property
    def allowed(self) -> bool:
        """Not banned and every bucket allowed (so every bucket was charged)."""
        return self.banned is None and all(r.allowed for r in self.rates)


class Store(abc.ABC):
    """Atomic shared state with expiry."""

    async def open(self) -> None:  # noqa: B027 - the memory store needs nothing
        """Connect and load scripts before traffic; failures are logged."""

    async def admit(
        self,
        bans: Sequence[str],
        checks: Sequence[RateCheck],
        tallies: Sequence[Tally],
        now: float,
    ) -> Admission:
        """Check bans, charge buckets and apply tallies in one call.

        When a subject is banned or any bucket denies, no bucket is charged;
        tallies are applied either way.  ``counts`` follow ``tallies``.
        """
        counts = [await self._tally(t, now) for t in tallies]
        reason = await self.banned(bans, now) if bans else None
        if reason is not None:
            return Admission(reason, [], counts)
        return Admission(None, await self.rate(checks, now), counts)

    async def _tally(self, tally: Tally, now: float) -> int:
        if tally.distinct:
            return await self.distinct(tally.key, tally.member, tally.window, now)
        if tally.amount:
            return await self.hit(tally.key, tally.window, now, tally.amount)
        return await self.count(tally.key, tally.window, now)

    @abc.abstractmethod
    async def rate(self, checks: Sequence[RateCheck], now: float) -> list[RateResult]:
        """Charge every bucket (GCRA) if all allow; if one denies, charge none."""

    @abc.abstractmethod
    async def hit(self, key: str, window: float, now: float, amount: int = 1) -> int:
        """Add ``amount`` to a sliding-window counter; return the window's sum."""

    @abc.abstractmethod
    async def count(self, key: str, window: float, now: float) -> int:
        """The sliding-window counter's sum, without adding."""

    @abc.abstractmethod
    async def first_seen(self, key: str, ttl: float, now: float) -> bool:
        """Mark ``key`` seen for ``ttl`` s; True only for the first caller."""

    @abc.abstractmethod
    async def distinct(self, key: str, member: str, window: float, now: float) -> int:
        """Add ``member`` (unless empty) to a set kept ``window`` s; its size."""

    @abc.abstractmethod
    async def ban(self, subject: str, ttl: float, reason: str, now: float) -> None:
        """Ban ``subject`` (``ip:1.2.3.4``, ``principal:alice``) for ``ttl`` s."""

    @abc.abstractmethod
    async def banned(self, subjects: Sequence[str], now: float) -> str | None:
        """The ban reason of the first banned subject, or None."""

    @abc.abstractmethod
    async def unban(self, subject: str) -> None:
        """Lift a ban."""

    @abc.abstractmethod
    async def get(self, key: str) -> bytes | None:
        """A value stored with ``put``, or None when absent or expired."""

    @abc.abstractmethod
    async def put(self, key: str, value: bytes, ttl: float, now: float) -> None:
        """Store a value for ``ttl`` s."""

    async def close(self) -> None:  # noqa: B027 - most stores hold nothing
        """Release connections."""
