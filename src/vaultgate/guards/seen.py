"""Shared-store calls of the token guards, with the route's ``on_state_error``.

Replay checks (single-use tokens, DPoP proofs, signature nonces) and drift
need the shared store.  When it fails, ``state.settings.state_failed``
applies the route's ``on_state_error``: go on without the check (a seen-set
call then counts as a first sighting) or answer 503.  ``StoreRefused``
carries that 503 up to the guard's ``check``, which returns it.
"""

from __future__ import annotations

from vaultgate.core.exchange import Exchange
from vaultgate.core.model import Decision
from vaultgate.errors import StateError
from vaultgate.state.base import Store
from vaultgate.state.settings import state_failed


class StoreRefused(Exception):
    """The store failed and the route's ``on_state_error`` is ``block``."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(decision.reasons)
        self.decision = decision


def _failed(ex: Exchange, guard: str, error: StateError) -> None:
    decision = state_failed(ex, guard, error)
    if decision is not None:
        raise StoreRefused(decision)


async def first_seen(
    ex: Exchange, store: Store, guard: str, key: str, ttl: float
) -> bool:
    """``store.first_seen`` at the request's time; True if the store failed."""
    try:
        return await store.first_seen(key, ttl, ex.now)
    except StateError as exc:
        _failed(ex, guard, exc)
        return True


async def distinct(
    ex: Exchange, store: Store, guard: str, key: str, member: str, window: float
) -> int:
    """``store.distinct`` at the request's time; 0 if the store failed."""
    try:
        return await store.distinct(key, member, window, ex.now)
    except StateError as exc:
        _failed(ex, guard, exc)
        return 0
