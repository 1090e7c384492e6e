"""Replay across processes sharing a real Redis, and a Redis that hangs."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.guards.jose_kit import (
    AUDIENCE,
    ISSUER,
    Gate,
    claims,
    ec_key,
    jwks,
    mint,
    policy_file,
    proof,
    write_json,
)
from vaultgate.core.request import Request
from vaultgate.guards.base import Services, build_guards
from vaultgate.guards.tokens import TokenGuard
from vaultgate.state import open_store

ROOT = Path(__file__).resolve().parents[2]
URL = "http://api.bank.test/transfers"


def _policy(tmp_path: Path, redis_url: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "upstream: http://127.0.0.1:9\n"
        f"state: {redis_url}\n"
        "tokens:\n"
        f"  jwt: {{jwks: jwks.json, issuer: '{ISSUER}', audience: {AUDIENCE}}}\n"
        "  drift: false\n"
        "routes:\n"
        "  - path: /transfers\n"
        "    tokens: {single_use: true}\n"
        "  - path: /payments\n"
        "    tokens: {dpop: required}\n"
    )
    return path


def _run_both(policy: Path, requests: list[dict[str, Any]]) -> list[list[list[str]]]:
    go_at = time.time() + 1.0  # both processes import, then start together
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.guards.replay_worker",
                str(policy),
                str(go_at),
            ],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    payload = orjson.dumps(requests)
    outputs = [proc.communicate(payload, timeout=60)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0]
    return [orjson.loads(out) for out in outputs]


def test_single_use_tokens_and_dpop_proofs_pass_once_across_processes(
    tmp_path: Path, redis_url: str
) -> None:
    issuer, client = ec_key("iss"), ec_key("client")
    write_json(tmp_path / "jwks.json", jwks(issuer))
    now = time.time()
    requests = []
    for i in range(25):
        token = mint(issuer, claims(now=now, sub=f"user-{i}"))
        requests.append(
            {
                "method": "POST",
                "path": "/transfers",
                "headers": [("Authorization", f"Bearer {token}")],
            }
        )
    for i in range(25, 50):
        token = mint(issuer, claims(now=now, sub=f"user-{i}", cnf={"jkt": client.jkt}))
        value = proof(client, "POST", "http://api.bank.test/payments", token, now=now)
        requests.append(
            {
                "method": "POST",
                "path": "/payments",
                "headers": [("Authorization", f"DPoP {token}"), ("DPoP", value)],
            }
        )

    # One client per token: the refusals must not add up into one client's
    # running threat score, which would challenge it (another guard's job).
    for i, item in enumerate(requests):
        item["ip"] = f"198.51.100.{i + 1}"
    first, second = _run_both(_policy(tmp_path, redis_url), requests)

    for i, item in enumerate(requests):
        outcomes = sorted([tuple(first[i]), tuple(second[i])])
        replayed = "token.replayed" if item["path"] == "/transfers" else "dpop.replayed"
        # Exactly one process accepted each token or proof; the other refused it.
        assert outcomes == [(), (replayed,)], (i, outcomes)


# -- a store that does not answer ---------------------------------------------

HUNG_ROUTES = """\
  - path: /transfers
    tokens: {single_use: true}
    on_state_error: block
  - path: /payments
    tokens: {single_use: true}
    on_state_error: allow
"""


@pytest.mark.parametrize(
    ("index", "reasons", "principal"),
    [(0, ("state.unavailable",), None), (1, (), "alice")],
)
async def test_a_hung_store_follows_the_routes_on_state_error(
    tmp_path: Path,
    silent_port: int,
    index: int,
    reasons: tuple[str, ...],
    principal: str | None,
) -> None:
    # The token guard alone: earlier guards use the store too, and would
    # answer for it on a route whose on_state_error is block.
    key = ec_key("k1")
    write_json(tmp_path / "jwks.json", jwks(key))
    store = open_store(f"redis://127.0.0.1:{silent_port}/0", timeout=0.05)
    gate = Gate(policy_file(tmp_path, "  drift: false\n", HUNG_ROUTES), store=store)
    route = gate.engine.policy.routes[index]
    guards = build_guards(gate.engine.policy, route, Services(store, gate.clock))
    guard = next(g for g in guards if isinstance(g, TokenGuard))
    headers = [("Authorization", "Bearer " + mint(key, claims()))]
    ex = gate.engine.begin(Request("POST", route.path, headers, "203.0.113.7"))
    decision = await guard.check(ex)
    assert (decision.reasons if decision else ()) == reasons
    assert (ex.principal.id if ex.principal else None) == principal
    assert ex.tags["state.error"] == "tokens"
    await store.close()
