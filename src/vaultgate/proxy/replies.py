"""Answers the proxy writes itself: rendered decisions and refusals.

Every answer that does not come from the upstream goes through
``send_decision``, which writes what ``core.respond.render`` made of a
decision: the one place a decision becomes a response.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vaultgate.core.model import Action, Decision
from vaultgate.core.respond import render
from vaultgate.proxy import wire
from vaultgate.proxy.incoming import Incoming

if TYPE_CHECKING:
    from vaultgate.proxy.connection import ClientConnection

# Guards failed: the request is refused rather than let through unchecked.
INTERNAL_ERROR = Decision(Action.BLOCK, 500, reasons=("internal-error",))

# What a refused client is told; the audit event keeps the exact reason.
_PROTOCOL_DETAIL = {
    400: "The request is malformed or its framing is ambiguous.",
    408: "The request was not received in time.",
    413: "The request body is larger than this API accepts.",
    414: "The request target is longer than this API accepts.",
    417: "Only the 100-continue expectation is supported.",
    431: "The request header fields are larger than this API accepts.",
    501: "The request method is not supported.",
    505: "Only HTTP/1.0 and HTTP/1.1 are supported.",
}


def keep_alive(conn: ClientConnection, inc: Incoming) -> bool:
    """Whether the connection may carry another request after this one."""
    return (
        inc.keep_alive
        and inc.complete
        and not inc.chunks
        and not conn.close_after
        and not conn.server.draining
    )


def send_decision(
    conn: ClientConnection,
    inc: Incoming | None,
    decision: Decision,
    incident_id: str,
    keep: bool,
) -> int:
    """Write the rendered ``decision``; its status."""
    status, headers, body = render(decision, incident_id)
    head = [wire.status_line(status), *wire.field_lines(headers)]
    head.append(b"Content-Length: %d\r\n" % len(body))
    head.append(conn.server.date_line)
    if not keep:
        head.append(b"Connection: close\r\n")
    elif inc is not None and inc.version == "1.0":
        head.append(b"Connection: keep-alive\r\n")
    head.append(b"\r\n")
    if inc is None or inc.method != "HEAD":
        head.append(body)
    conn.write(b"".join(head))
    return status


def problem_decision(status: int, reason: str) -> Decision:
    """The decision that answers a protocol error."""
    detail = _PROTOCOL_DETAIL.get(status, "The request was refused.")
    return Decision(Action.BLOCK, status, reasons=(reason,), detail=detail)
