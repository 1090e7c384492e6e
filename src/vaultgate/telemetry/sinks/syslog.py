"""Syslog (RFC 5424) over UDP, TCP or TLS, with a JSON or CEF message.

Each event is one message: ``<PRI>1 TIMESTAMP HOST vaultgate PID MSGID -
MSG`` with MSGID ``access`` or ``alert``, severity info (allowed
traffic), notice (a request that alerted or was stopped) or warning (an
alert event).  TCP and TLS frame messages by octet counting (RFC 6587
3.4.1, the framing RFC 5425 mandates for TLS).  UDP sends one datagram per
message (RFC 5426) and cuts messages longer than ``max_message``.

Neither transport acknowledges anything: TCP's delivery is known only up
to the kernel's send buffer, and UDP's not at all.  The connection is
checked before each batch, so a receiver that closed it is reconnected
to rather than written into; see docs/limitations.md.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import ssl
import time
from collections.abc import Callable, Sequence

from vaultgate.telemetry.cef import to_cef
from vaultgate.telemetry.record import ALERT, EVENT, Record
from vaultgate.telemetry.settings import Delivery, SyslogOptions
from vaultgate.telemetry.sinks.base import Sink, SinkError
from vaultgate.telemetry.sinks.http import tls_context

log = logging.getLogger("vaultgate.audit")

# RFC 5424 severities: 6 informational, 5 notice, 4 warning.
_SEVERITY = {EVENT: 6, ALERT: 4}
_NOTICE = 5
_NIL = b"-"
# After sending the probe, how long an ICMP refusal has to come back: on a
# LAN well under a millisecond; paid only after an error or on a new socket.
PROBE_WAIT = 0.05


class _Datagrams(asyncio.DatagramProtocol):
    """Remembers the ICMP error a connected UDP socket reported."""

    def __init__(self) -> None:
        self.error: Exception | None = None

    def error_received(self, exc: Exception) -> None:
        self.error = exc


class SyslogSink(Sink):
    """Sends events to a syslog receiver."""

    kind = "syslog"

    def __init__(self, name: str, options: SyslogOptions, delivery: Delivery) -> None:
        super().__init__(name)
        self._options = options
        self._timeout = delivery.timeout
        self._payload: Callable[[Record], bytes] = (
            to_cef if options.format == "cef" else _json
        )
        # RFC 5424 6.2.4: printable US-ASCII, at most 255 octets.
        host = socket.gethostname().encode("ascii", "replace")[:255] or _NIL
        self._prefix = b" %s %s %d " % (host, options.app_name.encode(), os.getpid())
        self._context = tls_context(options.tls) if options.transport == "tls" else None
        self._stream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._datagrams: tuple[asyncio.DatagramTransport, _Datagrams] | None = None
        self._probe = True
        self.truncated = 0

    def message(self, record: Record) -> bytes:
        """One RFC 5424 message (without framing)."""
        severity = _SEVERITY.get(record.kind, _NOTICE)
        pri = self._options.facility * 8 + severity
        msgid = b"alert" if record.kind == ALERT else b"access"
        return b"<%d>1 %s%s%s - %s" % (
            pri,
            _timestamp(record.ts),
            self._prefix,
            msgid,
            self._payload(record),
        )

    async def deliver(self, records: Sequence[Record]) -> None:
        messages = [self.message(r) for r in records]
        try:
            if self._options.transport == "udp":
                await self._send_datagrams(messages)
            else:
                await self._send_stream(messages)
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            if self._options.transport != "udp":
                self.close()  # a UDP socket keeps working; a stream does not
            raise SinkError(self.name, f"{type(exc).__name__}: {exc}") from None

    async def _send_stream(self, messages: list[bytes]) -> None:
        writer = await self._writer()
        writer.write(b"".join(b"%d %s" % (len(m), m) for m in messages))
        await asyncio.wait_for(writer.drain(), self._timeout)

    async def _writer(self) -> asyncio.StreamWriter:
        """The open connection; a new one if the receiver closed the last."""
        if self._stream is not None:
            reader, writer = self._stream
            if not reader.at_eof() and not writer.is_closing():
                return writer
            self.close()
        options = self._options
        server_name = options.host if self._context is not None else None
        opening = asyncio.open_connection(
            options.host, options.port, ssl=self._context, server_hostname=server_name
        )
        self._stream = await asyncio.wait_for(opening, self._timeout)
        return self._stream[1]

    async def _send_datagrams(self, messages: list[bytes]) -> None:
        transport, protocol = await self._endpoint()
        if protocol.error is None and self._probe:
            # New socket, or the receiver refused before: an empty datagram
            # first, so that a closed port costs no event (RFC 5426 has no
            # acknowledgement; ICMP port unreachable is all there is).
            transport.sendto(b"")
            await asyncio.sleep(PROBE_WAIT)
        if protocol.error is not None:
            error, protocol.error = protocol.error, None
            self._probe = True
            raise error
        self._probe = False
        limit = self._options.max_message
        for message in messages:
            if len(message) > limit:
                self.truncated += 1
                message = message[:limit]
            transport.sendto(message)

    async def _endpoint(self) -> tuple[asyncio.DatagramTransport, _Datagrams]:
        if self._datagrams is None:
            loop = asyncio.get_running_loop()
            address = (self._options.host, self._options.port)
            self._datagrams = await loop.create_datagram_endpoint(
                _Datagrams, remote_addr=address
            )
        return self._datagrams

    def close(self) -> None:
        if self._stream is not None:
            self._stream[1].close()
            self._stream = None
        if self._datagrams is not None:
            self._datagrams[0].close()
            self._datagrams = None


def _json(record: Record) -> bytes:
    return record.line


def _timestamp(ts: float) -> bytes:
    """RFC 5424 TIMESTAMP: RFC 3339, UTC, milliseconds."""
    second = int(ts)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
    return b"%s.%03dZ" % (text.encode(), int((ts - second) * 1000))
