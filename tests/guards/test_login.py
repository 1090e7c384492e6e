"""Brute force and credential stuffing against a login route, end to end.

A tiny in-test "origin" answers each forwarded attempt: 200 for the right
password, 401 otherwise; attempts the guard stops never reach it.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.fixtures.servers import EchoUpstream, vaultgate_proc
from tests.guards.rate_kit import Gate, json_body, make_gate, store_url
from vaultgate.core import pow
from vaultgate.core.model import Action, Decision

__all__ = ["store_url"]

PASSWORDS = {"alice": "correct horse", "bob": "hunter2"}


# Every ladder off but a loose per-address one, unless a test sets it.
LADDERS = {
    "per_ip": "{challenge: 50, block: 80, ban: 100}",
    "per_network": "{}",
    "distinct_usernames": "{}",
    "per_username": "{}",
}


def policy(**ladders: str) -> str:
    """A login route; ladders given as YAML flow mappings."""
    lines = [
        "challenge: {difficulty: 8}",
        "routes:",
        "  - path: /login",
        "    methods: [POST]",
        "    login:",
        "      username: 'json:$.username'",
        "      failure_status: [401]",
    ]
    lines += [f"      {k}: {v}" for k, v in {**LADDERS, **ladders}.items()]
    return "\n".join(lines) + "\n"


@dataclass
class Origin:
    """Counts what reached the origin."""

    seen: list[str] = field(default_factory=list)

    async def attempt(
        self,
        gate: Gate,
        user: str,
        password: str,
        ip: str = "198.51.100.7",
        headers: tuple[tuple[str, str], ...] = (),
    ) -> Decision:
        extra, body = json_body({"username": user, "password": password})
        ex, decision = await gate.send("/login", ip, "POST", [*extra, *headers], body)
        if not decision.action.stops:
            self.seen.append(user)
            ok = PASSWORDS.get(user.strip().lower()) == password
            await gate.respond(ex, 200 if ok else 401, {"ok": ok})
        return decision


def kind(decision: Decision) -> str:
    """What the client saw: ok, challenge, block (429), ban (403)."""
    if not decision.action.stops:
        return "ok"
    if decision.action is Action.CHALLENGE:
        return "challenge"
    return {429: "block", 403: "ban"}.get(decision.status, str(decision.status))


async def test_a_user_with_a_typo_or_two_is_never_slowed(
    store_url: str, tmp_path: Path
) -> None:
    gate = await make_gate(policy(), store_url, tmp_path)
    origin = Origin()
    started = time.monotonic()
    seen = [
        kind(await origin.attempt(gate, "alice", p))
        for p in ("correct hrose", "Correct horse", "correct horse")
    ]
    assert seen == ["ok", "ok", "ok"]
    assert time.monotonic() - started < 0.2  # no delay was added
    # ... and the next day's typo is just as welcome.
    assert kind(await origin.attempt(gate, "alice", "wrong")) == "ok"


async def test_many_usernames_from_one_address_are_stopped_at_the_thresholds(
    store_url: str, tmp_path: Path
) -> None:
    ladder = "{challenge: 3, block: 6, ban: 12}"
    gate = await make_gate(policy(distinct_usernames=ladder), store_url, tmp_path)
    gate.clock.now = time.time()  # bans in Redis expire on its clock
    origin = Origin()
    seen = [
        kind(await origin.attempt(gate, f"user{i}@mail.test", "Summer2024!"))
        for i in range(16)
    ]
    assert seen == ["ok"] * 3 + ["challenge"] * 3 + ["block"] * 6 + ["ban"] * 4
    assert len(origin.seen) == 3  # the origin saw exactly the threshold
    # The ban holds on every route, and for the real owner's address too.
    _, decision = await gate.send("/accounts", "198.51.100.7")
    assert decision.reasons == ("reputation.banned",)


async def test_one_username_from_many_addresses_is_stopped_at_the_thresholds(
    store_url: str, tmp_path: Path
) -> None:
    gate = await make_gate(
        policy(per_username="{challenge: 3, block: 6}"), store_url, tmp_path
    )
    origin = Origin()
    seen = [
        kind(await origin.attempt(gate, "alice", f"guess{i}", ip=f"203.0.113.{i}"))
        for i in range(1, 12)
    ]
    assert seen == ["ok"] * 3 + ["challenge"] * 3 + ["block"] * 5
    assert origin.seen == ["alice"] * 3


async def test_parallel_stuffing_gets_no_more_than_the_threshold(
    store_url: str, tmp_path: Path
) -> None:
    # Counting on arrival, atomically: 40 attempts in flight at once still
    # let exactly the threshold through.
    ladder = "{challenge: 5, block: 100}"
    gate = await make_gate(policy(distinct_usernames=ladder), store_url, tmp_path)
    origin = Origin()
    attempts = [origin.attempt(gate, f"victim{i}", "pw") for i in range(40)]
    seen = [kind(d) for d in await asyncio.gather(*attempts)]
    assert seen.count("ok") == 5
    assert len(origin.seen) == 5


async def test_a_success_gives_its_attempt_back(store_url: str, tmp_path: Path) -> None:
    gate = await make_gate(policy(per_username="{challenge: 4}"), store_url, tmp_path)
    origin = Origin()
    for password in ("a", "b", "correct horse", "c"):
        await origin.attempt(gate, "alice", password)
    # Three failures counted, not four: the success was given back.
    assert kind(await origin.attempt(gate, "alice", "d")) == "ok"
    assert kind(await origin.attempt(gate, "alice", "e")) == "challenge"


async def test_a_challenged_user_with_a_solution_logs_in(
    store_url: str, tmp_path: Path
) -> None:
    gate = await make_gate(policy(per_username="{challenge: 2}"), store_url, tmp_path)
    origin = Origin()
    for password in ("a", "b"):
        await origin.attempt(gate, "bob", password)
    decision = await origin.attempt(gate, "bob", "hunter2")
    assert kind(decision) == "challenge"
    solution = _solve(decision)
    header = (("X-PoW-Solution", solution),)
    decision = await origin.attempt(gate, "bob", "hunter2", headers=header)
    assert kind(decision) == "ok"
    # One solution pays for one attempt only.
    decision = await origin.attempt(gate, "bob", "hunter2", headers=header)
    assert kind(decision) == "challenge"


def _solve(decision: Decision) -> str:
    www = dict(decision.headers)["WWW-Authenticate"]
    fields = dict(
        part.strip().split("=", 1) for part in www.removeprefix("PoW ").split(",")
    )
    challenge = fields["challenge"].strip('"')
    return f"{challenge}:{pow.solve(challenge, int(fields['difficulty']))}"


async def test_failures_can_be_read_from_a_json_field(tmp_path: Path) -> None:
    text = policy(per_username="{challenge: 2}").replace(
        "      failure_status: [401]",
        "      failure_status: []\n"
        "      failure_field: {path: $.result, equals: denied}",
    )
    gate = await make_gate(text, "", tmp_path)
    seen = []
    for answer in ("denied", "granted", "denied", "denied"):
        extra, body = json_body({"username": "carol", "password": "x"})
        ex, decision = await gate.send("/login", "192.0.2.5", "POST", extra, body)
        seen.append(kind(decision))
        if not decision.action.stops:
            await gate.respond(ex, 200, {"result": answer})
    assert seen == ["ok", "ok", "ok", "challenge"]


# (route mode, whether the delay applies)
DELAYS = [("block", True), ("monitor", False)]


@pytest.mark.parametrize(("mode", "slowed"), DELAYS)
async def test_the_delay_step_slows_repeated_failures(
    tmp_path: Path, mode: str, slowed: bool
) -> None:
    text = policy(per_username="{delay: 1}").replace(
        "      failure_status: [401]",
        "      failure_status: [401]\n      delay_step: 150ms\n      max_delay: 150ms",
    )
    gate = await make_gate(f"mode: {mode}\n" + text, "", tmp_path)
    origin = Origin()
    await origin.attempt(gate, "alice", "wrong")
    started = time.monotonic()
    await origin.attempt(gate, "alice", "wrong again")
    took = time.monotonic() - started
    assert (took >= 0.15) is slowed


async def test_a_network_is_watched_as_a_whole(tmp_path: Path) -> None:
    gate = await make_gate(
        policy(per_network="{challenge: 4}", per_ip="{}"), "", tmp_path
    )
    origin = Origin()
    seen = [
        kind(await origin.attempt(gate, f"u{i}", "x", ip=f"192.0.2.{i}"))
        for i in range(1, 7)
    ]
    assert seen == ["ok"] * 4 + ["challenge"] * 2
    # Another /24 is another network.
    assert kind(await origin.attempt(gate, "u9", "x", ip="192.0.3.1")) == "ok"


def test_stuffing_through_the_proxy_with_forwarded_addresses(
    echo_upstream: EchoUpstream,
) -> None:
    # One username from many addresses, as a trusted load balancer reports
    # them in X-Forwarded-For; the origin refuses every password (401).
    text = (
        "listen: 127.0.0.1:@PORT@\n"
        f"upstream: {echo_upstream.url}\n"
        "trusted_proxies: [127.0.0.1]\n"
        "audit: {file: /dev/null}\n"
        "reputation: {score: {points: {finding: 0, blocked: 0, client_error: 0}}}\n"
        + policy(per_username="{challenge: 3, block: 6}").replace(
            "path: /login", "path: /x/status"
        )
    )
    marker = uuid.uuid4().hex
    body = json.dumps({"username": f"{marker}@bank.test", "password": "x"})
    statuses = []
    with vaultgate_proc(text) as proxy:
        conn = http.client.HTTPConnection(proxy.host, proxy.port, timeout=10)
        for i in range(1, 10):
            headers = {
                "Host": "bank.test",
                "Content-Type": "application/json",
                "X-Forwarded-For": f"203.0.113.{i}",
            }
            conn.request("POST", f"/x/status?code=401&m={marker}", body, headers)
            response = conn.getresponse()
            response.read()
            statuses.append(response.status)
        conn.close()
    assert statuses == [401] * 3 + [429] * 6
    assert len(echo_upstream.find(marker)) == 3
