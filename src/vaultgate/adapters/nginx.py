"""NGINX ``auth_request``: nginx asks, for each request, whether it may pass.

How this works: nginx sends a subrequest without a body, carrying the
client's header fields and the ones the documented configuration sets
(``X-Original-Method``, ``X-Original-URI`` as ``$request_uri``,
``X-Real-IP`` as ``$remote_addr``, and the original framing in
``X-Original-Content-Length`` / ``X-Original-Transfer-Encoding``).  These
are believed only from a peer in ``adapters.trusted_peers``; the original
request is rebuilt from them, the engine checks it, and the answer is 200
(allow) or 401 / 403 (deny), with the real status and the incident id in
``X-Vaultgate-*`` fields.  A refusal is kept a few seconds for
``/.vaultgate/refusal``, which the documented ``error_page`` location asks
for, so the client gets exactly what the inline proxy would have sent.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from vaultgate.adapters.check import (
    broken,
    check,
    original_client,
    refusal,
    refuse,
)
from vaultgate.adapters.context import AuthzContext
from vaultgate.adapters.denials import Refusal
from vaultgate.adapters.http import context_of, malformed, read_body, respond
from vaultgate.adapters.verdict import (
    FRAMING,
    INCIDENT_FIELD,
    Verdict,
    field,
    keep_fields,
    nginx_status,
)
from vaultgate.core.model import Action, Decision
from vaultgate.core.request import Request
from vaultgate.core.respond import render
from vaultgate.errors import ProtocolError
from vaultgate.proxy import wire
from vaultgate.proxy.connection import ClientConnection
from vaultgate.proxy.incoming import ClientGone, Incoming

ADAPTER = "nginx"
REFUSAL_PATH = "/.vaultgate/refusal"
# The fields through which nginx reports the original request: never the
# client's own (nginx's proxy_set_header replaces a client's field of the
# same name), and never shown to the guards as if they were.
CONTROL = frozenset(
    {
        "x-original-method",
        "x-original-uri",
        "x-real-ip",
        "x-original-content-length",
        "x-original-transfer-encoding",
    }
)
_DROPPED = CONTROL | FRAMING
_INCIDENT = re.compile(r"[0-9a-f]{16}")


class NginxConnection(ClientConnection):
    """A connection from nginx, answered with auth_request verdicts."""

    @staticmethod
    async def answer(conn: ClientConnection, inc: Incoming) -> bool:
        context = context_of(conn)
        try:
            await read_body(conn, inc, 0)  # nginx sends none; any is dropped
        except ProtocolError as exc:
            return malformed(conn, inc, exc, ADAPTER)
        except ClientGone:
            return False
        if context.may_call(conn.peer_ip) and _is_replay(inc):
            return _replay(conn, inc, context)
        try:
            result = await _verdict(conn, inc, context)
        except Exception:
            result = broken(ADAPTER)
        return respond(conn, inc, nginx_status(result), _fields(result), result.body)


def _is_replay(inc: Incoming) -> bool:
    return inc.target.partition("?")[0] == REFUSAL_PATH


async def _verdict(
    conn: ClientConnection, inc: Incoming, context: AuthzContext
) -> Verdict:
    if not context.may_call(conn.peer_ip):
        line = (inc.method, inc.target)
        denied = refusal("untrusted-peer")
        return refuse(context.engine, ADAPTER, conn.peer_ip, line, denied)
    return await _check(conn, inc, context)


async def _check(
    conn: ClientConnection, inc: Incoming, context: AuthzContext
) -> Verdict:
    engine = context.engine
    found = original_request(inc.headers, conn.peer_ip, context.is_trusted)
    if isinstance(found, str):
        line = (inc.method, inc.target)
        return refuse(engine, ADAPTER, conn.peer_ip, line, refusal(found))
    result = await check(engine, found, ADAPTER)
    if not result.allowed:
        kept = Refusal(result.status, result.headers, result.body)
        context.denials.put(result.incident_id, kept, context.loop.time())
    return result


def _fields(result: Verdict) -> list[tuple[str, str]]:
    # nginx copies WWW-Authenticate to the client on 401 by itself; the
    # rest is for auth_request_set and the refusal location.
    return [*result.headers, *result.marks()]


def _replay(conn: ClientConnection, inc: Incoming, context: AuthzContext) -> bool:
    """Answer the refusal location with the refusal kept for its incident."""
    incident = field(inc.headers, INCIDENT_FIELD.lower()) or ""
    kept = None
    if _INCIDENT.fullmatch(incident):
        kept = context.denials.take(incident, context.loop.time())
    if kept is None:
        # Forgotten, or never refused: a plain refusal, still not a pass.
        name = incident if _INCIDENT.fullmatch(incident) else "unknown"
        status, headers, body = render(Decision(Action.BLOCK, 403), name)
        kept = Refusal(status, tuple(headers), body)
    # Exactly the inline proxy's answer: no X-Vaultgate-* field, which on
    # a trap's 404 would tell a scanner that something fired.
    return respond(conn, inc, kept.status, list(kept.headers), kept.body)


def original_request(
    headers: list[tuple[str, str]], peer_ip: str, trusted: Callable[[str], bool]
) -> Request | str:
    """The client's request as nginx reported it, or why it cannot be."""
    fields: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        if key in CONTROL:
            if key in fields:
                return "repeated-" + key
            fields[key] = value
    method = fields.get("x-original-method", "")
    if method.encode("latin-1") not in wire.METHODS:
        return "original-method"
    target = fields.get("x-original-uri", "")
    if not target.startswith("/") or "#" in target:
        return "original-uri"
    xff = field(headers, "x-forwarded-for")
    client = original_client(
        fields.get("x-real-ip", ""), xff, field(headers, "forwarded"), trusted
    )
    if client is None:
        return "client-address"
    kept = keep_fields(headers, _DROPPED)
    length = fields.get("x-original-content-length", "")
    if length and not (length.isascii() and length.isdigit()):
        return "original-content-length"
    if length:
        kept.append(("Content-Length", length))
    if fields.get("x-original-transfer-encoding"):
        kept.append(("Transfer-Encoding", fields["x-original-transfer-encoding"]))
    body_length = int(length) if length else 0
    return Request(method, target, kept, client, peer_ip, body_length=body_length)
