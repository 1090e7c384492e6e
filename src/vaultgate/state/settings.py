"""Policy keys of the state store, and what a guard does when it fails.

``state_timeout`` (top level) bounds every store call; ``on_state_error``
(top level, overridable per route) says what happens to a request when the
store failed or timed out: ``allow`` lets it through unprotected by the
shared state, ``block`` answers 503.  Payment routes should say ``block``.
"""

from __future__ import annotations

from vaultgate.core.exchange import Exchange
from vaultgate.core.model import Action, Decision
from vaultgate.core.policy import Policy, Section, register_section
from vaultgate.core.schema import Node
from vaultgate.state import DEFAULT_TIMEOUT, Store, health, open_store

# A timeout below 1 ms would fire on a healthy store; above one second
# it no longer protects latency at all.
_MIN_TIMEOUT = 0.001
_MAX_TIMEOUT = 1.0
_ON_ERROR = frozenset({"allow", "block"})

UNAVAILABLE = Decision(
    Action.BLOCK,
    503,
    reasons=("state.unavailable",),
    headers=(("Retry-After", "1"),),
    detail="The service is briefly unavailable; retry shortly.",
)


def _timeout(node: Node) -> float:
    if node.value is None:
        return DEFAULT_TIMEOUT
    seconds = node.duration()
    if not _MIN_TIMEOUT <= seconds <= _MAX_TIMEOUT:
        raise node.error("a duration from 1ms to 1s, such as 5ms")
    return seconds


def _on_error(node: Node) -> str:
    return "allow" if node.value is None else node.text(_ON_ERROR)


def _on_error_route(node: Node, top: str) -> str:
    return node.text(_ON_ERROR)


register_section(Section("state_timeout", _timeout))
register_section(Section("on_state_error", _on_error, _on_error_route))


def store_for(policy: Policy, workers: int = 1) -> Store:
    """The store ``policy.state`` names, with the policy's timeout."""
    timeout = policy.settings.get("state_timeout", DEFAULT_TIMEOUT)
    return open_store(policy.state, timeout, workers, policy.source)


def state_failed(ex: Exchange, guard: str, error: Exception) -> Decision | None:
    """Apply the route's ``on_state_error``: None to go on, or a 503."""
    action = ex.route.settings.get("on_state_error", "allow")
    health.report(guard, ex.route.path, action, error)
    ex.tags["state.error"] = guard
    return UNAVAILABLE if action == "block" else None
