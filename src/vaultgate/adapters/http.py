"""The HTTP adapters' plumbing: the inline proxy's connection, another answer.

The nginx and Envoy HTTP adapters reuse the proxy's ``ClientConnection``:
the same strict HTTP/1.1 parsing, size limits, timeouts, pipelining and
draining.  Only the answer differs.  Instead of forwarding, an adapter
reads the check request's body (bounded by ``server.max_body_bytes``, kept
up to ``server.inspect_body_bytes``), asks the engine, and writes a small
answer with ``respond``.
"""

from __future__ import annotations

from typing import cast

from vaultgate.adapters.check import refuse
from vaultgate.adapters.context import AuthzContext
from vaultgate.errors import ProtocolError
from vaultgate.proxy import wire
from vaultgate.proxy.connection import ClientConnection
from vaultgate.proxy.incoming import Incoming
from vaultgate.proxy.replies import keep_alive, problem_decision


def context_of(conn: ClientConnection) -> AuthzContext:
    """The adapters' context (every adapter connection is built with one)."""
    return cast(AuthzContext, conn.server)


async def read_body(conn: ClientConnection, inc: Incoming, limit: int) -> bytes:
    """Read the body to its end; its first ``limit`` bytes (all: ``received``)."""
    if inc.expect and inc.version == "1.1" and not inc.received and not inc.complete:
        conn.write(wire.CONTINUE)  # the caller waits for this before the body
    parts: list[bytes] = []
    kept = 0
    while True:
        data = inc.take()
        if data is None:
            conn.resume_reading_if_room()
            await inc.wait()
            continue
        if not data:
            break
        # Read past the limit, and drop it, so the next request on this
        # connection starts where the parser thinks it does.
        if kept < limit:
            parts.append(data[: limit - kept])
            kept += len(parts[-1])
    return b"".join(parts)


def respond(
    conn: ClientConnection,
    inc: Incoming,
    status: int,
    headers: list[tuple[str, str]],
    body: bytes,
) -> bool:
    """Write one answer; whether the connection may carry another."""
    keep = keep_alive(conn, inc)
    head = [wire.status_line(status), *wire.field_lines(headers)]
    head.append(b"Content-Length: %d\r\n" % len(body))
    head.append(conn.server.date_line)
    if not keep:
        head.append(b"Connection: close\r\n")
    elif inc.version == "1.0":
        head.append(b"Connection: keep-alive\r\n")
    head.append(b"\r\n")
    if inc.method != "HEAD":
        head.append(body)
    conn.write(b"".join(head))
    return keep


def malformed(
    conn: ClientConnection, inc: Incoming, exc: ProtocolError, adapter: str
) -> bool:
    """Answer a check request whose body broke the wire rules, and audit it."""
    decision = problem_decision(exc.status, "protocol:" + exc.reason)
    engine = context_of(conn).engine
    request_line = (inc.method, inc.target)
    result = refuse(engine, adapter, conn.peer_ip, request_line, decision)
    conn.close_after = True
    respond(conn, inc, result.status, list(result.headers), result.body)
    return False
