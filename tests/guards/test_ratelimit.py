"""Rate limits through a real engine, on the memory store and a real Redis."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.guards.rate_kit import Gate, json_body, make_gate, store_url
from vaultgate.core.model import Action, Principal
from vaultgate.errors import PolicyError

__all__ = ["store_url"]  # the fixture, re-exported for pytest


async def flood(gate: Gate, n: int, **kw: object) -> list[int]:
    """Statuses of ``n`` requests (200 for forwarded ones)."""
    statuses = []
    for _ in range(n):
        _, decision = await gate.send(**kw)  # type: ignore[arg-type]
        statuses.append(decision.status if decision.action.stops else 200)
    return statuses


async def test_exceeding_a_limit_answers_429_with_the_draft_headers(
    store_url: str, tmp_path: Path
) -> None:
    gate = await make_gate("limits: [{key: ip, rate: 3/minute}]\n", store_url, tmp_path)
    assert await flood(gate, 4) == [200, 200, 200, 429]
    _, decision = await gate.send()
    headers = dict(decision.headers)
    assert decision.action is Action.THROTTLE
    assert headers["Retry-After"] == "20"
    assert headers["RateLimit-Policy"] == '"ip-3-per-60s";q=3;w=60'
    assert headers["RateLimit"] == '"ip-3-per-60s";r=0;t=20'
    assert decision.reasons == ("limits.ip-3-per-60s",)
    # Twenty seconds later, exactly one more request fits.
    gate.clock.now += 20
    assert await flood(gate, 2) == [200, 429]


# (limit item, requests as (path, ip, headers), expected statuses)
KEYED = [
    (
        "{key: ip, rate: 2/minute}",
        [("/a", "192.0.2.1", ()), ("/b", "192.0.2.1", ()), ("/a", "192.0.2.2", ())]
        + [("/c", "192.0.2.1", ())],
        [200, 200, 200, 429],
    ),
    (
        "{key: [ip, route], rate: 1/minute}",
        [("/a", "192.0.2.1", ()), ("/b", "192.0.2.1", ()), ("/a", "192.0.2.1", ())],
        [200, 200, 429],
    ),
    (
        # An IPv6 client is its /64: rotating the low bits does not help.
        "{key: ip, rate: 1/minute}",
        [("/", "2001:db8:1:2::1", ()), ("/", "2001:db8:1:2::ffff", ())]
        + [("/", "2001:db8:1:3::1", ())],
        [200, 429, 200],
    ),
    (
        "{key: 'header:X-Api-Key', rate: 1/minute}",
        [
            ("/", "192.0.2.1", (("X-Api-Key", "k1"),)),
            ("/", "192.0.2.2", (("X-Api-Key", "k1"),)),
            ("/", "192.0.2.3", (("X-Api-Key", "k2"),)),
            ("/", "192.0.2.4", ()),  # no key: the limit does not apply
            ("/", "192.0.2.4", ()),
        ],
        [200, 429, 200, 200, 200],
    ),
    (
        "{key: token, rate: 1/minute}",
        [
            ("/", "192.0.2.1", (("Authorization", "Bearer aaa"),)),
            ("/", "192.0.2.9", (("Authorization", "Bearer aaa"),)),
            ("/", "192.0.2.1", (("Authorization", "Bearer bbb"),)),
        ],
        [200, 429, 200],
    ),
    (
        "{key: route, rate: 2/minute}",
        [("/a", "192.0.2.1", ()), ("/a", "192.0.2.2", ()), ("/a", "192.0.2.3", ())],
        [200, 200, 429],
    ),
]


@pytest.mark.parametrize(("item", "requests", "expected"), KEYED)
async def test_limits_count_per_key(
    store_url: str,
    tmp_path: Path,
    item: str,
    requests: list[tuple[str, str, tuple[tuple[str, str], ...]]],
    expected: list[int],
) -> None:
    # Routes /a and /b, so that "route" tells them apart.
    policy = f"limits: [{item}]\nroutes: [{{path: /a}}, {{path: /b}}]\n"
    gate = await make_gate(policy, store_url, tmp_path)
    statuses = []
    for path, ip, headers in requests:
        _, decision = await gate.send(path, ip, headers=headers)
        statuses.append(decision.status if decision.action.stops else 200)
    assert statuses == expected


ROUTES = """
limits: [{key: ip, rate: 5/minute}]
routes:
  - path: /login
    methods: [POST]
    login: {username: 'json:$.username'}
    limits:
      - {key: username, rate: 2/minute}
  - path: /health
    limits: {inherit: false}
  - path: /strict
    limits: [{key: ip, rate: 1/minute}]
"""


async def test_route_limits_add_to_the_top_level_ones(tmp_path: Path) -> None:
    gate = await make_gate(ROUTES, "", tmp_path)
    assert await flood(gate, 2, path="/strict") == [200, 429]
    # The denied request charged no bucket: the shared one holds 4 more.
    assert await flood(gate, 5, path="/other") == [200, 200, 200, 200, 429]
    # /health opted out of the top-level limits.
    assert await flood(gate, 10, path="/health") == [200] * 10


async def test_a_username_limit_normalises_and_spans_addresses(
    tmp_path: Path,
) -> None:
    gate = await make_gate(ROUTES, "", tmp_path)
    statuses = []
    for ip, name in [
        ("192.0.2.1", "Alice"),
        ("192.0.2.2", " alice "),
        ("192.0.2.3", "ALICE"),
    ]:
        headers, body = json_body({"username": name, "password": "x"})
        _, decision = await gate.send("/login", ip, "POST", headers, body)
        statuses.append(decision.status if decision.action.stops else 200)
    assert statuses == [200, 200, 429]


async def test_principal_limits_run_once_the_principal_is_known(
    tmp_path: Path,
) -> None:
    gate = await make_gate("limits: [{key: principal, rate: 1/minute}]\n", "", tmp_path)
    results = []
    for ip, who in [
        ("192.0.2.1", "alice"),
        ("192.0.2.2", "alice"),
        ("192.0.2.3", None),
    ]:
        ex = gate.engine.begin(_request(ip))
        if who:
            ex.principal = Principal("user", who)
        decision = await gate.engine.decide(ex)
        results.append(decision.reasons)
    assert results == [(), ("limits.principal-1-per-60s",), ()]


def _request(ip: str):  # type: ignore[no-untyped-def]
    from vaultgate.core.request import Request

    return Request("GET", "/", [("Host", "api.bank.test")], ip)


async def test_action_ban_bans_the_client_everywhere(
    store_url: str, tmp_path: Path
) -> None:
    policy = (
        "routes:\n"
        "  - path: /otp\n"
        "    limits: [{key: ip, rate: 2/hour, action: ban, ban_for: 1h}]\n"
    )
    gate = await make_gate(policy, store_url, tmp_path)
    gate.clock.now = time.time()  # Redis expires bans on its own clock
    assert await flood(gate, 3, path="/otp") == [200, 200, 403]
    # The reputation phase now refuses the client on every route.
    _, decision = await gate.send("/accounts")
    assert decision.reasons == ("reputation.banned",)
    _, other = await gate.send("/accounts", ip="192.0.2.200")
    assert not other.action.stops


async def test_monitor_mode_records_but_bans_no_one(tmp_path: Path) -> None:
    policy = "mode: monitor\nlimits: [{key: ip, rate: 1/hour, action: ban}]\n"
    gate = await make_gate(policy, "", tmp_path)
    first, _ = await gate.send()
    ex, decision = await gate.send()
    assert not decision.action.stops  # forwarded
    assert ex.decision is not None and ex.decision.status == 403  # recorded
    assert ex.tags["ban.skipped"].startswith("limits.ban")
    assert await gate.store.banned(["ip:198.51.100.7"], gate.clock.now) is None


# (on_state_error, expected action on a dead store)
ON_ERROR = [("allow", Action.ALLOW), ("block", Action.BLOCK)]


@pytest.mark.parametrize(("setting", "expected"), ON_ERROR)
async def test_a_dead_store_is_handled_per_route_and_quickly(
    tmp_path: Path, silent_port: int, setting: str, expected: Action
) -> None:
    policy = (
        "state_timeout: 5ms\n"
        "limits: [{key: ip, rate: 100/minute}]\n"
        f"routes: [{{path: /pay, on_state_error: {setting}}}]\n"
    )
    gate = await make_gate(policy, "", tmp_path)
    from vaultgate.state import open_store

    gate.engine.store = open_store(f"redis://127.0.0.1:{silent_port}/0", 0.005)
    gate.engine.reload(gate.engine.policy)
    started = time.monotonic()
    _, decision = await gate.send("/pay")
    assert time.monotonic() - started < 0.1
    assert decision.action is expected
    if expected is Action.BLOCK:
        assert decision.status == 503
        assert dict(decision.headers)["Retry-After"] == "1"


# (policy, what the error names)
BAD = [
    ("limits: [{key: ip}]", "limits[0].rate"),
    ("limits: [{key: ip, rate: 10 per sec}]", "limits[0].rate"),
    ("limits: [{key: [ip, ip], rate: 1/s}]", "limits[0].key"),
    ("limits: [{key: cookie, rate: 1/s}]", "limits[0].key"),
    ("limits: [{key: [ip, cookie], rate: 1/s}]", "limits[0].key[1]"),
    ("limits: [{key: ip, rate: 1/s, action: drop}]", "limits[0].action"),
    ("limits: [{key: ip, rate: 1/s, burst: 0}]", "limits[0].burst"),
    ("routes: [{path: /x, limits: {inherit: maybe}}]", "routes[0].limits.inherit"),
    ("state_timeout: 5s", "state_timeout"),
    ("on_state_error: fail-open", "on_state_error"),
]


@pytest.mark.parametrize(("policy", "where"), BAD)
async def test_policy_errors_say_where(tmp_path: Path, policy: str, where: str) -> None:
    with pytest.raises(PolicyError, match=re.escape(f"policy.yaml: {where}: expected")):
        await make_gate(policy + "\n", "", tmp_path)


async def test_a_username_limit_needs_to_know_where_the_username_is(
    tmp_path: Path,
) -> None:
    policy = "routes: [{path: /login, limits: [{key: username, rate: 5/m}]}]\n"
    with pytest.raises(PolicyError, match=r"routes\[0\].limits\[0\].username"):
        await make_gate(policy, "", tmp_path)
