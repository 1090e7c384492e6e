"""The disk spool: order, commits, restarts, torn writes, the size limit, slots."""

from __future__ import annotations

from pathlib import Path

import pytest

from vaultgate.telemetry import spool as spools
from vaultgate.telemetry.record import ALERT, EVENT, KEPT, Record

LIMIT = 64 * 1024  # the smallest spool the policy allows: 8 KiB segments


def records(first: int, count: int, kind: str = EVENT, size: int = 100) -> list[Record]:
    body = b'{"pad":"' + b"x" * size + b'"}'
    return [Record(first + i, kind, 1_700_000_000.0 + i, body) for i in range(count)]


def drain(spool: spools.Spool, batch: int = 7) -> list[int]:
    """Read and commit everything; the sequence numbers in order."""
    out: list[int] = []
    while spool.pending:
        got = spool.read(batch, 1 << 20)
        assert got, "pending events must be readable"
        spool.commit(got)
        out += [r.seq for r in got]
    return out


def open_spool(root: Path, limit: int = LIMIT) -> spools.Spool:
    found = spools.adopt(root, limit, fsync=True)
    return found[0] if found else spools.create(root, limit, fsync=True)


def test_records_come_back_in_order_across_segments(tmp_path: Path) -> None:
    spool = open_spool(tmp_path)
    for start in range(1, 400, 50):
        spool.append(records(start, 50))
    assert len(list(spool.directory.glob("*.seg"))) > 1
    assert drain(spool) == list(range(1, 401))
    assert spool.pending == 0 and spool.size == 0
    assert not list(spool.directory.glob("*.seg")), "delivered segments are deleted"


def test_reading_does_not_consume_until_committed(tmp_path: Path) -> None:
    spool = open_spool(tmp_path)
    spool.append(records(1, 10))
    first = spool.read(4, 1 << 20)
    again = spool.read(4, 1 << 20)  # the delivery failed: read again
    assert [r.seq for r in first] == [r.seq for r in again] == [1, 2, 3, 4]
    spool.commit(again)
    assert [r.seq for r in spool.read(100, 1 << 20)] == list(range(5, 11))


def test_a_failed_batch_goes_back_before_everything_spooled(tmp_path: Path) -> None:
    spool = open_spool(tmp_path)
    spool.append(records(11, 5))
    spool.insert_head(records(1, 10))
    assert drain(spool) == list(range(1, 16))


def test_a_reopened_spool_resumes_after_the_last_commit(tmp_path: Path) -> None:
    spool = open_spool(tmp_path)
    spool.append(records(1, 30))
    spool.commit(spool.read(12, 1 << 20))
    spool.close()

    again = open_spool(tmp_path)
    assert again.pending == 18
    assert again.last_seq == 30
    assert drain(again) == list(range(13, 31))


def test_a_line_torn_by_a_crash_is_cut_and_the_rest_kept(tmp_path: Path) -> None:
    spool = open_spool(tmp_path)
    spool.append(records(1, 5))
    spool.close()
    segment = next(tmp_path.glob("*/*.seg"))
    with open(segment, "ab") as handle:
        handle.write(b'6 e 1700000000000 {"half')  # no newline: the crash

    again = open_spool(tmp_path)
    assert again.pending == 5
    again.append(records(7, 2))
    assert drain(again) == [1, 2, 3, 4, 5, 7, 8]


@pytest.mark.parametrize("kept_kind", [KEPT, ALERT])
def test_a_full_spool_drops_oldest_allowed_traffic_and_keeps_alerts(
    tmp_path: Path, kept_kind: str
) -> None:
    spool = open_spool(tmp_path)
    seq, kept, events = 1, [], 0
    for _ in range(60):  # about 3x the limit: events with an alert between
        spool.append(records(seq, 9))
        events += 9
        alert = records(seq + 9, 1, kept_kind)
        spool.append(alert)
        kept.append(alert[0].seq)
        seq += 10
    assert spool.size <= LIMIT + LIMIT // 8, "at most one segment over"
    assert spool.dropped_events > 0 and spool.dropped_alerts == 0

    delivered = drain(spool, batch=50)
    assert [s for s in delivered if s in set(kept)] == kept, "every alert, in order"
    assert len(delivered) == len(kept) + events - spool.dropped_events
    assert delivered == sorted(delivered)
    newest = [s for s in delivered if s not in set(kept)]
    assert newest[-1] == seq - 2, "the newest allowed events are kept"


def test_when_only_alerts_are_left_the_oldest_go_and_are_counted(
    tmp_path: Path,
) -> None:
    spool = open_spool(tmp_path)
    for start in range(1, 1200, 100):
        spool.append(records(start, 100, ALERT))
    assert spool.dropped_alerts > 0
    delivered = drain(spool, batch=100)
    assert len(delivered) == 1200 - spool.dropped_alerts
    assert delivered[-1] == 1200 and delivered == sorted(delivered)


def test_each_process_locks_its_own_slot(tmp_path: Path) -> None:
    mine = spools.create(tmp_path, LIMIT, fsync=False)
    other = spools.create(tmp_path, LIMIT, fsync=False)
    assert mine.directory != other.directory
    mine.append(records(1, 3))
    assert spools.adopt(tmp_path, LIMIT, fsync=False) == [], "both slots are held"

    mine.close()  # the process stopped with events left
    adopted = spools.adopt(tmp_path, LIMIT, fsync=False)
    assert [s.directory for s in adopted] == [mine.directory]
    assert drain(adopted[0]) == [1, 2, 3]
