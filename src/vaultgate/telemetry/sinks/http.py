"""HTTP(S) sinks: one keep-alive connection, batches POSTed from a thread.

How this works: the standard library's ``http.client`` runs in a worker
thread (``asyncio.to_thread``), one request at a time per sink, so a slow
collector never holds the event loop; gzip is done in that thread too.
Answers are sorted in one place: 2xx is delivered, 413 splits the batch in
two, statuses a retry can cure (timeouts, throttling, outages, and the
configuration errors 401/403/404, which an operator fixes without losing
events) are retried, and the rest reject the batch.
"""

from __future__ import annotations

import asyncio
import http.client
import logging
import ssl
import zlib
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from vaultgate.telemetry.record import Record
from vaultgate.telemetry.settings import TLSClient
from vaultgate.telemetry.sinks.base import Sink, SinkError

log = logging.getLogger("vaultgate.audit")

# A collector's answer is a short status document; reading more than
# 64 KiB of it would only let a broken or hostile peer fill our memory.
MAX_ANSWER = 64 * 1024
# Level 1: most of gzip's gain on repetitive JSON (about 8x) for a
# fraction of the CPU of level 6, which competes with the proxy.
GZIP_LEVEL = 1
RETRYABLE = frozenset({401, 403, 404, 408, 425, 429, 500, 502, 503, 504})


def tls_context(tls: TLSClient) -> ssl.SSLContext:
    """A client TLS context: the system's roots or ``ca_file``."""
    context = ssl.create_default_context(cafile=tls.ca_file or None)
    if not tls.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def gzip_bytes(data: bytes) -> bytes:
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)  # 31: gzip header
    return compressor.compress(data) + compressor.flush()


class Connection:
    """A keep-alive HTTP(S) connection used by one thread at a time."""

    def __init__(self, url: str, timeout: float, tls: TLSClient) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._https = parts.scheme == "https"
        self._timeout = timeout
        self._context = tls_context(tls) if self._https else None
        self._conn: http.client.HTTPConnection | None = None

    def post(
        self, path: str, body: bytes, headers: Mapping[str, str]
    ) -> tuple[int, bytes]:
        """POST ``body``; the status and the start of the answer.  Blocks."""
        conn = self._conn or self._connect()
        try:
            conn.request("POST", path, body, dict(headers))
            answer = conn.getresponse()
            payload = answer.read(MAX_ANSWER)
            if answer.will_close or not answer.isclosed():
                self.close()  # unread rest or server's wish: start afresh
            return answer.status, payload
        except (OSError, http.client.HTTPException):
            self.close()
            raise

    def _connect(self) -> http.client.HTTPConnection:
        if self._context is not None:
            self._conn = http.client.HTTPSConnection(
                self.host, self.port, timeout=self._timeout, context=self._context
            )
        else:
            self._conn = http.client.HTTPConnection(
                self.host, self.port, timeout=self._timeout
            )
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class HttpSink(Sink):
    """A sink that POSTs batches; subclasses shape the body and headers."""

    def __init__(self, name: str, url: str, timeout: float, tls: TLSClient) -> None:
        super().__init__(name)
        self._conn = Connection(url, timeout, tls)
        self.path = self._conn.path
        self.headers: dict[str, str] = {}
        self.gzip = False

    def body(self, records: Sequence[Record]) -> bytes:
        raise NotImplementedError

    async def accepted(self, status: int, answer: bytes, size: int) -> None:
        """Called on a 2xx answer; raise ``SinkError`` if it is not enough."""

    async def deliver(self, records: Sequence[Record]) -> None:
        status, answer = await self.post(self.path, self.body(records))
        if 200 <= status < 300:
            await self.accepted(status, answer, len(records))
        elif status == 413 and len(records) > 1:
            half = len(records) // 2
            await self.deliver(records[:half])
            await self.deliver(records[half:])
        else:
            raise self.refusal(status, answer)

    def refusal(self, status: int, answer: bytes) -> SinkError:
        reason = f"HTTP {status}: {answer[:200].decode('utf-8', 'replace')}"
        return SinkError(self.name, reason, retryable=status in RETRYABLE)

    async def post(
        self, path: str, body: bytes, compress: bool = True
    ) -> tuple[int, bytes]:
        """POST in a worker thread; connection failures become SinkError."""
        headers = dict(self.headers)
        compress = compress and self.gzip
        if compress:
            headers["Content-Encoding"] = "gzip"
        try:
            return await asyncio.to_thread(self._post, path, body, headers, compress)
        except (OSError, http.client.HTTPException) as exc:
            raise SinkError(self.name, f"{type(exc).__name__}: {exc}") from None

    def _post(
        self, path: str, body: bytes, headers: Mapping[str, str], compress: bool
    ) -> tuple[int, bytes]:
        if compress:
            body = gzip_bytes(body)
        return self._conn.post(path, body, headers)

    def close(self) -> None:
        self._conn.close()
