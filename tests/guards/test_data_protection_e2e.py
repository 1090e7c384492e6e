"""End to end: the demo API's BOLA weakness and over-sharing behind ``vaultgate run``.

The demo returns any account to any logged-in caller, with its full card
number, IBAN, national id, KYC notes and internal risk score.  These tests
log in as the demo's users through vaultgate and check what each one gets.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fixtures.demo import DemoServer
from tests.fixtures.servers import Vaultgate, vaultgate_proc
from vaultgate.demo.data import ACCOUNTS

POLICY = """\
listen: 127.0.0.1:@PORT@
upstream: {upstream}
state: {state}
audit: {{file: "-"}}
tokens:
  jwt:
    jwks: "{jwks}"
    issuer: https://demo-bank.local
    audience: payments-api
traps: {{ban_for: 2s}}
reputation:
  allow: [127.0.0.2]
  score: {{challenge: 1000, block: 1000, ban: 1000}}
routes:
  - path: /login
    methods: [POST]
    tokens: false
  - path: /health
    tokens: false
  - path: /debug/error
    tokens: false
  - path: /accounts/{{account_id}}
    methods: [GET]
    owner: {{param: account_id, claim: accounts, bypass_roles: [support]}}
    enumeration: {{sequential: {{block: 4, ban: 100}}, distinct: {{block: 100}}}}
    response:
      deny_fields: [internal_risk_score, kyc_notes]
      mask: [card_number, iban]
      mask_fields: [national_id]
      roles:
        support: {{deny_fields: [internal_risk_score]}}
"""


def call(
    gate: Vaultgate,
    method: str,
    path: str,
    token: str | None = None,
    body: dict[str, Any] | None = None,
    source: str = "127.0.0.1",
) -> tuple[int, dict[str, str], bytes]:
    """One request on a new connection (so both workers get a share)."""
    conn = http.client.HTTPConnection(
        gate.host, gate.port, timeout=10, source_address=(source, 0)
    )
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        fields = {k.lower(): v for k, v in response.getheaders()}
        return response.status, fields, response.read()
    finally:
        conn.close()


def login(gate: Vaultgate, username: str, password: str) -> str:
    status, _, body = call(
        gate, "POST", "/login", body={"username": username, "password": password}
    )
    assert status == 200, body
    token: str = json.loads(body)["access_token"]
    return token


@pytest.fixture(scope="module")
def gate(demo_api: DemoServer) -> Iterator[Vaultgate]:
    policy = POLICY.format(
        upstream=demo_api.url, jwks=demo_api.jwks_path, state="memory"
    )
    with vaultgate_proc(policy) as running:
        yield running


@pytest.fixture(scope="module")
def alice(gate: Vaultgate) -> str:
    return login(gate, "alice", "correct-horse-1")


@pytest.fixture(scope="module")
def sam(gate: Vaultgate) -> str:
    return login(gate, "sam", "support-desk-4")


def test_the_owner_sees_a_filtered_and_masked_account(
    gate: Vaultgate, alice: str
) -> None:
    status, _, body = call(gate, "GET", "/accounts/1001", alice)
    assert status == 200
    account = json.loads(body)
    truth = ACCOUNTS[1001]
    assert account["id"] == 1001
    assert "internal_risk_score" not in json.dumps(account)
    assert "kyc_notes" not in json.dumps(account)
    assert truth.card_number.encode() not in body
    assert truth.iban.encode() not in body
    assert truth.owner.national_id.encode() not in body
    assert truth.card_number[-4:] in json.dumps(account)  # last four kept


def test_another_users_account_is_refused(gate: Vaultgate, alice: str) -> None:
    status, fields, body = call(gate, "GET", "/accounts/1004", alice)  # Bob's
    assert status == 403
    assert fields["content-type"] == "application/problem+json"
    incident = json.loads(body)["incident_id"]
    assert b"1004" not in body and ACCOUNTS[1004].iban.encode() not in body
    event = _audit_event(gate, incident)
    assert event["event"]["reason"] == "bola.not_owner"


def test_support_reads_any_account_with_less_removed(gate: Vaultgate, sam: str) -> None:
    status, _, body = call(gate, "GET", "/accounts/1004", sam)
    assert status == 200
    account = json.loads(body)
    assert "kyc_notes" in json.dumps(account)
    assert "internal_risk_score" not in json.dumps(account)
    assert ACCOUNTS[1004].card_number.encode() not in body  # masked for all


def test_an_enumeration_walk_is_stopped_after_the_threshold(gate: Vaultgate) -> None:
    # Support bypasses ownership, so only the walk's shape can give it away.
    # Downwards from the last id: far from anything read before.
    walker = login(gate, "sam", "support-desk-4")
    walk = range(1012, 1006, -1)
    statuses = [call(gate, "GET", f"/accounts/{i}", walker)[0] for i in walk]
    assert statuses == [200, 200, 200, 403, 403, 403]


def test_a_leaking_error_page_is_replaced(gate: Vaultgate) -> None:
    status, fields, body = call(gate, "GET", "/debug/error?id=1%27")
    assert status == 500
    assert fields["content-type"] == "application/problem+json"
    for leak in (b"Traceback", b"SELECT", b"psycopg2", b".py", b"site-packages"):
        assert leak not in body
    assert json.loads(body)["status"] == 500


def test_allow_list_precedence_over_a_trap_ban(gate: Vaultgate) -> None:
    assert call(gate, "GET", "/.env", source="127.0.0.2")[0] == 404
    assert call(gate, "GET", "/health", source="127.0.0.2")[0] == 200
    assert call(gate, "GET", "/.env", source="127.0.0.3")[0] == 404
    assert call(gate, "GET", "/health", source="127.0.0.3")[0] == 403


def test_a_trap_ban_expires(gate: Vaultgate) -> None:
    assert call(gate, "GET", "/wp-login.php", source="127.0.0.4")[0] == 404
    assert call(gate, "GET", "/health", source="127.0.0.4")[0] == 403
    time.sleep(2.2)  # ban_for: 2s
    assert call(gate, "GET", "/health", source="127.0.0.4")[0] == 200


def test_a_trap_hit_bans_the_client_on_every_worker(
    demo_api: DemoServer, redis_url: str
) -> None:
    policy = POLICY.format(
        upstream=demo_api.url, jwks=demo_api.jwks_path, state=redis_url
    ).replace("ban_for: 2s", "ban_for: 1h")
    # The default 5 ms store timeout fails open on a loaded test machine:
    # that is the store's tested policy, not what this test is about.
    policy += "state_timeout: 1s\n"
    with vaultgate_proc(policy, workers=2) as gate:
        before = [call(gate, "GET", "/health", source="127.0.0.5")[0] for _ in range(6)]
        assert call(gate, "GET", "/.git/config", source="127.0.0.5")[0] == 404
        # New connections land on either worker (SO_REUSEPORT): 20 of them
        # all refused means both refuse (1 in 2**19 otherwise).
        after = [call(gate, "GET", "/health", source="127.0.0.5")[0] for _ in range(20)]
        others = [call(gate, "GET", "/health", source="127.0.0.6")[0] for _ in range(4)]
    assert before == [200] * 6
    assert after == [403] * 20
    assert others == [200] * 4


def _audit_event(gate: Vaultgate, incident: str) -> dict[str, Any]:
    deadline = time.monotonic() + 5  # audit lines are flushed once a second
    while time.monotonic() < deadline:
        for event in gate.audit():
            if event["event"]["id"] == incident:
                return event
        time.sleep(0.1)
    raise AssertionError(f"no audit event for incident {incident}")
