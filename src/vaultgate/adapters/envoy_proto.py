"""Envoy's ext_authz gRPC messages, declared at import from a minimal schema.

Only what vaultgate reads or writes is declared, with Envoy's package,
message names and field numbers, each cited below from Envoy's API
(api/envoy/service/auth/v3/external_auth.proto and attribute_context.proto,
api/envoy/config/core/v3/base.proto and address.proto,
api/envoy/type/v3/http_status.proto) and googleapis' google/rpc/status.proto.
Protobuf parsers skip the fields they do not know, so a CheckRequest from
a newer Envoy parses, and Envoy reads what we send field by field.  The
descriptors live in a private pool: they never clash with a full copy of
Envoy's protos loaded in the same process.  No generated code to keep in
step, and no build step.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto
_SCALARS = {
    "string": _F.TYPE_STRING,
    "bytes": _F.TYPE_BYTES,
    "int32": _F.TYPE_INT32,
    "int64": _F.TYPE_INT64,
    "uint32": _F.TYPE_UINT32,
}
SERVICE = "envoy.service.auth.v3.Authorization"
METHOD = "Check"


def _field(
    message: Any, name: str, number: int, kind: str, repeated: bool = False
) -> Any:
    """Add a field; ``kind`` is a scalar, ``enum:<full name>`` or a message."""
    label = _F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL
    field = message.field.add(name=name, number=number, label=label)
    if kind in _SCALARS:
        field.type = _SCALARS[kind]
    elif kind.startswith("enum:"):
        field.type, field.type_name = _F.TYPE_ENUM, "." + kind[5:]
    else:
        field.type, field.type_name = _F.TYPE_MESSAGE, "." + kind
    return field


def _string_map(message: Any, scope: str, name: str, entry: str, number: int) -> None:
    """Add a ``map<string, string>`` field (a repeated nested entry message)."""
    nested = message.nested_type.add(name=entry)
    nested.options.map_entry = True
    _field(nested, "key", 1, "string")
    _field(nested, "value", 2, "string")
    _field(message, name, number, f"{scope}.{entry}", repeated=True)


def _file(name: str, package: str, *deps: str) -> Any:
    return descriptor_pb2.FileDescriptorProto(
        name=name, package=package, syntax="proto3", dependency=list(deps)
    )


def _rpc_status() -> Any:
    proto = _file("google/rpc/status.proto", "google.rpc")
    status = proto.message_type.add(name="Status")
    _field(status, "code", 1, "int32")  # a google.rpc.Code value
    _field(status, "message", 2, "string")
    return proto  # details = 3 (repeated Any) is never sent


def _http_status() -> Any:
    proto = _file("envoy/type/v3/http_status.proto", "envoy.type.v3")
    # StatusCode's values are the HTTP status numbers themselves; proto3
    # enums are open, so declaring Empty = 0 alone carries any of them.
    code = proto.enum_type.add(name="StatusCode")
    code.value.add(name="Empty", number=0)
    message = proto.message_type.add(name="HttpStatus")
    _field(message, "code", 1, "enum:envoy.type.v3.StatusCode")
    return proto


def _core() -> Any:
    proto = _file("envoy/config/core/v3/base.proto", "envoy.config.core.v3")
    core = "envoy.config.core.v3"
    value = proto.message_type.add(name="HeaderValue")
    _field(value, "key", 1, "string")
    _field(value, "value", 2, "string")
    _field(value, "raw_value", 3, "bytes")  # set by encode_raw_headers
    option = proto.message_type.add(name="HeaderValueOption")
    # append = 2 left unset: ext_authz then replaces (OkHttpResponse) or
    # sets (DeniedHttpResponse) the field instead of appending.
    _field(option, "header", 1, f"{core}.HeaderValue")
    header_map = proto.message_type.add(name="HeaderMap")
    _field(header_map, "headers", 1, f"{core}.HeaderValue", repeated=True)
    socket = proto.message_type.add(name="SocketAddress")  # address.proto
    _field(socket, "address", 2, "string")
    _field(socket, "port_value", 3, "uint32")
    address = proto.message_type.add(name="Address")  # address.proto
    _field(address, "socket_address", 1, f"{core}.SocketAddress")
    return proto


def _attribute_context() -> Any:
    proto = _file(
        "envoy/service/auth/v3/attribute_context.proto",
        "envoy.service.auth.v3",
        "envoy/config/core/v3/base.proto",
    )
    scope = "envoy.service.auth.v3.AttributeContext"
    context = proto.message_type.add(name="AttributeContext")
    peer = context.nested_type.add(name="Peer")
    _field(peer, "address", 1, "envoy.config.core.v3.Address")
    _field(peer, "service", 2, "string")
    _field(peer, "principal", 4, "string")
    _field(peer, "certificate", 5, "string")  # URL-encoded PEM
    request = context.nested_type.add(name="Request")
    _field(request, "http", 2, f"{scope}.HttpRequest")  # time = 1 unread
    _http_request(context.nested_type.add(name="HttpRequest"), scope)
    tls = context.nested_type.add(name="TLSSession")
    _field(tls, "sni", 1, "string")
    _field(context, "source", 1, f"{scope}.Peer")
    _field(context, "destination", 2, f"{scope}.Peer")
    _field(context, "request", 4, f"{scope}.Request")
    _string_map(context, scope, "context_extensions", "ContextExtensionsEntry", 10)
    _field(context, "tls_session", 12, f"{scope}.TLSSession")
    return proto


def _http_request(message: Any, scope: str) -> None:
    _field(message, "id", 1, "string")
    _field(message, "method", 2, "string")
    _string_map(message, f"{scope}.HttpRequest", "headers", "HeadersEntry", 3)
    _field(message, "path", 4, "string")  # the target: path and query
    _field(message, "host", 5, "string")
    _field(message, "scheme", 6, "string")
    _field(message, "size", 9, "int64")  # -1 when unknown
    _field(message, "protocol", 10, "string")
    _field(message, "body", 11, "string")
    _field(message, "raw_body", 12, "bytes")  # with pack_as_bytes
    _field(message, "header_map", 13, "envoy.config.core.v3.HeaderMap")


def _external_auth() -> Any:
    proto = _file(
        "envoy/service/auth/v3/external_auth.proto",
        "envoy.service.auth.v3",
        "envoy/config/core/v3/base.proto",
        "envoy/service/auth/v3/attribute_context.proto",
        "envoy/type/v3/http_status.proto",
        "google/rpc/status.proto",
    )
    scope, option = "envoy.service.auth.v3", "envoy.config.core.v3.HeaderValueOption"
    check = proto.message_type.add(name="CheckRequest")
    _field(check, "attributes", 1, f"{scope}.AttributeContext")
    denied = proto.message_type.add(name="DeniedHttpResponse")
    _field(denied, "status", 1, "envoy.type.v3.HttpStatus")
    _field(denied, "headers", 2, option, repeated=True)
    _field(denied, "body", 3, "string")
    ok = proto.message_type.add(name="OkHttpResponse")
    _field(ok, "headers", 2, option, repeated=True)
    _field(ok, "headers_to_remove", 5, "string", repeated=True)
    _field(ok, "response_headers_to_add", 6, option, repeated=True)
    answer = proto.message_type.add(name="CheckResponse")
    answer.oneof_decl.add(name="http_response")
    _field(answer, "status", 1, "google.rpc.Status")
    _field(answer, "denied_response", 2, f"{scope}.DeniedHttpResponse").oneof_index = 0
    _field(answer, "ok_response", 3, f"{scope}.OkHttpResponse").oneof_index = 0
    service = proto.service.add(name="Authorization")
    service.method.add(
        name=METHOD,
        input_type=f".{scope}.CheckRequest",
        output_type=f".{scope}.CheckResponse",
    )
    return proto


def _build() -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    for proto in (
        _rpc_status(),
        _http_status(),
        _core(),
        _attribute_context(),
        _external_auth(),
    ):
        pool.Add(proto)
    return pool


_POOL = _build()


def _message(name: str) -> Any:
    return message_factory.GetMessageClass(_POOL.FindMessageTypeByName(name))


CheckRequest = _message("envoy.service.auth.v3.CheckRequest")
CheckResponse = _message("envoy.service.auth.v3.CheckResponse")
HeaderValueOption = _message("envoy.config.core.v3.HeaderValueOption")

# google.rpc.Code values (googleapis google/rpc/code.proto).
OK = 0
PERMISSION_DENIED = 7
RESOURCE_EXHAUSTED = 8
UNAUTHENTICATED = 16
