"""ArcSight Common Event Format (CEF) for syslog sinks that want it.

An ECS event becomes ``CEF:0|vaultgate|vaultgate|<version>|<signature>|
<name>|<severity>|<key=value ...>``.  The signature is ``alert.<type>``
for an alert event and ``request.<decision>`` for a request's, so a SIEM
can key on it as on ``vaultgate.alert.type``.  Header fields escape ``\\``
and ``|``; extension values escape ``\\``, ``=`` and line breaks (CEF
Implementation Standard, "Character Encoding").
"""

from __future__ import annotations

from typing import Any

import orjson

from vaultgate import __version__
from vaultgate.telemetry.record import Record

# CEF readers commonly cut extension values near this length.
MAX_VALUE = 1023
# CEF severity 0-10, per request decision and per alert type.
_DECISION_SEVERITY = {"allow": 1, "alert": 5, "throttle": 4, "challenge": 4, "block": 6}
_ALERT_SEVERITY = {
    "trap_hit": 8,
    "replay": 8,
    "bola": 8,
    "credential_stuffing": 8,
    "exfiltration": 9,
}


def to_cef(record: Record) -> bytes:
    """The CEF text of one encoded ECS event."""
    doc = orjson.loads(record.line)
    extra = doc.get("vaultgate", {})
    alert = extra.get("alert")
    if alert:
        signature = "alert." + alert["type"]
        name = alert["type"].replace("_", " ") + " alert"
        severity = _ALERT_SEVERITY.get(alert["type"], 7)
    else:
        decision = extra.get("decision", "allow")
        signature, name = "request." + decision, "request " + decision
        severity = _DECISION_SEVERITY.get(decision, 5)
    header = "|".join(
        _header(part)
        for part in ("CEF:0", "vaultgate", "vaultgate", __version__, signature, name)
    )
    extension = _extension(doc, int(record.ts * 1000))
    return f"{header}|{severity}|{extension}".encode()


def _extension(doc: dict[str, Any], millis: int) -> str:
    event, extra = doc.get("event", {}), doc.get("vaultgate", {})
    http = doc.get("http", {})
    pairs = [
        ("rt", millis),
        ("externalId", event.get("id")),
        ("cat", event.get("kind")),
        ("src", doc.get("source", {}).get("ip")),
        ("requestMethod", http.get("request", {}).get("method")),
        ("request", doc.get("url", {}).get("path")),
        ("act", extra.get("decision")),
        ("outcome", event.get("outcome")),
        ("reason", event.get("reason")),
        ("suser", doc.get("user", {}).get("id")),
        ("cs1Label", "route"),
        ("cs1", extra.get("route")),
        ("cs2Label", "incident"),
        ("cs2", extra.get("incident_id")),
        ("cn1Label", "score"),
        ("cn1", extra.get("score")),
        ("cn2Label", "status"),
        ("cn2", http.get("response", {}).get("status_code")),
    ]
    return " ".join(f"{key}={_value(v)}" for key, v in pairs if v not in (None, ""))


def _header(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|")


def _value(value: object) -> str:
    text = str(value)[:MAX_VALUE]
    text = text.replace("\\", "\\\\").replace("=", "\\=")
    return text.replace("\r", "\\r").replace("\n", "\\n")
