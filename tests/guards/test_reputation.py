"""Reputation: lists from files, allow-list precedence, bans, the decaying score."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.guards.pipeline import Pipeline, user
from vaultgate.core.ipset import IPSet, ListFormatError, parse_feed
from vaultgate.core.model import Action
from vaultgate.errors import PolicyError
from vaultgate.guards.clients import ScoreSettings, add_points, read_score
from vaultgate.guards.reputation import reputation_of
from vaultgate.state.base import Store
from vaultgate.state.memory import MemoryStore
from vaultgate.state.redis import open_redis

TOR_EXITS = """\
ExitNode 0011BD2485AD45D984EC4159C88FC066E5E3300E
Published 2024-05-01 03:12:45
LastStatus 2024-05-01 04:00:00
ExitAddress 185.220.101.4 2024-05-01 04:02:11
ExitNode 0111BA9B604669E636FFD5B503F382A4B7AD6E80
Published 2024-05-01 01:45:33
LastStatus 2024-05-01 03:00:00
ExitAddress 185.220.101.77 2024-05-01 03:05:41
ExitAddress 2001:db8:7::1 2024-05-01 03:05:41
"""
FEED = """\
# scanners seen by our SOC, one per line
198.51.100.0/24   # a whole range
203.0.113.99 ; with a trailing comment
2001:db8:bad::/48

"""


@pytest.fixture
def lists(tmp_path: Path) -> Path:
    (tmp_path / "tor.txt").write_text(TOR_EXITS)
    (tmp_path / "feed.txt").write_text(FEED)
    (tmp_path / "allow.txt").write_text("198.51.100.7\n10.20.0.0/16\n")
    return tmp_path


POLICY = """\
upstream: http://127.0.0.1:9
reputation:
  allow: [192.0.2.10, {file: allow.txt}]
  deny: [192.0.2.66, 192.0.2.128/25]
  tor: {file: tor.txt}
  feeds:
    - {name: soc, file: feed.txt, action: block}
routes:
  - path: /accounts/{account_id}
    owner: {param: account_id}
  - path: /health
"""


@pytest.fixture
def gate(tmp_path: Path, lists: Path) -> Pipeline:
    return Pipeline(tmp_path, POLICY)


@pytest.mark.parametrize(
    ("ip", "status", "reasons", "labels"),
    [
        ("192.0.2.1", 200, (), []),
        ("192.0.2.66", 403, ("reputation.deny",), ["deny"]),
        ("192.0.2.200", 403, ("reputation.deny",), ["deny"]),
        ("185.220.101.4", 200, ("reputation.tor",), ["tor"]),  # alert, not block
        ("2001:db8:7::1", 200, ("reputation.tor",), ["tor"]),
        ("185.220.101.5", 200, (), []),
        ("198.51.100.23", 403, ("reputation.feed:soc",), ["feed:soc"]),
        ("203.0.113.99", 403, ("reputation.feed:soc",), ["feed:soc"]),
        ("2001:db8:bad:1::9", 403, ("reputation.feed:soc",), ["feed:soc"]),
        ("::ffff:203.0.113.99", 403, ("reputation.feed:soc",), ["feed:soc"]),
        # Allow wins over the feed that lists its whole /24.
        ("198.51.100.7", 200, (), ["allow", "feed:soc"]),
        ("10.20.3.4", 200, (), ["allow"]),
    ],
)
async def test_lists(
    gate: Pipeline, ip: str, status: int, reasons: tuple[str, ...], labels: list[str]
) -> None:
    decision, ex = await gate.send("/health", ip=ip)
    assert ex.decision is not None
    assert (decision.status, ex.decision.reasons) == (status, reasons)
    assert ex.tags.get("client.reputation", []) == labels
    assert sorted(reputation_of(ex.policy, ip)) == labels


async def test_allow_wins_over_a_ban_in_the_store(gate: Pipeline) -> None:
    for ip in ("192.0.2.10", "192.0.2.11"):
        await gate.store.ban(f"ip:{ip}", 600, "limits.ban:login", gate.clock.now)
    allowed, _ = await gate.send("/health", ip="192.0.2.10")
    refused, ex = await gate.send("/health", ip="192.0.2.11")
    assert allowed.action is Action.ALLOW
    assert refused.reasons == ("reputation.banned",)
    assert ex.tags["ban.reason"] == "limits.ban:login"


async def test_allow_wins_over_a_principal_ban(gate: Pipeline) -> None:
    eve = user("u-5", ["1"])
    await gate.store.ban("principal:u-5", 600, "manual", gate.clock.now)
    office, _ = await gate.send("/accounts/1", principal=eve, ip="10.20.0.5")
    outside, _ = await gate.send("/accounts/1", principal=eve, ip="192.0.2.1")
    assert office.action is Action.ALLOW
    assert outside.reasons == ("reputation.banned",)


async def test_a_ban_expires(gate: Pipeline) -> None:
    await gate.store.ban("ip:192.0.2.1", 60, "manual", gate.clock.now)
    assert (await gate.send("/health", ip="192.0.2.1"))[0].status == 403
    gate.clock.advance(61)
    assert (await gate.send("/health", ip="192.0.2.1"))[0].status == 200


async def test_tor_can_be_blocked(tmp_path: Path, lists: Path) -> None:
    policy = POLICY.replace(
        "tor: {file: tor.txt}", "tor: {file: tor.txt, action: block}"
    )
    gate = Pipeline(tmp_path, policy)
    decision, _ = await gate.send("/health", ip="185.220.101.77")
    assert decision.reasons == ("reputation.tor",)


async def test_a_reload_rereads_the_files(gate: Pipeline, lists: Path) -> None:
    assert (await gate.send("/health", ip="192.0.2.5"))[0].status == 200
    (lists / "feed.txt").write_text(FEED + "192.0.2.5\n")
    gate.reload(POLICY)
    assert (await gate.send("/health", ip="192.0.2.5"))[0].status == 403


@pytest.mark.parametrize(
    ("reputation", "message"),
    [
        ("{deny: [{file: missing.txt}]}", "a readable list file"),
        ("{deny: [{file: bad.txt}]}", r"line 2: expected an IP address or CIDR"),
        ("{deny: [300.1.2.3]}", "an IP address or CIDR"),
        ("{deny: [{path: x}]}", "one of: file"),
        ("{feeds: [{file: feed.txt}]}", "a feed name"),
        ("{tor: {file: tor.txt, action: drop}}", "one of: alert, block, label"),
        ("{score: {challenge: 90, block: 60}}", "challenge <= block <= ban"),
        ("{score: {half_life: 0}}", "a half-life above zero"),
        ("{score: {points: {trap: 5}}}", "one of: blocked"),
    ],
)
def test_policy_mistakes(
    tmp_path: Path, lists: Path, reputation: str, message: str
) -> None:
    (lists / "bad.txt").write_text("192.0.2.1\nnot-an-address\n")
    with pytest.raises(PolicyError, match=message):
        Pipeline(tmp_path, f"upstream: http://x:9\nreputation: {reputation}\n")


# -- the running threat score ---------------------------------------------------


@pytest.fixture(params=["memory", "redis"])
async def any_store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    store = open_redis(request.getfixturevalue("redis_url"), timeout=1.0)
    yield store
    await store.close()


async def test_score_decays_by_half_each_half_life(any_store: Store) -> None:
    store = any_store
    settings = ScoreSettings(half_life=600)
    t = 1_750_000_123.0
    assert await add_points(store, settings, "ip:x", 40, t) == pytest.approx(40)
    assert await read_score(store, settings, "ip:x", t + 600) == pytest.approx(20, 0.01)
    assert await add_points(store, settings, "ip:x", 10, t + 600) == pytest.approx(
        30, 0.01
    )
    assert await read_score(store, settings, "ip:x", t + 1800) == pytest.approx(
        7.5, 0.01
    )
    # Across epoch boundaries (an epoch is 8 half-lives) the sum still holds.
    later = t + 8 * 600 + 600
    assert await read_score(store, settings, "ip:x", later) == pytest.approx(
        30 * 2**-8, 0.05
    )
    assert await read_score(store, settings, "ip:x", t + 40 * 600) == 0.0


async def test_repeated_offences_escalate_challenge_then_block(gate: Pipeline) -> None:
    # Each refused BOLA attempt earns 5 (finding) + 5 (blocked) points; each
    # challenge left unsolved earns 5 more.
    mallory = user("u-666", [])
    ip = "192.0.2.77"
    seen = []
    for n in range(10):
        decision, ex = await gate.send(f"/accounts/{n}", principal=mallory, ip=ip)
        seen.append((decision.status, ex.tags.get("reputation.level")))
    assert seen[:3] == [(403, None), (403, None), (403, "challenge")]  # 30 points
    assert seen[3][0] == 429  # challenged from then on
    assert (429, "block") in seen  # 60 points
    refused, ex = await gate.send("/health", ip=ip)
    assert refused.reasons == ("reputation.banned",)
    assert ex.tags["ban.reason"] == "reputation.block"
    # The principal is blocked as well, from any address.
    elsewhere, _ = await gate.send("/accounts/1", principal=mallory, ip="192.0.2.9")
    assert elsewhere.reasons == ("reputation.banned",)


async def test_a_score_past_the_ban_threshold_bans(tmp_path: Path, lists: Path) -> None:
    policy = POLICY.replace(
        "  feeds:", "  score: {ban_for: 2h, points: {finding: 10}}\n  feeds:"
    )
    gate = Pipeline(tmp_path, policy)
    mallory = user("u-668", [])
    for n in range(2):  # 2 x (5 x 10 + 5) = 110 points, from two addresses
        _, ex = await gate.send(f"/accounts/{n}", principal=mallory, ip=f"192.0.2.8{n}")
    assert ex.tags["reputation.level"] == "ban"
    gate.clock.advance(7100)
    banned, _ = await gate.send("/health", principal=mallory, ip="192.0.2.99")
    assert banned.reasons == ("reputation.banned",)
    gate.clock.advance(101)
    later, _ = await gate.send("/health", principal=mallory, ip="192.0.2.99")
    assert later.action is Action.ALLOW


async def test_a_challenge_is_requested_for_the_address(gate: Pipeline) -> None:
    mallory = user("u-666", [])
    for n in range(3):
        await gate.send(f"/accounts/{n}", principal=mallory, ip="192.0.2.78")
    _, ex = await gate.send("/health", ip="192.0.2.78")
    assert ex.scratch.get("challenge.requested") == "reputation"


async def test_storms_of_4xx_raise_the_score(gate: Pipeline) -> None:
    ip = "192.0.2.79"
    for _ in range(29):
        _, ex = await gate.send("/health", ip=ip)
        await gate.answer(ex, 404, {"error": "not found"})
    assert "reputation.level" not in ex.tags
    _, ex = await gate.send("/health", ip=ip)
    await gate.answer(ex, 404, {"error": "not found"})
    assert ex.tags["reputation.level"] == "challenge"


async def test_an_isolated_offence_fades(gate: Pipeline) -> None:
    mallory = user("u-667", [])
    for n in range(5):  # 50 points: one short of a block
        await gate.send(f"/accounts/{n}", principal=mallory, ip="192.0.2.80")
    gate.clock.advance(3600)  # six half-lives: under one point left
    _, ex = await gate.send("/accounts/9", principal=mallory, ip="192.0.2.80")
    assert "reputation.level" not in ex.tags


# -- IP sets ------------------------------------------------------------------------


def _set(*items: str) -> IPSet:
    return IPSet(ipaddress.ip_network(i, strict=False) for i in items)


@pytest.mark.parametrize(
    ("items", "address", "inside"),
    [
        (("10.0.0.0/8",), "10.0.0.0", True),
        (("10.0.0.0/8",), "10.255.255.255", True),
        (("10.0.0.0/8",), "11.0.0.0", False),
        (("10.0.0.0/8",), "9.255.255.255", False),
        (("10.0.0.0/24", "10.0.1.0/24"), "10.0.1.9", True),  # merged ranges
        (("10.0.0.0/16", "10.0.5.0/24"), "10.0.200.1", True),  # nested
        (("192.0.2.1",), "192.0.2.1", True),
        (("192.0.2.1",), "192.0.2.2", False),
        (("2001:db8::/32",), "2001:db8:ffff::1", True),
        (("2001:db8::/32",), "10.0.0.1", False),
        (("10.0.0.0/8",), "::a00:1", False),  # same integer, other family
    ],
)
def test_ipset_membership(items: tuple[str, ...], address: str, inside: bool) -> None:
    assert (ipaddress.ip_address(address) in _set(*items)) is inside


def test_feed_formats() -> None:
    networks = parse_feed(TOR_EXITS + FEED + "10.1.2.3\n")
    assert [str(n) for n in networks] == [
        "185.220.101.4/32",
        "185.220.101.77/32",
        "2001:db8:7::1/128",
        "198.51.100.0/24",
        "203.0.113.99/32",
        "2001:db8:bad::/48",
        "10.1.2.3/32",
    ]
    with pytest.raises(ListFormatError, match="line 3"):
        parse_feed("# header\n1.2.3.4\n1.2.3\n")


def test_remembered_labels_stay_bounded_and_exact() -> None:
    # The guard remembers each address's labels; past MAX_KNOWN_ADDRESSES
    # it starts again, and a remembered answer is the list lookup's own.
    from vaultgate.guards.reputation import (
        MAX_KNOWN_ADDRESSES,
        ListRule,
        ReputationGuard,
        ReputationSettings,
    )

    deny = ListRule("deny", "block", IPSet(parse_feed("198.51.100.0/24\n")))
    guard = ReputationGuard(ReputationSettings(lists=(deny,)), MemoryStore())
    for i in range(MAX_KNOWN_ADDRESSES):
        assert guard.labels(f"10.{i // 256}.{i % 256}.1") == frozenset()
    assert len(guard._known) == MAX_KNOWN_ADDRESSES
    assert guard.labels("198.51.100.7") == frozenset({"deny"})  # one over
    assert len(guard._known) == 1
    assert guard.labels("198.51.100.7") == frozenset({"deny"})
    assert guard.labels("::ffff:198.51.100.7") == frozenset({"deny"})
    assert guard.labels("not an address") == frozenset()
