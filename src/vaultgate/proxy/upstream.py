"""Connections to the upstream, and the bounded pool that keeps them.

How this works: an ``UpstreamConnection`` parses the upstream's responses
with llhttp.  The handler writes a request, awaits the response head, then
either attaches a sink (the client's transport) that receives body chunks
as they arrive, or collects the body for the response filters.  Chunks that
arrive before a sink is attached wait in a bounded list; past it, reading
pauses.  Any failure closes the connection: it is reused only after a
response that ended cleanly with keep-alive.  The pool bounds how many
connections are open at once and reuses idle ones, newest first.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Callable
from typing import cast
from urllib.parse import urlsplit

import httptools

from vaultgate.core.policy import ServerSettings
from vaultgate.errors import UpstreamError, UpstreamTimeout
from vaultgate.proxy.watchdog import Watchdog
from vaultgate.proxy.wire import RESPONSE_HOP, has_body

# Response body bytes held while no sink is attached (the handler is still
# running response guards): enough for a typical API answer in one go.
PENDING_MAX = 256 * 1024
# A response head larger than this is refused: no API sends 64 KiB of
# headers, and the bound keeps a broken upstream from exhausting memory.
MAX_RESPONSE_HEAD = 64 * 1024
# An idle pooled connection older than this is not reused: gunicorn closes
# keep-alive connections after 2 s, and reusing one the upstream is closing
# turns a request into a 502.  Under load connections are reused in ms.
IDLE_REUSE = 2.0


def failure_kind(error: UpstreamError) -> str:
    """The short kind of an upstream failure, for the audit event.

    Every reason raised here starts with its kind: ``connect``,
    ``connect-timeout``, ``timeout``, ``reset``, ``protocol``, ``pool`` or
    ``client``.
    """
    return error.reason.split(":", 1)[0]


class PoolExhausted(UpstreamError):
    """Every pooled connection stayed busy for the connect timeout."""

    status = 503


class _HeadOnly(Exception):
    """Stops the parser after the head of a response to HEAD."""


class UpstreamConnection(asyncio.Protocol):
    """One connection to the upstream, carrying one exchange at a time."""

    def __init__(self, pool: UpstreamPool) -> None:
        self.pool = pool
        self.loop = pool.loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.deadline = 0.0
        self.closed = False
        self.counted = False  # holds one of the pool's slots
        self.reused = False
        self.idle_since = 0.0
        self.write_paused = False
        self._drain: asyncio.Future[None] | None = None
        self._waiter: asyncio.Future[None] | None = None
        # Instead of a waiter: called once the answer's head is here or the
        # connection failed (an answer sent from a callback: handler.Inline).
        self.listener: Callable[[UpstreamConnection], None] | None = None
        self._feeding = False  # the parser runs: the listener waits its end
        self._paused = 0  # bit 1: pending list full, bit 2: client slow
        self.pending: list[bytes] = []
        self.pending_bytes = 0
        self.fields: list[tuple[bytes, bytes]] = []
        self.reason = b""
        self.length = -1
        self.coded = False
        self.connection = b""
        self.reset(False)

    def reset(self, skip_body: bool) -> None:
        """Prepare for the next exchange."""
        self.skip_body = skip_body
        self.status = 0
        self.head_size = 0
        self.interim = False
        self.head_done = False
        self.complete = False
        self.keep_alive = False
        self.error: UpstreamError | None = None
        if self.pending_bytes:
            self.pending = []
        self.pending_bytes = 0
        self.pending_limit = PENDING_MAX
        self.sink: Callable[[bytes], object] | None = None
        self.body_bytes = 0
        self.answered = False
        self._new_head()

    def _new_head(self) -> None:
        # Also after an interim (1xx) response, whose fields are not kept.
        # (No on_message_begin callback: llhttp then skips that call.)
        self.fields = []
        self.reason = b""
        self.length = -1
        self.coded = False
        self.connection = b""

    # -- asyncio callbacks -------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without inheriting.
        self.transport = cast(asyncio.Transport, transport)
        self.pool.watchdog.add(self)

    def data_received(self, data: bytes) -> None:
        self.answered = True
        self._feeding = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, _HeadOnly):
                self._end_head_only()
            else:
                cause = exc.__context__
                reason = cause.reason if isinstance(cause, UpstreamError) else str(exc)
                self.fail(UpstreamError(reason))
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            self.fail(UpstreamError(f"protocol: malformed response: {exc}"))
        finally:
            self._feeding = False
        # What arrived in this read is parsed: a whole small answer is
        # complete by now and goes out in one write.
        if self.listener is not None and (self.head_done or self.error is not None):
            self._notify()

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.deadline = 0.0
        self.pool.watchdog.discard(self)
        if self.head_done and not self.complete and self._close_delimited():
            self.complete = True  # the end of the connection ends this body
        elif not self.complete and self.error is None:
            when = "while answering" if self.answered else "before answering"
            self.error = UpstreamError("reset: upstream closed the connection " + when)
        self.pool.forget(self)
        self._wake()
        self._wake_drain()

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        self._wake_drain()

    def expire(self) -> None:
        if self._paused & 2:
            self.fail(UpstreamError("client: the client stopped reading the answer"))
        else:
            self.fail(UpstreamTimeout("timeout: no answer within upstream_timeout"))

    # -- parser callbacks --------------------------------------------------

    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_size += len(name) + len(value) + 4
        if self.head_size > MAX_RESPONSE_HEAD:
            raise UpstreamError("protocol: response head over MAX_RESPONSE_HEAD")
        if self.head_done:
            return  # a trailer field: not forwarded
        lname = name.lower()
        if lname == b"content-length":
            self.length = int(value)
        elif lname not in RESPONSE_HOP:
            self.fields.append((name, value.rstrip(b" \t")))
        elif lname == b"transfer-encoding":
            # Only one "chunked" frames an answer that can be relayed and
            # inspected (RFC 9112 6.1); another coding (gzip, compress) would
            # reach the client, and the response filter, still encoded.
            if self.coded or value.strip().lower() != b"chunked":
                raise UpstreamError("protocol: transfer-encoding other than chunked")
            self.coded = True
        elif lname == b"connection":
            tokens = value.lower()
            if tokens == b"close":
                self.keep_alive = False  # llhttp knows it too; read once
            elif tokens != b"keep-alive":
                self.connection += b"," + tokens

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if status < 200:
            if status == 101:
                raise UpstreamError("protocol: upstream switched protocols")
            self.interim = True  # 100 or 103: skipped, the final one follows
            self._new_head()
            return
        self.status = status
        self.keep_alive = self.parser.should_keep_alive()
        if self.connection:
            self._drop_connection_fields()
        self.head_done = True
        self.deadline = self.loop.time() + self.pool.timeout
        self._wake()
        if self.skip_body:
            raise _HeadOnly()

    def _drop_connection_fields(self) -> None:
        # Fields the Connection header names are hop-by-hop (RFC 9110 7.6.1).
        names = {t.strip() for t in self.connection.split(b",")}
        if b"close" in names:
            self.keep_alive = False
        self.fields = [f for f in self.fields if f[0].lower() not in names]

    def on_body(self, data: bytes) -> None:
        self.body_bytes += len(data)
        if self.sink is not None:
            self.sink(data)
            if not self._paused:
                self.deadline = self.loop.time() + self.pool.timeout
            return
        self.pending.append(data)
        self.pending_bytes += len(data)
        if self.pending_bytes > self.pending_limit:
            self._pause(1)
            self._wake()

    def on_message_complete(self) -> None:
        if self.interim:
            self.interim = False
            self.head_size = 0
            return
        self.complete = True
        self.deadline = 0.0
        self._wake()

    # -- the handler's side ------------------------------------------------

    def write(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    async def drain(self) -> None:
        """Wait until the upstream accepts more of the request body."""
        while self.write_paused and not self.closed:
            self._drain = self.loop.create_future()
            try:
                await self._drain
            finally:
                self._drain = None
        if self.error is not None:
            raise self.error

    def head_waiter(self) -> asyncio.Future[None] | None:
        """A future for the response head, or None when it is here already.

        The caller awaits it (again while it returns one) and then calls
        ``check``: one coroutine less on every request than a ``head()``.
        """
        if self.head_done or self.error is not None:
            return None
        waiter = self._waiter = self.loop.create_future()
        return waiter

    def check(self) -> None:
        """Raise the connection's failure, if it had one."""
        if self.error is not None:
            raise self.error

    async def collect(self, limit: int) -> bool:
        """Hold up to ``limit`` body bytes; whether the body is complete."""
        self.pending_limit = limit
        if self._paused & 1 and self.pending_bytes <= limit:
            self._resume(1)
        while not self.complete and self.error is None:
            if self.pending_bytes > limit:
                return False
            await self._wait()
        if self.error is not None:
            raise self.error
        return True

    def take_pending(self) -> list[bytes]:
        pending, self.pending, self.pending_bytes = self.pending, [], 0
        return pending

    def attach(self, sink: Callable[[bytes], object]) -> None:
        """Send the rest of the body to ``sink`` as it arrives."""
        self.sink = sink
        if self._paused & 1:
            self._resume(1)

    async def finished(self) -> None:
        """Wait for the end of the body; raises the connection's failure."""
        while not self.complete and self.error is None:
            await self._wait()
        if self.error is not None:
            raise self.error

    def client_paused(self, paused: bool, stall: float) -> None:
        """The client's buffer filled (or drained): stop (or go on) reading."""
        if paused:
            self._pause(2)
            self.deadline = self.loop.time() + stall
        else:
            self._resume(2)
            if not self.complete:
                self.deadline = self.loop.time() + self.pool.timeout

    def fail_for_client(self) -> None:
        """The client left mid-answer: this connection cannot be reused."""
        self.fail(UpstreamError("client: the client closed its connection"))

    @property
    def reusable(self) -> bool:
        return self.complete and self.keep_alive and not self.closed

    def fail(self, error: UpstreamError) -> None:
        """Record ``error`` for the waiting handler and close."""
        if self.error is None and not self.complete:
            self.error = error
        self.close()
        self._wake()

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.abort()

    # -- internals ---------------------------------------------------------

    def _close_delimited(self) -> bool:
        return (
            self.length < 0
            and not self.coded
            and has_body(self.status, self.skip_body)
            and self.error is None
        )

    def _end_head_only(self) -> None:
        # The bytes the parser had not read are unknown, so this connection
        # is not reused after a response to HEAD.
        self.complete = True
        self.keep_alive = False
        self.deadline = 0.0
        self._wake()

    async def _wait(self) -> None:
        self._waiter = self.loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)
        elif self.listener is not None and not self._feeding:
            self._notify()

    def _notify(self) -> None:
        listener, self.listener = self.listener, None
        assert listener is not None
        listener(self)

    def _wake_drain(self) -> None:
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    def _pause(self, reason: int) -> None:
        if not self._paused and self.transport is not None:
            self.transport.pause_reading()
        self._paused |= reason

    def _resume(self, reason: int) -> None:
        self._paused &= ~reason
        if not self._paused and self.transport is not None and not self.closed:
            self.transport.resume_reading()


class UpstreamPool:
    """At most ``upstream_pool_size`` connections to the upstream."""

    def __init__(
        self,
        url: str,
        settings: ServerSettings,
        loop: asyncio.AbstractEventLoop,
        watchdog: Watchdog,
    ) -> None:
        parts = urlsplit(url)
        secure = parts.scheme == "https"
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if secure else 80)
        self.authority = parts.netloc
        self.prefix = parts.path.rstrip("/").encode("latin-1")
        self.ssl = ssl.create_default_context() if secure else None
        self.loop = loop
        self.watchdog = watchdog
        self.size = settings.upstream_pool_size
        self.connect_timeout = settings.upstream_connect_timeout
        self.timeout = settings.upstream_timeout
        self.open = 0
        self.closing = False
        self._idle: list[UpstreamConnection] = []
        self._waiters: deque[asyncio.Future[None]] = deque()

    def take(self) -> UpstreamConnection | None:
        """An idle connection, if one is ready (the common, cheap case)."""
        return self._take_idle() if self._idle else None

    async def acquire(self) -> UpstreamConnection:
        """An idle connection, a new one, or the next one released."""
        while True:
            conn = self._take_idle()
            if conn is not None:
                return conn
            if self.open < self.size:
                return await self.connect()
            await self._wait_for_slot()

    async def connect(self) -> UpstreamConnection:
        """A new connection; 502 when refused, 504 when it takes too long."""
        self.open += 1
        try:
            conn = await asyncio.wait_for(self._open(), self.connect_timeout)
        except TimeoutError:
            self.open -= 1
            self._wake_one()
            raise UpstreamTimeout(
                "connect-timeout: no connection within the timeout"
            ) from None
        except (OSError, ssl.SSLError) as exc:
            self.open -= 1
            self._wake_one()
            raise UpstreamError("connect: " + str(exc)) from None
        conn.counted = True
        return conn

    async def _open(self) -> UpstreamConnection:
        _, conn = await self.loop.create_connection(
            lambda: UpstreamConnection(self),
            self.host,
            self.port,
            ssl=self.ssl,
            server_hostname=self.host if self.ssl else None,
        )
        return conn

    def release(self, conn: UpstreamConnection) -> None:
        """Keep a cleanly finished connection, close any other."""
        conn.deadline = 0.0
        if conn.reusable and not self.closing:
            conn.idle_since = self.loop.time()
            conn.reused = False
            self._idle.append(conn)
        else:
            conn.close()
            self.forget(conn)
        self._wake_one()

    def forget(self, conn: UpstreamConnection) -> None:
        """Give back the slot of a connection that closed."""
        if conn.counted:
            conn.counted = False
            self.open -= 1
            if conn in self._idle:
                self._idle.remove(conn)
            self._wake_one()

    def prune(self) -> None:
        """Close idle connections too old to be reused."""
        now = self.loop.time()
        for conn in [c for c in self._idle if now - c.idle_since >= IDLE_REUSE]:
            conn.close()
            self.forget(conn)

    def close(self) -> None:
        """Close idle connections; busy ones close when released."""
        self.closing = True
        for conn in list(self._idle):
            conn.close()
            self.forget(conn)

    def _take_idle(self) -> UpstreamConnection | None:
        now = self.loop.time()
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed and now - conn.idle_since < IDLE_REUSE:
                conn.reused = True
                return conn
            conn.close()
            self.forget(conn)
        return None

    async def _wait_for_slot(self) -> None:
        waiter = self.loop.create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, self.connect_timeout)
        except TimeoutError:
            raise PoolExhausted("pool: every upstream connection stayed busy") from None
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
