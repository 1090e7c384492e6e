"""The disk spool of one sink: append-only segment files, read oldest first.

How this works: a sink's events go to disk when the sink is down or slow,
and come back in the order they were spooled.  A spool is a directory
(``<spool_dir>/<sink>/<slot>/``) holding segment files named after the
sequence number of their first record, so that sorting names sorts
records; each line is ``<seq> <kind> <ms> <json>``.  Reading never consumes:
``commit`` moves a cursor file past what the sink accepted, and a segment
whose records are all behind the cursor is deleted.  A crash between
delivery and commit re-sends a batch (at-least-once), never skips one.

When the spool outgrows its limit, the oldest segment that holds allowed
traffic is rewritten without it; only when nothing but alerts is left are
the oldest alerts deleted.  Both are counted.  The spool may exceed its
limit by one segment (an eighth of it) while the open one fills.

Every worker process locks its own slot (``flock``), so ``--workers N``
never interleave writes; a slot left behind by a stopped worker is
adopted and drained by the next process that can lock it.  Methods block
on disk I/O: the sink's task calls them in a thread.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from vaultgate.telemetry.record import (
    Record,
    droppable,
    from_spool_line,
    to_spool_line,
)

log = logging.getLogger("vaultgate.audit")

# A segment closes at an eighth of the spool's limit (16 MiB at most):
# small enough that dropping or rewriting one is quick, large enough that
# a spool holds few files.
MAX_SEGMENT = 16 * 1024 * 1024
_SUFFIX = ".seg"


@dataclass(slots=True)
class _Segment:
    path: Path
    first: int  # the sequence number it is named after
    size: int = 0
    count: int = 0  # records in the file
    last: int = 0  # highest sequence number in the file
    droppable: int = 0  # records the limit may drop (allowed traffic)


class Spool:
    """A locked spool slot: append, read in order, commit, bound by size."""

    def __init__(self, directory: Path, lock_fd: int, max_bytes: int, fsync: bool):
        self.directory = directory
        self._lock_fd = lock_fd
        self._max_bytes = max_bytes
        self._segment_max = min(MAX_SEGMENT, max_bytes // 8)
        self._fsync = fsync
        self._mutex = threading.Lock()
        self._segments: list[_Segment] = []
        self._cursor = 0  # highest delivered sequence number
        self._done_in_head = 0  # records of the head segment <= cursor
        self._writer: BinaryIO | None = None  # the tail segment, open
        self._reader: tuple[Path, BinaryIO] | None = None
        self._position: tuple[Path, int] | None = None  # next unread
        self._read_end: tuple[Path, int] | None = None
        self.dropped_events = 0  # allowed-traffic records dropped for room
        self.dropped_alerts = 0  # alert records dropped when only alerts left
        self.damaged = 0  # unreadable lines skipped
        self._load()

    # -- state ---------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Records spooled and not yet delivered."""
        return sum(s.count for s in self._segments) - self._done_in_head

    @property
    def size(self) -> int:
        """Bytes the spool holds on disk."""
        return sum(s.size for s in self._segments)

    @property
    def last_seq(self) -> int:
        """The highest sequence number spooled or delivered from here."""
        return max([self._cursor, *(s.last for s in self._segments)])

    # -- writing -------------------------------------------------------------

    def append(self, records: Sequence[Record]) -> None:
        """Add records after every record already spooled."""
        if not records:
            return
        with self._mutex:
            lines = [to_spool_line(r) for r in records]
            start = 0
            while start < len(records):
                tail = self._open_tail_with_room(records[start].seq)
                end = self._fitting(lines, start, self._segment_max - tail.size)
                assert self._writer is not None
                self._write(self._writer, tail, records[start:end], lines[start:end])
                start = end
            self._make_room()

    def _open_tail_with_room(self, first: int) -> _Segment:
        tail = self._segments[-1] if self._segments else None
        if self._writer is None or tail is None or tail.size >= self._segment_max:
            tail = self._open_tail(first)
        return tail

    @staticmethod
    def _fitting(lines: list[bytes], start: int, room: int) -> int:
        """The end of the lines from ``start`` that fit in ``room`` (one at least)."""
        end, used = start + 1, len(lines[start])
        while end < len(lines) and used + len(lines[end]) <= room:
            used += len(lines[end])
            end += 1
        return end

    def insert_head(self, records: Sequence[Record]) -> None:
        """Add records older than every record spooled (a failed batch)."""
        if not records:
            return
        with self._mutex:
            segment = _Segment(self._name(records[0].seq), records[0].seq)
            lines = [to_spool_line(r) for r in records]
            with open(segment.path, "ab") as handle:
                self._write(handle, segment, records, lines)
            self._segments.insert(0, segment)
            self._segments.sort(key=lambda s: s.first)
            self._done_in_head = 0
            self._position = self._read_end = None
            self._sync_dir()
            self._make_room()

    def _open_tail(self, first: int) -> _Segment:
        self._close_writer()
        segment = _Segment(self._name(first), first)
        self._writer = open(segment.path, "ab")  # noqa: SIM115 - kept open
        self._segments.append(segment)
        self._sync_dir()
        return segment

    def _write(
        self,
        handle: BinaryIO,
        segment: _Segment,
        records: Sequence[Record],
        lines: list[bytes],
    ) -> None:
        data = b"".join(lines)
        handle.write(data)
        handle.flush()
        if self._fsync:
            os.fsync(handle.fileno())
        segment.size += len(data)
        segment.count += len(records)
        segment.last = max(segment.last, records[-1].seq)
        segment.droppable += sum(1 for r in records if droppable(r))

    # -- reading -------------------------------------------------------------

    def read(self, max_events: int, max_bytes: int) -> list[Record]:
        """The oldest undelivered records, up to the limits; not consumed."""
        with self._mutex:
            if not self._segments:
                return []
            path, offset = self._position or (self._segments[0].path, 0)
            index = self._index(path)
            if index is None:
                index, offset = 0, 0
            out: list[Record] = []
            budget = [max_events, max_bytes]
            while True:
                path = self._segments[index].path
                offset = self._read_segment(path, offset, out, budget)
                if min(budget) <= 0 or index + 1 >= len(self._segments):
                    break
                index, offset = index + 1, 0
            self._read_end = (self._segments[index].path, offset)
            if not out:
                self._forget_unreadable()
            return out

    def _forget_unreadable(self) -> None:
        """Nothing readable is left: drop what only damaged lines hold."""
        if self._segments:
            self._cursor = max(self._cursor, self.last_seq)
            self._write_cursor()
            self._drop_delivered()

    def _read_segment(
        self, path: Path, offset: int, out: list[Record], budget: list[int]
    ) -> int:
        """Read from ``offset`` into ``out`` within ``budget`` (events, bytes)."""
        handle = self._open_reader(path)
        handle.seek(offset)
        while min(budget) > 0:
            line = handle.readline()
            if not line.endswith(b"\n"):
                break  # the end of the segment
            offset += len(line)
            record = from_spool_line(line)
            if record is None:
                self.damaged += 1
            elif record.seq > self._cursor:
                out.append(record)
                budget[0] -= 1
                budget[1] -= len(record.line)
        return offset

    def commit(self, records: Sequence[Record]) -> None:
        """Mark ``records`` (the last ``read``) delivered."""
        if not records:
            return
        with self._mutex:
            before = self._cursor
            self._cursor = max(self._cursor, records[-1].seq)
            self._write_cursor()
            self._position, self._read_end = self._read_end, None
            self._done_in_head += sum(1 for r in records if r.seq > before)
            self._drop_delivered()

    def _drop_delivered(self) -> None:
        """Delete segments whose records are all delivered."""
        while self._segments and self._segments[0].last <= self._cursor:
            segment = self._segments.pop(0)
            self._done_in_head -= segment.count
            if not self._segments:
                self._close_writer()
            self._forget(segment.path)
        head = self._segments[0] if self._segments else None
        self._done_in_head = max(0, self._done_in_head) if head else 0

    # -- the size limit -------------------------------------------------------

    def _make_room(self) -> None:
        """Drop the oldest allowed traffic, then the oldest alerts, to fit."""
        while self.size > self._max_bytes:
            candidates = self._segments[:-1] if self._writer else self._segments
            if not candidates:
                return
            with_events = [s for s in candidates if s.droppable]
            if with_events:
                self._compact(with_events[0])
            else:
                self._drop_alerts(candidates[0])

    def _compact(self, segment: _Segment) -> None:
        """Rewrite ``segment`` keeping only undelivered records it must keep."""
        kept: list[bytes] = []
        with open(segment.path, "rb") as handle:
            for line in handle:
                record = from_spool_line(line)
                if record and record.seq > self._cursor and not droppable(record):
                    kept.append(line)
        self.dropped_events += segment.droppable
        log.warning(
            "audit.spool_dropped spool=%s events=%d kind=allowed",
            self.directory,
            segment.droppable,
        )
        self._replace(segment, kept)

    def _drop_alerts(self, segment: _Segment) -> None:
        lost = segment.count - (
            self._done_in_head if segment is self._segments[0] else 0
        )
        self.dropped_alerts += lost
        log.error(
            "audit.spool_dropped spool=%s events=%d kind=alert", self.directory, lost
        )
        self._replace(segment, [])

    def _replace(self, segment: _Segment, lines: list[bytes]) -> None:
        if segment is self._segments[0]:
            self._done_in_head = 0
        self._position = self._read_end = None
        if not lines:
            self._segments.remove(segment)
            self._forget(segment.path)
            return
        temporary = segment.path.with_suffix(".tmp")
        with open(temporary, "wb") as handle:
            handle.write(b"".join(lines))
            handle.flush()
            if self._fsync:
                os.fsync(handle.fileno())
        self._close_reader()
        os.replace(temporary, segment.path)
        self._sync_dir()
        segment.size = sum(len(line) for line in lines)
        segment.count = len(lines)
        segment.droppable = 0

    # -- files ----------------------------------------------------------------

    def _name(self, first: int) -> Path:
        return self.directory / f"{first:020d}{_SUFFIX}"

    def _index(self, path: Path) -> int | None:
        for index, segment in enumerate(self._segments):
            if segment.path == path:
                return index
        return None

    def _open_reader(self, path: Path) -> BinaryIO:
        if self._reader is None or self._reader[0] != path:
            self._close_reader()
            self._reader = (path, open(path, "rb"))  # noqa: SIM115 - cached
        return self._reader[1]

    def _close_reader(self) -> None:
        if self._reader is not None:
            self._reader[1].close()
            self._reader = None

    def _close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _forget(self, path: Path) -> None:
        if self._reader is not None and self._reader[0] == path:
            self._close_reader()
        if self._position is not None and self._position[0] == path:
            self._position = None
        path.unlink(missing_ok=True)
        self._sync_dir()

    def _write_cursor(self) -> None:
        temporary = self.directory / "cursor.tmp"
        with open(temporary, "wb") as handle:
            handle.write(b"%d\n" % self._cursor)
            handle.flush()
            if self._fsync:
                os.fsync(handle.fileno())
        os.replace(temporary, self.directory / "cursor")

    def _sync_dir(self) -> None:
        """Make file creations, renames and deletions durable too."""
        if not self._fsync:
            return
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # -- loading ---------------------------------------------------------------

    def _load(self) -> None:
        cursor_file = self.directory / "cursor"
        if cursor_file.exists():
            text = cursor_file.read_text("ascii").strip()
            self._cursor = int(text) if text.isdigit() else 0
        for path in sorted(self.directory.glob("*" + _SUFFIX)):
            if path.stem.isdigit():
                self._segments.append(self._scan(path, int(path.stem)))
        self._segments = [s for s in self._segments if s.count]
        self._drop_delivered()
        if self._segments:
            self._done_in_head = self._count_done(self._segments[0])
        for stale in self.directory.glob("*.tmp"):
            stale.unlink()

    def _scan(self, path: Path, first: int) -> _Segment:
        """Count a segment's records, cutting a line torn by a crash."""
        segment = _Segment(path, first)
        good = 0
        with open(path, "rb") as handle:
            for line in handle:
                if not line.endswith(b"\n"):
                    break
                good += len(line)
                record = from_spool_line(line)
                if record is None:
                    self.damaged += 1
                    continue
                segment.count += 1
                segment.last = max(segment.last, record.seq)
                segment.droppable += droppable(record)
        if good != path.stat().st_size:
            log.warning("audit.spool_torn segment=%s kept_bytes=%d", path, good)
            os.truncate(path, good)
        segment.size = good
        if not segment.count:
            path.unlink()
        return segment

    def _count_done(self, segment: _Segment) -> int:
        with open(segment.path, "rb") as handle:
            return sum(
                1
                for line in handle
                if (record := from_spool_line(line)) and record.seq <= self._cursor
            )

    def close(self) -> None:
        """Close files and release the slot's lock."""
        with self._mutex:
            self._close_writer()
            self._close_reader()
            if self._lock_fd >= 0:
                os.close(self._lock_fd)  # closing releases the flock
                self._lock_fd = -1


def _lock(slot: Path) -> int | None:
    """A locked descriptor of the slot's lock file, or None if it is taken."""
    fd = os.open(slot / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def adopt(root: Path, max_bytes: int, fsync: bool) -> list[Spool]:
    """Every existing slot under ``root`` that no live process holds."""
    if not root.is_dir():
        return []
    spools = []
    for slot in sorted(root.iterdir(), key=_slot_order):
        if slot.is_dir() and slot.name.isdigit():
            fd = _lock(slot)
            if fd is not None:
                spools.append(Spool(slot, fd, max_bytes, fsync))
    return spools


def create(root: Path, max_bytes: int, fsync: bool) -> Spool:
    """A new slot under ``root``, locked for this process."""
    root.mkdir(parents=True, exist_ok=True)
    index = 0
    while True:
        slot = root / str(index)
        try:
            slot.mkdir()
        except FileExistsError:
            index += 1
            continue
        fd = _lock(slot)
        if fd is not None:
            return Spool(slot, fd, max_bytes, fsync)
        index += 1


def _slot_order(path: Path) -> int:
    return int(path.name) if path.name.isdigit() else -1
