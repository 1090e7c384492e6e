"""Raw-socket helpers for the demo tests: send exact bytes, read every answer.

A reset raises ``ConnectionResetError`` out of these helpers, so a test
that uses them fails on a reset as it would on a wrong status.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import httptools

TIMEOUT = 10.0


@dataclass
class Answer:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class _Collector:
    """httptools callbacks that gather complete responses."""

    def __init__(self) -> None:
        self.answers: list[Answer] = []
        self._current = Answer()
        self.parser = httptools.HttpResponseParser(self)

    def on_message_begin(self) -> None:
        self._current = Answer()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._current.headers[name.decode().lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self._current.status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self._current.body += body

    def on_message_complete(self) -> None:
        self.answers.append(self._current)


def exchange(
    port: int,
    chunks: Iterable[bytes],
    *,
    until: int | None = None,
    half_close: bool = True,
    pause: float = 0.0,
) -> list[Answer]:
    """Send ``chunks``; read answers until EOF (or until ``until`` arrived)."""
    collector = _Collector()
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        for chunk in chunks:
            sock.sendall(chunk)
            if pause:
                time.sleep(pause)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        while until is None or len(collector.answers) < until:
            data = sock.recv(65536)
            if not data:
                break
            collector.parser.feed_data(data)
    return collector.answers


def statuses(port: int, data: bytes) -> list[int]:
    """The status of every answer to ``data``, sent at once then half-closed."""
    return [answer.status for answer in exchange(port, [data])]
