"""Token drift: one token seen from too many networks or devices."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.guards.jose_kit import (
    Gate,
    Key,
    claims,
    ec_key,
    jwks,
    mint,
    policy_file,
    write_json,
)
from vaultgate.core.model import Action
from vaultgate.core.request import Request
from vaultgate.guards.drift import LISTS_SCRATCH_KEY, check_drift, network_of
from vaultgate.guards.token_policy import DriftSettings
from vaultgate.state.memory import MemoryStore


@pytest.fixture(scope="module")
def key() -> Key:
    return ec_key("k1")


def gate_with(tmp_path: Path, key: Key, drift: str = "") -> Gate:
    write_json(tmp_path / "jwks.json", jwks(key))
    return Gate(policy_file(tmp_path, drift))


async def _from(
    gate: Gate, token: str, *ips: str
) -> list[tuple[Action, tuple[str, ...]]]:
    seen = []
    for ip in ips:
        decision, _ = await gate.send(token=token, client_ip=ip)
        seen.append((decision.action, decision.reasons))
    return seen


async def test_a_third_network_raises_the_score(tmp_path: Path, key: Key) -> None:
    gate = gate_with(tmp_path, key)
    token = mint(key, claims())
    seen = await _from(gate, token, "203.0.113.7", "203.0.113.99", "198.51.100.7")
    assert seen == [(Action.ALLOW, ())] * 3  # two /24s: Wi-Fi and cellular
    decision, ex = await gate.send(token=token, client_ip="192.0.2.7")
    assert (decision.action, decision.reasons) == (
        Action.ALERT,
        ("token.drift_network",),
    )
    assert [f.score for f in ex.findings] == [3]


async def test_another_token_of_the_same_user_is_not_drift(
    tmp_path: Path, key: Key
) -> None:
    gate = gate_with(tmp_path, key)
    for ip in ("203.0.113.7", "198.51.100.7", "192.0.2.7"):
        decision, _ = await gate.send(token=mint(key, claims()), client_ip=ip)
        assert decision.action is Action.ALLOW


@pytest.mark.parametrize(
    ("labels", "score"),
    [(frozenset(), 3), (frozenset({"tor"}), 5), (frozenset({"allow"}), 3)],
)
async def test_a_listed_network_weighs_more(
    tmp_path: Path, key: Key, labels: frozenset[str], score: int
) -> None:
    # The reputation phase leaves the client's list labels in the scratch;
    # here they are set by hand, as that phase would, before the drift check.
    gate = gate_with(tmp_path, key)
    store = MemoryStore()
    for ip in ("203.0.113.7", "198.51.100.7", "192.0.2.7"):
        ex = gate.engine.begin(Request("GET", "/payments", [], ip))
        ex.scratch[LISTS_SCRATCH_KEY] = labels
        await check_drift(ex, "token-1", DriftSettings(), store)
    assert [(f.rule_id, f.score) for f in ex.findings] == [
        ("token.drift_network", score)
    ]


async def test_block_action_refuses_the_token(tmp_path: Path, key: Key) -> None:
    gate = gate_with(tmp_path, key, "  drift: {action: block, networks: 1}\n")
    token = mint(key, claims())
    seen = await _from(
        gate, token, "2001:db8:1:2::1", "2001:db8:1:2::99", "2001:db8:9::1"
    )
    assert seen[:2] == [(Action.ALLOW, ())] * 2  # one /64
    assert seen[2] == (Action.BLOCK, ("token.drift_network",))


async def test_devices_are_counted_too(tmp_path: Path, key: Key) -> None:
    gate = gate_with(tmp_path, key)
    token = mint(key, claims())
    for agent, action in (
        ("app/1", Action.ALLOW),
        ("app/2", Action.ALLOW),
        ("curl/8", Action.ALERT),
    ):
        decision, _ = await gate.send(token=token, headers=[("User-Agent", agent)])
        assert decision.action is action
    assert decision.reasons == ("token.drift_device",)


async def test_drift_can_be_turned_off(tmp_path: Path, key: Key) -> None:
    gate = gate_with(tmp_path, key, "  drift: false\n")
    token = mint(key, claims())
    seen = await _from(
        gate, token, "203.0.113.7", "198.51.100.7", "192.0.2.7", "10.1.1.1"
    )
    assert seen == [(Action.ALLOW, ())] * 4


async def test_drift_forgets_after_its_window(tmp_path: Path, key: Key) -> None:
    gate = gate_with(tmp_path, key, "  drift: {window: 1m}\n")
    token = mint(key, claims())
    await _from(gate, token, "203.0.113.7", "198.51.100.7")
    gate.clock.now += 61
    assert await _from(gate, token, "192.0.2.7") == [(Action.ALLOW, ())]


@pytest.mark.parametrize(
    ("ip", "network"),
    [
        ("203.0.113.7", "203.0.113.0/24"),
        ("2001:db8:1:2::1", "20010db800010002::/64"),
        ("2001:db8:1:2:ffff::1", "20010db800010002::/64"),
        ("fe80::1%eth0", "fe80000000000000::/64"),
    ],
)
def test_networks_are_slash_24_and_slash_64(ip: str, network: str) -> None:
    assert network_of(ip) == network
