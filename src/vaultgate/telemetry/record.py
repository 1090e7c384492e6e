"""One encoded audit event as queues, spools and sinks carry it.

The event is encoded to JSON once, on the request path; everything after
that moves bytes.  ``kind`` says what the spool may drop first: allowed
traffic (``EVENT``) goes before requests that alerted or were stopped
(``KEPT``) and separate alert events (``ALERT``), which are kept.
"""

from __future__ import annotations

from typing import NamedTuple

EVENT = "e"  # allowed request: droppable when the spool is full
KEPT = "d"  # request that alerted or was stopped, with its detail
ALERT = "a"  # a separate security alert event


class Record(NamedTuple):
    """An encoded event with its order number and class."""

    seq: int  # strictly increasing per audit log; orders the spool
    kind: str  # EVENT, KEPT or ALERT
    ts: float  # event time, seconds since the epoch
    line: bytes  # the ECS JSON document, no newline


def droppable(record: Record) -> bool:
    """Whether the spool may drop ``record`` to make room."""
    return record.kind == EVENT


def to_spool_line(record: Record) -> bytes:
    """``<seq> <kind> <ms> <json>\\n``: one line, readable with ``cut``."""
    head = b"%d %s %d " % (record.seq, record.kind.encode(), int(record.ts * 1000))
    return head + record.line + b"\n"


def from_spool_line(line: bytes) -> Record | None:
    """The record of one complete spool line, or None if it is damaged."""
    parts = line.rstrip(b"\n").split(b" ", 3)
    if len(parts) != 4 or not parts[0].isdigit() or not parts[2].isdigit():
        return None
    kind = parts[1].decode("ascii", "replace")
    if kind not in (EVENT, KEPT, ALERT):
        return None
    return Record(int(parts[0]), kind, int(parts[2]) / 1000, parts[3])
