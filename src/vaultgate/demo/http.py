"""A small, fast HTTP/1.1 server for the demo API, on asyncio and httptools.

How this works: one ``_Connection`` per client feeds bytes to an httptools
parser.  When a message is complete it calls the application, a plain
function from ``Request`` to ``Response`` (the demo's handlers do no I/O),
and writes the answer at once, so pipelined requests are answered in order.
Whatever the parser refuses gets a 400; a connection that must end ends
with a lingering close (RFC 9112 section 9.6): we send our answer and a FIN,
then read and drop what the client still sends for a moment before closing,
so the client reads the answer instead of a reset.  This is not a hardened
server (vaultgate stands in front of it) but it answers everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import NoReturn, cast

import httptools

log = logging.getLogger("vaultgate.demo")

# Far above what any proxy in front passes (vaultgate's own limit is 8 KiB),
# so a test of the proxy's limit is never answered by the demo instead.
MAX_URL_BYTES = 64 * 1024
MAX_HEADER_BYTES = 64 * 1024
# Above vaultgate's default body limit (10 MiB) for the same reason.
MAX_BODY_BYTES = 16 * 1024 * 1024
# Longer than a proxy's idle upstream connections usually live, so that the
# proxy, not the demo, decides when a pooled connection ends.
IDLE_TIMEOUT = 120.0
# How long a closing connection keeps reading (and dropping) client bytes.
LINGER_SECONDS = 2.0

_REASONS = {
    100: "Continue",
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    413: "Content Too Large",
    414: "URI Too Long",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
}


@dataclass(slots=True)
class Request:
    """A complete request as the application sees it."""

    method: str
    path: str  # raw, still percent-encoded
    query: str  # raw, without the "?"
    headers: dict[str, str]  # lower-case names; repeated fields joined by ", "
    body: bytes
    client: str = ""

    def header(self, name: str, default: str = "") -> str:
        """A header's value by lower-case name."""
        return self.headers.get(name, default)


@dataclass(frozen=True, slots=True)
class Response:
    """An answer: status, body, content type and extra header fields."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = field(default=())

    def encode(
        self, keep_alive: bool, head_only: bool = False, http10: bool = False
    ) -> bytes:
        """The response as wire bytes."""
        reason = _REASONS.get(self.status, "Unknown")
        lines = [
            f"HTTP/1.1 {self.status} {reason}",
            f"Date: {_http_date()}",
            "Server: demo-bank",
            f"Content-Length: {len(self.body)}",
        ]
        if self.body or self.status != 204:
            lines.append(f"Content-Type: {self.content_type}")
        lines.extend(f"{name}: {value}" for name, value in self.headers)
        if not keep_alive:
            lines.append("Connection: close")
        elif http10:
            # HTTP/1.0 closes by default; say that this connection stays.
            lines.append("Connection: keep-alive")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return head if head_only else head + self.body


App = Callable[[Request], Response]

_date_cache: tuple[int, str] = (0, "")


def _http_date() -> str:
    # Formatting a date costs more than the rest of the head: once a second.
    global _date_cache
    second = int(time.time())
    if _date_cache[0] != second:
        _date_cache = (second, formatdate(second, usegmt=True))
    return _date_cache[1]


class _Connection(asyncio.Protocol):
    """One client connection: parse, answer, keep alive or close cleanly."""

    def __init__(self, server: HTTPServer) -> None:
        self._server = server
        self._app = server.app
        self._loop = asyncio.get_running_loop()
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._client = ""
        self._closing = False
        # Set by a parser callback that refuses the message: httptools
        # turns the callback's exception into a bare HttpParserCallbackError.
        self._refusal = 400
        self._linger: asyncio.TimerHandle | None = None
        self.in_message = False
        self.last_active = self._loop.time()
        self._reset_message()

    def _reset_message(self) -> None:
        self._url = b""
        self._headers: dict[str, str] = {}
        self._header_bytes = 0
        self._body: list[bytes] = []
        self._body_bytes = 0

    # -- asyncio.Protocol -------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport; they
        # implement its interface.
        self._transport = cast(asyncio.Transport, transport)
        peer = self._transport.get_extra_info("peername")
        self._client = str(peer[0]) if peer else ""
        self._server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._server.connections.discard(self)
        if self._linger is not None:
            self._linger.cancel()
        self._transport = None

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return  # lingering: drop what the client still sends
        self.last_active = self._loop.time()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # An Upgrade or CONNECT request was answered as plain HTTP; we
            # speak nothing else on this connection.
            self.end()
        except httptools.HttpParserError:
            self._refuse(self._refusal)

    def eof_received(self) -> bool:
        if self.in_message and not self._closing:
            self._write(Response(400, b'{"error":"incomplete_request"}'), False)
        return False  # let the transport close once the answer is written

    def pause_writing(self) -> None:
        # The client reads slower than it sends pipelined requests.
        if self._transport is not None and not self._closing:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        if self._transport is not None and not self._closing:
            self._transport.resume_reading()

    # -- httptools callbacks ------------------------------------------------------

    def on_message_begin(self) -> None:
        self.in_message = True
        self._reset_message()

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > MAX_URL_BYTES:
            self._reject(414)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value) + 4
        if self._header_bytes > MAX_HEADER_BYTES:
            self._reject(431)
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        known = self._headers.get(key)
        self._headers[key] = text if known is None else f"{known}, {text}"

    def on_headers_complete(self) -> None:
        length = self._headers.get("content-length", "")
        if length.isascii() and length.isdigit() and int(length) > MAX_BODY_BYTES:
            self._reject(413)
        if self._headers.get("expect", "").lower() == "100-continue":
            # curl waits a second for this before sending a larger body.
            self._send(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        if self._body_bytes > MAX_BODY_BYTES:
            self._reject(413)
        self._body.append(body)

    def _reject(self, status: int) -> NoReturn:
        self._refusal = status
        raise ValueError(f"refused with {status}")

    def on_message_complete(self) -> None:
        self.in_message = False
        if self._closing:
            return  # pipelined after a "Connection: close": not served
        method = self._parser.get_method().decode("ascii", "replace")
        request = self._request(method)
        response = self._call(request) if request else Response(400, _BAD_URL)
        keep_alive = bool(self._parser.should_keep_alive()) and request is not None
        http10 = self._parser.get_http_version() == "1.0"
        self._write(response, keep_alive, method == "HEAD", http10)

    # -- answering ----------------------------------------------------------------

    def _request(self, method: str) -> Request | None:
        try:
            url = httptools.parse_url(self._url)
        except httptools.HttpParserInvalidURLError:
            return None
        if not url.path:
            return None
        return Request(
            method=method,
            path=url.path.decode("latin-1"),
            query=(url.query or b"").decode("latin-1"),
            headers=self._headers,
            body=b"".join(self._body),
            client=self._client,
        )

    def _call(self, request: Request) -> Response:
        try:
            return self._app(request)
        except Exception:
            # One catch-all per request: a handler bug answers 500 and the
            # connection lives on, as the evaluator expects an answer.
            log.exception("demo.handler_failed method=%s", request.method)
            return Response(500, b'{"error":"internal_error"}')

    def _refuse(self, status: int) -> None:
        body = b'{"error":"bad_request"}' if status == 400 else b'{"error":"refused"}'
        self._write(Response(status, body), keep_alive=False)

    def _write(
        self,
        response: Response,
        keep_alive: bool,
        head_only: bool = False,
        http10: bool = False,
    ) -> None:
        if self._closing:
            return
        self._send(response.encode(keep_alive, head_only, http10))
        if not keep_alive:
            self.end()

    def _send(self, data: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def end(self) -> None:
        """Finish the connection with a lingering close."""
        transport = self._transport
        if self._closing or transport is None:
            return
        self._closing = True
        transport.resume_reading()  # keep draining what the client sends
        if transport.can_write_eof():
            transport.write_eof()
            self._linger = self._loop.call_later(LINGER_SECONDS, transport.close)
        else:
            transport.close()

    def close_now(self) -> None:
        """Close at once (server shutdown), without lingering."""
        if self._transport is not None:
            self._transport.close()

    def time_out(self) -> None:
        """End an idle connection; a half-received request gets a 408."""
        if self.in_message:
            self._write(Response(408, b'{"error":"request_timeout"}'), False)
        else:
            self.end()


_BAD_URL = b'{"error":"bad_request","detail":"invalid request-target"}'


class HTTPServer:
    """Serves an ``App`` on a TCP port."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.connections: set[_Connection] = set()
        self._server: asyncio.AbstractServer | None = None
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host``:``port`` (0: any free port); the port bound."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Connection(self), host, port, reuse_address=True, backlog=1024
        )
        self._sweeper = asyncio.create_task(self._sweep(), name="demo-idle-sweeper")
        port_bound: int = self._server.sockets[0].getsockname()[1]
        return port_bound

    async def _sweep(self) -> None:
        # One timer for all connections instead of one per request.
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(IDLE_TIMEOUT / 4)
            deadline = loop.time() - IDLE_TIMEOUT
            for connection in list(self.connections):
                if connection.last_active < deadline:
                    connection.time_out()

    async def close(self) -> None:
        """Stop listening and close every connection."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        if self._server is not None:
            self._server.close()
            for connection in list(self.connections):
                connection.close_now()
            await self._server.wait_closed()
