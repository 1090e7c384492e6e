"""Idempotency keys: same key and body pass, a changed body is refused."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.guards.jose_kit import T0, Clock, Gate
from vaultgate.core.model import Action, Decision
from vaultgate.errors import PolicyError
from vaultgate.state.memory import MemoryStore

POLICY = """\
upstream: http://127.0.0.1:9
routes:
  - path: /payments
    methods: [POST]
    idempotency: required
  - path: /transfers
    idempotency: {mode: optional, ttl: 1h}
  - path: /accounts/{id}/payments
    idempotency: required
"""
PAY = b'{"amount": "10.00", "to": "acc-9"}'
OTHER = b'{"amount": "9999.00", "to": "acc-666"}'


def make_gate(tmp_path: Path, store: MemoryStore | None = None) -> Gate:
    (tmp_path / "policy.yaml").write_text(POLICY)
    return Gate(tmp_path / "policy.yaml", Clock(), store)


@pytest.fixture
def gate(tmp_path: Path) -> Gate:
    return make_gate(tmp_path)


async def pay(
    gate: Gate,
    key: str | None,
    body: bytes = PAY,
    path: str = "/payments",
    ip: str = "203.0.113.7",
) -> Decision:
    headers = [("Idempotency-Key", key)] if key is not None else []
    decision, _ = await gate.send(
        path, None, "POST", headers=headers, body=body, client_ip=ip
    )
    return decision


async def test_a_retry_with_the_same_body_passes_to_the_api(gate: Gate) -> None:
    assert (await pay(gate, "k-1")).action is Action.ALLOW
    decision, ex = await gate.send(
        "/payments", None, "POST", headers=[("Idempotency-Key", "k-1")], body=PAY
    )
    assert decision.action is Action.ALLOW
    assert ex.tags["idempotency.repeat"] is True


async def test_the_same_key_with_another_body_is_422(gate: Gate) -> None:
    await pay(gate, "k-1")
    decision = await pay(gate, "k-1", OTHER)
    assert (decision.status, decision.reasons) == (422, ("idempotency.mismatch",))
    assert (await pay(gate, "k-2", OTHER)).action is Action.ALLOW


async def test_the_same_key_for_another_account_is_another_request(gate: Gate) -> None:
    await pay(gate, "k-1", path="/accounts/1/payments")
    decision = await pay(gate, "k-1", path="/accounts/2/payments")
    assert decision.reasons == ("idempotency.mismatch",)


async def test_keys_belong_to_their_principal(gate: Gate) -> None:
    await pay(gate, "k-1", ip="203.0.113.7")
    assert (await pay(gate, "k-1", OTHER, ip="198.51.100.9")).action is Action.ALLOW


@pytest.mark.parametrize(
    ("path", "key", "status", "reasons"),
    [
        ("/payments", None, 400, ("idempotency.missing",)),
        ("/payments", "", 400, ("idempotency.malformed",)),
        ("/payments", "k" * 256, 400, ("idempotency.malformed",)),
        ("/payments", "k\x7f1", 400, ("idempotency.malformed",)),
        ("/payments", "k" * 255, 200, ()),
        ("/payments", '"8e03978e-40d5-43e8-bc93-6894a57f9324"', 200, ()),
        ("/transfers", None, 200, ()),  # optional
    ],
)
async def test_key_presence_and_shape(
    gate: Gate, path: str, key: str | None, status: int, reasons: tuple[str, ...]
) -> None:
    decision = await pay(gate, key, path=path)
    assert (decision.status, decision.reasons) == (status, reasons)


async def test_a_quoted_key_is_the_same_key_as_the_bare_one(gate: Gate) -> None:
    await pay(gate, '"k-7"')
    assert (await pay(gate, "k-7", OTHER)).reasons == ("idempotency.mismatch",)


async def test_keys_expire_after_their_ttl(gate: Gate) -> None:
    await pay(gate, "k-1", path="/transfers")
    gate.clock.now = T0 + 3601
    assert (await pay(gate, "k-1", OTHER, path="/transfers")).action is Action.ALLOW


class PausedPutStore(MemoryStore):
    """A memory store whose ``put`` waits for a signal: a slow write, on demand."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def put(self, key: str, value: bytes, ttl: float, now: float) -> None:
        await self.release.wait()
        await super().put(key, value, ttl, now)


async def test_a_concurrent_request_with_the_same_key_is_409(tmp_path: Path) -> None:
    store = PausedPutStore()
    gate = make_gate(tmp_path, store)
    first = asyncio.create_task(pay(gate, "k-1"))
    await asyncio.sleep(0)  # the first has claimed the key, not stored its digest
    second = await pay(gate, "k-1")
    assert (second.status, second.reasons) == (409, ("idempotency.in_progress",))
    store.release.set()
    assert (await first).action is Action.ALLOW
    assert (await pay(gate, "k-1")).action is Action.ALLOW


def test_a_bad_mode_is_refused(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text(POLICY.replace("required", "always", 1))
    with pytest.raises(PolicyError, match="routes\\[0\\].idempotency: expected one of"):
        Gate(tmp_path / "policy.yaml")
