"""One client connection: bytes in, parsed requests out, answered in order.

How this works: ``data_received`` feeds llhttp, whose callbacks build an
``Incoming`` per request, apply the size limits and the wire rules as each
part arrives, and queue the request once its head is complete.  One task
per connection (``_serve``) answers the queue in order, so pipelined
requests are answered in the order they came.  A refused message stops
parsing for good: it is answered after what came before it, with
``Connection: close``.  Reading pauses while too much is buffered, which
bounds the memory one connection can hold.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING, cast

import httptools

from vaultgate.core.request import TLSInfo
from vaultgate.errors import ProtocolError
from vaultgate.proxy import wire
from vaultgate.proxy.forwarded import canonical, client_address, forwarding_fields
from vaultgate.proxy.handler import Inline, answer_inline, handle, refuse
from vaultgate.proxy.incoming import ClientGone, Incoming, Refusal

if TYPE_CHECKING:
    from vaultgate.proxy.server import ServerContext
    from vaultgate.proxy.upstream import UpstreamConnection

log = logging.getLogger("vaultgate.proxy")

# What the parser is reading.
IDLE, HEAD, BODY, STOPPED = range(4)

# Requests parsed ahead of the one being answered before reading pauses:
# browsers pipeline none and tools a handful; more is a flood.
MAX_PIPELINED = 16
# Body bytes buffered ahead of the handler, past the inspection buffer,
# before reading pauses: one socket read's worth.
BODY_HIGH_WATER = 256 * 1024
# A head arriving in more reads than this is a slow drip: llhttp joins a
# field split over reads by copying, so the count also bounds that work.
MAX_HEAD_READS = 256
# Slack over the URL and header limits for the request line's other parts
# and line endings, when bounding bytes of a head still incomplete.
HEAD_SLACK = 1024


class ClientConnection(asyncio.Protocol):
    """Parses requests from one client and answers them in order."""

    # What answers each parsed request; the authorization adapters
    # (vaultgate.adapters) subclass this connection with their own.
    answer = staticmethod(handle)

    def __init__(self, server: ServerContext) -> None:
        self.server = server
        self.loop = server.loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.queue: deque[Incoming | Refusal] = deque()
        self.current: Incoming | None = None
        self.task: asyncio.Task[None] | None = None  # lives as long as we do
        self.busy = False  # answering a request
        self.waiter: asyncio.Future[None] | None = None  # for the next one
        self.reading = IDLE
        self.deadline = 0.0
        self.head_bytes = 0
        self.head_reads = 0
        self.served = 0
        self.bytes_out = 0
        self.peer_ip = ""
        self.peer_trusted = False
        self.tls: TLSInfo | None = None
        self.forward_tail = b""
        self.closed = False
        self.close_after = False
        self.read_paused = False
        self.source: UpstreamConnection | None = None
        # Answered from callbacks when the task is idle (see ``_dispatch``);
        # an adapter's own ``answer`` always runs in the task.
        self.inline = type(self).answer is handle
        self.answering: Inline | None = None

    # -- asyncio callbacks -------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without inheriting.
        self.transport = cast(asyncio.Transport, transport)
        server = self.server
        peer = transport.get_extra_info("peername")
        self.peer_ip = canonical(peer[0]) if peer else "unix"
        self.peer_trusted = server.is_trusted(self.peer_ip)
        self.forward_tail = forwarding_fields(self.peer_ip, server.scheme)
        if server.tls is not None:
            self.tls = server.tls_info(transport)
        # The first head must arrive within the header timeout of connecting.
        self.deadline = self.loop.time() + server.settings.header_timeout
        server.connections.add(self)
        server.watchdog.add(self)

    def data_received(self, data: bytes) -> None:
        if self.reading is STOPPED:
            return
        if self.reading is not BODY:
            self.head_bytes += len(data)
            self.head_reads += 1
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._upgraded()
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if not isinstance(cause, ProtocolError):
                cause = ProtocolError(400, "malformed request")
            self.refuse(cause)
        except httptools.HttpParserError as exc:
            self.refuse(_parse_error(exc))
        else:
            if self.reading is HEAD:
                self._check_partial_head()
        if self.queue and not self.busy:
            self._dispatch()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.reading = STOPPED
        self.deadline = 0.0
        self.server.forget(self)
        self.server.watchdog.discard(self)
        gone = ClientGone()
        if self.current is not None:
            self.current.fail(gone)
        for item in self.queue:
            if isinstance(item, Incoming):
                item.fail(gone)
        if self.source is not None:
            self.source.fail_for_client()
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)  # the task sees ``closed`` and ends

    def pause_writing(self) -> None:
        if self.source is not None:
            self.source.client_paused(True, self.server.settings.idle_timeout)

    def resume_writing(self) -> None:
        if self.source is not None:
            self.source.client_paused(False, 0.0)

    def expire(self) -> None:
        """The watchdog's call: this connection's deadline passed."""
        if self.reading is HEAD:
            self.refuse(ProtocolError(408, "header timeout"))
        elif self.reading is BODY:
            self.refuse(ProtocolError(408, "body timeout"))
        elif not self.busy:
            self.close()  # idle keep-alive, or nothing sent at all
        if self.queue and not self.busy:
            self._dispatch()

    # -- parser callbacks --------------------------------------------------

    def on_message_begin(self) -> None:
        self.current = Incoming()
        self.reading = HEAD
        if self.served or self.queue or self.busy:
            self.deadline = self.loop.time() + self.server.settings.header_timeout

    def on_url(self, data: bytes) -> None:
        inc = self.current
        assert inc is not None
        inc.url += data
        if len(inc.url) > self.server.settings.max_url_bytes:
            raise ProtocolError(414, "request-target over max_url_bytes")

    def on_header(self, name: bytes, value: bytes) -> None:
        inc = self.current
        assert inc is not None
        settings = self.server.settings
        inc.count += 1
        inc.size += len(name) + len(value) + 4
        if inc.count > settings.max_headers:
            raise ProtocolError(431, "header fields over max_headers")
        if inc.size > settings.max_header_bytes:
            raise ProtocolError(431, "header bytes over max_header_bytes")
        if self.reading is BODY:
            return  # a trailer field: counted, never forwarded
        known = _NAMES.get(name)
        if known is None:
            known = _learn_name(name)
        value = value.rstrip(b" \t")
        text = value.decode("latin-1")
        inc.headers.append((known[0], text))
        if known[1] == 0:
            inc.lines.append(b"%s: %s\r\n" % (name, value))
        else:
            self._special(inc, known[1], name, value, text)

    def _special(
        self, inc: Incoming, kind: int, name: bytes, value: bytes, text: str
    ) -> None:
        if kind == wire.HOST:
            inc.hosts += 1
            inc.lines.append(b"%s: %s\r\n" % (name, value))
        elif kind == wire.LENGTH:
            # llhttp refuses a repeated or non-numeric Content-Length.
            inc.length = int(value)
        elif kind == wire.CODING:
            inc.coding = value
            inc.codings += 1
        elif kind == wire.CONNECTION:
            inc.connection = f"{inc.connection},{text}" if inc.connection else text
        elif kind == wire.EXPECT:
            inc.expect = text.lower()
        elif kind == wire.XFF:
            inc.xff = f"{inc.xff}, {text}" if inc.xff else text
        elif kind == wire.XFP:
            inc.xfp = text
        elif kind == wire.FORWARDED:
            inc.forwarded = f"{inc.forwarded}, {text}" if inc.forwarded else text
        elif kind == wire.UPGRADE:
            inc.upgrade = True

    def on_headers_complete(self) -> None:
        inc = self.current
        assert inc is not None
        parser = self.parser
        method = parser.get_method()
        inc.raw_method = method
        inc.method = method.decode("ascii")
        inc.version = parser.get_http_version()
        inc.keep_alive = parser.should_keep_alive()
        self._check_head(inc, method)
        if inc.connection:
            _drop_connection_fields(inc)
        inc.has_body = inc.codings > 0 or inc.length > 0
        self.head_bytes = self.head_reads = 0
        self.reading = BODY
        settings = self.server.settings
        self.deadline = self.loop.time() + settings.body_timeout if inc.has_body else 0
        inc.queued = True
        self._enqueue(inc)

    def _check_head(self, inc: Incoming, method: bytes) -> None:
        wire.check_request_line(method, inc.version, inc.url)
        if inc.hosts != 1 and (inc.hosts > 1 or inc.version == "1.1"):
            # RFC 9112 3.2: exactly one Host in HTTP/1.1, at most one in 1.0.
            raise ProtocolError(400, "missing or repeated Host")
        if inc.codings:
            wire.check_coding(inc.coding, inc.codings, inc.version)
        if inc.length > self.server.settings.max_body_bytes:
            raise ProtocolError(413, "content-length over max_body_bytes")
        if inc.expect and inc.expect != "100-continue":
            raise ProtocolError(417, "expectation other than 100-continue")
        # llhttp hands the body of an upgrade request to the new protocol;
        # with no upgrade done, that body would be lost.
        body = inc.codings or inc.length > 0
        if inc.upgrade and body and self.parser.should_upgrade():
            raise ProtocolError(400, "upgrade request with a body")

    def on_body(self, data: bytes) -> None:
        inc = self.current
        assert inc is not None
        inc.feed(data)
        if inc.received > self.server.settings.max_body_bytes:
            raise ProtocolError(413, "body over max_body_bytes")
        if inc.buffered > self.high_water:
            self.pause_reading()

    def on_message_complete(self) -> None:
        inc = self.current
        assert inc is not None
        inc.complete = True
        if inc.waiter is not None:
            inc.finish()
        self.current = None
        self.reading = IDLE
        self.deadline = 0.0
        if len(self.queue) >= MAX_PIPELINED:
            self.pause_reading()

    # -- flow control and ending -------------------------------------------

    @property
    def high_water(self) -> int:
        return self.server.settings.inspect_body_bytes + BODY_HIGH_WATER

    def pause_reading(self) -> None:
        if not self.read_paused and self.transport is not None:
            self.read_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.read_paused and self.reading is not STOPPED and not self.closed:
            self.read_paused = False
            assert self.transport is not None
            self.transport.resume_reading()

    def refuse(self, error: ProtocolError) -> None:
        """Stop parsing; the message in progress is answered with ``error``."""
        self.reading = STOPPED
        self.deadline = 0.0
        self.pause_reading()
        inc = self.current
        self.current = None
        if inc is not None and inc.queued:
            inc.fail(error)
            return
        method = self._method_so_far()
        target = inc.target if inc is not None else ""
        self._enqueue(Refusal(error, method, target))

    def _enqueue(self, item: Incoming | Refusal) -> None:
        # Answered once the read (or the watchdog's sweep) is done with it:
        # ``_dispatch``, from ``data_received`` and ``expire``.
        self.queue.append(item)

    def _dispatch(self) -> None:
        """Have the next request answered: here and now if it can be, else
        by the task, which keeps answering in order until the queue is empty."""
        if self.closed:
            return  # the task, if any, was woken by connection_lost
        waiter = self.waiter
        if waiter is not None:
            if waiter.done():
                return  # the task is about to run and takes it
        elif self.task is not None:
            return  # the task is starting or answering
        if self.inline and self._answer_here():
            return
        if waiter is not None:
            waiter.set_result(None)
        else:
            # One task per connection, started by the first request it needs.
            self.task = self.loop.create_task(self._serve(), name="vaultgate.client")

    def _answer_here(self) -> bool:
        item = self.queue[0]
        if not isinstance(item, Incoming) or not item.complete:
            return False
        self.busy = True
        try:
            self.answering = answer_inline(self, item)
        except Exception:
            log.exception("connection.failed peer=%s", self.peer_ip)
            self.abort()
            self.answering = None
        if self.answering is None and not self.closed:
            self.busy = False
            return False
        self.queue.popleft()
        if self.read_paused:
            self.resume_reading_if_room()
        return True

    def answered(self, keep: bool) -> None:
        """An answer given from callbacks is written: on to the next."""
        self.answering = None
        self.busy = False
        self.served += 1
        if self.closed:
            return
        if not keep:
            self.close()
        elif self.queue:
            self._dispatch()
        else:
            self._idle_or_drained()

    def _method_so_far(self) -> str:
        try:
            method = self.parser.get_method()
        except Exception:
            return ""
        return str(method.decode("ascii", "replace"))

    def _check_partial_head(self) -> None:
        settings = self.server.settings
        limit = settings.max_url_bytes + settings.max_header_bytes + HEAD_SLACK
        if self.head_bytes > limit:
            self.refuse(ProtocolError(431, "request head over its limits"))
        elif self.head_reads > MAX_HEAD_READS:
            self.refuse(ProtocolError(408, "request head sent in too many pieces"))

    def _upgraded(self) -> None:
        # llhttp stops at an upgrade request (Upgrade + Connection: upgrade).
        # The upgrade is ignored (RFC 9110 7.8 allows it): the request is
        # answered as a plain one, and the connection closed after it, as
        # the parser cannot go on.
        self.close_after = True
        self.reading = STOPPED
        self.deadline = 0.0
        self.pause_reading()

    def client_ip(self, inc: Incoming) -> str:
        """The client address, from forwarding fields for a trusted peer."""
        if not self.peer_trusted:
            return self.peer_ip
        return client_address(
            self.peer_ip, inc.xff, inc.forwarded, self.server.is_trusted
        )

    def forwarding(self, inc: Incoming) -> bytes:
        """The forwarding fields this request carries to the upstream."""
        if not self.peer_trusted:
            return self.forward_tail
        return forwarding_fields(
            self.peer_ip, self.server.scheme, inc.xff, inc.xfp, inc.forwarded
        )

    def write(self, data: bytes) -> None:
        if not self.closed:
            assert self.transport is not None
            self.bytes_out += len(data)
            self.transport.write(data)

    def write_chunk(self, data: bytes) -> None:
        """Write ``data`` as one chunk of a chunked response body."""
        if data and not self.closed:
            assert self.transport is not None
            self.bytes_out += len(data)
            self.transport.writelines((b"%x\r\n" % len(data), data, b"\r\n"))

    def close(self) -> None:
        """Close after what was written is sent."""
        if not self.closed and self.transport is not None:
            self.closed = True
            self.reading = STOPPED
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.closed = True
            self.transport.abort()

    def shutdown(self) -> None:
        """Draining: close now when idle, else after the current answer."""
        self.close_after = True
        if not self.busy and self.reading is IDLE:
            self.close()

    # -- the answering task ------------------------------------------------

    async def _serve(self) -> None:
        try:
            while not self.closed:
                if not self.queue:
                    # Inlined, not a helper coroutine: one object less per
                    # request on a keep-alive connection.
                    if self._idle_or_drained():
                        continue
                    self.waiter = self.loop.create_future()
                    try:
                        await self.waiter
                    finally:
                        self.waiter = None
                    continue
                item = self.queue.popleft()
                if self.read_paused:
                    self.resume_reading_if_room()
                if isinstance(item, Refusal):
                    refuse(self, item)
                    self.close()
                    break
                self.busy = True
                keep = await self.answer(self, item)
                self.busy = False
                self.served += 1
                if not keep:
                    self.close()
        except asyncio.CancelledError:
            self.abort()
            raise
        except Exception:
            log.exception("connection.failed peer=%s", self.peer_ip)
            self.abort()
        finally:
            self.busy = False
            self.task = None

    def _idle_or_drained(self) -> bool:
        """Before waiting: close if draining (True), else arm the idle timer."""
        if self.close_after and self.reading is not HEAD and self.current is None:
            self.close()  # draining, or after an upgrade request
            return True
        if self.reading is IDLE:
            self.deadline = self.loop.time() + self.server.settings.idle_timeout
        return False

    def resume_reading_if_room(self) -> None:
        inc = self.current
        if len(self.queue) < MAX_PIPELINED and (
            inc is None or inc.buffered <= self.high_water
        ):
            self.resume_reading()


# Field names as received, with their text and what the request side does
# with them (``wire.REQUEST_FIELDS``): clients send the same names on every
# request.  Emptied when full, so odd names cannot grow it without bound.
_NAMES: dict[bytes, tuple[str, int]] = {}
MAX_NAMES = 1024


def _learn_name(name: bytes) -> tuple[str, int]:
    known = (name.decode("latin-1"), wire.REQUEST_FIELDS.get(name.lower(), 0))
    if len(_NAMES) >= MAX_NAMES:
        _NAMES.clear()
    _NAMES[name] = known
    return known


def _parse_error(exc: Exception) -> ProtocolError:
    """The answer to what llhttp refused: 505 for a version, else 400."""
    reason = str(exc)
    if "HTTP version" in reason:
        return ProtocolError(505, reason)
    if isinstance(exc, httptools.HttpParserInvalidMethodError):
        return ProtocolError(400, "invalid method or bytes after a message")
    return ProtocolError(400, reason)


def _drop_connection_fields(inc: Incoming) -> None:
    """Drop the fields that Connection names hop-by-hop (RFC 9110 7.6.1)."""
    names = wire.connection_fields(inc.connection)
    if names:
        inc.lines = [
            line
            for line in inc.lines
            if line.split(b":", 1)[0].decode("latin-1").lower() not in names
        ]
