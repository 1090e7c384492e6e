"""Recorded traffic for training: raw HTTP files, audit events, labels.

Training (``vaultgate train``) and the offline route-model builder read
requests from files a user recorded: raw HTTP/1.x request files (one
request after another, as ``core.rawhttp`` reads them; ``.gz`` files are
decompressed) and the audit JSON lines vaultgate writes, whose alert
events carry the query arguments and headers (already redacted) that
inspection saw.  ``request_values`` turns a request into the decoded
values the model scores, exactly as the proxy does.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vaultgate.core.rawhttp import ParseFailure, parse_requests
from vaultgate.core.request import Request
from vaultgate.detect.base import Value
from vaultgate.detect.extract import extract
from vaultgate.detect.normalize import expand_all


def read_bytes(path: str) -> bytes:
    """A file's bytes, decompressed when it ends in ``.gz``."""
    if path.endswith(".gz"):
        with gzip.open(path, "rb") as handle:
            return handle.read()
    return Path(path).read_bytes()


def read_requests(path: str) -> Iterator[Request]:
    """The requests of a raw HTTP file; refused messages are skipped."""
    for item in parse_requests(read_bytes(path)):
        if not isinstance(item, ParseFailure):
            yield item


def request_values(request: Request) -> tuple[list[Value], frozenset[str]]:
    """The decoded values of ``request`` and the set of their raw texts."""
    extraction = extract(request)
    raw = frozenset(v.text for v in extraction.values)
    return expand_all(extraction.values), raw


def in_holdout(request: Request, share: int = 2) -> bool:
    """A stable split: True for about 1/``share`` of the requests.

    The digest covers the request line and body, not the headers, so a
    request replayed with another session cookie falls on the same side.
    """
    digest = hashlib.sha256(f"{request.method} {request.target}".encode())
    digest.update(request.body)
    return digest.digest()[0] % share == 0


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """What an audit event tells about one request."""

    incident_id: str
    client: str
    method: str
    path: str
    values: list[Value]
    flagged: bool  # stopped or scored: never trusted as benign traffic


def read_audit(path: str) -> Iterator[AuditRecord]:
    """The requests described by an audit JSON-lines file."""
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = _audit_record(json.loads(line))
                if record is not None:
                    yield record


def _audit_record(event: dict[str, Any]) -> AuditRecord | None:
    ours = event.get("vaultgate") or {}
    if event.get("event", {}).get("kind", "event") != "event" or not ours:
        return None
    detail = ours.get("detail") or {}
    values = [Value("query", str(n), str(v)) for n, v in detail.get("query", [])]
    for name, value in (detail.get("headers") or {}).items():
        values.append(Value("header", str(name), str(value)))
    flagged = bool(ours.get("score")) or ours.get("decision", "allow") != "allow"
    return AuditRecord(
        incident_id=str(ours.get("incident_id", "")),
        client=str((event.get("client") or {}).get("ip", "")),
        method=str(((event.get("http") or {}).get("request") or {}).get("method", "")),
        path=str((event.get("url") or {}).get("path", "")),
        values=values,
        flagged=flagged,
    )


def read_labels(path: str) -> dict[str, int]:
    """``{"id": ..., "label": "attack"|"benign"}`` lines as id -> 1 or 0."""
    labels: dict[str, int] = {}
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            item = json.loads(line)
            label = item.get("label")
            if label not in ("attack", "benign") or "id" not in item:
                raise ValueError(
                    f"{path}:{number}: expected "
                    '{"id": ..., "label": "attack" or "benign"}'
                )
            labels[str(item["id"])] = 1 if label == "attack" else 0
    return labels
