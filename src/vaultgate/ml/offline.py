"""Building a route model offline, from recorded traffic, before enforcing it.

Accepted inputs: raw HTTP request files (``.gz`` too), the JSON lines of
``waf_eval.py --export-requests`` (``raw_b64`` fields) and vaultgate audit
files (whose events name the method, path and, for alerts, the query).
Requests that the payload inspection flags are left out, as live learning
leaves them out, and so is every later request of a client once flagged.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from vaultgate.core.rawhttp import ParseFailure, parse_request
from vaultgate.core.request import Request
from vaultgate.detect import load_detectors
from vaultgate.detect.base import all_rules
from vaultgate.detect.engine import Inspector
from vaultgate.detect.extract import extract
from vaultgate.detect.normalize import expand_all
from vaultgate.ml.routes import RouteModel, client_digest, parameters
from vaultgate.ml.traffic import read_audit, read_requests


@dataclass(frozen=True, slots=True)
class Recorded:
    """One recorded request, with who sent it when the record says."""

    request: Request | None  # None for an audit record (values only)
    method: str
    path: str
    client: str
    params: list[tuple[str, str]]
    flagged: bool = False


def client_key(request: Request, key: str, index: int) -> str:
    """The client a recorded request counts for under ``--client-key``."""
    if key == "request":
        return f"request:{index}"
    if key == "ip":
        return request.client_ip
    kind, _, name = key.partition(":")
    if kind == "header":
        return request.header(name.lower()) or ""
    if kind == "cookie":
        return next((v for n, v in request.cookies if n == name), "")
    raise ValueError(
        f"--client-key: expected request, ip, header:NAME or cookie:NAME, got {key!r}"
    )


def recorded(path: str, key: str) -> Iterator[Recorded]:
    """The requests of one input file, whatever its format."""
    if path.endswith((".jsonl", ".json")) and _is_audit(path):
        for record in read_audit(path):
            params = list(parameters(v for v in record.values if v.kind == "query"))
            yield Recorded(
                None, record.method, record.path, record.client, params, record.flagged
            )
        return
    requests = (
        _export(path) if path.endswith((".jsonl", ".json")) else read_requests(path)
    )
    for index, request in enumerate(requests):
        client = client_key(request, key, index)
        params = list(parameters(extract(request).values))
        yield Recorded(request, request.method, request.path, client, params)


def _is_audit(path: str) -> bool:
    with open(path, encoding="utf-8") as handle:
        first = handle.readline()
    return '"vaultgate"' in first and '"raw_b64"' not in first


def _export(path: str) -> Iterator[Request]:
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            request = parse_request(base64.b64decode(record["raw_b64"]))
            if not isinstance(request, ParseFailure):
                yield request


def build(
    paths: list[str], key: str, progress: Callable[[str], None]
) -> tuple[RouteModel, int, int]:
    """A route model of the clean requests in ``paths``; (model, learnt, skipped)."""
    load_detectors()
    inspector = Inspector(all_rules().values(), 1)
    model, learnt, skipped = RouteModel(), 0, 0
    flagged: set[str] = set()
    for path in paths:
        for item in recorded(path, key):
            if item.flagged or item.client in flagged or _inspected(inspector, item):
                flagged.add(item.client)
                skipped += 1
                continue
            model.learn(item.method, item.path, item.params, client_digest(item.client))
            learnt += 1
            if learnt % 5000 == 0:
                progress(f"learnt {learnt} requests, skipped {skipped}")
    return model, learnt, skipped


def _inspected(inspector: Inspector, item: Recorded) -> bool:
    """Whether payload inspection finds anything in a raw request."""
    if item.request is None:
        return False
    values = expand_all(extract(item.request).values)
    return bool(inspector.scan(values) or inspector.check_request(item.request))
