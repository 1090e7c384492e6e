"""The ``store`` fixture: every behaviour test runs on every kind of store."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis

from vaultgate.state import open_store
from vaultgate.state.base import Store

KINDS = ["memory", "redis", "sentinel", "cluster"]


def flush(url: str) -> None:
    """Empty every node behind a standalone or cluster URL."""
    if url.startswith("redis+cluster://"):
        for item in url.split("://", 1)[1].split(","):
            host, _, port = item.rpartition(":")
            client = redis.Redis(host=host, port=int(port))
            client.flushall()
            client.close()
    elif url.startswith("redis://"):
        client = redis.Redis.from_url(url)
        client.flushall()
        client.close()


@pytest.fixture(params=KINDS)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """A fresh store of each kind, opened; Redis ones flushed first."""
    kind = request.param
    url = "memory"
    if kind == "redis":
        url = request.getfixturevalue("redis_server")
    elif kind == "cluster":
        url = request.getfixturevalue("redis_cluster")
    elif kind == "sentinel":
        url = request.getfixturevalue("redis_sentinel")
        _flush_sentinel_master(url)
    flush(url)
    # 1 s, not the production 5 ms: a loaded test machine must not turn
    # a behaviour test into a timeout test.
    made = open_store(url, timeout=1.0)
    await made.open()
    yield made
    await made.close()


def _flush_sentinel_master(url: str) -> None:
    host, _, port = url.split("://", 1)[1].split("/")[0].rpartition(":")
    sentinel = redis.Redis(host=host, port=int(port))
    addr = sentinel.execute_command("SENTINEL", "get-master-addr-by-name", "vg")
    sentinel.close()
    master = redis.Redis(host=addr[0].decode(), port=int(addr[1]))
    master.flushall()
    master.close()
