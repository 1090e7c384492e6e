"""HMAC-signed requests, signed here by a client written from the docs alone."""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

import pytest

from tests.guards.jose_kit import T0, Gate
from vaultgate.core.exchange import Exchange
from vaultgate.core.model import Action, Decision
from vaultgate.core.request import Request
from vaultgate.errors import PolicyError

SECRET_A = "a-very-long-shared-secret-for-partner-a"
SECRET_B = "another-long-shared-secret-for-b"
POLICY = f"""\
upstream: http://127.0.0.1:9
signature:
  keys:
    partner-a: {{env: VG_TEST_PARTNER_A}}
    partner-b: {{secret: {SECRET_B}}}
routes:
  - path: /webhooks
    signature: required
  - path: /payments
    signature: {{keys: [partner-a], headers: [host, content-type, x-request-id]}}
  - path: /open
"""


def signed_headers(
    secret: str,
    key_id: str,
    method: str,
    target: str,
    body: bytes,
    headers: list[tuple[str, str]],
    signed: tuple[str, ...] = ("host", "content-type"),
    timestamp: float = T0,
    nonce: str | None = None,
) -> list[tuple[str, str]]:
    """What an API client does, following docs/tokens.md step by step."""
    nonce = nonce or os.urandom(16).hex()
    values = {name.lower(): value for name, value in headers}
    lines = [
        "vaultgate-hmac-sha256",
        key_id,
        str(int(timestamp)),
        nonce,
        method,
        target,
        *(f"{name}:{values.get(name, '').strip()}" for name in signed),
        hashlib.sha256(body).hexdigest(),
    ]
    signature = hmac.new(secret.encode(), "\n".join(lines).encode(), "sha256")
    return headers + [
        ("X-Signature-Key-Id", key_id),
        ("X-Signature-Timestamp", str(int(timestamp))),
        ("X-Signature-Nonce", nonce),
        ("X-Signature", signature.hexdigest()),
    ]


BODY = b'{"amount": "10.00", "to": "acc-9"}'
BASE = [("Host", "api.bank.test"), ("Content-Type", "application/json")]


@pytest.fixture
def gate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Gate:
    monkeypatch.setenv("VG_TEST_PARTNER_A", SECRET_A)
    (tmp_path / "policy.yaml").write_text(POLICY)
    return Gate(tmp_path / "policy.yaml")


async def post(
    gate: Gate, path: str, headers: list[tuple[str, str]], body: bytes = BODY
) -> tuple[Decision, Exchange]:
    # The kit adds Host and User-Agent; the signed headers carry their own.
    return await gate.send(path, method="POST", headers=headers[1:], body=body)


@pytest.mark.parametrize(
    ("key_id", "secret"), [("partner-a", SECRET_A), ("partner-b", SECRET_B)]
)
async def test_a_correctly_signed_request_passes(
    gate: Gate, key_id: str, secret: str
) -> None:
    headers = signed_headers(secret, key_id, "POST", "/webhooks?x=1", BODY, BASE)
    decision, ex = await gate.send(
        "/webhooks?x=1", method="POST", headers=headers[1:], body=BODY
    )
    assert decision.action is Action.ALLOW
    assert ex.principal is not None and (ex.principal.kind, ex.principal.id) == (
        "apikey",
        key_id,
    )
    assert ex.tags["signature.key_id"] == key_id


def _sign(**over: object) -> list[tuple[str, str]]:
    args: dict[str, object] = {
        "secret": SECRET_A,
        "key_id": "partner-a",
        "method": "POST",
        "target": "/webhooks",
        "body": BODY,
        "headers": BASE,
    }
    args.update(over)
    return signed_headers(**args)  # type: ignore[arg-type]


# (what, headers sent, body sent, reason, status)
REFUSALS = [
    ("no signature", BASE, BODY, "signature.missing", 401),
    ("unknown key id", _sign(key_id="partner-z"), BODY, "signature.unknown_key", 401),
    ("wrong secret", _sign(secret="x" * 32), BODY, "signature.bad", 401),
    ("body altered", _sign(), BODY.replace(b"10", b"99"), "signature.bad", 401),
    ("path altered", _sign(target="/webhooks/other"), BODY, "signature.bad", 401),
    ("signed for GET", _sign(method="GET"), BODY, "signature.bad", 401),
    ("too old", _sign(timestamp=T0 - 301), BODY, "signature.expired", 401),
    ("too far ahead", _sign(timestamp=T0 + 301), BODY, "signature.expired", 401),
    ("short nonce", _sign(nonce="abc"), BODY, "signature.malformed", 401),
    (
        "signature not hex",
        _sign()[:-1] + [("X-Signature", "zz" * 32)],
        BODY,
        "signature.malformed",
        401,
    ),
]


@pytest.mark.parametrize(
    ("headers", "body", "reason", "status"),
    [r[1:] for r in REFUSALS],
    ids=[r[0] for r in REFUSALS],
)
async def test_bad_signatures_are_refused_with_their_own_reason(
    gate: Gate, headers: list[tuple[str, str]], body: bytes, reason: str, status: int
) -> None:
    decision, _ = await post(gate, "/webhooks", headers, body)
    assert (decision.status, decision.reasons) == (status, (reason,))
    assert dict(decision.headers)["WWW-Authenticate"].startswith(
        'HMAC-SHA256 error="invalid_signature"'
    )


async def test_a_nonce_is_accepted_once(gate: Gate) -> None:
    headers = _sign(nonce="n" * 20)
    assert (await post(gate, "/webhooks", headers))[0].action is Action.ALLOW
    again, _ = await post(gate, "/webhooks", headers)
    assert again.reasons == ("signature.replayed",)
    # A fresh signature with the same nonce is still a reused nonce.
    later = _sign(nonce="n" * 20, timestamp=T0 + 5)
    assert (await post(gate, "/webhooks", later))[0].reasons == ("signature.replayed",)


async def test_signed_headers_are_covered_and_others_are_not(gate: Gate) -> None:
    signed = ("host", "content-type", "x-request-id")
    base = BASE + [("X-Request-Id", "r-1")]
    headers = _sign(target="/payments", headers=base, signed=signed)
    swapped = [(n, "r-2" if n == "X-Request-Id" else v) for n, v in headers]
    decision, _ = await post(gate, "/payments", swapped)
    assert decision.reasons == ("signature.bad",)
    extra = _sign(target="/payments", headers=base, signed=signed) + [("X-Trace", "t")]
    assert (await post(gate, "/payments", extra))[0].action is Action.ALLOW


async def test_a_route_may_accept_only_some_keys(gate: Gate) -> None:
    headers = _sign(secret=SECRET_B, key_id="partner-b", target="/payments")
    decision, _ = await post(gate, "/payments", headers)
    assert decision.reasons == ("signature.unknown_key",)


async def test_a_body_past_the_inspection_limit_cannot_be_verified(gate: Gate) -> None:
    # Only the first part of a long body is buffered: the digest cannot match.
    request = Request(
        "POST", "/webhooks", _sign(), "203.0.113.7", body=BODY, body_truncated=True
    )
    request.body_length = 10 * len(BODY)
    decision = await gate.engine.decide(gate.engine.begin(request))
    assert (decision.status, decision.reasons) == (413, ("signature.body_too_large",))


async def test_routes_without_signature_are_untouched(gate: Gate) -> None:
    assert (await post(gate, "/open", BASE))[0].action is Action.ALLOW


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (
            POLICY.replace("VG_TEST_PARTNER_A", "VG_TEST_UNSET_VARIABLE"),
            "an environment variable VG_TEST_UNSET_VARIABLE that is set",
        ),
        (
            POLICY.replace(SECRET_B, "short"),
            "signature.keys.partner-b: expected a secret of at least 16 bytes",
        ),
        (
            POLICY.replace("keys: [partner-a]", "keys: [partner-q]"),
            "routes[1].signature.keys[0]: expected a key id declared",
        ),
        (
            "upstream: http://127.0.0.1:9\nroutes: [{path: /w, signature: required}]\n",
            "routes[0].signature: expected signature keys",
        ),
    ],
)
def test_policy_mistakes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, policy: str, message: str
) -> None:
    monkeypatch.setenv("VG_TEST_PARTNER_A", SECRET_A)
    (tmp_path / "policy.yaml").write_text(policy)
    with pytest.raises(
        PolicyError, match=message.replace("[", r"\[").replace("]", r"\]")
    ):
        Gate(tmp_path / "policy.yaml")


def test_secrets_never_show_in_the_settings_repr(gate: Gate) -> None:
    route = gate.engine.policy.routes[0]
    assert SECRET_A not in repr(route.settings) and SECRET_B not in repr(route.settings)
