"""Local sinks: a rotating JSON-lines file, and standard output.

The file rotates by size: ``audit.jsonl`` becomes ``audit.jsonl.1`` and
older files shift up to ``keep``; the oldest beyond it is deleted.  Paths
that are not regular files (``/dev/null``, a FIFO) are never rotated.
"""

from __future__ import annotations

import asyncio
import os
import stat
import sys
from collections.abc import Sequence
from typing import BinaryIO

from vaultgate.errors import PolicyError
from vaultgate.telemetry.record import Record
from vaultgate.telemetry.settings import FileOptions
from vaultgate.telemetry.sinks.base import Sink, SinkError


def _lines(records: Sequence[Record]) -> bytes:
    return b"\n".join([r.line for r in records]) + b"\n"


class FileSink(Sink):
    """JSON lines appended to a file that rotates by size."""

    kind = "file"
    local = True

    def __init__(self, name: str, options: FileOptions, where: str) -> None:
        super().__init__(name)
        self._options = options
        self._path = options.path
        try:
            self._handle = self._open()
        except OSError as exc:
            raise PolicyError(where, "file", "a writable file", exc.strerror) from None
        info = os.fstat(self._handle.fileno())
        self._rotates = stat.S_ISREG(info.st_mode)
        self._size = info.st_size

    def _open(self) -> BinaryIO:
        return open(self._path, "ab")  # noqa: SIM115 - kept open until close

    async def deliver(self, records: Sequence[Record]) -> None:
        try:
            await asyncio.to_thread(self._write, records)
        except OSError as exc:
            raise SinkError(self.name, exc.strerror or str(exc)) from None

    def write_now(self, records: Sequence[Record]) -> bool:
        try:
            self._write(records)
        except OSError:
            return False
        return True

    def _write(self, records: Sequence[Record]) -> None:
        """Append, rotating before a line that would pass ``max_size``."""
        data = _lines(records)
        limit = self._options.max_size
        if not self._rotates or self._size + len(data) <= limit:
            self._append(data)  # the usual case: one write, no loop
            return
        chunk: list[bytes] = []
        size = self._size
        for record in records:
            line = record.line + b"\n"
            if size and size + len(line) > limit:
                self._append(b"".join(chunk))
                self._rotate()
                chunk, size = [], 0
            chunk.append(line)
            size += len(line)
        self._append(b"".join(chunk))

    def _append(self, data: bytes) -> None:
        self._handle.write(data)
        self._handle.flush()
        if self._options.fsync:
            os.fsync(self._handle.fileno())
        self._size += len(data)

    def _rotate(self) -> None:
        """``path`` -> ``path.1`` -> ... -> ``path.<keep>``, oldest dropped."""
        self._handle.close()
        for index in range(self._options.keep - 1, 0, -1):
            older = f"{self._path}.{index}"
            if os.path.exists(older):
                os.replace(older, f"{self._path}.{index + 1}")
        os.replace(self._path, f"{self._path}.1")
        self._handle = self._open()
        self._size = 0

    def close(self) -> None:
        self._handle.close()


class StdoutSink(Sink):
    """JSON lines on standard output, for containers and development."""

    kind = "stdout"
    local = True

    async def deliver(self, records: Sequence[Record]) -> None:
        try:
            await asyncio.to_thread(self._write, _lines(records))
        except OSError as exc:
            raise SinkError(self.name, exc.strerror or str(exc)) from None

    def write_now(self, records: Sequence[Record]) -> bool:
        try:
            self._write(_lines(records))
        except OSError:
            return False
        return True

    @staticmethod
    def _write(data: bytes) -> None:
        stream = sys.stdout.buffer
        stream.write(data)
        stream.flush()
