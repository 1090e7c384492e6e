"""Shared state for guards: counters, rate buckets, seen-sets and bans.

``open_store`` builds the store a policy's ``state`` names: ``memory`` (one
process) or a Redis URL (``redis://``, ``rediss://``,
``redis+sentinel://h:p,h:p/master``, ``redis+cluster://h:p,h:p``).
"""

from __future__ import annotations

from vaultgate.errors import PolicyError
from vaultgate.state.base import Store
from vaultgate.state.memory import MemoryStore

# 5 ms: a loopback or same-zone Redis answers in well under a millisecond;
# past five the store is down or overloaded and waiting longer only adds
# latency to every request.
DEFAULT_TIMEOUT = 0.005

_SCHEMES = (
    "redis://",
    "rediss://",
    "redis+sentinel://",
    "rediss+sentinel://",
    "redis+cluster://",
    "rediss+cluster://",
)


def open_store(
    url: str, timeout: float = DEFAULT_TIMEOUT, workers: int = 1, source: str = ""
) -> Store:
    """The store ``url`` names; refuses a memory store shared by ``workers``.

    Each worker process would keep its own counters, so every limit would
    silently let ``workers`` times as much through.
    """
    check_shared(url, workers, source)
    if url == "memory":
        return MemoryStore()
    if not url.startswith(_SCHEMES):
        raise PolicyError(
            source or "<policy>",
            "state",
            "memory or a redis[s][+sentinel|+cluster]:// URL",
            url,
        )
    from vaultgate.state.redis import open_redis

    try:
        return open_redis(url, timeout)
    except ValueError as exc:
        raise PolicyError(source or "<policy>", "state", str(exc), url) from None


def check_shared(url: str, workers: int, source: str = "") -> None:
    """Refuse the memory store for more than one worker process."""
    if url == "memory" and workers > 1:
        raise PolicyError(
            source or "<policy>",
            "state",
            f"a redis:// URL when running --workers {workers} (the memory "
            f"store is per process, so every limit would be {workers} "
            "times too high), or --workers 1",
            url,
        )


__all__ = ["DEFAULT_TIMEOUT", "Store", "check_shared", "open_store"]
