"""The audit log: one event per request, to every sink, never blocking.

How this works: ``record`` runs once per request (from ``engine.finish``)
and is the one channel through which security outcomes leave the engine:
it counts the request in the metrics, then, unless the request is allowed
clean traffic left out by sampling, builds its ECS event (``events``) and
any alert events, encodes each once and offers the bytes to every sink's
channel, an O(1) append.  Each channel's own tasks deliver, retry and
spool (``channel``).

Lifecycle, for the runner: ``AuditLog(settings)`` opens the spools left by
an earlier run; ``await start()`` starts delivery on the running loop, the
spooled events first; ``flush()`` asks for queued events to go out now;
``await aclose()`` delivers what is queued within ``drain_timeout`` and
spools the rest.  Without ``start`` (tools, tests), ``flush`` and
``close`` write the file and stdout sinks directly, and network sinks are
started by the first ``flush`` made on a running loop.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from pathlib import Path

from vaultgate.core.exchange import Exchange
from vaultgate.core.model import Action
from vaultgate.core.policy import Section, register_section
from vaultgate.telemetry.alerts import alert_types
from vaultgate.telemetry.channel import Channel
from vaultgate.telemetry.events import (
    MAX_LOGGED_PATH,
    Timings,
    alert_event,
    clean_event,
    encode,
    refusal_event,
    request_event,
)
from vaultgate.telemetry.metrics import RECORDER
from vaultgate.telemetry.record import ALERT, EVENT, KEPT, Record
from vaultgate.telemetry.settings import (
    AuditSettings,
    SinkSettings,
    parse_audit,
    parse_audit_route,
)
from vaultgate.telemetry.sinks.factory import build_sink

__all__ = ["MAX_LOGGED_PATH", "AuditLog", "AuditSettings", "Timings"]

log = logging.getLogger("vaultgate.audit")

register_section(Section("audit", parse_audit, parse_audit_route))

_ALLOW = Action.ALLOW  # a module constant: enum attribute lookups cost
# The scoring section's default alert threshold, for a route without one.
DEFAULT_ALERT_SCORE = 3
_SAMPLE_SPACE = 2**32  # crc32 values: sampling by the incident id


class AuditLog:
    """Writes one audit event per request to the policy's sinks."""

    def __init__(self, settings: AuditSettings) -> None:
        self.settings = settings
        self.channels: list[Channel] = []
        try:
            for sink in settings.sink_list():
                self.channels.append(self._channel(sink))
        except BaseException:
            self.close()
            raise
        # Above every sequence number left in a spool, so that new events
        # sort after the ones still to deliver.
        self._seq = max((c.last_seq for c in self.channels), default=0)
        self._closed = False
        count, period = settings.detail_rate
        self._detail = _Budget(count, count / period)
        self.detail_skipped = 0

    def _channel(self, sink: SinkSettings) -> Channel:
        root = Path(self.settings.spool_dir) / sink.name
        settings = self.settings
        return Channel(
            build_sink(sink),
            sink.delivery,
            root,
            settings.spool_max,
            settings.spool_fsync,
        )

    # -- the request path ----------------------------------------------------

    def record(self, ex: Exchange, status: int, timings: Timings) -> None:
        """Count a finished exchange and queue its events; O(1) per sink."""
        alerts = alert_types(ex)
        kinds = [a["type"] for a in alerts] if alerts else ()
        RECORDER.observe(ex, status, timings, kinds)
        if not self.channels:
            return
        alerting = bool(alerts) or _alerting(ex)
        rate = 1.0 if alerting or not _clean(ex, status) else _sample_rate(ex)
        if rate < 1.0 and zlib.crc32(ex.incident_id.encode()) >= rate * _SAMPLE_SPACE:
            return
        if rate == 1.0 and not alerting and status < 500:
            try:
                line = clean_event(ex, status, timings)
            except TypeError:  # text JSON cannot carry: the document says it
                line = None
            if line is not None:  # allowed clean traffic: no dict built
                self._emit(EVENT, ex.now, line)
                return
        detail = alerting and self._detail.take(ex.now)
        doc = request_event(ex, status, timings, detail, alerts, rate)
        if alerting and not detail:
            self.detail_skipped += 1
            doc["vaultgate"]["detail_skipped"] = "detail_rate"
        self._emit(KEPT if alerting else EVENT, ex.now, encode(doc))
        for alert in alerts:
            self._emit(ALERT, ex.now, encode(alert_event(ex, alert, doc)))

    def record_refusal(
        self,
        now: float,
        incident_id: str,
        peer_ip: str,
        method: str,
        target: str,
        status: int,
        reason: str,
    ) -> None:
        """Count and queue the event of a message refused before routing."""
        RECORDER.refused(method, status)
        if self.channels:
            doc = refusal_event(
                now, incident_id, peer_ip, method, target, status, reason
            )
            self._emit(KEPT, now, encode(doc))

    def _emit(self, kind: str, ts: float, line: bytes) -> None:
        if self._closed:
            for channel in self.channels:
                channel.stats.drop("closed", kind != EVENT)
            return
        self._seq += 1
        record = Record(self._seq, kind, ts, line)
        for channel in self.channels:
            channel.offer(record)

    # -- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        """Start delivering on the running loop, spooled events first."""
        for channel in self.channels:
            if not channel.started:
                channel.start()

    def flush(self) -> None:
        """Ask every sink to take what is queued now (see the module note)."""
        for channel in self.channels:
            if not channel.started and not channel.sink.local:
                self._start_late(channel)
            channel.flush()

    def _start_late(self, channel: Channel) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop: the events wait in the queue, then the spool
        log.info("audit.sink_started sink=%s by=flush", channel.sink.name)
        channel.start()

    async def aclose(self) -> None:
        """Deliver what is queued within ``drain_timeout``; spool the rest."""
        if self._closed:
            return
        self._closed = True
        for channel in self.channels:
            if not channel.started and not channel.sink.local:
                channel.start()
        timeout = self.settings.drain_timeout
        await asyncio.gather(*(c.aclose(timeout) for c in self.channels))

    def close(self) -> None:
        """Stop without waiting: local sinks written, the rest spooled."""
        self._closed = True
        for channel in self.channels:
            channel.close()


class _Budget:
    """A token bucket: ``burst`` at once, ``rate`` a second after that."""

    __slots__ = ("burst", "rate", "tokens", "last")

    def __init__(self, burst: int, rate: float) -> None:
        self.burst, self.rate = burst, rate
        self.tokens, self.last = float(burst), 0.0

    def take(self, now: float) -> bool:
        elapsed = max(0.0, now - self.last)
        self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
        self.last = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


def _alerting(ex: Exchange) -> bool:
    """A decision other than allow, or a score at the alert threshold."""
    decision = ex.decision
    if decision is not None and decision.action is not _ALLOW:
        return True
    if ex.score <= 0:
        return False  # most requests: no route settings to look up
    scoring = ex.route.settings.get("scoring")
    threshold = getattr(scoring, "alert_score", DEFAULT_ALERT_SCORE)
    return ex.score >= threshold


def _clean(ex: Exchange, status: int) -> bool:
    """Allowed traffic with nothing to note: what sampling may leave out."""
    return not ex.findings and not ex.inspection_incomplete and status < 500


def _sample_rate(ex: Exchange) -> float:
    settings = ex.route.settings.get("audit")
    return settings.sample if isinstance(settings, AuditSettings) else 1.0
