"""Forwarding: the request to the upstream, its answer back to the client.

The request head is rebuilt from the fields the wire rules let through,
plus the forwarding fields and a framing of our own: a body read whole is
sent with its Content-Length, a longer one streamed as it arrives.  The
answer is relayed as it arrives; a body already complete goes out in one
write with its length.  When response guards want the body, it is held up
to ``MAX_FILTER_BYTES`` and filtered; past that a guard may refuse it
(its ``refuse_unread``) or it is relayed unfiltered, and the audit event
says so.  An upstream failure before the answer began
becomes a 502, 503 or 504 problem document; after, the client connection
is cut, as nothing else can tell the client its answer is incomplete.
"""

from __future__ import annotations

import logging
from time import monotonic, perf_counter_ns
from typing import TYPE_CHECKING

from vaultgate.core.model import Action, Decision
from vaultgate.errors import ProtocolError, UpstreamError
from vaultgate.proxy import wire
from vaultgate.proxy.incoming import Incoming
from vaultgate.proxy.replies import (
    INTERNAL_ERROR,
    keep_alive,
    problem_decision,
    send_decision,
)
from vaultgate.proxy.upstream import UpstreamConnection, UpstreamPool, failure_kind

if TYPE_CHECKING:
    from vaultgate.core.exchange import Exchange
    from vaultgate.guards.base import Guard
    from vaultgate.proxy.connection import ClientConnection
    from vaultgate.telemetry.audit import Timings

log = logging.getLogger("vaultgate.proxy")

# A response body is held for the response filters up to this size: API
# answers worth filtering (accounts, statements) are far smaller, and a
# larger one is a download the filters could not hold in memory anyway.
MAX_FILTER_BYTES = 1024 * 1024
# Upstream failures are logged at most once per this many seconds: during
# an outage every request fails, and the audit events count them all.
FAILURE_LOG_INTERVAL = 1.0

_UPSTREAM_DETAIL = {
    502: "The upstream service could not be reached or answered badly.",
    503: "The upstream service is busy; retry later.",
    504: "The upstream service did not answer in time.",
}
_FRAMING_FIELDS = frozenset({"content-length", "transfer-encoding"})


async def forward(
    conn: ClientConnection,
    inc: Incoming,
    ex: Exchange,
    prefix: bytes,
    timings: Timings,
) -> tuple[int, bool]:
    """Send the request upstream and relay the answer; (status, keep)."""
    server = conn.server
    pool = server.pool
    guards = server.engine.response_guards(ex)
    whole = inc.complete and not inc.chunks
    head = _request_head(conn, inc, pool, prefix, whole, bool(guards))
    mark = perf_counter_ns()
    up = pool.take() if whole else None
    try:
        if up is not None:  # the common case, inline: one coroutine less
            try:
                _send_whole(inc, up, head, prefix)
                while (waiter := up.head_waiter()) is not None:
                    await waiter
            except BaseException:
                pool.release(up)
                raise
            if up.error is not None:
                up = await _after_failure(conn, inc, pool, up, head, prefix)
        else:
            up = await _exchange(conn, inc, pool, head, prefix, whole)
    except UpstreamError as exc:
        return _upstream_failure(conn, inc, ex, exc)
    except ProtocolError as exc:
        return protocol_failure(conn, inc, ex, exc)
    timings.upstream_us = (perf_counter_ns() - mark) // 1000
    if guards:
        return await _filtered(conn, inc, ex, up, guards)
    if up.complete:  # the common case: a small answer, read in one go
        return relay_whole(conn, inc, up)
    return await _relay(conn, inc, ex, up, up.status, _lines(up))


def send_at_once(
    conn: ClientConnection, inc: Incoming, up: UpstreamConnection, prefix: bytes
) -> bytes:
    """Send a whole request, with no response guard, on the idle ``up``.

    The head is returned for ``resume``, which may have to send it again.
    """
    head = _request_head(conn, inc, up.pool, prefix, True, False)
    try:
        _send_whole(inc, up, head, prefix)
    except BaseException:
        up.pool.release(up)
        raise
    return head


async def resume(
    conn: ClientConnection,
    inc: Incoming,
    ex: Exchange,
    up: UpstreamConnection,
    head: bytes,
    prefix: bytes,
    timings: Timings,
    mark: int,
) -> tuple[int, bool]:
    """``forward`` after ``send_at_once``, once ``up`` answered or failed."""
    try:
        if up.error is not None:
            up = await _after_failure(conn, inc, up.pool, up, head, prefix)
    except UpstreamError as exc:
        return _upstream_failure(conn, inc, ex, exc)
    except ProtocolError as exc:
        return protocol_failure(conn, inc, ex, exc)
    timings.upstream_us = (perf_counter_ns() - mark) // 1000
    if up.complete:
        return relay_whole(conn, inc, up)
    return await _relay(conn, inc, ex, up, up.status, _lines(up))


def _lines(up: UpstreamConnection) -> list[bytes]:
    return [b"%s: %s\r\n" % field for field in up.fields]


def protocol_failure(
    conn: ClientConnection, inc: Incoming, ex: Exchange, exc: ProtocolError
) -> tuple[int, bool]:
    """Answer a request whose body broke a limit or the wire rules."""
    # Enforced in every mode: such a message cannot be forwarded at all.
    decision = ex.decision = problem_decision(exc.status, "protocol:" + exc.reason)
    return send_decision(conn, inc, decision, ex.incident_id, False), False


def _request_head(
    conn: ClientConnection,
    inc: Incoming,
    pool: UpstreamPool,
    prefix: bytes,
    whole: bool,
    identity: bool,
) -> bytes:
    if whole and (prefix or inc.length == 0):
        framing = b"Content-Length: %d\r\n" % len(prefix)
    elif whole:
        framing = b""
    elif inc.length >= 0:
        framing = b"Content-Length: %d\r\n" % inc.length
    else:
        framing = b"Transfer-Encoding: chunked\r\n"
    lines = inc.lines
    if identity:
        # Response filters read bodies: ask the upstream for no compression.
        lines = [x for x in lines if not x.lower().startswith(b"accept-encoding:")]
    host = b"" if inc.hosts else b"Host: %s\r\n" % pool.authority.encode("latin-1")
    tail = conn.forwarding(inc) if conn.peer_trusted else conn.forward_tail
    return b"%s %s%s HTTP/1.1\r\n%s%s%s%s\r\n" % (
        inc.raw_method,
        pool.prefix,
        inc.url,
        host,
        b"".join(lines),
        tail,
        framing,
    )


async def _exchange(
    conn: ClientConnection,
    inc: Incoming,
    pool: UpstreamPool,
    head: bytes,
    prefix: bytes,
    whole: bool,
) -> UpstreamConnection:
    """Send the request and wait for the answer's head, retrying once.

    A pooled connection the upstream closed just before our request gets
    no answer at all; an idempotent request whose body we still hold is
    then sent again on a new connection, as nginx does.
    """
    up = pool.take() or await pool.acquire()
    try:
        if whole:
            _send_whole(inc, up, head, prefix)
        else:
            await _send(conn, inc, up, head, prefix, whole)
        while (waiter := up.head_waiter()) is not None:
            await waiter  # awaited here: one coroutine less per request
        up.check()
        return up
    except UpstreamError:
        stale = up.reused and not up.answered
        pool.release(up)
        if not (stale and whole and inc.method in wire.IDEMPOTENT):
            raise
    except BaseException:
        pool.release(up)
        raise
    return await _second_try(conn, inc, pool, head, prefix, whole)


async def _after_failure(
    conn: ClientConnection,
    inc: Incoming,
    pool: UpstreamPool,
    up: UpstreamConnection,
    head: bytes,
    prefix: bytes,
) -> UpstreamConnection:
    """``up`` failed before its answer: retry once if it was stale (see above)."""
    error = up.error
    assert error is not None
    stale = up.reused and not up.answered
    pool.release(up)
    if not (stale and inc.method in wire.IDEMPOTENT):
        raise error
    return await _second_try(conn, inc, pool, head, prefix, True)


async def _second_try(
    conn: ClientConnection,
    inc: Incoming,
    pool: UpstreamPool,
    head: bytes,
    prefix: bytes,
    whole: bool,
) -> UpstreamConnection:
    """The request again, on a new connection; its failure is the answer."""
    up = await pool.connect()
    try:
        await _send(conn, inc, up, head, prefix, whole)
        while (waiter := up.head_waiter()) is not None:
            await waiter
        up.check()
    except BaseException:
        pool.release(up)
        raise
    return up


def _send_whole(
    inc: Incoming, up: UpstreamConnection, head: bytes, prefix: bytes
) -> None:
    """Send a request whose body (if any) is all in ``prefix``."""
    up.reset(inc.method == "HEAD")
    up.write(head + prefix if prefix else head)
    up.deadline = up.loop.time() + up.pool.timeout


async def _send(
    conn: ClientConnection,
    inc: Incoming,
    up: UpstreamConnection,
    head: bytes,
    prefix: bytes,
    whole: bool,
) -> None:
    up.reset(inc.method == "HEAD")
    if whole:
        up.write(head + prefix if prefix else head)
    else:
        chunked = inc.length < 0
        up.write(head)
        if prefix:
            up.write(_chunk(prefix) if chunked else prefix)
        await _stream_body(conn, inc, up, chunked)
    up.deadline = up.loop.time() + up.pool.timeout


async def _stream_body(
    conn: ClientConnection, inc: Incoming, up: UpstreamConnection, chunked: bool
) -> None:
    """Send the rest of the body as the client sends it."""
    while True:
        data = inc.take()
        if data is None:
            conn.resume_reading_if_room()
            await inc.wait()
            continue
        if not data:
            break
        up.write(_chunk(data) if chunked else data)
        if up.write_paused:
            await up.drain()
    if chunked:
        up.write(wire.LAST_CHUNK)


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def relay_whole(
    conn: ClientConnection, inc: Incoming, up: UpstreamConnection
) -> tuple[int, bool]:
    """Write an answer that arrived whole, fields as the upstream sent them."""
    return _relay_whole(conn, inc, up, up.status, _lines(up))


def _relay_whole(
    conn: ClientConnection,
    inc: Incoming,
    up: UpstreamConnection,
    status: int,
    lines: list[bytes],
) -> tuple[int, bool]:
    """Write an answer that arrived whole, in one write with its length."""
    keep = keep_alive(conn, inc)
    body = b"".join(up.take_pending())
    with_body = 200 <= status != 204 and status != 304 and inc.method != "HEAD"
    length = len(body) if with_body else up.length
    conn.write(_head(up, status, lines, length, keep, inc.version, False) + body)
    up.pool.release(up)
    return status, keep


async def _relay(
    conn: ClientConnection,
    inc: Incoming,
    ex: Exchange,
    up: UpstreamConnection,
    status: int,
    lines: list[bytes],
) -> tuple[int, bool]:
    """Write the answer's head and relay its body as it arrives."""
    if up.complete:
        return _relay_whole(conn, inc, up, status, lines)
    pool = up.pool
    keep = keep_alive(conn, inc)
    with_body = wire.has_body(status, inc.method == "HEAD")
    chunked = with_body and up.length < 0 and inc.version == "1.1"
    if with_body and up.length < 0 and not chunked:
        keep = False  # HTTP/1.0 client: the end of the connection ends the body
    conn.source = up
    conn.write(_head(up, status, lines, up.length, keep, inc.version, chunked))
    sink = conn.write_chunk if chunked else conn.write
    for data in up.take_pending():
        sink(data)
    up.attach(sink)
    try:
        await up.finished()
    except UpstreamError as exc:
        if failure_kind(exc) != "client":
            ex.tags["upstream_error"] = failure_kind(exc)
            _log_failure(exc, status)
        conn.abort()
        pool.release(up)
        return status, False
    finally:
        conn.source = None
    if chunked:
        conn.write(wire.LAST_CHUNK)
    pool.release(up)
    return status, keep


def _head(
    up: UpstreamConnection,
    status: int,
    lines: list[bytes],
    length: int,
    keep: bool,
    version: str,
    chunked: bool,
) -> bytes:
    if chunked:
        framing = b"Transfer-Encoding: chunked\r\n"
    elif length >= 0 and status != 204:  # RFC 9110 8.6: never on a 204
        framing = b"Content-Length: %d\r\n" % length
    else:
        framing = b""
    if not keep:
        framing += b"Connection: close\r\n"
    elif version == "1.0":
        framing += b"Connection: keep-alive\r\n"
    reason = up.reason if status == up.status else b""
    return b"%s%s%s\r\n" % (wire.status_line(status, reason), b"".join(lines), framing)


async def _filtered(
    conn: ClientConnection,
    inc: Incoming,
    ex: Exchange,
    up: UpstreamConnection,
    guards: tuple[Guard, ...],
) -> tuple[int, bool]:
    """Let the response guards see (and perhaps rewrite) the answer."""
    status = up.status
    headers = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in up.fields]
    if up.length >= 0:
        headers.append(("Content-Length", str(up.length)))
    try:
        for guard in guards:
            await guard.on_response(ex, status, headers)
        readers: tuple[Guard, ...] = ()
        if wire.has_body(status, inc.method == "HEAD"):
            readers = tuple(g for g in guards if g.wants_body(ex, status, headers))
        if readers:
            if await up.collect(MAX_FILTER_BYTES):
                return await _rewrite(conn, inc, ex, up, guards, headers)
            ex.tags["response_filter"] = "skipped: body over MAX_FILTER_BYTES"
            for guard in readers:
                refusal = guard.refuse_unread(ex, status, headers)
                if refusal is not None:
                    return _refuse(conn, inc, up, refusal, headers)
        lines = wire.field_lines(_unframed(headers))
    except UpstreamError as exc:
        up.pool.release(up)
        return _upstream_failure(conn, inc, ex, exc)
    except Exception:
        log.exception("response_guard.failed incident=%s", ex.incident_id)
        up.close()
        up.pool.release(up)
        keep = keep_alive(conn, inc)
        return send_decision(conn, inc, INTERNAL_ERROR, ex.incident_id, keep), keep
    return await _relay(conn, inc, ex, up, status, lines)


async def _rewrite(
    conn: ClientConnection,
    inc: Incoming,
    ex: Exchange,
    up: UpstreamConnection,
    guards: tuple[Guard, ...],
    headers: list[tuple[str, str]],
) -> tuple[int, bool]:
    body = b"".join(up.take_pending())
    up.pool.release(up)
    status = up.status
    for guard in guards:
        status, body = await guard.filter_body(ex, status, headers, body)
    keep = keep_alive(conn, inc)
    lines = wire.field_lines(_unframed(headers))
    conn.write(_head(up, status, lines, len(body), keep, inc.version, False) + body)
    return status, keep


def _refuse(
    conn: ClientConnection,
    inc: Incoming,
    up: UpstreamConnection,
    answer: tuple[int, bytes],
    headers: list[tuple[str, str]],
) -> tuple[int, bool]:
    """Send a guard's answer instead of a body it could not read; the rest
    of the upstream's body is not waited for."""
    up.close()
    up.pool.release(up)
    status, body = answer
    keep = keep_alive(conn, inc)
    lines = wire.field_lines(_unframed(headers))
    conn.write(_head(up, status, lines, len(body), keep, inc.version, False) + body)
    return status, keep


def _unframed(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [h for h in headers if h[0].lower() not in _FRAMING_FIELDS]


def _upstream_failure(
    conn: ClientConnection, inc: Incoming, ex: Exchange, exc: UpstreamError
) -> tuple[int, bool]:
    ex.tags["upstream_error"] = failure_kind(exc)
    _log_failure(exc, exc.status)
    detail = _UPSTREAM_DETAIL.get(exc.status, _UPSTREAM_DETAIL[502])
    decision = Decision(Action.BLOCK, exc.status, detail=detail)
    keep = keep_alive(conn, inc)
    return send_decision(conn, inc, decision, ex.incident_id, keep), keep


_last_logged = 0.0
_suppressed = 0


def _log_failure(exc: UpstreamError, status: int) -> None:
    global _last_logged, _suppressed
    now = monotonic()
    if now - _last_logged < FAILURE_LOG_INTERVAL:
        _suppressed += 1
        return
    log.warning(
        "upstream.failed status=%d suppressed=%d reason=%s",
        status,
        _suppressed,
        exc.reason,
    )
    _last_logged, _suppressed = now, 0
