"""Timeouts without a timer per request: one sweep over deadlines.

Every connection, client or upstream, keeps a ``deadline`` (loop time, 0
for none) that the hot path moves with one assignment; the watchdog wakes
every ``interval`` seconds and expires what is overdue.  A timeout may so
fire up to one interval late, which the interval is chosen to make small
against the shortest timeout.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

log = logging.getLogger("vaultgate.proxy")

# The sweep never runs more often than this: 20 wakeups a second cost
# nothing, and a timeout is never meant to be precise below 50 ms.
MIN_INTERVAL = 0.05
# Nor less often than this, so that a long timeout still fires on time.
MAX_INTERVAL = 1.0


class Expiring(Protocol):
    deadline: float

    def expire(self) -> None: ...


def interval_for(*timeouts: float) -> float:
    """A sweep interval a quarter of the shortest timeout, within bounds."""
    shortest = min((t for t in timeouts if t > 0), default=MAX_INTERVAL)
    return max(MIN_INTERVAL, min(MAX_INTERVAL, shortest / 4))


class Watchdog:
    """Expires whatever passed its deadline, every ``interval`` seconds."""

    def __init__(self, loop: asyncio.AbstractEventLoop, interval: float) -> None:
        self.loop = loop
        self.interval = interval
        self._items: set[Expiring] = set()
        self._handle: asyncio.TimerHandle | None = None

    def add(self, item: Expiring) -> None:
        self._items.add(item)

    def discard(self, item: Expiring) -> None:
        self._items.discard(item)

    def start(self) -> None:
        if self._handle is None:
            self._handle = self.loop.call_later(self.interval, self._sweep)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _sweep(self) -> None:
        now = self.loop.time()
        overdue = [i for i in self._items if 0.0 < i.deadline <= now]
        for item in overdue:
            item.deadline = 0.0
            try:
                item.expire()
            except Exception:
                log.exception("watchdog.expire_failed item=%s", type(item).__name__)
        self._handle = self.loop.call_later(self.interval, self._sweep)
