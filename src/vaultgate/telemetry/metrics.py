"""Prometheus metrics: plain counters on the hot path, turned into text on scrape.

How this works: the request path only adds to dicts keyed by label
values (one dict update per counter, a ``bisect`` per histogram), which
costs a fraction of prometheus-client's metric objects with their locks;
``Collector`` turns the dicts into metric families when Prometheus
scrapes the admin port.  Everything runs on one worker's event loop, so
nothing here is locked; each worker serves its own numbers on its own
admin port (see docs/metrics.md).

Other subsystems report through functions here: ``observe_state`` for a
state-store call's latency.  State-store errors are read from
``state.health``, request figures from the audit channel (``observe``).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from vaultgate.core.exchange import Exchange

if TYPE_CHECKING:
    from vaultgate.telemetry.audit import AuditLog
    from vaultgate.telemetry.events import Timings

# Seconds.  Inspection is meant to take tens of microseconds; an upstream
# answers in milliseconds to seconds; a state-store call in well under one.
INSPECTION_BUCKETS = (5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.1)
UPSTREAM_BUCKETS = (
    1e-3,
    2.5e-3,
    5e-3,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
)
STATE_BUCKETS = (1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.05, 0.1)
# Label values are bounded: a method outside this set is "OTHER", and past
# these many series in one table the rest count as "other".  Routes, rules
# and reasons come from the policy and the code, so the caps are a safety
# net that keeps a scrape small whatever happens.
METHODS = frozenset(
    ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT")
)
MAX_SERIES = 4096
MAX_HISTOGRAMS = 512
# The status label of every status code, made once rather than per request.
_STATUS_TEXT = {code: str(code) for code in range(100, 600)}


class Histogram:
    """Bucket counts and a sum, as Prometheus exports them."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last is +Inf
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value

    def buckets(self) -> list[tuple[str, float]]:
        """Cumulative ``(le, count)`` pairs, +Inf last."""
        out: list[tuple[str, float]] = []
        running = 0
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += count
            out.append(("+Inf" if bound == float("inf") else repr(bound), running))
        return out


class Recorder:
    """The counters of one process."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, str, str], int] = {}
        self.findings: dict[tuple[str, str], int] = {}
        self.alerts: dict[str, int] = {}
        self.rate_limited: dict[str, int] = {}
        self.upstream_errors: dict[tuple[str, str], int] = {}
        self.inspection: dict[str, Histogram] = {}
        self.upstream: dict[str, Histogram] = {}
        self.state: dict[str, Histogram] = {}

    def observe(
        self, ex: Exchange, status: int, timings: Timings, alerts: Iterable[str]
    ) -> None:
        """Count one finished request."""
        route = ex.route.path
        decision = ex.decision.action._value_ if ex.decision is not None else "allow"
        method = ex.request.method
        status_text = _STATUS_TEXT.get(status) or str(status)
        key = (route, method if method in METHODS else "OTHER", status_text, decision)
        requests = self.requests
        requests[key] = requests.get(key, 0) + 1
        inspection = self.inspection.get(route)
        if inspection is None:
            inspection = _histogram(self.inspection, route, INSPECTION_BUCKETS)
        inspection.observe(timings.inspection_us / 1e6)
        if timings.upstream_us:
            upstream = self.upstream.get(route)
            if upstream is None:
                upstream = _histogram(self.upstream, route, UPSTREAM_BUCKETS)
            upstream.observe(timings.upstream_us / 1e6)
        if ex.findings or ex.tags:
            self._rare(ex, route, decision)
        for alert in alerts:
            _add(self.alerts, alert)

    def _rare(self, ex: Exchange, route: str, decision: str) -> None:
        """What only some requests have: findings, throttles, upstream errors."""
        for finding in ex.findings:
            _add(self.findings, (finding.family, finding.rule_id))
        if decision == "throttle":
            _add(self.rate_limited, route)
        error = ex.tags.get("upstream_error")
        if error:
            _add(self.upstream_errors, (route, str(error)[:40]))

    def refused(self, method: str, status: int) -> None:
        """Count a message refused before it became a request."""
        method = method if method in METHODS else "OTHER"
        _add(self.requests, ("(refused)", method, str(status), "block"))

    def observe_state(self, operation: str, seconds: float) -> None:
        _histogram(self.state, operation, STATE_BUCKETS).observe(seconds)


def _add(counts: dict[Any, int], key: Any) -> None:
    if key not in counts and len(counts) >= MAX_SERIES:
        key = tuple("other" for _ in key) if isinstance(key, tuple) else "other"
    counts[key] = counts.get(key, 0) + 1


def _histogram(
    table: dict[str, Histogram], key: str, bounds: tuple[float, ...]
) -> Histogram:
    found = table.get(key)
    if found is None:
        if len(table) >= MAX_HISTOGRAMS:
            key = "other"
        found = table.setdefault(key, Histogram(bounds))
    return found


RECORDER = Recorder()


def observe_state(operation: str, seconds: float) -> None:
    """Record how long one state-store call took (the state store calls it)."""
    RECORDER.observe_state(operation, seconds)


class VaultgateCollector(Collector):
    """Turns the recorder and the audit channels into metric families."""

    def __init__(
        self, recorder: Recorder, audit: Callable[[], AuditLog | None]
    ) -> None:
        self._recorder = recorder
        self._audit = audit

    def collect(self) -> Iterator[Metric]:
        yield from _request_families(self._recorder)
        yield from _state_families(self._recorder)
        audit = self._audit()
        if audit is not None:
            yield from _audit_families(audit)


def _counter(
    name: str, doc: str, labels: list[str], values: dict[Any, int]
) -> CounterMetricFamily:
    family = CounterMetricFamily(name, doc, labels=labels)
    for key, count in values.items():
        family.add_metric(list(key) if isinstance(key, tuple) else [key], count)
    return family


def _histograms(
    name: str, doc: str, label: str, table: dict[str, Histogram]
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, doc, labels=[label])
    for key, histogram in table.items():
        family.add_metric([key], histogram.buckets(), histogram.total)
    return family


def _request_families(r: Recorder) -> Iterator[Metric]:
    yield _counter(
        "vaultgate_requests",
        "Requests by route, method, status and decision.",
        ["route", "method", "status", "decision"],
        r.requests,
    )
    yield _counter(
        "vaultgate_findings",
        "Findings by family and rule.",
        ["family", "rule"],
        r.findings,
    )
    yield _counter("vaultgate_alerts", "Security alerts by type.", ["type"], r.alerts)
    bans = CounterMetricFamily("vaultgate_bans", "Bans put in place.")
    bans.add_metric([], r.alerts.get("ban", 0))
    yield bans
    yield _counter(
        "vaultgate_rate_limited",
        "Requests throttled by a rate limit.",
        ["route"],
        r.rate_limited,
    )
    yield _counter(
        "vaultgate_upstream_errors",
        "Upstream failures by route and reason.",
        ["route", "reason"],
        r.upstream_errors,
    )
    yield _histograms(
        "vaultgate_inspection_seconds", "Time spent inspecting.", "route", r.inspection
    )
    yield _histograms(
        "vaultgate_upstream_seconds", "Upstream response time.", "route", r.upstream
    )


def _state_families(r: Recorder) -> Iterator[Metric]:
    from vaultgate.state import health  # the state package owns the counts

    yield _counter(
        "vaultgate_state_errors",
        "Failed state-store calls by operation and kind.",
        ["operation", "kind"],
        health.errors(),
    )
    yield _histograms(
        "vaultgate_state_seconds", "State-store call latency.", "operation", r.state
    )


def _audit_families(audit: AuditLog) -> Iterator[Metric]:
    gauges = {
        "vaultgate_audit_queue_events": ("Events queued in memory.", "queued"),
        "vaultgate_audit_spool_events": ("Events in the disk spool.", "spooled"),
        "vaultgate_audit_spool_bytes": ("Bytes of the disk spool.", "spool_bytes"),
        "vaultgate_audit_sink_up": ("1 when the last delivery worked.", "healthy"),
    }
    skipped = CounterMetricFamily(
        "vaultgate_audit_detail_skipped",
        "Alerting requests recorded without detail (over audit.detail_rate).",
    )
    skipped.add_metric([], audit.detail_skipped)
    yield skipped
    for name, (doc, attribute) in gauges.items():
        family = GaugeMetricFamily(name, doc, labels=["sink"])
        for channel in audit.channels:
            family.add_metric([channel.sink.name], float(getattr(channel, attribute)))
        yield family
    yield from _audit_counters(audit)


def _audit_counters(audit: AuditLog) -> Iterator[Metric]:
    delivered = CounterMetricFamily(
        "vaultgate_audit_delivered", "Events a sink accepted.", labels=["sink"]
    )
    retries = CounterMetricFamily(
        "vaultgate_audit_retries", "Failed delivery attempts.", labels=["sink"]
    )
    dropped = CounterMetricFamily(
        "vaultgate_audit_dropped",
        "Events lost, by reason and class (allowed or alert).",
        labels=["sink", "reason", "class"],
    )
    for channel in audit.channels:
        name = channel.sink.name
        delivered.add_metric([name], channel.stats.delivered)
        retries.add_metric([name], channel.stats.retries)
        for (reason, kind), count in channel.stats.dropped.items():
            dropped.add_metric([name, reason, kind], count)
    yield from (delivered, retries, dropped)
