"""Traps: decoy paths and honeytokens answer like a miss and ban the client."""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson
import pytest

from tests.fixtures.servers import free_port
from tests.guards.pipeline import Pipeline
from vaultgate.core.model import Action
from vaultgate.errors import PolicyError
from vaultgate.state.redis import open_redis

HONEY_BEARER = "hny_7f3c2b1a9e8d7c6b5a4f3e2d1c0b9a8f"
HONEY_KEY = "ak_live_decoy_0000111122223333"
HONEY_KEY_DIGEST = hashlib.sha256(HONEY_KEY.encode()).hexdigest()

POLICY = f"""\
upstream: http://127.0.0.1:9
traps:
  paths: [/admin/backup.zip, /internal/debug/]
  ban_for: 30m
  honeytokens:
    usernames: [svc-backup-admin]
    bearer_tokens: [{HONEY_BEARER}]
    api_keys: ["sha256:{HONEY_KEY_DIGEST}"]
reputation:
  allow: [192.0.2.10]
routes:
  - path: /accounts/{{account_id}}
  - path: /login
    methods: [POST]
  - path: /actuator/env
  - path: /admin/{{file}}
"""
PROBE_IP = "198.51.100.66"


@pytest.fixture
def gate(tmp_path: Path) -> Pipeline:
    return Pipeline(tmp_path, POLICY)


@pytest.mark.parametrize(
    "path",
    [
        "/.env",
        "/.ENV",  # case-insensitive filesystems serve it too
        "/.env/",
        "/.git/config",
        "/.git/HEAD",
        "/.git",
        "/wp-login.php",
        "/wp-admin/install.php",
        "/phpmyadmin/",
        "/server-status",
        "/actuator/heapdump",
        "/.aws/credentials",
        "/backup.zip",
        "/.DS_Store",
        "/static/../.env",  # dot segments resolved before the check
        "/%2eenv",  # percent-encoded
        "/admin/backup.zip",  # the policy's own decoy, inside a declared route
        "/internal/debug/vars",
    ],
)
async def test_a_decoy_answers_404_and_bans(gate: Pipeline, path: str) -> None:
    decision, ex = await gate.send(path, ip=PROBE_IP)
    assert (decision.status, decision.reasons) == (404, ("trap.path",))
    assert orjson.loads(decision.body or b"") == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
    }
    assert ex.tags["ban.reason"] == "trap.path"
    after, _ = await gate.send("/accounts/1001", ip=PROBE_IP)
    assert after.reasons == ("reputation.banned",)
    other, _ = await gate.send("/accounts/1001", ip="198.51.100.67")
    assert other.action is Action.ALLOW


@pytest.mark.parametrize(
    "path",
    [
        "/actuator/env",  # declared by a route: the API serves it
        "/accounts/.env",  # a value of a declared route's parameter
        "/config.json",  # single-page apps fetch it
        "/actuator/health",
        "/environment",
        "/.well-known/openid-configuration",
        "/admin/report.pdf",
    ],
)
async def test_paths_that_are_not_decoys(gate: Pipeline, path: str) -> None:
    # (Payload inspection may still refuse some of them: not as a trap.)
    decision, ex = await gate.send(path, ip=PROBE_IP)
    assert "trap.path" not in decision.reasons
    assert "ban.reason" not in ex.tags
    assert (await gate.send("/accounts/1", ip=PROBE_IP))[0].action is Action.ALLOW


async def test_a_root_catch_all_route_keeps_the_builtin_decoys(tmp_path: Path) -> None:
    policy = "upstream: http://127.0.0.1:9\nroutes:\n  - path: /{*}\n"
    gate = Pipeline(tmp_path, policy)
    decision, _ = await gate.send("/.env")
    assert decision.reasons == ("trap.path",)


async def test_builtins_can_be_switched_off(tmp_path: Path) -> None:
    gate = Pipeline(tmp_path, "upstream: http://x:9\ntraps: {builtin: false}\n")
    decision, ex = await gate.send("/wp-login.php")
    assert decision.action is Action.ALLOW
    assert "ban.reason" not in ex.tags


async def test_a_403_answer_when_configured(tmp_path: Path) -> None:
    gate = Pipeline(tmp_path, "upstream: http://x:9\ntraps: {answer: 403}\n")
    decision, _ = await gate.send("/.env")
    assert (decision.status, decision.body) == (403, None)  # the standard problem


def bearer(token: str) -> list[tuple[str, str]]:
    return [("Authorization", f"Bearer {token}")]


@pytest.mark.parametrize(
    ("method", "path", "headers", "body"),
    [
        ("GET", "/accounts/1001", bearer(HONEY_BEARER), b""),
        ("GET", "/accounts/1001", [("X-Api-Key", HONEY_KEY)], b""),
        ("GET", "/accounts/1001", [("api-key", f" {HONEY_KEY} ")], b""),
        ("POST", "/login", [], {"username": "svc-backup-admin", "password": "x"}),
        ("POST", "/login", [], {"username": "SVC-Backup-Admin", "password": "x"}),
        (
            "POST",
            "/login",
            [("Content-Type", "application/x-www-form-urlencoded")],
            b"username=svc-backup-admin&password=x",
        ),
    ],
)
async def test_a_honeytoken_is_refused_as_invalid_and_bans(
    gate: Pipeline,
    method: str,
    path: str,
    headers: list[tuple[str, str]],
    body: bytes | dict[str, str],
) -> None:
    decision, ex = await gate.send(path, method, None, headers, body, ip=PROBE_IP)
    assert (decision.status, decision.reasons) == (401, ("trap.honeytoken",))
    assert ex.tags["ban.reason"] == "trap.honeytoken"
    assert (await gate.send("/accounts/1", ip=PROBE_IP))[0].status == 403


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        (bearer(HONEY_BEARER + "x"), b""),
        (bearer(HONEY_BEARER[:-1]), b""),
        ([("X-Api-Key", HONEY_KEY_DIGEST)], b""),  # the digest itself is no key
        ([("X-Other-Key", HONEY_KEY)], b""),  # not a header the policy names
        ([], {"username": "alice", "password": "svc-backup-admin"}),
    ],
)
async def test_near_misses_are_not_honeytokens(
    gate: Pipeline, headers: list[tuple[str, str]], body: bytes | dict[str, str]
) -> None:
    decision, _ = await gate.send("/login", "POST", None, headers, body)
    assert decision.action is Action.ALLOW


async def test_an_allow_listed_client_gets_the_answer_but_no_ban(
    gate: Pipeline,
) -> None:
    decision, ex = await gate.send("/.env", ip="192.0.2.10")
    assert decision.status == 404
    assert "ban.reason" not in ex.tags
    after, _ = await gate.send("/accounts/1001", ip="192.0.2.10")
    assert after.action is Action.ALLOW


async def test_monitor_mode_alerts_without_ban(tmp_path: Path) -> None:
    gate = Pipeline(tmp_path, POLICY.replace("routes:", "mode: monitor\nroutes:"))
    decision, ex = await gate.send("/.env", ip=PROBE_IP)
    assert decision.action is Action.ALLOW  # forwarded
    assert ex.decision is not None and ex.decision.reasons == ("trap.path",)
    assert ex.tags["ban.skipped"] == "trap.path"
    assert (await gate.send("/accounts/1", ip=PROBE_IP))[0].action is Action.ALLOW


async def test_the_ban_expires(gate: Pipeline) -> None:
    await gate.send("/.env", ip=PROBE_IP)
    gate.clock.advance(29 * 60)
    assert (await gate.send("/accounts/1", ip=PROBE_IP))[0].status == 403
    gate.clock.advance(61)
    assert (await gate.send("/accounts/1", ip=PROBE_IP))[0].action is Action.ALLOW


async def test_a_trap_hit_is_logged_as_a_security_event(
    gate: Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="vaultgate.security"):
        _, ex = await gate.send("/wp-login.php", ip=PROBE_IP)
    assert f"trap.hit incident={ex.incident_id} kind=trap.path" in caplog.text
    assert HONEY_BEARER not in caplog.text


@pytest.mark.parametrize(
    ("traps", "message"),
    [
        ("{paths: [.env]}", "starting with '/'"),
        ("{answer: 410}", "403 or 404"),
        ("{ban_for: forever}", "a duration"),
        ("{honeytokens: {api_keys: ['sha256:abc']}}", "64 hex digits"),
        ("{honeytokens: {username_fields: ['$.']}}", "JSON path"),
        ("{honeytokens: {passwords: [x]}}", "one of: api_key_headers"),
    ],
)
def test_policy_mistakes(tmp_path: Path, traps: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        Pipeline(tmp_path, f"upstream: http://x:9\ntraps: {traps}\n")


async def test_a_trap_ban_reaches_every_process_sharing_redis(
    tmp_path: Path, redis_url: str
) -> None:
    # Two engines with their own Redis clients stand for two workers (or two
    # machines); the fixture's redis-server is real.
    stores = [open_redis(redis_url, timeout=1.0) for _ in range(2)]
    try:
        first = Pipeline(tmp_path / "a", POLICY, stores[0])
        second = Pipeline(tmp_path / "b", POLICY, stores[1])
        assert (await second.send("/accounts/1", ip=PROBE_IP))[0].status == 200
        assert (await first.send("/.env", ip=PROBE_IP))[0].status == 404
        refused, ex = await second.send("/accounts/1", ip=PROBE_IP)
        assert refused.reasons == ("reputation.banned",)
        assert ex.tags["ban.reason"] == "trap.path"
    finally:
        for store in stores:
            await store.close()


async def test_a_trap_still_answers_when_the_store_is_down(tmp_path: Path) -> None:
    store = open_redis(f"redis://127.0.0.1:{free_port()}/0", timeout=0.2)
    try:
        gate = Pipeline(tmp_path, POLICY, store)
        decision, ex = await gate.send("/.env", ip=PROBE_IP)
        assert (decision.status, decision.reasons) == (404, ("trap.path",))
        assert ex.tags["state.error"] == "traps"  # the ban was lost, and said so
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("path", "inside"),
    [
        ("/.env", True),
        ("/.env/", True),
        ("/admin/", True),
        ("/admin", True),  # a prefix's own path, without its slash
        ("/admin/x/y", True),
        ("/administrator", False),
        ("/adm", False),
        ("/", False),
        ("", False),
    ],
)
def test_decoy_membership(path: str, inside: bool) -> None:
    from vaultgate.guards.traps import Decoys

    decoys = Decoys(frozenset({"/.env"}), ("/admin/", "/wp-admin/"))
    assert (path in decoys) is inside
    assert path not in Decoys(frozenset(), ())
