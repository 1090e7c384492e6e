"""Hyperscan databases, compiled once per pattern set and kept on disk.

Compiling every attack family's patterns takes seconds; loading a compiled
database takes microseconds.  ``build`` keys a database by the Hyperscan
version, the machine and the exact expressions, flags and ids, looks for
it in the cache directory, and compiles (then stores) only on a miss, so a
restart, a reload, ``vaultgate check`` or a new worker does not pay the
compile again.  Any problem with the cache (unwritable, corrupt, from
another build) falls back to compiling: the cache can make loading faster,
never different.

The directory is ``$VAULTGATE_CACHE_DIR``, else ``$XDG_CACHE_HOME/vaultgate``,
else ``~/.cache/vaultgate``, created private to the user (0700): whoever can
write there could change what is detected, like whoever can write the code.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
import platform
import tempfile
from pathlib import Path
from typing import Any

import hyperscan

log = logging.getLogger("vaultgate.proxy")
_VERSION = importlib.metadata.version("hyperscan")


def build(expressions: list[bytes], flags: list[int], ids: list[int]) -> Any:
    """A block-mode database for the patterns, from the cache or compiled."""
    path = _cache_path(expressions, flags, ids)
    database = _load(path) if path else None
    if database is None:
        database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        database.compile(
            expressions=expressions, ids=ids, elements=len(expressions), flags=flags
        )
        if path:
            _store(path, database)
    return database


def _cache_path(
    expressions: list[bytes], flags: list[int], ids: list[int]
) -> Path | None:
    directory = _directory()
    if directory is None:
        return None
    digest = hashlib.sha256()
    digest.update(f"{_VERSION}|{platform.machine()}|block|".encode())
    for expression, flag, ident in zip(expressions, flags, ids, strict=True):
        digest.update(b"%d|%d|%d|" % (ident, flag, len(expression)) + expression)
    return directory / (digest.hexdigest() + ".hsdb")


def _directory() -> Path | None:
    base = os.environ.get("VAULTGATE_CACHE_DIR")
    if base is None:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
        base = os.path.join(xdg, "vaultgate")
    path = Path(base) / "hyperscan"
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return None
    return path


def _load(path: Path) -> Any:
    try:
        blob = path.read_bytes()
    except OSError:
        return None
    try:
        database = hyperscan.loadb(blob, mode=hyperscan.HS_MODE_BLOCK)
        database.scratch = hyperscan.Scratch(database)
    except hyperscan.error:
        log.warning("hsdb.cache_unreadable path=%s", path)
        return None
    return database


def _store(path: Path, database: Any) -> None:
    try:
        blob = hyperscan.dumpb(database)
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(handle, "wb") as out:
            out.write(blob)
        os.replace(temporary, path)
    except (OSError, hyperscan.error):
        log.debug("hsdb.cache_unwritable path=%s", path)
