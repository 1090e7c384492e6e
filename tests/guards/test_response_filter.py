"""Response filtering: fields by role, masking, leaky errors, exfiltration limits."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.fixtures.servers import free_port
from tests.guards.pipeline import Pipeline, user
from vaultgate.core.model import Action
from vaultgate.errors import PolicyError
from vaultgate.guards.response_filter import ResponseFilter
from vaultgate.state.redis import open_redis

POLICY = """\
upstream: http://127.0.0.1:9
reputation: {score: {challenge: 10000, block: 10000, ban: 10000}}
routes:
  - path: /accounts/{account_id}
    response:
      deny_fields: [internal_risk_score, kyc_notes, $.owner.national_id]
      mask: [card_number, iban, secret]
      mask_fields: [$.owner.phone]
      roles:
        support:
          deny_fields: [internal_risk_score]
        auditor:
          allow_fields: [id, status, "$.owner.name"]
  - path: /statements/{account_id}
    response: {mask: [card_number, iban], max_body: 4KiB, on_oversize: pass}
    exfiltration: {max_records: 20, records: $.items}
  - path: /export
    response: {mask: [card_number]}
    exfiltration: {max_records: 50, action: alert}
  - path: /reports/{id}
    exfiltration: {max_bytes: 1KiB/1m, ban_for: 10m}
  - path: /debug/{what}
    response: {scrub_errors: all}
  - path: /raw/{id}
    response: {mask: [], scrub_errors: "off"}
  - path: /strict/{id}
    response: {deny_fields: [secret], max_body: 1KiB}
"""
ACCOUNT = {
    "id": 1004,
    "status": "active",
    "iban": "GB29NWBK60161331926819",
    "card_number": "4539800000010046",
    "internal_risk_score": 0.73,
    "kyc_notes": "Enhanced due diligence",
    "owner": {
        "name": "Bob Okafor",
        "national_id": "AB123456C",
        "phone": "+442079460102",
    },
    "history": [{"kyc_notes": "old", "amount": 5}],
}
ALICE = user("u-10001", [1001], "customer")
SAM = user("u-90001", [], "support")
AUDREY = user("u-90002", [], "auditor", "support")


@pytest.fixture
def gate(tmp_path: Path) -> Pipeline:
    return Pipeline(tmp_path, POLICY)


async def fetch(
    gate: Pipeline,
    path: str,
    body: Any,
    principal: Any = None,
    status: int = 200,
    headers: list[tuple[str, str]] | None = None,
) -> tuple[int, dict[str, str], bytes, Any]:
    _, ex = await gate.send(path, principal=principal)
    code, fields, out = await gate.answer(ex, status, body, headers)
    return code, fields, out, ex


async def test_fields_removed_and_values_masked_for_a_customer(gate: Pipeline) -> None:
    status, headers, body, ex = await fetch(gate, "/accounts/1004", ACCOUNT, ALICE)
    assert status == 200
    assert orjson.loads(body) == {
        "id": 1004,
        "status": "active",
        "iban": "GB****************6819",
        "card_number": "************0046",
        "owner": {"name": "Bob Okafor", "phone": "*********0102"},
        "history": [{"amount": 5}],
    }
    assert ex.tags["response.fields"] == 5
    assert ex.tags["response.masked"] == 2


async def test_a_role_sees_what_its_rules_allow(gate: Pipeline) -> None:
    _, _, body, _ = await fetch(gate, "/accounts/1004", ACCOUNT, SAM)
    seen = orjson.loads(body)
    assert seen["kyc_notes"] == "Enhanced due diligence"  # support may read it
    assert seen["owner"]["national_id"] == "AB123456C"
    assert "internal_risk_score" not in seen
    assert seen["card_number"] == "************0046"  # masking still applies


async def test_an_allow_list_keeps_only_what_it_names(gate: Pipeline) -> None:
    # The first role the policy lists wins: "support" comes before "auditor".
    auditor = user("u-7", [], "auditor")
    _, _, body, _ = await fetch(gate, "/accounts/1004", ACCOUNT, auditor)
    assert orjson.loads(body) == {
        "id": 1004,
        "status": "active",
        "owner": {"name": "Bob Okafor"},
    }
    _, _, body, _ = await fetch(gate, "/accounts/1004", ACCOUNT, AUDREY)
    assert "kyc_notes" in orjson.loads(body)


async def test_lists_of_records_are_filtered_record_by_record(gate: Pipeline) -> None:
    page = [ACCOUNT, {**ACCOUNT, "id": 1005, "card_number": 4539800000010046}]
    _, _, body, _ = await fetch(gate, "/accounts/1004", page, ALICE)
    out = orjson.loads(body)
    assert [r["id"] for r in out] == [1004, 1005]
    assert all("kyc_notes" not in r for r in out)
    assert out[1]["card_number"] == "************0046"  # a PAN sent as a number


LOOK_ALIKES = {
    "order_id": "1000234567891234",
    "created_ms": 1718900000000,
    "trace_id": "123e4567-e89b-12d3-a456-426614174000",
    "phone": "+14155552671",
    "amount": 4111111111111111.5,
    "reference": "ORD-4111111111111111",
    "note": "IBAN GB82 WEST 1234 5698 7654 33 is mistyped",
}


async def test_look_alikes_pass_byte_for_byte(gate: Pipeline) -> None:
    raw = (
        b'{"order_id": "1000234567891234",  "nested": '
        + orjson.dumps(LOOK_ALIKES)
        + b"}"
    )
    headers = [("Content-Type", "application/json"), ("ETag", '"v1"')]
    status, fields, body, ex = await fetch(gate, "/statements/1", raw, headers=headers)
    assert body == raw  # untouched, not even re-serialised
    assert fields["etag"] == '"v1"'
    assert "response.masked" not in ex.tags


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        # A card number with one digit spelled as a JSON escape: no run of
        # twelve digits in the raw text, so the answer must be parsed
        # before it is judged clean.
        (b'{"pan": "453980000\\u0030010046"}', {"pan": "************0046"}),
        (
            b'{"pan": 4539800000010046, "ok": true}',
            {"pan": "************0046", "ok": True},
        ),
        (b'[{"k": "sk_live_' + b"a1" * 12 + b'"}]', [{"k": "[redacted:api_key]"}]),
    ],
)
async def test_default_masking_finds_values_however_the_json_spells_them(
    gate: Pipeline, raw: bytes, masked: Any
) -> None:
    headers = [("Content-Type", "application/json")]
    _, _, body, ex = await fetch(gate, "/profile", raw, headers=headers)
    assert orjson.loads(body) == masked
    assert ex.tags["response.masked"] == 1


async def test_a_rewritten_body_drops_stale_headers(gate: Pipeline) -> None:
    headers = [("ETag", '"v1"'), ("Content-MD5", "x"), ("Cache-Control", "no-store")]
    _, fields, _, _ = await fetch(gate, "/accounts/1", ACCOUNT, ALICE, headers=headers)
    assert "etag" not in fields and "content-md5" not in fields
    assert fields["cache-control"] == "no-store"


async def test_gzip_answers_are_inflated_filtered_and_sent_plain(
    gate: Pipeline,
) -> None:
    packed = gzip.compress(orjson.dumps(ACCOUNT))
    headers = [("Content-Type", "application/json"), ("Content-Encoding", "gzip")]
    _, fields, body, _ = await fetch(
        gate, "/accounts/1", packed, ALICE, headers=headers
    )
    assert "content-encoding" not in fields
    assert orjson.loads(body)["card_number"] == "************0046"


async def test_deflate_answers_unchanged_stay_compressed(gate: Pipeline) -> None:
    raw = orjson.dumps({"id": 1, "status": "ok"})
    for packed in (zlib.compress(raw), zlib.compress(raw)[2:-4]):  # zlib, raw
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Encoding", "deflate"),
        ]
        _, fields, body, _ = await fetch(gate, "/statements/1", packed, headers=headers)
        assert (body, fields["content-encoding"]) == (packed, "deflate")


@pytest.mark.parametrize(
    ("path", "coding", "status"),
    [
        ("/accounts/1", "br", 502),  # cannot be read: withheld
        ("/statements/1", "br", 200),  # on_oversize: pass
    ],
)
async def test_unknown_encodings(
    gate: Pipeline, path: str, coding: str, status: int
) -> None:
    headers = [("Content-Type", "application/json"), ("Content-Encoding", coding)]
    code, _, body, ex = await fetch(
        gate, path, b"\x8b\x00opaque", ALICE, headers=headers
    )
    assert code == status
    assert ex.tags["response.incomplete"] == "too-large-or-encoded"
    if status == 502:
        assert orjson.loads(body)["incident_id"] == ex.incident_id


async def test_a_gzip_bomb_is_not_inflated_past_the_limit(gate: Pipeline) -> None:
    bomb = gzip.compress(b'{"a": "' + b"0" * 5_000_000 + b'"}')
    assert len(bomb) < 10_000
    headers = [("Content-Type", "application/json"), ("Content-Encoding", "gzip")]
    code, _, _, _ = await fetch(gate, "/strict/1", bomb, headers=headers)
    assert code == 502


@pytest.mark.parametrize(
    ("size", "path", "status"),
    [
        (1000, "/strict/1", 200),  # under max_body 1 KiB
        (1100, "/strict/1", 502),  # over: refused, the route has field rules
        (5000, "/statements/1", 200),  # over, but on_oversize: pass
    ],
)
async def test_body_size_limit(
    gate: Pipeline, size: int, path: str, status: int
) -> None:
    body = {"secret": "x", "pad": "p" * (size - 26)}
    raw = orjson.dumps(body)
    code, _, out, ex = await fetch(
        gate, path, raw, headers=[("Content-Type", "application/json")]
    )
    assert code == status
    if path == "/statements/1":
        assert out == raw
        assert ex.tags["response.incomplete"] == "too-large-or-encoded"


async def test_the_proxy_is_not_asked_to_buffer_what_would_pass(gate: Pipeline) -> None:
    _, ex = await gate.send("/statements/1")
    guard = next(
        g for g in gate.engine.response_guards(ex) if isinstance(g, ResponseFilter)
    )
    big = [("Content-Type", "application/json"), ("Content-Length", "99999")]
    small = [("Content-Type", "application/json"), ("Content-Length", "999")]
    assert not guard.wants_body(ex, 200, big)
    assert guard.wants_body(ex, 200, small)
    assert not guard.wants_body(ex, 204, small)
    head, hx = await gate.send("/statements/1", "HEAD")
    assert not guard.wants_body(hx, 200, small)
    assert not guard.wants_body(ex, 200, [("Content-Type", "image/png")])


async def test_broken_json_is_refused_where_fields_must_go(gate: Pipeline) -> None:
    broken = b'{"kyc_notes": "x", "card": "4111111111111111"'
    headers = [("Content-Type", "application/json")]
    code, _, _, ex = await fetch(gate, "/accounts/1", broken, ALICE, headers=headers)
    assert (code, ex.tags["response.incomplete"]) == (502, "invalid-json")
    # Where only masking applies, the text is masked instead.
    code, _, body, _ = await fetch(gate, "/export", broken, headers=headers)
    assert (code, body) == (200, b'{"kyc_notes": "x", "card": "************1111"')


async def test_text_answers_are_masked(gate: Pipeline) -> None:
    csv = b"id,card\n1,4111111111111111\n2,5555 5555 5555 4444\n"
    headers = [("Content-Type", "text/csv; charset=utf-8")]
    _, _, body, _ = await fetch(gate, "/export", csv, headers=headers)
    assert body == b"id,card\n1,************1111\n2,**** **** **** 4444\n"


LEAKS = [
    b'Traceback (most recent call last):\n  File "/srv/app/views.py", line 42, in get',
    b'{"error": "ORA-00933: SQL command not properly ended"}',
    b"<b>Fatal error</b>: Uncaught PDOException: SQLSTATE[42000] in /var/www/a.php",
    b"java.lang.NullPointerException\n\tat com.bank.Api.get(Api.java:17)",
    b'{"stack": "Error: boom\\n    at Object.<anonymous> (/app/server.js:10:5)"}',
    b"/home/deploy/venv/lib/python3.11/site-packages/flask/app.py",
]


@pytest.mark.parametrize("page", LEAKS)
async def test_leaky_error_pages_are_replaced(gate: Pipeline, page: bytes) -> None:
    headers = [("Content-Type", "text/html"), ("Content-Encoding", "identity")]
    code, fields, body, ex = await fetch(
        gate, "/accounts/1", page, status=500, headers=headers
    )
    assert code == 500  # the status is kept
    assert fields["content-type"] == "application/problem+json"
    problem = orjson.loads(body)
    assert problem["status"] == 500 and problem["incident_id"] == ex.incident_id
    assert b"line" not in body and b"/" not in problem["detail"].encode()
    assert ex.tags["response.leak"] in ("stack_trace", "sql_error", "internal_path")


@pytest.mark.parametrize(
    ("path", "status", "replaced"),
    [
        ("/accounts/1", 503, True),
        ("/accounts/1", 200, False),  # 5xx only by default
        ("/debug/x", 200, True),  # scrub_errors: all
        ("/raw/1", 500, False),  # scrub_errors: off
    ],
)
async def test_which_answers_are_scrubbed(
    gate: Pipeline, path: str, status: int, replaced: bool
) -> None:
    page = LEAKS[0]
    code, _, body, _ = await fetch(
        gate, path, page, status=status, headers=[("Content-Type", "text/plain")]
    )
    assert code == status
    assert (body != page) is replaced


async def test_a_plain_error_passes(gate: Pipeline) -> None:
    page = b'{"error": "insufficient funds", "code": "E_FUNDS"}'
    _, _, body, _ = await fetch(
        gate,
        "/accounts/1",
        page,
        status=500,
        headers=[("Content-Type", "application/json")],
    )
    assert body == page


async def test_monitor_mode_records_but_forwards_untouched(tmp_path: Path) -> None:
    gate = Pipeline(tmp_path, POLICY.replace("routes:", "mode: monitor\nroutes:"))
    raw = orjson.dumps(ACCOUNT)
    headers = [("Content-Type", "application/json")]
    code, _, body, ex = await fetch(gate, "/accounts/1", raw, ALICE, headers=headers)
    assert (code, body) == (200, raw)
    assert ex.tags["response.masked"] == 2
    code, _, body, ex = await fetch(
        gate, "/accounts/1", LEAKS[1], status=500, headers=headers
    )
    assert (code, body, ex.tags["response.replaced"]) == (500, LEAKS[1], 500)


# -- bulk exfiltration --------------------------------------------------------------


async def test_too_many_records_are_refused(gate: Pipeline) -> None:
    ok = {"items": [{"id": i} for i in range(20)], "next": None}
    code, _, _, _ = await fetch(gate, "/statements/1", ok, ALICE)
    assert code == 200
    dump = {"items": [{"id": i} for i in range(21)]}
    code, fields, body, ex = await fetch(gate, "/statements/1", dump, ALICE)
    assert code == 403
    assert fields["content-type"] == "application/problem+json"
    assert ex.decision.reasons == ("exfiltration.records",)
    assert ex.tags["exfiltration.records"] == 21


async def test_too_many_records_can_only_alert(gate: Pipeline) -> None:
    rows = [{"card": "4111111111111111"} for _ in range(60)]
    code, _, body, ex = await fetch(gate, "/export", rows, ALICE)
    assert code == 200
    assert orjson.loads(body)[0] == {"card": "************1111"}
    assert ex.decision.action is Action.ALERT
    assert ex.decision.reasons == ("exfiltration.records",)


async def test_a_byte_budget_per_principal(gate: Pipeline) -> None:
    chunk = {"rows": "r" * 300}  # ~312 bytes each: the 4th passes 1 KiB
    codes = []
    for _ in range(4):
        code, _, _, _ = await fetch(gate, "/reports/7", chunk, ALICE)
        codes.append(code)
    assert codes == [200, 200, 200, 403]
    # The budget is spent: the next request is refused before the upstream,
    # from any address, and the principal is banned for 10 minutes.
    decision, _ = await gate.send("/reports/8", principal=ALICE, ip="192.0.2.44")
    assert decision.status == 403
    other, _ = await gate.send("/reports/8", principal=SAM, ip="192.0.2.45")
    assert other.action is Action.ALLOW
    gate.clock.advance(601)
    decision, _ = await gate.send("/reports/8", principal=ALICE)
    assert decision.action is Action.ALLOW


async def test_bytes_of_unbuffered_answers_count_too(gate: Pipeline) -> None:
    _, ex = await gate.send("/reports/1", principal=ALICE)
    pdf = [("Content-Type", "application/pdf")]
    code, _, body = await gate.answer(ex, 200, b"%PDF" + b"x" * 2000, pdf)
    assert code == 200  # already on its way: counted, not replaced
    assert ex.decision.reasons == ("exfiltration.bytes",)
    decision, _ = await gate.send("/reports/2", principal=ALICE)
    assert decision.reasons == ("reputation.banned",)


@pytest.mark.parametrize(
    ("response", "message"),
    [
        ("{mask: [credit_card]}", "one of: private_key"),
        ("{deny_fields: ['$.a[']}", "JSON path"),
        ("{national_ids: [XX]}", "a country code among DE"),
        ("{on_oversize: drop}", "one of: block, pass"),
        ("{roles: {support: {max_body: 1}}}", "one of: allow_fields"),
    ],
)
def test_policy_mistakes(tmp_path: Path, response: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        Pipeline(tmp_path, f"upstream: http://x:9\nresponse: {response}\n")


@pytest.mark.parametrize(
    ("exfiltration", "message"),
    [
        ("{max_bytes: 50MB}", "'<size>/<duration>'"),
        ("{max_bytes: lots/1h}", "'<size>/<duration>'"),
        ("{action: drop}", "one of: alert, block"),
        ("{records: items}", "starting with"),
    ],
)
def test_exfiltration_policy_mistakes(
    tmp_path: Path, exfiltration: str, message: str
) -> None:
    with pytest.raises(PolicyError, match=message):
        Pipeline(tmp_path, f"upstream: http://x:9\nexfiltration: {exfiltration}\n")


async def test_answers_are_not_failed_by_a_store_that_is_down(tmp_path: Path) -> None:
    store = open_redis(f"redis://127.0.0.1:{free_port()}/0", timeout=0.2)
    try:
        gate = Pipeline(tmp_path, POLICY, store)
        _, ex = await gate.send("/reports/7", principal=ALICE)
        code, _, body = await gate.answer(ex, 200, {"rows": "4111111111111111"})
        assert (code, body) == (200, b'{"rows":"************1111"}')
        assert ex.tags["state.error"] == "exfiltration"  # the bytes went uncounted
        _, ex = await gate.send("/statements/1", principal=ALICE)
        code, _, body = await gate.answer(ex, 200, {"card": "4111111111111111"})
        assert (code, orjson.loads(body)) == (200, {"card": "************1111"})
    finally:
        await store.close()


@pytest.mark.parametrize(
    "page",
    [
        b'{"error": "insufficient funds", "code": "E_FUNDS"}',
        b'{"error": "timeout", "path": "/accounts/1004"}',
        b"We are at home at 10:30; see the /home page.",
        b"<h1>Service unavailable</h1><p>Try again in a minute.</p>",
        b'{"detail": "select a payee before you pay"}',
        b'{"message": "Error at line 3 of your CSV upload"}',
    ],
)
async def test_error_pages_that_leak_nothing_pass(gate: Pipeline, page: bytes) -> None:
    headers = [("Content-Type", "text/html")]
    code, _, body, ex = await fetch(
        gate, "/accounts/1", page, status=503, headers=headers
    )
    assert (code, body) == (503, page)
    assert "response.leak" not in ex.tags
