"""One table of behaviour, run on the memory, Redis, Sentinel and Cluster stores."""

from __future__ import annotations

import asyncio
import time

import pytest

from vaultgate.state.base import MAX_MEMBERS, RateCheck, Store, Tally

# A wall-clock-like instant that is a multiple of every slot width used.
T0 = 1_800_000_000.0


def check(key: str = "k", limit: int = 10, period: float = 60, **kw: int) -> RateCheck:
    return RateCheck(key, limit, period, **kw)


# -- GCRA ---------------------------------------------------------------------------

# (burst, requests at T0 allowed, retry_after of the first denied, seconds)
BURSTS = [
    (0, 10, 6.0),  # burst 0 means the limit: a minute's worth at once
    (1, 1, 6.0),  # burst 1: strictly one request every 6 s
    (3, 3, 6.0),
    (25, 25, 6.0),  # a burst may exceed the per-period count
]


@pytest.mark.parametrize(("burst", "passed", "retry"), BURSTS)
async def test_a_flood_passes_exactly_the_burst(
    store: Store, burst: int, passed: int, retry: float
) -> None:
    results = [(await store.rate([check(burst=burst)], T0))[0] for _ in range(40)]
    assert [r.allowed for r in results] == [True] * passed + [False] * (40 - passed)
    assert results[passed - 1].remaining == 0
    assert results[passed].retry_after == pytest.approx(retry)
    assert results[0].remaining == passed - 1


async def test_the_bucket_refills_one_request_per_interval(store: Store) -> None:
    for _ in range(10):
        assert (await store.rate([check()], T0))[0].allowed
    assert not (await store.rate([check()], T0 + 5.9))[0].allowed
    assert (await store.rate([check()], T0 + 6.0))[0].allowed
    assert not (await store.rate([check()], T0 + 6.0))[0].allowed
    # After a full period idle, the whole burst is available again.
    later = [(await store.rate([check()], T0 + 70))[0].allowed for _ in range(11)]
    assert later == [True] * 10 + [False]


async def test_no_window_of_one_period_passes_more_than_limit_plus_burst(
    store: Store,
) -> None:
    # A client sending every 0.5 s for two minutes against 10/minute burst 1.
    times = [T0 + i * 0.5 for i in range(240)]
    passed = [t for t in times if (await store.rate([check(burst=1)], t))[0].allowed]
    for start in passed:
        in_window = [t for t in passed if start <= t < start + 60]
        assert len(in_window) <= 10


async def test_a_denied_check_charges_no_bucket(store: Store) -> None:
    strict = check("a", limit=1, period=60)
    loose = check("b", limit=100, period=60)
    assert all(r.allowed for r in await store.rate([strict, loose], T0))
    denied = await store.rate([strict, loose], T0)
    assert [r.allowed for r in denied] == [False, True]
    # The loose bucket was charged once, not twice.
    assert (await store.rate([loose], T0))[0].remaining == 98


async def test_cost_charges_several_requests(store: Store) -> None:
    assert (await store.rate([check(cost=4)], T0))[0].remaining == 6
    assert not (await store.rate([check(cost=7)], T0))[0].allowed
    assert (await store.rate([check(cost=6)], T0))[0].remaining == 0


async def test_keys_are_independent(store: Store) -> None:
    for _ in range(10):
        await store.rate([check("x")], T0)
    assert not (await store.rate([check("x")], T0))[0].allowed
    assert (await store.rate([check("y")], T0))[0].allowed


# -- counters, sets, markers --------------------------------------------------------

# (seconds after T0 of each hit, when counted, expected sum) for a 60 s window
WINDOWS = [
    ([0, 30], 59.9, 2),
    ([0, 30], 60.5, 1),  # the first hit's sub-window has left the window
    ([0, 30], 95.0, 0),
    ([0, 0, 0], 1.0, 3),
]


@pytest.mark.parametrize(("hits", "at", "expected"), WINDOWS)
async def test_sliding_window_counter(
    store: Store, hits: list[float], at: float, expected: int
) -> None:
    for offset in hits:
        await store.hit("c", 60, T0 + offset)
    assert await store.count("c", 60, T0 + at) == expected


async def test_hit_returns_the_window_sum_and_adds_amounts(store: Store) -> None:
    assert await store.hit("c", 60, T0, amount=3) == 3
    assert await store.hit("c", 60, T0 + 1) == 4
    assert await store.count("missing", 60, T0) == 0


async def test_first_seen_is_true_once_per_ttl(store: Store) -> None:
    assert await store.first_seen("jti-1", 30, T0)
    assert not await store.first_seen("jti-1", 30, T0 + 29)
    assert await store.first_seen("jti-2", 30, T0 + 29)
    assert await store.first_seen("jti-1", 30, T0 + 31)


async def test_distinct_counts_members_in_the_window(store: Store) -> None:
    assert await store.distinct("u", "alice", 60, T0) == 1
    assert await store.distinct("u", "bob", 60, T0 + 10) == 2
    assert await store.distinct("u", "alice", 60, T0 + 20) == 2
    # bob (added at +10) has left; alice was refreshed at +20.
    assert await store.distinct("u", "", 60, T0 + 75) == 1
    assert await store.distinct("u", "", 60, T0 + 81) == 0


async def test_distinct_sets_stop_growing_at_the_cap(store: Store) -> None:
    tallies = [
        Tally("spray", 60, 1, f"user{i}", distinct=True) for i in range(MAX_MEMBERS + 5)
    ]
    counts = (await store.admit((), (), tallies, T0)).counts
    assert counts[-1] == MAX_MEMBERS
    # A member already in the set is still refreshed at the cap.
    assert await store.distinct("spray", "user0", 60, T0 + 1) == MAX_MEMBERS


async def test_bans_expire_and_can_be_lifted(store: Store) -> None:
    await store.ban("ip:192.0.2.7", 600, "login.ban", T0)
    assert await store.banned(["ip:192.0.2.7"], T0 + 599) == "login.ban"
    assert await store.banned(["ip:192.0.2.7"], T0 + 601) is None
    await store.ban("principal:alice", 600, "limits.ban", T0)
    await store.unban("principal:alice")
    assert await store.banned(["principal:alice"], T0 + 1) is None


async def test_banned_names_the_first_banned_subject(store: Store) -> None:
    await store.ban("ip:b", 60, "second", T0)
    await store.ban("ip:a", 60, "first", T0)
    subjects = ["ip:none", "ip:a", "ip:b"]
    assert await store.banned(subjects, T0) == "first"
    assert await store.banned([], T0) is None


async def test_values_are_kept_for_their_ttl(store: Store) -> None:
    await store.put("kid", b"\x00key", 0.2, time.time())
    assert await store.get("kid") == b"\x00key"
    assert await store.get("other") is None
    await asyncio.sleep(0.3)
    # The memory store expires values by the latest time any call passed.
    await store.first_seen("tick", 1, time.time())
    assert await store.get("kid") is None


# -- admit ----------------------------------------------------------------------------


async def test_admit_refuses_a_banned_subject_without_charging(store: Store) -> None:
    await store.ban("ip:192.0.2.9", 60, "limits.ban", T0)
    tally = Tally("attempts", 60)
    admission = await store.admit(["ip:192.0.2.9"], [check(limit=1)], [tally], T0)
    assert admission.banned == "limits.ban" and not admission.allowed
    assert admission.counts == [1]  # tallies apply either way
    assert (await store.rate([check(limit=1)], T0))[0].allowed


async def test_admit_charges_and_counts_in_one_call(store: Store) -> None:
    tallies = [
        Tally("fails", 60, 0),
        Tally("users", 60, 1, "alice", distinct=True),
        Tally("attempts", 60, 2),
    ]
    admission = await store.admit(["ip:x"], [check("a"), check("b")], tallies, T0)
    assert admission.allowed and admission.banned is None
    assert [r.remaining for r in admission.rates] == [9, 9]
    assert admission.counts == [0, 1, 2]


async def test_many_keys_across_slots_stay_all_or_nothing(store: Store) -> None:
    # On a Cluster these keys hash to different slots and nodes; a denial
    # in one must leave the others uncharged (refunded).
    checks = [check(f"key-{i}", limit=5) for i in range(12)]
    assert (await store.admit((), checks, (), T0)).allowed
    tight = [*checks, check("tight", limit=1)]
    assert (await store.admit((), tight, (), T0)).allowed
    assert not (await store.admit((), tight, (), T0)).allowed
    remaining = [r.remaining for r in await store.rate(checks, T0)]
    assert remaining == [2] * 12


async def test_negative_tallies_take_back_counts_and_members(store: Store) -> None:
    added = [
        Tally("fails", 60, 2),
        Tally("users", 60, 1, "alice", distinct=True),
        Tally("users", 60, 1, "bob", distinct=True),
    ]
    assert (await store.admit((), (), added, T0)).counts == [2, 1, 2]
    undo = [Tally("fails", 60, -1), Tally("users", 60, -1, "alice", distinct=True)]
    assert (await store.admit((), (), undo, T0 + 1)).counts == [1, 1]
