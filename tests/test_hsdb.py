"""The compiled-database cache: faster loading, never different matching."""

from __future__ import annotations

from pathlib import Path

import hyperscan
import pytest

from vaultgate import hsdb

PATTERNS = [rb"union\s+select", rb"<script\b", rb"\.\./"]
FLAGS = [hyperscan.HS_FLAG_CASELESS] * 3
IDS = [0, 1, 2]
TEXT = b"id=1 UNION  SELECT x; <SCRIPT>; ../etc"


def _hits(database: object) -> list[int]:
    found: list[int] = []
    database.scan(  # type: ignore[attr-defined]
        TEXT,
        match_event_handler=lambda i, *_: found.append(i),
        scratch=hyperscan.Scratch(database),
    )
    return sorted(set(found))


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VAULTGATE_CACHE_DIR", str(tmp_path))
    return tmp_path / "hyperscan"


def test_second_build_loads_the_same_database(cache: Path) -> None:
    first = hsdb.build(PATTERNS, FLAGS, IDS)
    stored = list(cache.glob("*.hsdb"))
    assert len(stored) == 1
    second = hsdb.build(PATTERNS, FLAGS, IDS)
    assert _hits(first) == _hits(second) == [0, 1, 2]
    assert list(cache.glob("*.hsdb")) == stored


def test_other_flags_are_another_entry(cache: Path) -> None:
    hsdb.build(PATTERNS, FLAGS, IDS)
    sensitive = hsdb.build(PATTERNS, [0, 0, 0], IDS)
    assert len(list(cache.glob("*.hsdb"))) == 2
    assert _hits(sensitive) == [2]  # only the caseless-free "../" matches


def test_a_corrupt_entry_is_compiled_again(cache: Path) -> None:
    hsdb.build(PATTERNS, FLAGS, IDS)
    (entry,) = cache.glob("*.hsdb")
    entry.write_bytes(b"not a database")
    assert _hits(hsdb.build(PATTERNS, FLAGS, IDS)) == [0, 1, 2]
    assert entry.read_bytes() != b"not a database"


def test_an_unwritable_cache_still_compiles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the directory should be")
    monkeypatch.setenv("VAULTGATE_CACHE_DIR", str(blocker))
    assert _hits(hsdb.build(PATTERNS, FLAGS, IDS)) == [0, 1, 2]
