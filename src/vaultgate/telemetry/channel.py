"""One sink's path: a bounded queue, a disk spool and two tasks.

How this works: ``offer`` appends an encoded event to the sink's queue in
O(1) on the request path, and never waits.  The *deliverer* task sends
batches, the spooled ones first, so the sink sees events in the order they
were queued.  The *spiller* task moves the oldest queued events to the
spool whenever the sink is failing or the queue passes half its size, so
memory stays bounded while a sink is down or slow.  The order holds
because of one invariant: a batch in flight is older than anything in the
spool, which is older than anything in the queue.  A batch that fails
goes back to the head of the spool and is retried with exponential
backoff and jitter.

When the queue is full, allowed traffic is refused (counted) and alerts
may use a reserve of a tenth of the queue beyond it.  Closing delivers
what is queued while the sink works, within a deadline, and spools the
rest; the next process delivers the spool before anything new.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from vaultgate.telemetry import spool as spools
from vaultgate.telemetry.record import EVENT, Record
from vaultgate.telemetry.settings import Delivery
from vaultgate.telemetry.sinks.base import Sink, SinkError

log = logging.getLogger("vaultgate.audit")

# Events moved to the spool per disk write: about a megabyte, one fsync.
SPILL_BATCH = 1000


def backoff(attempt: int, low: float, high: float) -> float:
    """Seconds before retry ``attempt`` (0-based): doubling, equal jitter.

    Half the delay is random so that many vaultgate processes whose SIEM
    came back at once do not retry in lock step.
    """
    ceiling = min(high, low * 2 ** min(attempt, 32))
    return random.uniform(ceiling / 2, ceiling)


@dataclass(slots=True)
class ChannelStats:
    """Counters the metrics endpoint reads."""

    delivered: int = 0
    retries: int = 0
    # (reason, class) -> events lost: queue_full, spool_full, rejected,
    # spool_error; class is "allowed" or "alert".
    dropped: dict[tuple[str, str], int] = field(default_factory=dict)

    def drop(self, reason: str, alert: bool, count: int = 1) -> None:
        if count <= 0:
            return
        key = (reason, "alert" if alert else "allowed")
        self.dropped[key] = self.dropped.get(key, 0) + count


class Channel:
    """A sink with its queue, spool and delivery tasks."""

    def __init__(
        self, sink: Sink, delivery: Delivery, root: Path, max_bytes: int, fsync: bool
    ) -> None:
        self.sink = sink
        self.stats = ChannelStats()
        self._delivery = delivery
        self._root, self._max_bytes, self._fsync = root, max_bytes, fsync
        self._queue: deque[Record] = deque()
        self._capacity = delivery.queue_size
        self._reserve = max(1, delivery.queue_size // 10)
        self._high_water = max(1, delivery.queue_size // 2)
        self._ready = asyncio.Event()  # something is queued
        self._full = asyncio.Event()  # a whole batch is queued
        self._spill = asyncio.Event()  # the spiller has work
        self._stop = asyncio.Event()  # closing: cut sleeps short
        self._lock = asyncio.Lock()  # choosing a batch vs spilling
        self._healthy = True
        self._closing = False
        self._attempt = 0
        self._inflight: list[Record] = []  # a queued batch being sent
        self._tasks: list[asyncio.Task[None]] = []
        self._spools = spools.adopt(root, max_bytes, fsync)
        self._own = self._spools[0] if self._spools else None
        self._reported = (0, 0)  # spool drops already counted

    # -- the request path -------------------------------------------------------

    def offer(self, record: Record) -> None:
        """Queue ``record`` for delivery, or count it dropped; never blocks."""
        queue = self._queue
        size = len(queue)
        if size >= self._capacity and (
            record.kind == EVENT or size >= self._capacity + self._reserve
        ):
            self.stats.drop("queue_full", record.kind != EVENT)
            return
        queue.append(record)
        size += 1
        self._ready.set()
        if size >= self._delivery.batch_events:
            self._full.set()
        if size >= self._high_water or not self._healthy:
            self._spill.set()

    def flush(self) -> None:
        """Send what is queued now (unstarted, a local sink writes it here)."""
        if not self._queue:
            return
        if self._tasks:
            self._full.set()
        elif self.sink.local and self._pending_spool() is None:
            batch = list(self._queue)
            if self.sink.write_now(batch):
                self._queue.clear()
                self.stats.delivered += len(batch)

    @property
    def started(self) -> bool:
        return bool(self._tasks)

    # -- state for metrics -------------------------------------------------------

    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def spooled(self) -> int:
        return sum(s.pending for s in self._spools)

    @property
    def spool_bytes(self) -> int:
        return sum(s.size for s in self._spools)

    @property
    def healthy(self) -> bool:
        return self._healthy

    @property
    def last_seq(self) -> int:
        """The highest sequence number in this sink's spools."""
        return max([0, *(s.last_seq for s in self._spools)])

    # -- tasks -----------------------------------------------------------------

    def start(self) -> None:
        """Start the deliverer and the spiller on the running loop."""
        name = self.sink.name
        self._tasks = [
            asyncio.create_task(self._deliver_loop(), name=f"audit-deliver-{name}"),
            asyncio.create_task(self._spill_loop(), name=f"audit-spill-{name}"),
        ]

    async def _deliver_loop(self) -> None:
        while True:
            batch, spool = await self._next_batch()
            if not batch:
                return
            await self._send(batch, spool)

    async def _next_batch(self) -> tuple[list[Record], spools.Spool | None]:
        """The next batch in order: spooled events first, then queued ones."""
        while True:
            if not self._closing:
                if not self._queue and self._pending_spool() is None:
                    self._ready.clear()
                    await self._ready.wait()
                    continue
                if self._pending_spool() is None:
                    await self._linger()
            async with self._lock:
                if self._closing:
                    return self._closing_batch(), None
                spool = self._pending_spool()
                if spool is not None:
                    limits = (self._delivery.batch_events, self._delivery.batch_bytes)
                    records = await asyncio.to_thread(spool.read, *limits)
                    if records:
                        return records, spool
                if self._queue:
                    return self._take(self._delivery.batch_events), None

    def _closing_batch(self) -> list[Record]:
        """While closing, send queued events only if nothing is spooled."""
        if not self._healthy or self._pending_spool() is not None:
            return []
        return self._take(self._delivery.batch_events)

    async def _linger(self) -> None:
        """Wait up to the flush interval for a whole batch."""
        if len(self._queue) >= self._delivery.batch_events:
            return
        self._full.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._full.wait(), self._delivery.flush_interval)

    def _take(self, limit: int) -> list[Record]:
        """Pop up to ``limit`` events (and the byte limit) from the queue."""
        queue, batch, size = self._queue, list[Record](), 0
        while queue and len(batch) < limit and size < self._delivery.batch_bytes:
            record = queue.popleft()
            batch.append(record)
            size += len(record.line)
        return batch

    def _pending_spool(self) -> spools.Spool | None:
        """The first spool with undelivered events; drained adoptees let go."""
        for spool in list(self._spools):
            if spool.pending:
                return spool
            if spool is not self._own:
                spool.close()
                self._spools.remove(spool)
        return None

    # -- sending -----------------------------------------------------------------

    async def _send(self, batch: list[Record], spool: spools.Spool | None) -> None:
        # Until it is delivered or spooled, a queued batch is "in flight":
        # closing spools it if this task is cancelled mid-send.
        if spool is None:
            self._inflight = batch
        try:
            await self.sink.deliver(batch)
        except SinkError as exc:
            await self._failed(batch, spool, exc)
        except Exception as exc:  # a sink bug must not stop delivery for good
            log.exception("audit.sink_error sink=%s", self.sink.name)
            await self._failed(batch, spool, SinkError(self.sink.name, repr(exc)))
        else:
            self._inflight = []
            await self._delivered(batch, spool)

    async def _delivered(self, batch: list[Record], spool: spools.Spool | None) -> None:
        if spool is not None:
            await asyncio.to_thread(spool.commit, batch)
            self._count_spool_drops()
        self.stats.delivered += len(batch)
        self._attempt = 0
        if not self._healthy:
            self._healthy = True
            log.info("audit.sink_up sink=%s spooled=%d", self.sink.name, self.spooled)

    async def _failed(
        self, batch: list[Record], spool: spools.Spool | None, exc: SinkError
    ) -> None:
        if not exc.retryable:
            await self._rejected(batch, spool, exc)
            return
        if self._healthy:
            self._healthy = False
            log.warning("audit.sink_down sink=%s reason=%s", self.sink.name, exc.reason)
        self._spill.set()
        if spool is None:
            async with self._lock:
                own = self._own_spool()
                self._inflight = []
                # Shielded: once started, the write finishes even if closing
                # cancels this task, and the batch is then on disk.
                await asyncio.shield(asyncio.to_thread(own.insert_head, batch))
        self.stats.retries += 1
        delay = backoff(
            self._attempt, self._delivery.retry_min, self._delivery.retry_max
        )
        self._attempt += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), delay)

    async def _rejected(
        self, batch: list[Record], spool: spools.Spool | None, exc: SinkError
    ) -> None:
        """The sink refused the batch for good: count it and move on."""
        self._inflight = []
        alerts = sum(1 for r in batch if r.kind != EVENT)
        self.stats.drop("rejected", True, alerts)
        self.stats.drop("rejected", False, len(batch) - alerts)
        log.error(
            "audit.batch_rejected sink=%s events=%d reason=%s",
            self.sink.name,
            len(batch),
            exc.reason,
        )
        if spool is not None:
            await asyncio.to_thread(spool.commit, batch)

    # -- spilling -----------------------------------------------------------------

    async def _spill_loop(self) -> None:
        while not self._closing:
            await self._spill.wait()
            self._spill.clear()
            while self._queue and (
                not self._healthy or len(self._queue) >= self._high_water
            ):
                await self._spill_some()

    async def _spill_some(self) -> None:
        async with self._lock:
            batch = self._take(SPILL_BATCH)
            try:
                own = self._own_spool()
                await asyncio.to_thread(own.append, batch)
            except OSError as exc:
                self._spool_failed(batch, exc)
                await asyncio.sleep(self._delivery.retry_min)
        self._count_spool_drops()

    def _own_spool(self) -> spools.Spool:
        """This process's spool slot, created on first use."""
        if self._own is None:
            self._own = spools.create(self._root, self._max_bytes, self._fsync)
            self._spools.append(self._own)
        return self._own

    def _spool_failed(self, batch: list[Record], exc: OSError) -> None:
        alerts = sum(1 for r in batch if r.kind != EVENT)
        self.stats.drop("spool_error", True, alerts)
        self.stats.drop("spool_error", False, len(batch) - alerts)
        log.error(
            "audit.spool_failed sink=%s events=%d error=%s",
            self.sink.name,
            len(batch),
            exc.strerror or exc,
        )

    def _count_spool_drops(self) -> None:
        events = sum(s.dropped_events for s in self._spools)
        alerts = sum(s.dropped_alerts for s in self._spools)
        self.stats.drop("spool_full", False, events - self._reported[0])
        self.stats.drop("spool_full", True, alerts - self._reported[1])
        self._reported = (events, alerts)

    # -- closing ---------------------------------------------------------------------

    async def aclose(self, drain: float) -> None:
        """Deliver what is queued within ``drain`` s, spool the rest, stop."""
        if self._closing:
            return
        self._closing = True
        for event in (self._ready, self._full, self._spill, self._stop):
            event.set()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=drain)
        else:
            self.flush()  # never started: a local sink takes it now
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.to_thread(self._persist)
        await self.sink.aclose()

    def close(self) -> None:
        """Stop without an event loop: write or spool what is left."""
        if self._closing:
            return
        self._closing = True
        for task in self._tasks:
            task.cancel()
        if not self._tasks:
            self.flush()  # nothing in flight: a local sink takes it now
        self._persist()
        self.sink.close()

    def _persist(self) -> None:
        """Spool the batch in flight and the queue, then release the spools."""
        try:
            if self._inflight:
                self._own_spool().insert_head(self._inflight)
            if self._queue:
                self._own_spool().append(list(self._queue))
        except OSError as exc:
            self._spool_failed([*self._inflight, *self._queue], exc)
        self._inflight, self._queue = [], deque()
        self._count_spool_drops()
        for spool in self._spools:
            spool.close()
