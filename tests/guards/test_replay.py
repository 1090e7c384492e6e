"""Replay across processes: two vaultgate processes sharing a real Redis."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from tests.guards.jose_kit import (
    AUDIENCE,
    ISSUER,
    claims,
    ec_key,
    jwks,
    mint,
    proof,
    write_json,
)

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
