"""Envoy ``ext_authz`` with an HTTP authorization service.

How this works: for each request, Envoy's ext_authz filter sends the
service a request with the original method, ``http_service.path_prefix``
followed by the original path and query, the original ``Host``, the
``Authorization`` field and the fields ``allowed_headers`` lets through,
plus ``authorization_request.headers_to_add`` (the documented
configuration adds ``x-real-ip`` from the downstream address).  With
``with_request_body`` the buffered body comes too, and
``x-envoy-auth-partial-body`` says whether it is all of it.  A 200 answer
allows (its ``x-vaultgate-*`` fields can go upstream through
``allowed_upstream_headers``); any other status denies, and Envoy sends
that status, the answer's fields and its body to the client.
"""

from __future__ import annotations

from collections.abc import Callable

from vaultgate.adapters.check import (
    broken,
    check,
    original_client,
    refusal,
    refuse,
)
from vaultgate.adapters.context import AuthzContext
from vaultgate.adapters.http import context_of, malformed, read_body, respond
from vaultgate.adapters.verdict import (
    FRAMING,
    STATUS_FIELD,
    Verdict,
    envoy_http_status,
    field,
    keep_fields,
)
from vaultgate.core.request import Request
from vaultgate.errors import ProtocolError
from vaultgate.proxy.connection import ClientConnection
from vaultgate.proxy.forwarded import client_address
from vaultgate.proxy.incoming import ClientGone, Incoming

ADAPTER = "envoy_http"
PARTIAL_FIELD = "x-envoy-auth-partial-body"
# Fields Envoy adds to the check request itself: they describe the call
# to vaultgate, not the client's request.
ENVOY_ADDED = frozenset(
    {
        "x-real-ip",
        PARTIAL_FIELD,
        "x-envoy-expected-rq-timeout-ms",
        "x-envoy-internal",
    }
)
# Content-Length is kept: Envoy sets it to the length of the body it sent.
_DROPPED = ENVOY_ADDED | (FRAMING - {"content-length"})


class EnvoyHttpConnection(ClientConnection):
    """A connection from Envoy's ext_authz HTTP client."""

    @staticmethod
    async def answer(conn: ClientConnection, inc: Incoming) -> bool:
        context = context_of(conn)
        limit = context.settings.inspect_body_bytes
        try:
            body = await read_body(conn, inc, limit)
        except ProtocolError as exc:
            return malformed(conn, inc, exc, ADAPTER)
        except ClientGone:
            return False
        try:
            result = await _verdict(conn, inc, body, context)
        except Exception:
            result = broken(ADAPTER)
        status = envoy_http_status(result)
        return respond(conn, inc, status, _fields(result, status), result.body)


def _fields(result: Verdict, status: int) -> list[tuple[str, str]]:
    """The answer's fields: what goes upstream, or what the client sees."""
    if result.allowed:
        return result.marks()  # for allowed_upstream_headers
    # A refusal reaches the client as the inline proxy sends it, with no
    # X-Vaultgate-* field (on a trap's 404 it would betray the trap),
    # unless its status had to change.
    fields = list(result.headers)
    if status != result.status:
        fields.append((STATUS_FIELD, str(result.status)))
    return fields


async def _verdict(
    conn: ClientConnection, inc: Incoming, body: bytes, context: AuthzContext
) -> Verdict:
    engine = context.engine
    line = (inc.method, inc.target)
    if not context.may_call(conn.peer_ip):
        return refuse(engine, ADAPTER, conn.peer_ip, line, refusal("untrusted-peer"))
    prefix = context.adapters.envoy_http_path_prefix
    trusted = (context.is_trusted, context.may_call)
    found = original_request(inc, body, conn.peer_ip, prefix, trusted)
    if isinstance(found, str):
        return refuse(engine, ADAPTER, conn.peer_ip, line, refusal(found))
    return await check(engine, found, ADAPTER)


def original_request(
    inc: Incoming,
    body: bytes,
    peer_ip: str,
    prefix: str,
    trusted: tuple[Callable[[str], bool], Callable[[str], bool]],
) -> Request | str:
    """The client's request as Envoy reported it, or why it cannot be.

    ``trusted`` tests the policy's trusted proxies, then the adapter's
    trusted peers (Envoy itself).
    """
    target = _strip_prefix(inc.target, prefix)
    if target is None:
        return "path-prefix"
    headers = inc.headers
    xff, forwarded = field(headers, "x-forwarded-for"), field(headers, "forwarded")
    proxies, peers = trusted
    reported = field(headers, "x-real-ip")
    if reported is not None:
        client = original_client(reported, xff, forwarded, proxies)
    else:
        # No x-real-ip added: the chain Envoy passed on, read from Envoy
        # leftwards, past Envoy's own address and the trusted proxies.
        def hop_trusted(address: str) -> bool:
            return peers(address) or proxies(address)

        client = client_address(peer_ip, xff, forwarded, hop_trusted)
    if client is None:
        return "client-address"
    partial = (field(headers, PARTIAL_FIELD) or "").lower() == "true"
    return Request(
        inc.method,
        target,
        keep_fields(headers, _DROPPED),
        client,
        peer_ip,
        body=body,
        body_length=inc.received,
        body_truncated=partial or len(body) < inc.received,
    )


def _strip_prefix(target: str, prefix: str) -> str | None:
    """The original target under ``prefix``; None when it is not there."""
    if not prefix:
        return target
    if not target.startswith(prefix):
        return None
    rest = target[len(prefix) :]
    if rest[:1] == "/":
        return rest
    if rest == "" or rest[:1] == "?":
        return "/" + rest
    return None  # /authzfoo is not under /authz
