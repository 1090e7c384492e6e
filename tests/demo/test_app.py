"""The demo API's endpoints, as a client sees them over HTTP.

Besides each endpoint's shape, these tests pin the deliberate weaknesses
(BOLA, over-sharing, the leaking error page): later tests show vaultgate
stopping them, which only means something if they are really there.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.fixtures.demo import DemoServer
from vaultgate.demo.data import iban_valid, luhn_valid

ALICE_ACCOUNTS = [1001, 1002, 1003]
CAROLS_ACCOUNT = 1007
A_PAYEE_IBAN = "GB33BUKB20201555555555"  # a published example IBAN

# (method, path, who, status, keys the JSON answer must have)
SHAPES = [
    ("GET", "/health", None, 200, {"status", "service"}),
    ("GET", "/", None, 200, {"service", "endpoints"}),
    ("GET", "/.well-known/jwks.json", None, 200, {"keys"}),
    ("GET", "/accounts", "alice", 200, {"accounts"}),
    ("GET", "/accounts/1001", "alice", 200, {"id", "iban", "balance", "owner"}),
    ("GET", "/accounts/1001/transactions", "alice", 200, {"count", "transactions"}),
    ("GET", "/accounts/9999", "alice", 404, {"error"}),
    ("GET", "/accounts/abc", "alice", 404, {"error"}),
    ("GET", "/accounts/1001/transactions?limit=0", "alice", 400, {"error"}),
    ("GET", "/accounts/1001/transactions?limit=101", "alice", 400, {"error"}),
    ("GET", "/accounts", None, 401, {"error", "detail"}),
    ("GET", "/accounts/1001", None, 401, {"error"}),
    ("GET", "/payments/pay_0000", "alice", 404, {"error"}),
    ("GET", "/search?q=plumb", None, 200, {"query", "count", "results"}),
    ("GET", "/search", None, 200, {"query", "count", "results"}),
    ("GET", "/nowhere", None, 404, {"error"}),
    ("PUT", "/accounts/1001", "alice", 405, {"error"}),
    ("POST", "/health", None, 405, {"error"}),
]


@pytest.mark.parametrize(
    ("method", "path", "who", "status", "keys"),
    SHAPES,
    ids=[f"{m} {p} as {w}" for m, p, w, _, _ in SHAPES],
)
def test_endpoint_answers_with_its_documented_shape(
    demo_api: DemoServer,
    tokens: dict[str, str],
    method: str,
    path: str,
    who: str | None,
    status: int,
    keys: set[str],
) -> None:
    reply = demo_api.request(method, path, token=tokens[who] if who else None)
    assert reply.status == status
    assert reply.headers["content-type"] == "application/json"
    assert keys <= set(reply.json())


@pytest.fixture(scope="module")
def tokens(alice_token: str, bob_token: str, support_token: str) -> dict[str, str]:
    return {"alice": alice_token, "bob": bob_token, "sam": support_token}


def test_unauthorized_answers_carry_a_bearer_challenge(demo_api: DemoServer) -> None:
    missing = demo_api.request("GET", "/accounts")
    bad = demo_api.request("GET", "/accounts", token="not.a.jwt")
    assert missing.headers["www-authenticate"] == 'Bearer realm="demo-bank"'
    assert 'error="invalid_token"' in bad.headers["www-authenticate"]


def test_accounts_lists_only_the_callers_own(
    demo_api: DemoServer, alice_token: str, support_token: str
) -> None:
    mine = demo_api.request("GET", "/accounts", token=alice_token).json()
    everyone = demo_api.request("GET", "/accounts", token=support_token).json()
    assert [a["id"] for a in mine["accounts"]] == ALICE_ACCOUNTS
    assert [a["id"] for a in everyone["accounts"]] == list(range(1001, 1013))


def test_bola_any_logged_in_user_reads_any_account(
    demo_api: DemoServer, alice_token: str
) -> None:
    reply = demo_api.request("GET", f"/accounts/{CAROLS_ACCOUNT}", token=alice_token)
    assert reply.status == 200
    assert reply.json()["owner"]["name"] == "Carol Nguyen"
    history = f"/accounts/{CAROLS_ACCOUNT}/transactions"
    assert demo_api.request("GET", history, token=alice_token).status == 200


def test_bola_ids_are_sequential_so_they_can_be_walked(
    demo_api: DemoServer, bob_token: str
) -> None:
    found = [
        demo_api.request("GET", f"/accounts/{n}", token=bob_token).status
        for n in range(1000, 1014)
    ]
    assert found == [404] + [200] * 12 + [404]


def test_account_document_over_shares_sensitive_fields(
    demo_api: DemoServer, alice_token: str
) -> None:
    account = demo_api.request("GET", "/accounts/1010", token=alice_token).json()
    assert luhn_valid(account["card_number"]) and len(account["card_number"]) == 16
    assert iban_valid(account["iban"])
    assert account["national_id"].startswith("QQ")
    assert isinstance(account["internal_risk_score"], float)
    assert account["kyc_notes"]
    assert {"email", "phone"} <= set(account["owner"])


def test_transactions_are_a_statement_page_of_a_few_kib(
    demo_api: DemoServer, alice_token: str
) -> None:
    reply = demo_api.request("GET", "/accounts/1002/transactions", token=alice_token)
    page = reply.json()
    assert page["count"] == 20 and len(page["transactions"]) == 20
    assert 2_000 < len(reply.body) < 10_000
    first = page["transactions"][0]
    assert {"memo", "counterparty", "amount", "currency", "booked_at"} <= set(first)
    assert iban_valid(first["counterparty"]["iban"])


def test_head_answers_the_get_head_without_a_body(demo_api: DemoServer) -> None:
    reply = demo_api.request("HEAD", "/health")
    assert reply.status == 200 and reply.body == b""
    assert int(reply.headers["content-length"]) > 0


def test_options_lists_the_allowed_methods(demo_api: DemoServer) -> None:
    reply = demo_api.request("OPTIONS", "/graphql")
    assert reply.status == 204
    assert reply.headers["allow"] == "GET, HEAD, OPTIONS, POST"


def test_lenient_paths_reach_the_same_account(
    demo_api: DemoServer, alice_token: str
) -> None:
    # Like many origins, the demo decodes and folds paths; a proxy that
    # routes on the raw spelling would be bypassed (core/paths.py).
    for path in ["/accounts/%31%30%30%37", "/accounts//1007", "/x/../accounts/1007"]:
        reply = demo_api.request("GET", path, token=alice_token)
        assert reply.status == 200 and reply.json()["id"] == 1007, path


def test_search_finds_payees_with_awkward_names(demo_api: DemoServer) -> None:
    found = demo_api.request("GET", "/search?q=o%27brien").json()
    assert [r["name"] for r in found["results"]] == ["O'Brien & Sons Plumbing"]
    assert found["query"] == "o'brien"


# -- payments --------------------------------------------------------------------


def _order(**changes: Any) -> dict[str, Any]:
    order = {
        "from_account": 1001,
        "to_iban": A_PAYEE_IBAN,
        "amount": "12.50",
        "currency": "GBP",
        "memo": "Invoice 42",
    }
    return {**order, **changes}


PAYMENT_CASES = [
    ("a valid payment", _order(), 201, None),
    ("amount as a number", _order(amount=7), 201, None),
    ("someone else's account", _order(from_account=1007), 422, "invalid_payment"),
    ("unknown account", _order(from_account=99), 422, "invalid_payment"),
    ("bad IBAN check digits", _order(to_iban="GB34BUKB20201555555555"), 422, None),
    ("negative amount", _order(amount="-5"), 422, "invalid_payment"),
    ("fraction of a cent", _order(amount="1.001"), 422, "invalid_payment"),
    ("not a number", _order(amount="NaN"), 422, "invalid_payment"),
    ("more than the balance", _order(amount="999999"), 422, "insufficient_funds"),
    ("wrong currency", _order(currency="EUR"), 422, "invalid_payment"),
    ("memo too long", _order(memo="m" * 141), 422, "invalid_payment"),
]


@pytest.mark.parametrize(
    ("order", "status", "error"),
    [case[1:] for case in PAYMENT_CASES],
    ids=[case[0] for case in PAYMENT_CASES],
)
def test_payment_orders_are_checked(
    demo_api: DemoServer,
    alice_token: str,
    order: dict[str, Any],
    status: int,
    error: str | None,
) -> None:
    reply = demo_api.request("POST", "/payments", order, token=alice_token)
    assert reply.status == status
    if status == 201:
        payment = reply.json()
        assert payment["status"] == "pending" and payment["id"].startswith("pay_")
        assert reply.headers["location"] == f"/payments/{payment['id']}"
    elif error:
        assert reply.json()["error"] == error


def test_a_payment_is_readable_by_its_maker_only(
    demo_api: DemoServer, alice_token: str, bob_token: str, support_token: str
) -> None:
    made = demo_api.request("POST", "/payments", _order(), token=alice_token).json()
    path = f"/payments/{made['id']}"
    assert demo_api.request("GET", path, token=alice_token).json() == made
    assert demo_api.request("GET", path, token=bob_token).status == 404
    assert demo_api.request("GET", path, token=support_token).status == 200


def test_idempotency_key_replays_the_first_answer(
    demo_api: DemoServer, alice_token: str
) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = demo_api.request("POST", "/payments", _order(), key, alice_token)
    again = demo_api.request("POST", "/payments", _order(), key, alice_token)
    changed = demo_api.request(
        "POST", "/payments", _order(amount="1"), key, alice_token
    )
    fresh = demo_api.request("POST", "/payments", _order(), token=alice_token)
    assert first.status == again.status == 201
    assert first.body == again.body
    assert changed.status == 422
    assert changed.json()["error"] == "idempotency_key_reused"
    assert fresh.json()["id"] != first.json()["id"]


# -- support and the leaking error page ---------------------------------------------


@pytest.mark.parametrize(
    ("form", "status"),
    [
        ({"subject": "Card", "message": "Lost my card <b>today</b>; O'Neil"}, 201),
        ({"subject": "", "message": "x"}, 422),
        ({"subject": "x", "message": "m" * 10_001}, 422),
        ({"subject": "x"}, 422),
        (["subject", "message"], 400),
    ],
)
def test_support_tickets_take_free_text(
    demo_api: DemoServer, form: Any, status: int
) -> None:
    reply = demo_api.request("POST", "/support/ticket", form)
    assert reply.status == status
    if status == 201:
        assert reply.json()["opened_by"] == "anonymous"


def test_support_ticket_records_a_logged_in_caller(
    demo_api: DemoServer, bob_token: str
) -> None:
    form = {"subject": "Statement", "message": "Please send a paper statement."}
    reply = demo_api.request("POST", "/support/ticket", form, token=bob_token)
    assert reply.json()["opened_by"] == "u-10002"


@pytest.mark.parametrize(
    ("query", "content_type"),
    [("", "text/html; charset=utf-8"), ("?format=json", "application/json")],
)
def test_debug_error_leaks_a_stack_trace_and_sql(
    demo_api: DemoServer, query: str, content_type: str
) -> None:
    reply = demo_api.request("GET", "/debug/error" + query)
    assert reply.status == 500
    assert reply.headers["content-type"] == content_type
    text = reply.body.decode()
    assert "Traceback (most recent call last):" in text
    assert "SELECT id, owner_id, balance, iban FROM accounts" in text
    assert "psycopg2.DatabaseError" in text


# -- GraphQL ------------------------------------------------------------------------


def _graphql(
    demo_api: DemoServer, token: str, query: str, **variables: Any
) -> tuple[int, Any]:
    body = {"query": query, "variables": variables or None}
    reply = demo_api.request("POST", "/graphql", body, token=token)
    return reply.status, reply.json()


def test_graphql_me_lists_the_callers_accounts(
    demo_api: DemoServer, alice_token: str
) -> None:
    status, answer = _graphql(
        demo_api, alice_token, "{ me { name roles accounts { id } } }"
    )
    assert status == 200
    me = answer["data"]["me"]
    assert me["name"] == "Alice Martin" and me["roles"] == ["customer"]
    assert [a["id"] for a in me["accounts"]] == ["1001", "1002", "1003"]


def test_graphql_account_is_bola_and_over_shares(
    demo_api: DemoServer, alice_token: str
) -> None:
    query = (
        "query($id: ID!) { account(id: $id) { cardNumber kycNotes owner { name } } }"
    )
    status, answer = _graphql(demo_api, alice_token, query, id="1012")
    account = answer["data"]["account"]
    assert status == 200
    assert account["owner"]["name"] == "Elena Petrova"
    assert luhn_valid(account["cardNumber"]) and account["kycNotes"]


def test_graphql_transactions_and_transfer(
    demo_api: DemoServer, alice_token: str
) -> None:
    status, answer = _graphql(
        demo_api,
        alice_token,
        '{ transactions(accountId: "1003", first: 3) { id memo } }',
    )
    assert status == 200 and len(answer["data"]["transactions"]) == 3
    mutation = (
        "mutation($iban: String!) { transfer(fromAccount: 1002, toIban: $iban, "
        'amount: "3.20", currency: "GBP", memo: "lunch") { id status amount } }'
    )
    status, answer = _graphql(demo_api, alice_token, mutation, iban=A_PAYEE_IBAN)
    assert answer["data"]["transfer"]["status"] == "pending"


def test_graphql_refused_transfer_is_an_error_not_a_403(
    demo_api: DemoServer, alice_token: str
) -> None:
    mutation = (
        'mutation { transfer(fromAccount: 1007, toIban: "GB33BUKB20201555555555", '
        'amount: "1", currency: "GBP") { id } }'
    )
    status, answer = _graphql(demo_api, alice_token, mutation)
    assert status == 200 and answer["data"] is None
    assert answer["errors"][0]["extensions"]["code"] == "invalid_payment"


@pytest.mark.parametrize(
    ("method", "target", "body", "status"),
    [
        ("GET", "/graphql?query=%7Bme%7Bname%7D%7D", None, 200),
        ("GET", "/graphql?query=mutation%7Btransfer%7Bid%7D%7D", None, 400),
        (
            "GET",
            "/graphql?query=mutation%20%7Btransfer(fromAccount%3A1%2CtoIban%3A%22x%22"
            "%2Camount%3A%221%22%2Ccurrency%3A%22GBP%22)%7Bid%7D%7D",
            None,
            405,
        ),
        ("GET", "/graphql", None, 400),
        ("GET", "/graphql?query=%7Bme%7D&variables=%7Bx", None, 400),
        ("POST", "/graphql", {"query": "{ nope }"}, 400),
        ("POST", "/graphql", {"query": 5}, 400),
        ("POST", "/graphql", [{"query": "{ me { name } }"}] * 3, 200),
    ],
)
def test_graphql_over_http(
    demo_api: DemoServer,
    alice_token: str,
    method: str,
    target: str,
    body: Any,
    status: int,
) -> None:
    reply = demo_api.request(method, target, body, token=alice_token)
    assert reply.status == status
    answer = reply.json()
    if status >= 400:
        assert answer["errors"][0]["message"]
    elif isinstance(answer, list):
        assert [item["data"]["me"]["name"] for item in answer] == ["Alice Martin"] * 3


def test_graphql_exponential_query_is_cut_off_not_hung(
    demo_api: DemoServer, alice_token: str
) -> None:
    nested = "customerId"
    for _ in range(16):
        nested = f"accounts {{ owner {{ {nested} }} }}"
    query = f'{{ account(id: "1004") {{ owner {{ {nested} }} }} }}'
    started = time.monotonic()
    status, answer = _graphql(demo_api, alice_token, query)
    assert status == 200
    assert "too expensive" in answer["errors"][0]["message"]
    assert time.monotonic() - started < 5
