"""The state store interface that guards share.

Everything a guard must share between processes and machines goes through
this interface: rate buckets (GCRA), sliding-window counters, "seen once"
markers (replay caches, nonces), distinct-member counts and bans, each with
an expiry.  Every operation is atomic in each implementation: the memory
store because one event loop runs it, the Redis store by single commands
or Lua scripts.  Times are passed in (``now``, seconds), never read here.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RateCheck:
    """One GCRA bucket to charge: ``limit`` per ``period`` s, ``burst`` extra."""

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


class Store(abc.ABC):
    """Atomic shared state with expiry."""

    @abc.abstractmethod
    async def rate(self, checks: Sequence[RateCheck], now: float) -> list[RateResult]:
        """Charge every bucket (GCRA); a denied bucket is not charged."""

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
        """Add ``member`` to a set kept ``window`` s; return members in it."""

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
