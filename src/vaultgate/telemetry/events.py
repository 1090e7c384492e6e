"""Audit events in Elastic Common Schema: metadata always, detail on alerts.

How this works: every request gets one event of metadata (who, what
route, what was decided, how long it took).  When a request alerts (it was
stopped or flagged, scored over the alert threshold, or a guard raised an
alert) its event also carries the detail an analyst needs, every string
masked (``core.masking.redact``) and cut to a named length: the findings
with their snippets, the request headers with credentials replaced by
``[redacted]``, and the query arguments likewise.  Each alert also gets a
separate, smaller event of ``event.kind: alert`` that a SIEM rule can key
on; ``vaultgate.incident_id`` links it to the request's event.
"""

from __future__ import annotations

import re
import socket
import time
from dataclasses import dataclass
from typing import Any

from vaultgate import __version__
from vaultgate.core.exchange import Exchange
from vaultgate.core.masking import redact
from vaultgate.core.model import Action, Decision
from vaultgate.telemetry.alerts import ALERT_TAG, Alert

ECS_VERSION = "8.11.0"
REFUSED_ROUTE = "(refused)"  # the route of a message that was no request
REDACTED = "[redacted]"
# A path longer than this is cut in audit events: long enough to see the
# attack's shape, short enough that a 8 KiB probe does not bloat the log.
MAX_LOGGED_PATH = 512
# Detail bounds: enough to investigate, bounded so that a request built to
# bloat the log (thousands of headers or arguments) cannot.
MAX_HEADERS = 40
MAX_ARGS = 40
MAX_FINDINGS = 20
MAX_VALUE = 256  # one header value, argument, tag or snippet
MAX_NAME = 64  # one header or argument name
MAX_LIST = 20  # items of a list-valued tag

# Names whose values are credentials: headers, query arguments, tags.
# Over-matching ("footprint" has "otp") only hides a harmless value.
_SENSITIVE = re.compile(
    r"auth|cookie|token|secret|pass|pwd|session|signature|credential|private"
    r"|bearer|jwt|dpop|otp|cvv|cvc|(^|[-_.])(api)?[-_]?key($|[-_.])"
    r"|(^|[-_.])pin($|[-_.])",
    re.IGNORECASE,
)
_WEB = ("web",)
_INTRUSION = ("intrusion_detection",)
_ECS = {"version": ECS_VERSION}
_OBSERVER = {
    "vendor": "vaultgate",
    "product": "vaultgate",
    "type": "waf",
    "version": __version__,
    "hostname": socket.gethostname(),
}
# Elastic's detection-rule scale: 21 low, 47 medium, 73 high, 99 critical.
SEVERITY = {
    "trap_hit": 73,
    "replay": 73,
    "bola": 73,
    "credential_stuffing": 73,
    "exfiltration": 99,
}
_DEFAULT_SEVERITY = 47


@dataclass(slots=True)
class Timings:
    """Where the time went, in microseconds, and the bytes moved."""

    inspection_us: int = 0
    upstream_us: int = 0
    total_us: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    # Why the upstream failed ("connect", "timeout", "reset" ...), if it did.
    upstream_error: str = ""


def sensitive(name: str) -> bool:
    """Whether a header, argument or field name suggests a credential."""
    return _SENSITIVE.search(name) is not None


def request_event(
    ex: Exchange,
    status: int,
    timings: Timings,
    detail: bool,
    alerts: list[Alert],
    sample: float,
) -> dict[str, Any]:
    """The ECS document of one request's audit event."""
    decision = ex.decision
    action = decision.action if decision else Action.ALLOW
    doc = _metadata(ex, status, timings, action)
    _add_rules(doc, ex, decision)
    _add_context(doc, ex, alerts, sample)
    if detail:
        doc["vaultgate"]["detail"] = _detail(ex)
        agent = ex.request.header("user-agent")
        if agent:
            doc["user_agent"] = {"original": _text(agent)}
    return doc


def _metadata(
    ex: Exchange, status: int, timings: Timings, action: Action
) -> dict[str, Any]:
    request = ex.request
    enforced = action.stops and ex.route.mode.value == "block"
    return {
        "@timestamp": iso_time(ex.now),
        "ecs": _ECS,
        "event": {
            "id": ex.incident_id,
            "kind": "event",
            "category": _WEB,
            "type": ("access", "denied" if enforced else "allowed"),
            "action": action.value,
            "outcome": "failure" if status >= 400 else "success",
            "duration": timings.total_us * 1000,
            "dataset": "vaultgate.access",
        },
        "observer": _OBSERVER,
        "source": {"ip": request.peer_ip or request.client_ip},
        "client": {"ip": request.client_ip},
        "http": {
            "request": {"method": request.method, "bytes": timings.bytes_in},
            "response": {"status_code": status, "bytes": timings.bytes_out},
            "version": request.version,
        },
        "url": {"path": redact(ex.normalized_path[:MAX_LOGGED_PATH])},
        "vaultgate": {
            "incident_id": ex.incident_id,
            "route": ex.route.path,
            "mode": ex.route.mode.value,
            "decision": action.value,
            "enforced": enforced,
            "score": ex.score,
            "timings": {
                "inspection_us": timings.inspection_us,
                "upstream_us": timings.upstream_us,
            },
        },
    }


def _add_rules(doc: dict[str, Any], ex: Exchange, decision: Decision | None) -> None:
    if decision is not None and decision.reasons:
        doc["event"]["reason"] = ",".join(decision.reasons)
        doc["rule"] = {"name": list(decision.reasons)}
    elif ex.findings:
        doc["rule"] = {"name": list(dict.fromkeys(f.rule_id for f in ex.findings))}
    if ex.score:
        doc["event"]["risk_score"] = ex.score


def _add_context(
    doc: dict[str, Any], ex: Exchange, alerts: list[Alert], sample: float
) -> None:
    extra = doc["vaultgate"]
    if ex.principal is not None:
        doc["user"] = {"id": redact(ex.principal.id[:MAX_VALUE])}
    if ex.request.tls is not None:
        tls = ex.request.tls
        doc["tls"] = {"version": tls.version, "client": {"server_name": tls.sni}}
        if tls.ja4:
            extra["fingerprint"] = {"ja4": tls.ja4}
    if ex.inspection_incomplete:
        extra["inspection_incomplete"] = ex.inspection_incomplete
    if alerts:
        extra["alerts"] = [a["type"] for a in alerts]
    if sample < 1.0:
        extra["sample_rate"] = sample
    tags = {k: _safe(v) for k, v in ex.tags.items() if k != ALERT_TAG}
    if tags:
        extra["tags"] = tags


def _detail(ex: Exchange) -> dict[str, Any]:
    """What an analyst needs to investigate, every string masked."""
    return {
        "findings": [
            {
                "family": f.family,
                "rule": f.rule_id,
                "score": f.score,
                "location": _text(f.location),
                "snippet": _text(f.snippet),
            }
            for f in ex.findings[:MAX_FINDINGS]
        ],
        "headers": _headers(ex.request.headers),
        "query": [
            [_text(name, MAX_NAME), REDACTED if sensitive(name) else _text(value)]
            for name, value in ex.request.args[:MAX_ARGS]
        ],
    }


def _headers(headers: list[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers[:MAX_HEADERS]:
        key = _text(name.lower(), MAX_NAME)
        shown = REDACTED if sensitive(name) else _text(value)
        out[key] = f"{out[key]}, {shown}" if key in out else shown
    return out


def alert_event(ex: Exchange, alert: Alert, request: dict[str, Any]) -> dict[str, Any]:
    """The ECS document of one alert, sharing the request event's context."""
    alert_type = alert["type"]
    extra = request["vaultgate"]
    fields = {k: _safe(v) for k, v in list(alert.items())[:MAX_LIST] if k != "type"}
    doc_id = f"{ex.incident_id}-{alert_type}"
    doc = {
        "@timestamp": request["@timestamp"],
        "ecs": _ECS,
        "event": {
            "id": doc_id,
            "kind": "alert",
            "category": _INTRUSION,
            "type": ("denied",) if extra["enforced"] else ("info",),
            "action": alert_type,
            "dataset": "vaultgate.alert",
            "severity": SEVERITY.get(alert_type, _DEFAULT_SEVERITY),
        },
        "observer": _OBSERVER,
        "source": request["source"],
        "client": request["client"],
        "http": {"request": {"method": ex.request.method}},
        "url": request["url"],
        "vaultgate": {
            "incident_id": ex.incident_id,
            "route": extra["route"],
            "mode": extra["mode"],
            "decision": extra["decision"],
            "enforced": extra["enforced"],
            "score": extra["score"],
            "alert": {**fields, "type": alert_type, "id": doc_id},
        },
    }
    for key in ("user", "rule"):
        if key in request:
            doc[key] = request[key]
    if "reason" in request["event"]:
        doc["event"]["reason"] = request["event"]["reason"]
    return doc


def _text(value: str, limit: int = MAX_VALUE) -> str:
    return redact(value[:limit])


def _safe(value: Any) -> Any:
    """A tag or alert field as it may be logged: masked, cut, JSON-friendly."""
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, list | tuple | set | frozenset):
        return [_safe(v) for v in list(value)[:MAX_LIST]]
    return _text(str(value))


_clock_second = -1
_clock_text = ""


def iso_time(ts: float) -> str:
    """RFC 3339 UTC with milliseconds; the second's text is cached."""
    global _clock_second, _clock_text
    second = int(ts)
    if second != _clock_second:
        _clock_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _clock_second = second
    return f"{_clock_text}.{int((ts - second) * 1000):03d}Z"


def refusal_event(
    now: float,
    incident_id: str,
    peer_ip: str,
    method: str,
    target: str,
    status: int,
    reason: str,
) -> dict[str, Any]:
    """The event of a message refused before it was a request (bad framing)."""
    return {
        "@timestamp": iso_time(now),
        "ecs": _ECS,
        "event": {
            "id": incident_id,
            "kind": "event",
            "category": _WEB,
            "type": ("access", "denied"),
            "action": "block",
            "outcome": "failure",
            "reason": reason,
            "dataset": "vaultgate.access",
        },
        "observer": _OBSERVER,
        "source": {"ip": peer_ip},
        "client": {"ip": peer_ip},
        "http": {
            "request": {"method": _text(method, MAX_NAME)},
            "response": {"status_code": status},
        },
        "url": {"original": _text(target, MAX_LOGGED_PATH)},
        "rule": {"name": [reason]},
        "vaultgate": {
            "incident_id": incident_id,
            "route": REFUSED_ROUTE,
            "decision": "block",
            "enforced": True,
        },
    }
