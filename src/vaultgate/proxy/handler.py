"""One request through the pipeline: model, body, decision, answer, audit.

``handle`` builds the request model, buffers the part of the body the
guards may inspect, asks the engine for a decision and either answers with
the rendered decision or forwards the request (``forward``).  Whatever
happens, the engine's ``finish`` runs exactly once, so every request gets
its audit event.  ``refuse`` answers a message refused before it became a
request, with the audit log's minimal event for such refusals.
"""

from __future__ import annotations

import asyncio
import logging
import os
from time import perf_counter_ns, time
from typing import TYPE_CHECKING

from vaultgate.core.model import ALLOW, Mode
from vaultgate.core.request import Request
from vaultgate.errors import ProtocolError
from vaultgate.proxy import wire
from vaultgate.proxy.forward import (
    forward,
    protocol_failure,
    relay_whole,
    resume,
    send_at_once,
)
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
    from vaultgate.proxy.upstream import UpstreamConnection

log = logging.getLogger("vaultgate.proxy")
access_log = logging.getLogger("vaultgate.access")

_OFF = Mode.OFF  # a module constant: enum attribute lookups cost


class Opened:
    """A request's exchange, opened when its answering began."""

    __slots__ = ("ex", "started", "written", "timings")

    def __init__(self, conn: ClientConnection, inc: Incoming) -> None:
        self.started = perf_counter_ns()
        self.written = conn.bytes_out
        request = Request(
            inc.method,
            inc.target,
            inc.headers,
            conn.client_ip(inc) if conn.peer_trusted else conn.peer_ip,
            conn.peer_ip,
            inc.version,
            conn.server.scheme,
            tls=conn.tls,
        )
        self.ex = conn.server.engine.begin(request)
        self.timings = Timings()

    def finish(self, conn: ClientConnection, inc: Incoming, status: int) -> None:
        """Record the exchange: its timings, audit event and access record."""
        timings = self.timings
        timings.total_us = (perf_counter_ns() - self.started) // 1000
        timings.bytes_in = inc.size + len(inc.url) + inc.received
        timings.bytes_out = conn.bytes_out - self.written
        server = conn.server
        server.engine.finish(self.ex, status, timings)
        if server.access:
            _access(self.ex, status, timings)


async def handle(conn: ClientConnection, inc: Incoming) -> bool:
    """Answer one request; whether the connection may carry another."""
    opened = inc.opened or Opened(conn, inc)
    ex, timings = opened.ex, opened.timings
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
        opened.finish(conn, inc, status)
    return keep


def answer_inline(conn: ClientConnection, inc: Incoming) -> Inline | None:
    """Forward a whole request of a route in mode off from a callback.

    The request went out at once on an idle pooled connection when this
    returns its ``Inline``: the upstream's answer completes it, with no
    task and no future.  None leaves it to the connection's task, its
    exchange already opened on ``inc``.
    """
    opened = inc.opened = Opened(conn, inc)
    ex = opened.ex
    if ex.route.mode is not _OFF or inc.error is not None:
        return None
    if inc.has_body and inc.received > conn.server.settings.inspect_body_bytes:
        return None
    up = conn.server.pool.take()
    if up is None:
        return None
    ex.decision = ALLOW
    prefix = _arrived(inc, ex.request) if inc.has_body else b""
    inline = Inline(conn, inc, opened, prefix)
    try:
        inline.send(up)
    except Exception:
        opened.finish(conn, inc, 500)
        raise
    return inline


class Inline:
    """A request sent from a callback, completed by its answer's arrival.

    The common answer, small and whole, is relayed in the upstream's
    callback; anything else (a failure to retry or report, a body still
    arriving) goes on in a task running the same code as ``forward``.
    """

    __slots__ = ("conn", "inc", "opened", "prefix", "head", "mark", "task")

    def __init__(
        self, conn: ClientConnection, inc: Incoming, opened: Opened, prefix: bytes
    ) -> None:
        self.conn, self.inc, self.opened, self.prefix = conn, inc, opened, prefix
        self.head = b""
        self.mark = 0
        self.task: asyncio.Task[None] | None = None

    def send(self, up: UpstreamConnection) -> None:
        self.mark = perf_counter_ns()
        self.head = send_at_once(self.conn, self.inc, up, self.prefix)
        up.listener = self.answered

    def answered(self, up: UpstreamConnection) -> None:
        """The upstream's answer head arrived, or the connection failed."""
        conn, inc = self.conn, self.inc
        if up.error is not None or not up.complete:
            self.task = conn.loop.create_task(self._rest(up), name="vaultgate.answer")
            return
        status, keep = 500, False
        try:
            self.opened.timings.upstream_us = (perf_counter_ns() - self.mark) // 1000
            status, keep = relay_whole(conn, inc, up)
        except Exception:
            log.exception("connection.failed peer=%s", conn.peer_ip)
            conn.abort()
        finally:
            self.opened.finish(conn, inc, status)
        conn.answered(keep)

    async def _rest(self, up: UpstreamConnection) -> None:
        conn, inc, opened = self.conn, self.inc, self.opened
        status, keep = 499, False
        try:
            status, keep = await resume(
                conn,
                inc,
                opened.ex,
                up,
                self.head,
                self.prefix,
                opened.timings,
                self.mark,
            )
        except ClientGone:
            pass
        except asyncio.CancelledError:
            conn.abort()
            raise
        except Exception:
            status = 500
            log.exception("connection.failed peer=%s", conn.peer_ip)
            conn.abort()
        finally:
            opened.finish(conn, inc, status)
            self.task = None
        conn.answered(keep)


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
