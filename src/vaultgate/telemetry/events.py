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
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from vaultgate import __version__
from vaultgate.core.exchange import Exchange
from vaultgate.core.masking import Masker
from vaultgate.core.model import Action, Decision, Finding
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
_ALLOWED = ("access", "allowed")
_DENIED = ("access", "denied")
_STOPPING = frozenset(action.value for action in Action if action.stops)
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


def sensitive(name: str) -> bool:
    """Whether a header, argument or field name suggests a credential."""
    known = _SENSITIVE_NAMES.get(name)
    if known is None:
        known = _SENSITIVE.search(name) is not None
        if len(_SENSITIVE_NAMES) >= MAX_NAMES_KNOWN:
            _SENSITIVE_NAMES.clear()
        _SENSITIVE_NAMES[name] = known
    return known


# Names repeat (the same headers on every request): remember the verdict.
_SENSITIVE_NAMES: dict[str, bool] = {}
MAX_NAMES_KNOWN = 4096


_SLOT = object()  # where a masked string goes back, in collection order


def _collect(value: Any, texts: list[str]) -> Any:
    """``value`` with each string moved to ``texts`` and left as a slot."""
    if isinstance(value, str):
        texts.append(value[:MAX_VALUE])
        return _SLOT
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return [_collect(v, texts) for v in list(value)[:MAX_LIST]]
    texts.append(str(value)[:MAX_VALUE])
    return _SLOT


def _fill(template: Any, masked: Iterator[str]) -> Any:
    """``template`` with its slots filled from ``masked``, in order."""
    if template is _SLOT:
        return next(masked)
    if isinstance(template, list):
        return [_fill(item, masked) for item in template]
    return template


_MASKER: Masker | None = None
# Paths the masker found nothing in, so that the next request for the same
# path skips the scan.  Only clean paths are kept (no card number lingers
# here); 10,000 of a few dozen bytes, emptied when full.
_CLEAN_PATHS: set[str] = set()
MAX_CLEAN_PATHS = 10_000


def _mask_all(texts: list[str]) -> list[str]:
    """Every text masked (``core.masking``) in one scan; never raises.

    Scanning once per event, not once per string, keeps an alert's detail
    (dozens of headers, arguments and snippets) about as cheap as a path.
    """
    global _MASKER
    try:
        if _MASKER is None:
            _MASKER = Masker()  # every kind, as ``redact``: compiled once
        if len(texts) == 1:  # the common case, a path: no joining needed
            return [_MASKER.mask(texts[0])]
        changed = _MASKER.mask_many(texts)
    except Exception:  # an audit event must never fail a request
        return ["[redacted:unmaskable]"] * len(texts)
    return [changed.get(i, text) for i, text in enumerate(texts)]


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
    action = decision.action if decision is not None else Action.ALLOW
    # Every string that leaves is masked, all in one scan: collect them in
    # order, mask, and take them back in the same order.
    texts: list[str] = []
    path = ex.normalized_path[:MAX_LOGGED_PATH]
    check_path = path not in _CLEAN_PATHS
    if check_path:
        texts.append(path)
    principal = ex.principal
    if principal is not None:
        texts.append(principal.id[:MAX_VALUE])
    tags = {k: _collect(v, texts) for k, v in ex.tags.items() if k != ALERT_TAG}
    parts = _collect_detail(ex, texts) if detail else None
    masked = iter(_mask_all(texts) if texts else ())

    if check_path:
        path = _remember_clean(path, next(masked))
    doc = _metadata(ex, status, timings, action, path)
    _add_rules(doc, ex, decision)
    _add_context(doc, ex, alerts, sample)
    if principal is not None:
        doc["user"] = {"id": next(masked)}
    if tags:
        doc["vaultgate"]["tags"] = {k: _fill(v, masked) for k, v in tags.items()}
    if parts is not None:
        _put_detail(doc, parts, masked)
    return doc


# The event of allowed clean traffic, the bulk of the log, as one bytes
# template: the same document ``request_event`` builds for such a request
# (the telemetry tests compare the two), without building a dict per
# request.  Strings from the request go through orjson to be escaped.
_CLEAN_EVENT = (
    b'{"@timestamp":"%s","ecs":%s,"event":{"id":%s,"kind":"event",'
    b'"category":["web"],"type":["access","allowed"],"action":"allow",'
    b'"outcome":"%s","duration":%d,"dataset":"vaultgate.access"},'
    b'"observer":%s,"source":{"ip":%s},"client":{"ip":%s},'
    b'"http":{"request":{"method":%s,"bytes":%d},'
    b'"response":{"status_code":%d,"bytes":%d},"version":%s},'
    b'"url":{"path":%s},"vaultgate":{"incident_id":%s,%s'
    b'"decision":"allow","enforced":false,"score":0,'
    b'"timings":{"inspection_us":%d,"upstream_us":%d}}}'
)
_ECS_JSON = orjson.dumps(_ECS)
_OBSERVER_JSON = orjson.dumps(_OBSERVER)
# ``"route":...,"mode":...,`` by route path and mode; routes are few, and
# a reload that renames them all only refills this.
_ROUTE_JSON: dict[tuple[str, str], bytes] = {}
MAX_ROUTES_KNOWN = 1024


def clean_event(ex: Exchange, status: int, timings: Timings) -> bytes | None:
    """The encoded event of allowed traffic with nothing to note, or None.

    None when the event would carry more than the metadata (a principal,
    tags, a score, TLS, a reason) or the path was never seen clean:
    ``request_event`` then builds it, and remembers the path.
    """
    decision = ex.decision
    request = ex.request
    if (
        (
            decision is not None
            and (decision.action is not Action.ALLOW or decision.reasons)
        )
        or ex.score
        or ex.tags
        or ex.principal is not None
        or request.tls is not None
        or ex.findings
        or ex.inspection_incomplete
    ):
        return None
    path = ex.normalized_path[:MAX_LOGGED_PATH]
    if path not in _CLEAN_PATHS:
        return None
    route = ex.route
    key = (route.path, route.mode._value_)
    route_json = _ROUTE_JSON.get(key)
    if route_json is None:
        route_json = b'"route":%s,"mode":%s,' % (
            orjson.dumps(key[0]),
            orjson.dumps(key[1]),
        )
        if len(_ROUTE_JSON) >= MAX_ROUTES_KNOWN:
            _ROUTE_JSON.clear()
        _ROUTE_JSON[key] = route_json
    dumps = orjson.dumps
    incident = dumps(ex.incident_id)
    return _CLEAN_EVENT % (
        iso_time(ex.now).encode(),
        _ECS_JSON,
        incident,
        b"failure" if status >= 400 else b"success",
        timings.total_us * 1000,
        _OBSERVER_JSON,
        dumps(request.peer_ip or request.client_ip),
        dumps(request.client_ip),
        dumps(request.method),
        timings.bytes_in,
        status,
        timings.bytes_out,
        dumps(request.version),
        dumps(path),
        incident,
        route_json,
        timings.inspection_us,
        timings.upstream_us,
    )


def _remember_clean(path: str, masked: str) -> str:
    if masked == path:
        if len(_CLEAN_PATHS) >= MAX_CLEAN_PATHS:
            _CLEAN_PATHS.clear()
        _CLEAN_PATHS.add(path)
    return masked


def _metadata(
    ex: Exchange, status: int, timings: Timings, action: Action, path: str
) -> dict[str, Any]:
    request = ex.request
    # ``_value_``, not ``.value``: a plain attribute, no descriptor call.
    mode = ex.route.mode._value_
    decision = action._value_
    enforced = decision in _STOPPING and mode == "block"
    return {
        "@timestamp": iso_time(ex.now),
        "ecs": _ECS,
        "event": {
            "id": ex.incident_id,
            "kind": "event",
            "category": _WEB,
            "type": _DENIED if enforced else _ALLOWED,
            "action": decision,
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
        "url": {"path": path},
        "vaultgate": {
            "incident_id": ex.incident_id,
            "route": ex.route.path,
            "mode": mode,
            "decision": decision,
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
    tls = ex.request.tls
    if tls is not None:
        doc["tls"] = {"version": tls.version, "client": {"server_name": tls.sni}}
        if tls.ja4:
            extra["fingerprint"] = {"ja4": tls.ja4}
    if ex.inspection_incomplete:
        extra["inspection_incomplete"] = ex.inspection_incomplete
    if alerts:
        extra["alerts"] = [a["type"] for a in alerts]
    if sample < 1.0:
        extra["sample_rate"] = sample


_Detail = tuple[list[Finding], list[tuple[str, bool]], list[tuple[str, bool]], bool]
_DIGIT = re.compile(r"\d")


def _collect_detail(ex: Exchange, texts: list[str]) -> _Detail:
    """Put the detail's strings in ``texts``; what ``_put_detail`` needs."""
    request = ex.request
    agent = request.header("user-agent")
    if agent:
        texts.append(agent[:MAX_VALUE])
    findings = ex.findings[:MAX_FINDINGS]
    for finding in findings:
        texts += (finding.location[:MAX_VALUE], finding.snippet[:MAX_VALUE])
    headers = [_pair(n.lower(), v, texts) for n, v in request.headers[:MAX_HEADERS]]
    args = [_pair(n, v, texts) for n, v in request.args[:MAX_ARGS]]
    return findings, headers, args, bool(agent)


def _pair(name: str, value: str, texts: list[str]) -> tuple[str, bool]:
    """Queue a name and value for masking: ``(name, or "" if queued, hidden)``.

    A name is masked only if it has a digit: every card number, IBAN and
    national id has some, and scanning every header name would wake the
    credential detectors on "authorization" for nothing.
    """
    name = name[:MAX_NAME]
    hidden = sensitive(name)
    if _DIGIT.search(name):
        texts.append(name)
        name = ""
    if not hidden:
        texts.append(value[:MAX_VALUE])
    return name, hidden


def _put_detail(doc: dict[str, Any], parts: _Detail, masked: Iterator[str]) -> None:
    """Fill in the detail from the masked strings, in collection order."""
    findings, headers, args, has_agent = parts
    if has_agent:
        doc["user_agent"] = {"original": next(masked)}
    found = [
        {
            "family": f.family,
            "rule": f.rule_id,
            "score": f.score,
            "location": next(masked),
            "snippet": next(masked),
        }
        for f in findings
    ]
    shown: dict[str, str] = {}
    for name, value in _pairs(headers, masked):
        shown[name] = f"{shown[name]}, {value}" if name in shown else value
    query = [list(pair) for pair in _pairs(args, masked)]
    doc["vaultgate"]["detail"] = {"findings": found, "headers": shown, "query": query}


def _pairs(
    pairs: list[tuple[str, bool]], masked: Iterator[str]
) -> Iterator[tuple[str, str]]:
    for name, hidden in pairs:
        shown = name or next(masked)
        yield shown, REDACTED if hidden else next(masked)


def alert_event(ex: Exchange, alert: Alert, request: dict[str, Any]) -> dict[str, Any]:
    """The ECS document of one alert, sharing the request event's context."""
    alert_type = alert["type"]
    extra = request["vaultgate"]
    texts: list[str] = []
    items = list(alert.items())[:MAX_LIST]
    template = {k: _collect(v, texts) for k, v in items if k != "type"}
    masked = iter(_mask_all(texts) if texts else ())
    fields = {k: _fill(v, masked) for k, v in template.items()}
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


_clock_second = -1
_clock_text = ""


def encode(doc: dict[str, Any]) -> bytes:
    """``doc`` as one JSON line.

    A request's bytes that are not UTF-8 (a percent-encoded Latin-1 ``%E9``
    in a path, a raw byte in a header) reach the document as surrogate
    escapes, which JSON cannot carry: such text is written with those bytes
    as ``\\xNN``, so the event is kept and still says what was sent.
    """
    try:
        return orjson.dumps(doc)
    except TypeError:
        return orjson.dumps(_readable(doc))


def _readable(node: Any) -> Any:
    if isinstance(node, str):
        try:
            raw = node.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # a surrogate that stands for no byte
            return node.encode("utf-8", "backslashreplace").decode("utf-8")
        return raw.decode("utf-8", "backslashreplace")
    if isinstance(node, dict):
        return {_readable(key): _readable(value) for key, value in node.items()}
    if isinstance(node, list | tuple):
        return [_readable(item) for item in node]
    return node


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
    method, target = _mask_all([method[:MAX_NAME], target[:MAX_LOGGED_PATH]])
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
            "request": {"method": method},
            "response": {"status_code": status},
        },
        "url": {"original": target},
        "rule": {"name": [reason]},
        "vaultgate": {
            "incident_id": incident_id,
            "route": REFUSED_ROUTE,
            "decision": "block",
            "enforced": True,
        },
    }
