"""What only the Redis store does: URLs, script reloads, failures and timeouts."""

from __future__ import annotations

import time

import pytest
import redis

from vaultgate.errors import PolicyError, StateError
from vaultgate.state import health, open_store
from vaultgate.state.base import RateCheck
from vaultgate.state.memory import MemoryStore
from vaultgate.state.redis import RedisStore

T0 = 1_800_000_000.0


async def test_a_server_that_lost_its_scripts_still_answers(redis_url: str) -> None:
    store = open_store(redis_url, timeout=0.2)
    await store.open()
    client = redis.Redis.from_url(redis_url)
    client.script_flush()
    client.close()
    assert await store.first_seen("nonce", 10, T0)
    assert (await store.rate([RateCheck("k", 1, 60)], T0))[0].allowed
    await store.close()


async def test_keys_are_namespaced_and_expire(redis_url: str) -> None:
    store = open_store(redis_url, timeout=0.2)
    await store.rate([RateCheck("ip:192.0.2.1", 10, 60)], time.time())
    client = redis.Redis.from_url(redis_url)
    ttl = client.pttl("vg:r:ip:192.0.2.1")
    client.close()
    assert 0 < ttl <= 6000  # one 6 s interval ahead of now
    await store.close()


# What the URL points at: nothing listening (fails at once), or a server
# that accepts and never answers (fails at the 5 ms timeout).
DEAD = ["refused", "silent"]


@pytest.mark.parametrize("kind", DEAD)
async def test_a_dead_server_fails_fast_with_state_error(
    kind: str, silent_port: int
) -> None:
    port = silent_port
    if kind == "refused":
        from tests.fixtures.redis import free_port

        port = free_port()
    store = open_store(f"redis://127.0.0.1:{port}/0", timeout=0.005)
    before = health.total()
    started = time.monotonic()
    for _ in range(3):
        with pytest.raises(StateError, match="redis admit"):
            await store.rate([RateCheck("k", 1, 60)], T0)
    # Three calls, each bounded by the timeout (plus scheduling slack).
    assert time.monotonic() - started < 0.3
    assert health.total() - before == 3
    await store.close()


async def test_repeated_failures_trip_the_store_to_fail_at_once(
    silent_port: int,
) -> None:
    store = open_store(f"redis://127.0.0.1:{silent_port}/0", timeout=0.02)
    assert isinstance(store, RedisStore)
    for _ in range(5):
        with pytest.raises(StateError, match="no answer within 20 ms"):
            await store.get("k")
    started = time.monotonic()
    with pytest.raises(StateError, match="failing fast"):
        await store.get("k")
    assert time.monotonic() - started < 0.01
    assert health.errors()["get", "tripped"] >= 1
    await store.close()


async def test_open_logs_and_survives_an_unreachable_server(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from tests.fixtures.redis import free_port

    store = open_store(f"redis://127.0.0.1:{free_port()}/0")
    await store.open()
    assert "state.unreachable" in caplog.text
    await store.close()


# (state URL, workers, accepted)
URLS = [
    ("memory", 1, True),
    ("memory", 4, False),  # limits would silently be four times too high
    ("redis://127.0.0.1:6379/0", 4, True),
    ("rediss://user:pw@cache.internal:6380/2", 1, True),
    ("redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/payments", 8, True),
    ("redis+cluster://10.0.0.1:7000,10.0.0.2:7000", 8, True),
    ("redis+sentinel://10.0.0.1:26379", 1, False),  # no master name
    ("redis+cluster://10.0.0.1", 1, False),  # no port
    ("memcached://10.0.0.1:11211", 1, False),
]


@pytest.mark.parametrize(("url", "workers", "accepted"), URLS)
async def test_open_store_validates_the_url(
    url: str, workers: int, accepted: bool
) -> None:
    if not accepted:
        with pytest.raises(PolicyError, match="policy.yaml: state: expected"):
            open_store(url, workers=workers, source="policy.yaml")
        return
    store = open_store(url, workers=workers, source="policy.yaml")
    assert isinstance(store, MemoryStore if url == "memory" else RedisStore)
    await store.close()


def test_the_workers_refusal_names_the_fix() -> None:
    with pytest.raises(PolicyError) as caught:
        open_store("memory", workers=4, source="policy.yaml")
    assert "redis://" in str(caught.value) and "--workers 1" in str(caught.value)
