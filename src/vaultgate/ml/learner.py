"""Route-model files: learning into them from live traffic, loading them to enforce.

How this works.  Each process learns into its own in-memory ``RouteModel``
(the *delta*) and, at most every ``flush_every`` seconds, merges it into
the model file under an exclusive ``flock``: read the file, merge, write a
temporary file, rename it over the old one.  Several worker processes, or
several machines sharing a volume, therefore add up instead of
overwriting each other, and a reader never sees half a file.  Enforcement
loads the file once per policy load (a reload re-reads it).

Poisoning resistance lives here too: a client whose request raised a
finding or was stopped is remembered for ``FLAG_SECONDS`` and nothing it
sends is learnt meanwhile, not even its clean requests.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path

from vaultgate.ml.routes import RouteModel

log = logging.getLogger("vaultgate.learning")

# A flagged client teaches nothing for an hour: long enough to span a
# scan or an attack campaign's retries.
FLAG_SECONDS = 3600.0
# Flagged clients remembered per process; past it the oldest is forgotten
# (a botnet of many addresses then only delays learning, not poisons it).
MAX_FLAGGED = 100_000


def load_route_model(path: str) -> RouteModel:
    """The model in ``path``; an empty one when the file does not exist yet."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return RouteModel()
    return RouteModel.load(json.loads(text))


def save_route_model(path: str, model: RouteModel) -> None:
    """Write ``model`` to ``path`` atomically (temporary file, then rename)."""
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(model.dump(), handle, separators=(",", ":"), sort_keys=True)
    os.replace(temporary, path)


def merge_into(path: str, delta: RouteModel) -> None:
    """Merge ``delta`` into the file at ``path`` under an exclusive lock."""
    with open(f"{path}.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            model = load_route_model(path)
            model.merge(delta)
            save_route_model(path, model)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class Learner:
    """One process's learning into one route-model file."""

    def __init__(self, path: str, flush_every: float) -> None:
        self.path = path
        self.flush_every = flush_every
        self.delta = RouteModel()
        self.pending = 0
        self.last_flush = 0.0
        self.flagged: dict[str, float] = {}

    def flag(self, client: str, now: float) -> None:
        """Learn nothing from ``client`` for a while."""
        self.flagged.pop(client, None)
        self.flagged[client] = now + FLAG_SECONDS
        if len(self.flagged) > MAX_FLAGGED:
            del self.flagged[next(iter(self.flagged))]

    def is_flagged(self, client: str, now: float) -> bool:
        until = self.flagged.get(client)
        if until is None:
            return False
        if until < now:
            del self.flagged[client]
            return False
        return True

    def learn(
        self,
        method: str,
        path: str,
        params: Iterable[tuple[str, str]],
        client: str,
        now: float,
    ) -> None:
        """Record a clean request; flush to the file when it is time."""
        self.delta.learn(method, path, params, client)
        self.pending += 1
        if not self.last_flush:
            self.last_flush = now
        elif now - self.last_flush >= self.flush_every:
            self.flush(now)

    def flush(self, now: float) -> None:
        """Merge what was learnt since the last flush into the file."""
        self.last_flush = now
        if not self.pending:
            return
        try:
            merge_into(self.path, self.delta)
        except (OSError, ValueError) as exc:
            # Learning is best effort: keep the delta and try again later.
            log.warning("learning.flush_failed file=%s error=%s", self.path, exc)
            return
        log.info("learning.flushed file=%s requests=%d", self.path, self.pending)
        self.delta, self.pending = RouteModel(), 0


_LEARNERS: dict[str, Learner] = {}


def learner_for(path: str, flush_every: float) -> Learner:
    """The process's learner for ``path`` (shared by every route using it)."""
    learner = _LEARNERS.get(path)
    if learner is None:
        learner = _LEARNERS[path] = Learner(path, flush_every)
    return learner


def flush_all(now: float) -> None:
    """Flush every learner (at shutdown)."""
    for learner in _LEARNERS.values():
        learner.flush(now)
