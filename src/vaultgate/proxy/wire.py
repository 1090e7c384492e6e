"""HTTP/1.1 wire rules: what the proxy refuses, forwards and drops.

A request whose length two parties could read differently is how requests
are smuggled past a proxy (RFC 9112 section 6.3, 11.2), so the request side
refuses every ambiguous framing instead of guessing; llhttp in strict mode
refuses most malformed syntax already, and these checks cover what it
accepts.  Hop-by-hop fields (RFC 9110 section 7.6.1) never cross the proxy
in either direction.  Nothing here does I/O.
"""

from __future__ import annotations

from http import HTTPStatus

from vaultgate.errors import ProtocolError

# Methods forwarded.  llhttp also parses WebDAV, RTSP and other methods; an
# API gateway has no use for them, so they are refused with 501 (RFC 9110
# section 9.1) rather than handed to an origin that may mishandle them.
METHODS = frozenset(
    {b"GET", b"HEAD", b"POST", b"PUT", b"PATCH", b"DELETE", b"OPTIONS", b"TRACE"}
)
# Methods safe to send again on a fresh connection when a pooled one turns
# out to have been closed by the upstream (RFC 9110 section 9.2.2).
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})

# What the request side does with a field, by lower-case name; any other
# field is forwarded as received.
HOST, LENGTH, CODING, CONNECTION, EXPECT, XFF, XFP, FORWARDED, UPGRADE, DROP = range(
    1, 11
)
REQUEST_FIELDS: dict[bytes, int] = {
    b"host": HOST,
    b"content-length": LENGTH,
    b"transfer-encoding": CODING,
    b"connection": CONNECTION,
    b"expect": EXPECT,
    b"x-forwarded-for": XFF,
    b"x-forwarded-proto": XFP,
    b"forwarded": FORWARDED,
    b"upgrade": UPGRADE,
    # Hop-by-hop, or addressed to a proxy and never to the origin.
    b"keep-alive": DROP,
    b"proxy-connection": DROP,
    b"te": DROP,
    b"trailer": DROP,
    b"proxy-authorization": DROP,
}

# Response fields that describe the upstream connection, not the answer.
RESPONSE_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"proxy-authenticate",
    }
)
# Connection options that name no field to drop (RFC 9110 section 7.6.1).
_CONNECTION_OPTIONS = frozenset({"close", "keep-alive", "upgrade"})

LAST_CHUNK = b"0\r\n\r\n"
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_STATUS_LINES: dict[int, bytes] = {}


def check_request_line(method: bytes, version: str, url: bytes) -> None:
    """Refuse a request line with a version, method or target we refuse."""
    if version != "1.1" and version != "1.0":
        check_version(version)
    if method not in METHODS:
        check_method(method)
    if url[:1] != b"/" or b"#" in url:
        check_target(method, url)


def check_version(version: str) -> None:
    """Refuse HTTP/0.9 and versions other than 1.0 and 1.1 (RFC 9112 2.3)."""
    if version != "1.1" and version != "1.0":
        raise ProtocolError(505, "version " + version)


def check_method(method: bytes) -> None:
    """Refuse methods an API gateway does not forward."""
    if method not in METHODS:
        raise ProtocolError(501, "method not forwarded")


def check_target(method: bytes, url: bytes) -> None:
    """Accept origin-form, and ``*`` for OPTIONS only (RFC 9112 3.2).

    Absolute-form is refused: it is meant for forward proxies, and routing
    on a path that the origin would read differently is a route bypass.  A
    fragment never belongs in a request (RFC 9110 4.2.5) and would split the
    path we route on from the path the origin serves.
    """
    if url[:1] == b"/":
        if b"#" in url:
            raise ProtocolError(400, "fragment in request-target")
        return
    if url != b"*" or method != b"OPTIONS":
        raise ProtocolError(400, "request-target not in origin-form")


def check_coding(value: bytes, count: int, version: str) -> None:
    """Accept exactly one Transfer-Encoding, ``chunked``, in HTTP/1.1.

    Any other coding list (``gzip, chunked``, a repeated field, an empty
    element) is refused: the proxy would have to re-encode it, and each
    is a known way to make two parsers disagree on where a body ends.
    """
    if count != 1 or value.lower() != b"chunked":
        raise ProtocolError(400, "transfer-encoding other than chunked")
    if version != "1.1":
        # RFC 9112 6.1: a 1.0 message with Transfer-Encoding is faulty.
        raise ProtocolError(400, "transfer-encoding in HTTP/1.0")


def connection_fields(value: str) -> frozenset[str]:
    """Field names, lower case, that a Connection header marks hop-by-hop."""
    names = {token.strip().lower() for token in value.split(",")}
    names.discard("")
    return frozenset(names - _CONNECTION_OPTIONS)


def status_line(status: int, reason: bytes = b"") -> bytes:
    """The status line, with the given reason phrase or the standard one."""
    if reason:
        return b"HTTP/1.1 %d %s\r\n" % (status, reason)
    line = _STATUS_LINES.get(status)
    if line is None:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Status"
        line = b"HTTP/1.1 %d %s\r\n" % (status, phrase.encode("ascii"))
        _STATUS_LINES[status] = line
    return line


def field_lines(headers: list[tuple[str, str]]) -> list[bytes]:
    """Header lines from text pairs; CR, LF and NUL are refused."""
    lines = []
    for name, value in headers:
        line = f"{name}: {value}\r\n"
        if "\r" in line[:-2] or "\n" in line[:-2] or "\0" in line:
            raise ValueError(f"header {name!r} holds a line break or NUL")
        lines.append(line.encode("latin-1"))
    return lines


def has_body(status: int, head_request: bool) -> bool:
    """Whether a response carries a body (RFC 9112 section 6.3)."""
    return not (head_request or status < 200 or status == 204 or status == 304)
