"""Envoy ``ext_authz`` over gRPC: ``envoy.service.auth.v3.Authorization/Check``.

How this works: Envoy sends a ``CheckRequest`` whose attribute context
holds the original method, target, headers (all of them by default), the
downstream address, and with ``with_request_body`` the buffered body.  The
caller must be a trusted peer; the original request is rebuilt from the
message and checked by the engine.  An allowed request gets an OK status
and ``OkHttpResponse`` fields for the upstream (``x-vaultgate-*``); a
refused one gets a non-OK status and a ``DeniedHttpResponse`` with the
rendered status, fields and problem body, which Envoy sends to the client
as they are.  A refusal is always an answer, never a failed call: Envoy's
``failure_mode_allow`` would let a failed call through.
"""

from __future__ import annotations

import hashlib
import logging
import ssl
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import grpc

from vaultgate.adapters import envoy_proto as pb
from vaultgate.adapters.check import (
    broken,
    check,
    original_client,
    refusal,
    refuse,
)
from vaultgate.adapters.context import AuthzContext
from vaultgate.adapters.verdict import FRAMING, Verdict, field, keep_fields
from vaultgate.core.policy import ServerSettings
from vaultgate.core.request import Request, TLSInfo
from vaultgate.proxy.forwarded import canonical

log = logging.getLogger("vaultgate.adapters")

ADAPTER = "envoy_grpc"
PARTIAL_FIELD = "x-envoy-auth-partial-body"
_DROPPED = (FRAMING - {"content-length"}) | {PARTIAL_FIELD}
# Room in a CheckRequest for what is not the body: the target, the header
# fields (bounded by the server limits too) and the attribute context.
MESSAGE_SLACK = 64 * 1024
# How long a stopping server lets calls in flight finish.
STOP_GRACE = 5.0
_STATUS_CODES = {401: pb.UNAUTHENTICATED, 429: pb.RESOURCE_EXHAUSTED}


class Authorizer:
    """The Check method, answering from the context's current engine."""

    def __init__(self, context: AuthzContext) -> None:
        self.context = context

    async def check(self, message: Any, rpc: grpc.aio.ServicerContext[Any, Any]) -> Any:
        try:
            result = await self._verdict(message, peer_address(rpc.peer()))
        except Exception:
            result = broken(ADAPTER)
        return check_response(result)

    async def _verdict(self, message: Any, peer: str) -> Verdict:
        context = self.context
        http = message.attributes.request.http
        line = (http.method or "-", http.path or "/")
        if not context.may_call(peer):
            denied = refusal("untrusted-peer")
            return refuse(context.engine, ADAPTER, peer, line, denied)
        limit = context.settings.inspect_body_bytes
        found = original_request(message, peer, context.is_trusted, limit)
        if isinstance(found, str):
            return refuse(context.engine, ADAPTER, peer, line, refusal(found))
        return await check(context.engine, found, ADAPTER)


def original_request(
    message: Any, peer_ip: str, trusted: Callable[[str], bool], limit: int
) -> Request | str:
    """The client's request as Envoy described it, or why it cannot be."""
    attributes = message.attributes
    http = attributes.request.http
    if not http.method or not http.path.startswith("/") or "#" in http.path:
        return "original-request"
    headers = _headers(http)
    reported = attributes.source.address.socket_address.address
    xff, forwarded = field(headers, "x-forwarded-for"), field(headers, "forwarded")
    client = original_client(reported, xff, forwarded, trusted)
    if client is None:
        return "client-address"
    body = http.raw_body or http.body.encode("utf-8")
    length = field(headers, "content-length") or ""
    partial = (field(headers, PARTIAL_FIELD) or "").lower() == "true"
    return Request(
        http.method,
        http.path,
        keep_fields(headers, _DROPPED),
        client,
        peer_ip,
        version=_version(http.protocol),
        scheme=http.scheme or "http",
        body=body[:limit],
        body_length=int(length) if length.isascii() and length.isdigit() else len(body),
        body_truncated=partial or len(body) > limit,
        tls=_tls(attributes) if http.scheme == "https" else None,
    )


def _headers(http: Any) -> list[tuple[str, str]]:
    """The client's header fields; pseudo-headers become a Host field."""
    if http.header_map.headers:
        # encode_raw_headers: repeated fields stay apart, values are bytes.
        pairs = [
            (h.key, h.value or h.raw_value.decode("latin-1"))
            for h in http.header_map.headers
        ]
    else:
        pairs = list(http.headers.items())
    headers = [(name, value) for name, value in pairs if not name.startswith(":")]
    if http.host and field(headers, "host") is None:
        headers.insert(0, ("host", http.host))
    return headers


def _version(protocol: str) -> str:
    """``HTTP/1.1`` -> ``1.1``; what the inline proxy's Request calls it."""
    return protocol.partition("/")[2] or "1.1"


def _tls(attributes: Any) -> TLSInfo:
    """What Envoy saw of TLS: the SNI, and the client certificate's digest."""
    digest = b""
    pem = unquote(attributes.source.certificate)
    if pem:
        try:
            digest = hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).digest()
        except ValueError:
            log.warning("adapter.bad_certificate adapter=%s", ADAPTER)
    return TLSInfo(sni=attributes.tls_session.sni, client_cert_sha256=digest)


def check_response(result: Verdict) -> Any:
    """The CheckResponse telling Envoy ``result``."""
    answer = pb.CheckResponse()
    if result.allowed:
        answer.status.code = pb.OK
        _add_fields(answer.ok_response.headers, result.marks())
        return answer
    answer.status.code = _STATUS_CODES.get(result.status, pb.PERMISSION_DENIED)
    denied = answer.denied_response
    denied.status.code = result.status
    # As the inline proxy answers: no X-Vaultgate-* field for the client.
    _add_fields(denied.headers, list(result.headers))
    denied.body = result.body.decode("utf-8", "replace")
    return answer


def _add_fields(options: Any, fields: list[tuple[str, str]]) -> None:
    for name, value in fields:
        option = options.add()
        option.header.key = name.lower()
        option.header.value = value


def peer_address(peer: str) -> str:
    """The address in gRPC's peer string (``ipv4:127.0.0.1:5000``)."""
    # Newer gRPC cores write the IPv6 brackets percent-encoded.
    kind, _, rest = unquote(peer).partition(":")
    if kind == "ipv6":
        return canonical(rest[1 : rest.find("]")] if rest.startswith("[") else rest)
    if kind == "ipv4":
        return canonical(rest.rpartition(":")[0])
    return kind or "unknown"


def max_message(settings: ServerSettings) -> int:
    """The largest CheckRequest accepted: a body Envoy may send, and room."""
    return settings.max_body_bytes + settings.max_header_bytes + MESSAGE_SLACK


async def start_server(context: AuthzContext, host: str, port: int) -> tuple[Any, int]:
    """A started gRPC server for ``Check`` on ``host:port``; it and its port."""
    limit = max_message(context.settings)
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", limit),
            # gRPC shares a port by default (SO_REUSEPORT): a second
            # vaultgate would silently take half of Envoy's calls.
            ("grpc.so_reuseport", 0),
        ]
    )
    handler = grpc.unary_unary_rpc_method_handler(
        Authorizer(context).check,
        request_deserializer=pb.CheckRequest.FromString,
        response_serializer=pb.CheckResponse.SerializeToString,
    )
    service = grpc.method_handlers_generic_handler(pb.SERVICE, {pb.METHOD: handler})
    server.add_generic_rpc_handlers((service,))
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    bound = server.add_insecure_port(address)
    await server.start()
    return server, bound
