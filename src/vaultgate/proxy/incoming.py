"""A parsed request on its way from the parser to the handler.

The parser callbacks fill an ``Incoming`` with the head, queue it when the
head is complete, and keep feeding it body chunks; the handler takes the
chunks in order, waiting when none is there.  A failure found while the
body arrives (too long, too slow, malformed, client gone) is stored on it,
so the handler that owns the request is the one that answers.  A
``Refusal`` stands in the queue for a message refused before its head was
complete.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING

from vaultgate.errors import ProtocolError

if TYPE_CHECKING:
    from vaultgate.proxy.handler import Opened


class ClientGone(Exception):
    """The client closed the connection before its answer was written."""


class Incoming:
    """One request: head fields as parsed, then the body as it arrives."""

    __slots__ = (
        "url",
        "headers",
        "lines",
        "count",
        "size",
        "hosts",
        "length",
        "coding",
        "codings",
        "connection",
        "expect",
        "xff",
        "xfp",
        "forwarded",
        "upgrade",
        "method",
        "raw_method",
        "version",
        "keep_alive",
        "has_body",
        "chunks",
        "buffered",
        "received",
        "complete",
        "error",
        "waiter",
        "queued",
        "opened",
    )

    def __init__(self) -> None:
        self.url = b""
        self.headers: list[tuple[str, str]] = []
        self.lines: list[bytes] = []  # raw lines forwarded as received
        self.count = 0  # header fields, trailers included
        self.size = 0  # header bytes, trailers included
        self.hosts = 0
        self.length = -1  # Content-Length, -1 when absent
        self.coding = b""
        self.codings = 0
        self.connection = ""
        self.expect = ""
        self.xff: str | None = None
        self.xfp: str | None = None
        self.forwarded: str | None = None
        self.upgrade = False
        self.method = ""
        self.raw_method = b""
        self.version = "1.1"
        self.keep_alive = True
        self.has_body = False
        self.chunks: deque[bytes] = deque()
        self.buffered = 0  # bytes received and not yet taken
        self.received = 0  # body bytes received in all
        self.complete = False
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.queued = False  # handed to the handler: its failures go there
        self.opened: Opened | None = None  # its exchange, once answering began

    @property
    def target(self) -> str:
        return self.url.decode("latin-1")

    def feed(self, data: bytes) -> None:
        self.chunks.append(data)
        self.buffered += len(data)
        self.received += len(data)
        self._wake()

    def finish(self) -> None:
        self.complete = True
        self._wake()

    def fail(self, error: BaseException) -> None:
        if self.error is None and not self.complete:
            self.error = error
            self._wake()

    def take(self) -> bytes | None:
        """The next chunk; b"" at the end; None when it must be awaited."""
        if self.error is not None:
            raise self.error
        if self.chunks:
            data = self.chunks.popleft()
            self.buffered -= len(data)
            return data
        return b"" if self.complete else None

    async def wait(self) -> None:
        """Wait for the next chunk, the end or a failure."""
        self.waiter = asyncio.get_running_loop().create_future()
        try:
            await self.waiter
        finally:
            self.waiter = None

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class Refusal:
    """A message refused before its head was complete."""

    __slots__ = ("error", "method", "target")

    def __init__(self, error: ProtocolError, method: str, target: str) -> None:
        self.error = error
        self.method = method
        self.target = target
