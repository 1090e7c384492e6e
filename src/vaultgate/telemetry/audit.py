"""Audit events: one JSON line per request, Elastic Common Schema names.

How this works: ``AuditLog.record`` turns a finished exchange into a dict
of ECS fields (metadata only: never bodies, tokens or passwords) and hands
the encoded line to its sink.  Guards add their own redacted fields through
``Exchange.tags``.  The file sink buffers writes and is flushed by the
server once a second and at shutdown.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import IO, Any

import orjson

from vaultgate.core.exchange import Exchange
from vaultgate.core.model import Action
from vaultgate.core.policy import Section, register_section
from vaultgate.core.schema import Node

# A path longer than this is cut in audit events: long enough to see the
# attack's shape, short enough that a 8 KiB probe does not bloat the log.
MAX_LOGGED_PATH = 512


@dataclass(frozen=True, slots=True)
class AuditSettings:
    file: str = "-"  # "-" is standard output


def _parse(node: Node) -> AuditSettings:
    fields = node.mapping({"file"})
    if "file" in fields:
        return AuditSettings(fields["file"].text())
    return AuditSettings()


register_section(Section("audit", _parse))


@dataclass(slots=True)
class Timings:
    """Where the time went, in microseconds, and the bytes moved."""

    inspection_us: int = 0
    upstream_us: int = 0
    total_us: int = 0
    bytes_in: int = 0
    bytes_out: int = 0


class AuditLog:
    """Writes one audit event per request to a file or standard output."""

    def __init__(self, settings: AuditSettings) -> None:
        self._stream: IO[bytes]
        if settings.file == "-":
            self._stream = sys.stdout.buffer
            self._owned = False
        else:
            self._stream = open(settings.file, "ab", buffering=256 * 1024)  # noqa: SIM115
            self._owned = True

    def record(self, ex: Exchange, status: int, timings: Timings) -> None:
        """Encode and write the audit event of a finished exchange."""
        self._stream.write(orjson.dumps(event(ex, status, timings)) + b"\n")

    def flush(self) -> None:
        self._stream.flush()

    def close(self) -> None:
        self.flush()
        if self._owned:
            self._stream.close()


def event(ex: Exchange, status: int, timings: Timings) -> dict[str, Any]:
    """The ECS fields of one request's audit event."""
    decision = ex.decision
    action = decision.action if decision else Action.ALLOW
    request = ex.request
    doc: dict[str, Any] = {
        "@timestamp": _iso(ex.now),
        "event": {
            "id": ex.incident_id,
            "kind": "alert" if action is not Action.ALLOW else "event",
            "action": action.value,
            "outcome": "failure" if status >= 400 else "success",
            "duration": timings.total_us * 1000,
        },
        "source": {"ip": request.peer_ip or request.client_ip},
        "client": {"ip": request.client_ip},
        "http": {
            "request": {"method": request.method, "bytes": timings.bytes_in},
            "response": {"status_code": status, "bytes": timings.bytes_out},
            "version": request.version,
        },
        "url": {"path": ex.normalized_path[:MAX_LOGGED_PATH]},
        "vaultgate": {
            "route": ex.route.path,
            "mode": ex.route.mode.value,
            "score": ex.score,
            "enforced": _enforced(ex, action),
            "timings": {
                "inspection_us": timings.inspection_us,
                "upstream_us": timings.upstream_us,
            },
        },
    }
    if decision and decision.reasons:
        doc["event"]["reason"] = ",".join(decision.reasons)
        doc["rule"] = {"name": list(decision.reasons)}
    if ex.principal is not None:
        doc["user"] = {"id": ex.principal.id}
    if ex.inspection_incomplete:
        doc["vaultgate"]["inspection_incomplete"] = ex.inspection_incomplete
    if ex.tags:
        doc["vaultgate"]["tags"] = ex.tags
    return doc


def _enforced(ex: Exchange, action: Action) -> bool:
    return action.stops and ex.route.mode.value == "block"


def _iso(ts: float) -> str:
    import datetime as dt

    moment = dt.datetime.fromtimestamp(ts, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
