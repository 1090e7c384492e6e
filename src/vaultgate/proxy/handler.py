"""One request through the pipeline: model, body, decision, answer, audit.

``handle`` builds the request model, buffers the part of the body the
guards may inspect, asks the engine for a decision and either answers with
the rendered decision or forwards the request (``forward``).  Whatever
happens, the engine's ``finish`` runs exactly once, so every request gets
its audit event.  ``refuse`` answers a message refused before it became a
request, with the audit log's minimal event for such refusals.
"""

from __future__ import annotations

import logging
import os
from time import perf_counter_ns, time
from typing import TYPE_CHECKING

from vaultgate.core.model import ALLOW, Mode
from vaultgate.core.request import Request
from vaultgate.errors import ProtocolError
from vaultgate.proxy import wire
from vaultgate.proxy.forward import forward, protocol_failure
from vaultgate.proxy.incoming import ClientGone, Incoming, Refusal
from vaultgate.proxy.replies import (
    INTERNAL_ERROR,
    keep_alive,
    problem_decision,
    send_decision,
)
from vaultgate.telemetry.audit import MAX_LOGGED_PATH, Timings

if TYPE_CHECKING:
    from vaultgate.core.exchange import Exchange
    from vaultgate.proxy.connection import ClientConnection

log = logging.getLogger("vaultgate.proxy")
access_log = logging.getLogger("vaultgate.access")

_OFF = Mode.OFF  # a module constant: enum attribute lookups cost


async def handle(conn: ClientConnection, inc: Incoming) -> bool:
    """Answer one request; whether the connection may carry another."""
    server = conn.server
    started = perf_counter_ns()
    written = conn.bytes_out
    request = Request(
        inc.method,
        inc.target,
        inc.headers,
        conn.client_ip(inc) if conn.peer_trusted else conn.peer_ip,
        conn.peer_ip,
        inc.version,
        server.scheme,
        tls=conn.tls,
    )
    ex = server.engine.begin(request)
    timings = Timings()
    status, keep = 499, False  # 499: the client left before its answer
    try:
        if ex.route.mode is _OFF and not inc.has_body:
            ex.decision = ALLOW  # no guard to run, no body to buffer
            status, keep = await forward(conn, inc, ex, b"", timings)
        else:
            status, keep = await _answer(conn, inc, ex, timings)
    except ClientGone:
        pass
    except Exception:
        status = 500
        raise
    finally:
        timings.total_us = (perf_counter_ns() - started) // 1000
        timings.bytes_in = inc.size + len(inc.url) + inc.received
        timings.bytes_out = conn.bytes_out - written
        server.engine.finish(ex, status, timings)
        if server.access:
            _access(ex, status, timings)
    return keep


async def _answer(
    conn: ClientConnection, inc: Incoming, ex: Exchange, timings: Timings
) -> tuple[int, bool]:
    prefix = b""
    if inc.has_body:
        limit = conn.server.settings.inspect_body_bytes
        if inc.complete and inc.received <= limit and inc.error is None:
            prefix = _arrived(inc, ex.request)  # the common case: no wait
        else:
            try:
                prefix = await _inspectable(conn, inc, ex.request, limit)
            except ProtocolError as exc:
                return protocol_failure(conn, inc, ex, exc)
    if ex.route.mode is _OFF:  # no guard to run: no coroutine either
        ex.decision = ALLOW
        return await forward(conn, inc, ex, prefix, timings)
    mark = perf_counter_ns()
    try:
        decision = await conn.server.engine.decide(ex)
    except Exception:
        log.exception("pipeline.failed incident=%s", ex.incident_id)
        decision = ex.decision = INTERNAL_ERROR
    timings.inspection_us = (perf_counter_ns() - mark) // 1000
    if decision.action.stops:
        keep = keep_alive(conn, inc)
        return send_decision(conn, inc, decision, ex.incident_id, keep), keep
    return await forward(conn, inc, ex, prefix, timings)


def _arrived(inc: Incoming, request: Request) -> bytes:
    """The whole body, already received and within the inspection limit."""
    chunks = inc.chunks
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    chunks.clear()
    inc.buffered = 0
    request.body = body
    request.body_length = len(body)
    return body


async def _inspectable(
    conn: ClientConnection, inc: Incoming, request: Request, limit: int
) -> bytes:
    """Read the body up to the inspection limit; set it on the request."""
    if inc.expect and inc.version == "1.1" and not inc.received and not inc.complete:
        conn.write(wire.CONTINUE)  # the client waits for this before the body
    parts: list[bytes] = []
    size = 0
    while size <= limit:
        data = inc.take()
        if data is None:
            conn.resume_reading_if_room()
            await inc.wait()
            continue
        if not data:
            break
        parts.append(data)
        size += len(data)
    body = parts[0] if len(parts) == 1 else b"".join(parts)
    request.body_length = inc.length if inc.length >= 0 else size
    if size > limit:
        request.body = body[:limit]
        request.body_truncated = True
    else:
        request.body = body
    return body


def refuse(conn: ClientConnection, item: Refusal) -> None:
    """Answer a message refused before it was a request, and audit it."""
    error = item.error
    incident_id = os.urandom(8).hex()
    decision = problem_decision(error.status, "protocol:" + error.reason)
    status = send_decision(conn, None, decision, incident_id, False)
    try:
        conn.server.engine.audit.record_refusal(
            time(),
            incident_id,
            conn.peer_ip,
            item.method,
            item.target,
            status,
            "protocol:" + error.reason,
        )
    except Exception:  # a failure in the audit never changes an answer
        log.exception("audit.failed incident=%s", incident_id)


def _access(ex: Exchange, status: int, timings: Timings) -> None:
    access_log.debug(
        "access.request method=%s path=%s status=%d total_us=%d incident=%s",
        ex.request.method,
        ex.normalized_path[:MAX_LOGGED_PATH],
        status,
        timings.total_us,
        ex.incident_id,
    )
