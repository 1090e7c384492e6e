"""Guards: the checks of each pipeline phase, one module per threat family.

``GUARD_MODULES`` lists every module that registers a guard or a policy
section; importing them (``load_all``) fills both registries.  The order of
execution is not this list's but the phases' (``core.model.Phase``).
"""

from __future__ import annotations

import importlib

GUARD_MODULES = (
    "vaultgate.telemetry.audit",
    "vaultgate.admin.settings",
    "vaultgate.guards.scoring",
    "vaultgate.guards.reputation",
    "vaultgate.guards.traps",
    "vaultgate.guards.bola",
    "vaultgate.guards.exfiltration",
    "vaultgate.guards.response_filter",
    "vaultgate.guards.inspection",
    "vaultgate.guards.graphql",
    "vaultgate.guards.learned",
    "vaultgate.guards.methods",
    "vaultgate.guards.tokens",
    "vaultgate.guards.signatures",
    "vaultgate.guards.idempotency",
    "vaultgate.state.settings",
    "vaultgate.guards.challenge",
    "vaultgate.guards.login",
    "vaultgate.guards.ratelimit",
    "vaultgate.guards.bots",
    "vaultgate.adapters.settings",
)

_loaded = False


def load_all() -> None:
    """Import every guard module once, registering sections and guards."""
    global _loaded
    if _loaded:
        return
    for name in GUARD_MODULES:
        importlib.import_module(name)
    _loaded = True
