"""BOLA: another principal's object is refused; enumeration is stopped, then banned."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.servers import free_port
from tests.guards.pipeline import Pipeline, user
from vaultgate.core.model import Action
from vaultgate.errors import PolicyError
from vaultgate.guards.bola import owns
from vaultgate.state.redis import open_redis

# The running threat score would challenge these clients long before the
# enumeration thresholds under test; it has its own tests.
POLICY = """\
upstream: http://127.0.0.1:9
reputation: {score: {challenge: 10000, block: 10000, ban: 10000}}
routes:
  - path: /accounts/{account_id}
    owner: {param: account_id, claim: accounts, bypass_roles: [support]}
  - path: /transfers
    methods: [POST]
    owner: {json: [$.from_account, "$.legs[*].account"], claim: accounts}
  - path: /statements
    owner: {query: account, claim: accounts}
  - path: /tenants/{tenant}/invoices
    owner: {param: tenant, claim: tenant, match: prefix}
  - path: /public/{account_id}
    owner: {param: account_id, anonymous: allow}
  - path: /cards/{card_id}
    enumeration: {distinct: {block: 5, ban: 8, window: 1m}, sequential: {block: 100}}
  - path: /loans/{loan_id}
    enumeration: {sequential: {block: 4, ban: 6, window: 5m}, distinct: {block: 1000}}
  - path: /orders/{order_id}
    enumeration: {failures: {block: 3, ban: 5, window: 1m}, distinct: {block: 1000}}
  - path: /health
"""
ALICE = user("u-10001", [1001, 1002, 1003], "customer")
BOB = user("u-10002", [1004, 1005, 1006], "customer")
SAM = user("u-90001", [], "support")


@pytest.fixture
def gate(tmp_path: Path) -> Pipeline:
    return Pipeline(tmp_path, POLICY)


@pytest.mark.parametrize(
    ("path", "principal", "status", "reason"),
    [
        ("/accounts/1001", ALICE, 200, None),
        ("/accounts/1003", ALICE, 200, None),
        ("/accounts/1004", ALICE, 403, "bola.not_owner"),  # Bob's account
        ("/accounts/1004", BOB, 200, None),
        ("/accounts/01001", ALICE, 403, "bola.not_owner"),  # not the same spelling
        ("/accounts/%31%30%30%34", ALICE, 403, "bola.not_owner"),  # encoded 1004
        ("/accounts/1004", SAM, 200, None),  # support may read any account
        ("/accounts/1004", None, 401, "bola.no_principal"),
        ("/public/1004", None, 200, None),
        ("/statements?account=1002", ALICE, 200, None),
        ("/statements?account=1002&account=1004", ALICE, 403, "bola.not_owner"),
        ("/statements", ALICE, 200, None),
    ],
)
async def test_object_ids_in_paths_and_queries(
    gate: Pipeline, path: str, principal: object, status: int, reason: str | None
) -> None:
    decision, _ = await gate.send(path, principal=principal)  # type: ignore[arg-type]
    assert decision.status == status
    assert decision.reasons == ((reason,) if reason else ())


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({"from_account": 1001, "to_iban": "GB00", "amount": "5.00"}, 200, None),
        ({"from_account": "1002", "amount": "5.00"}, 200, None),
        ({"from_account": 1004, "amount": "5.00"}, 403, "bola.not_owner"),
        ({"from_account": 1001, "legs": [{"account": 1002}, {"account": 1005}]}, 403,
         "bola.not_owner"),
        ({"from_account": 1001.0}, 403, "bola.not_owner"),  # coercible, unproven
        ({"from_account": {"$ne": 0}}, 403, "bola.not_owner"),
        ({"amount": "5.00"}, 200, None),  # no id: nothing to own
        (b'{"from_account": 1001', 403, "bola.unreadable_body"),
    ],
)  # fmt: skip
async def test_object_ids_in_json_bodies(
    gate: Pipeline, body: object, status: int, reason: str | None
) -> None:
    raw = isinstance(body, bytes)
    headers = [("Content-Type", "application/json")] if raw else []
    decision, _ = await gate.send(
        "/transfers",
        "POST",
        ALICE,
        headers,
        body,  # type: ignore[arg-type]
    )
    assert (decision.status, decision.reasons) == (status, (reason,) if reason else ())


async def test_a_refusal_is_a_security_event(gate: Pipeline) -> None:
    decision, ex = await gate.send("/accounts/1004", principal=ALICE)
    assert decision.action is Action.BLOCK
    assert [f.rule_id for f in ex.findings] == ["bola.not_owner"]
    assert ex.tags["bola.object"] == "1004"
    # An id that is itself sensitive is logged masked.
    _, ex = await gate.send("/accounts/GB82WEST12345698765432", principal=ALICE)
    assert ex.tags["bola.object"] == "GB****************5432"


@pytest.mark.parametrize(
    ("claim", "match", "object_id", "owned"),
    [
        ("acme", "prefix", "acme", True),
        ("acme", "prefix", "acme-17", True),
        ("acme", "prefix", "acme/17", True),
        ("acme", "prefix", "acmecorp-17", False),  # another tenant's prefix
        ("acme-", "prefix", "acme-17", True),
        ("acme-", "prefix", "acme17", False),
        ("", "prefix", "anything", False),
        ([1001, "1002"], "auto", "1002", True),
        ([1001, "1002"], "auto", "1003", False),
        ([1001, True], "auto", "True", False),  # booleans are not ids
        ("u-1", "auto", "u-1", True),
        ("u-1", "equal", "u-10", False),
        ("u-1", "member", "u-1", False),  # member needs a list claim
        (None, "auto", "1001", False),
    ],
)
def test_ownership_rules(
    claim: object, match: str, object_id: str, owned: bool
) -> None:
    principal = user("u-1")
    if claim is not None:
        principal.claims["c"] = claim
    assert owns(principal, "c", match, object_id) is owned


async def test_tenant_prefix_on_a_route(gate: Pipeline) -> None:
    acme = user("u-7")
    acme.claims["tenant"] = "acme"
    ok, _ = await gate.send("/tenants/acme/invoices", principal=acme)
    other, _ = await gate.send("/tenants/acmecorp/invoices", principal=acme)
    assert (ok.status, other.reasons) == (200, ("bola.not_owner",))


async def test_distinct_ids_block_then_ban(gate: Pipeline) -> None:
    ids = [17, 3, 99, 42, 8, 61, 25, 70]  # scattered: not a sequential walk
    statuses = []
    for card in ids:
        decision, ex = await gate.send(f"/cards/{card}", principal=ALICE)
        statuses.append(decision.status)
    assert statuses == [200, 200, 200, 200, 403, 403, 403, 403]
    assert ex.decision is not None
    assert ex.decision.reasons == ("bola.enumeration.distinct",)
    assert ex.tags["ban.reason"] == "bola.enumeration.distinct"
    # Banned: the principal is refused on every route now.
    elsewhere, _ = await gate.send("/health", principal=ALICE)
    assert elsewhere.reasons == ("reputation.banned",)
    # Bob is not affected (he shares no address with Alice here).
    bob, _ = await gate.send("/cards/1", principal=BOB, ip="198.51.100.2")
    assert bob.status == 200


async def test_a_sequential_walk_is_stopped_after_the_threshold(gate: Pipeline) -> None:
    statuses = []
    for loan in range(1001, 1008):
        decision, _ = await gate.send(f"/loans/{loan}", ip="198.51.100.9")
        statuses.append(decision.status)
    # Walks 1..3 pass, the 4th step is refused, the 6th bans the address.
    assert statuses == [200, 200, 200, 403, 403, 403, 403]
    _, ex = await gate.send("/health", ip="198.51.100.9")
    assert ex.decision is not None
    assert ex.decision.reasons == ("reputation.banned",)


@pytest.mark.parametrize(
    ("ids", "blocked"),
    [
        (["L-10", "L-12", "L-14", "L-16"], True),  # steps of 2, one direction
        (["9", "8", "7", "6"], True),  # walking down
        (["10", "11", "11", "12", "13"], True),  # a reload is not a step
        (["10", "11", "10", "11"], False),  # back and forth is not a walk
        (["10", "11", "20", "21"], False),  # jumps restart the count
        (["A-10", "B-11", "C-12", "D-13"], False),  # other prefixes
    ],
)
async def test_what_counts_as_a_walk(
    gate: Pipeline, ids: list[str], blocked: bool
) -> None:
    last = None
    for loan in ids:
        last, _ = await gate.send(f"/loans/{loan}", principal=BOB)
    assert last is not None
    assert (last.status == 403) is blocked


async def test_404_storm_on_an_object_route(gate: Pipeline) -> None:
    statuses = []
    for order in range(7):
        decision, ex = await gate.send(f"/orders/x{order * 37}", principal=BOB)
        statuses.append(decision.status)
        if decision.status == 200:
            await gate.answer(ex, 404, {"error": "no such order"})
    # Three 404s, then refused; the refusals count too, and the 5th bans.
    assert statuses == [200, 200, 200, 403, 403, 403, 403]
    banned, _ = await gate.send("/health", principal=BOB, ip="192.0.2.50")
    assert banned.reasons == ("reputation.banned",)


async def test_ban_expires(gate: Pipeline) -> None:
    for card in [5, 50, 500, 5000, 50000, 7, 70, 700]:
        await gate.send(f"/cards/{card}", principal=ALICE)
    refused, _ = await gate.send("/health", principal=ALICE)
    assert refused.reasons == ("reputation.banned",)
    gate.clock.advance(15 * 60 + 1)  # ban_for defaults to 15 minutes
    allowed, _ = await gate.send("/health", principal=ALICE)
    assert allowed.action is Action.ALLOW


async def test_monitor_mode_records_but_neither_blocks_nor_bans(tmp_path: Path) -> None:
    gate = Pipeline(tmp_path, POLICY.replace("routes:", "mode: monitor\nroutes:"))
    decision, ex = await gate.send("/accounts/1004", principal=ALICE)
    assert decision.action is Action.ALLOW
    assert ex.decision is not None
    assert ex.decision.reasons == ("bola.not_owner",)
    for card in range(10, 200, 17):
        await gate.send(f"/cards/{card}", principal=ALICE)
    later, _ = await gate.send("/accounts/1001", principal=ALICE)
    assert later.action is Action.ALLOW


@pytest.mark.parametrize(
    ("route", "message"),
    [
        ("{path: '/a/{id}', owner: {claim: accounts}}", "at least one of param"),
        ("{path: '/a/{id}', owner: {param: id, match: fuzzy}}", "one of: auto"),
        ("{path: '/a/{id}', owner: {json: from}}", r"starting with '\$'"),
        ("{path: '/a/{id}', enumeration: {distinct: {block: 9, ban: 3}}}", "ban at or"),
        ("{path: '/a/{id}', enumeration: {failures: {window: soon}}}", "a duration"),
    ],
)
def test_policy_mistakes_are_refused_at_load(
    tmp_path: Path, route: str, message: str
) -> None:
    with pytest.raises(PolicyError, match=message):
        Pipeline(tmp_path, f"upstream: http://127.0.0.1:9\nroutes:\n  - {route}\n")


def test_an_owner_param_must_be_in_the_route(tmp_path: Path) -> None:
    route = "{path: '/a/{id}', owner: {param: x}}"
    policy = f"upstream: http://127.0.0.1:9\nroutes:\n  - {route}\n"
    with pytest.raises(PolicyError, match=r"routes\[0\]\.owner\.param.*parameter"):
        Pipeline(tmp_path, policy)


async def test_enumeration_on_every_object_route_from_the_top_level(
    tmp_path: Path,
) -> None:
    policy = """\
upstream: http://127.0.0.1:9
reputation: {score: {challenge: 10000, block: 10000, ban: 10000}}
enumeration: {enabled: true, sequential: {block: 3}}
routes:
  - path: /invoices/{invoice_id}
  - path: /receipts/{receipt_id}
    enumeration: false
  - path: /health
"""
    gate = Pipeline(tmp_path, policy)
    walked = [(await gate.send(f"/invoices/{n}"))[0].status for n in range(1, 5)]
    skipped = [(await gate.send(f"/receipts/{n}"))[0].status for n in range(1, 5)]
    assert walked == [200, 200, 403, 403]
    assert skipped == [200] * 4


async def test_a_foreign_object_stays_refused_when_the_store_is_down(
    tmp_path: Path,
) -> None:
    store = open_redis(f"redis://127.0.0.1:{free_port()}/0", timeout=0.2)
    try:
        gate = Pipeline(tmp_path, POLICY, store)
        decision, _ = await gate.send("/accounts/1004", principal=ALICE)
        assert decision.reasons == ("bola.not_owner",)
        allowed, ex = await gate.send("/orders/7", principal=ALICE)
        # Counting answers is best effort: the answer is not failed for it.
        assert await gate.answer(ex, 404, {"error": "none"}) == (
            404,
            {"content-type": "application/json", "content-length": "16"},
            b'{"error":"none"}',
        )
    finally:
        await store.close()
