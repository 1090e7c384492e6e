"""The memory store's own guarantees: a key cap that really evicts."""

from __future__ import annotations

from vaultgate.state.base import RateCheck
from vaultgate.state.memory import MemoryStore

T0 = 1_800_000_000.0


async def test_the_key_cap_evicts_live_keys_closest_to_expiry() -> None:
    store = MemoryStore(max_keys=100)
    # Bans that expire later and later: all are live when the cap is hit.
    for i in range(1000):
        await store.ban(f"ip:{i}", 60 + i, "x", T0)
    assert len(store) <= 100
    # The survivors are the latest-expiring ones.
    assert await store.banned(["ip:999"], T0) == "x"
    assert await store.banned(["ip:0"], T0) is None


async def test_expired_keys_go_before_live_ones() -> None:
    store = MemoryStore(max_keys=10)
    await store.ban("ip:keep", 3600, "x", T0)
    for i in range(50):
        await store.first_seen(f"n{i}", 1, T0 + i * 2)
    assert await store.banned(["ip:keep"], T0 + 100) == "x"
    assert len(store) <= 10


async def test_every_table_counts_towards_the_cap() -> None:
    store = MemoryStore(max_keys=50)
    for i in range(40):
        await store.rate([RateCheck(f"r{i}", 10, 60)], T0)
        await store.hit(f"c{i}", 60, T0)
        await store.distinct(f"d{i}", "m", 60, T0)
        await store.put(f"v{i}", b"x", 60, T0)
    assert len(store) <= 50
