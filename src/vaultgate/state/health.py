"""State-store health: error counters for metrics and the ``state.error`` event.

The Redis store counts every failed call here by operation and kind
(``timeout``, ``error``, ``tripped``); ``errors()`` returns a snapshot that
the metrics exporter turns into ``vaultgate_state_errors_total{op,kind}``.
Guards call ``report`` when they apply a route's ``on_state_error``; the log
line is emitted at most once per ``_LOG_EVERY`` seconds per guard and route,
with the number of errors it stands for, so an outage cannot flood the log.
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger("vaultgate.state")

# One line a second per guard and route is enough to see an outage start,
# last and end; the suppressed count keeps the total visible.
_LOG_EVERY = 1.0

_errors: dict[tuple[str, str], int] = {}
_reported: dict[tuple[str, str], tuple[float, int]] = {}


def count(op: str, kind: str) -> None:
    """Count one failed store call."""
    _errors[op, kind] = _errors.get((op, kind), 0) + 1


def errors() -> dict[tuple[str, str], int]:
    """Failed store calls so far, by (operation, kind)."""
    return dict(_errors)


def total() -> int:
    """Failed store calls so far."""
    return sum(_errors.values())


def report(guard: str, route: str, action: str, error: Exception) -> None:
    """Log that ``guard`` applied ``on_state_error: action`` on ``route``."""
    key = (guard, route)
    now = time.monotonic()
    last, held = _reported.get(key, (0.0, 0))
    if now - last < _LOG_EVERY:
        _reported[key] = (last, held + 1)
        return
    _reported[key] = (now, 0)
    log.error(
        "state.error guard=%s route=%s action=%s suppressed=%d error=%s",
        guard,
        route,
        action,
        held,
        error,
    )
