"""What the adapters of one ``vaultgate authz`` process share.

The inline proxy's ``ServerContext`` already holds the engine, the server
limits, the trusted-proxy test, the connection set for draining and the
housekeeping that flushes the audit log; the adapters reuse it and add the
test of who may call them and the nginx refusals kept for replay.  A reload
swaps the policy for every adapter at once; where the adapters listen is
fixed until a restart.
"""

from __future__ import annotations

import asyncio
import logging
from typing import cast

from vaultgate.adapters.denials import DenialCache
from vaultgate.adapters.settings import AdaptersSettings
from vaultgate.core.policy import Policy
from vaultgate.engine import Engine
from vaultgate.proxy.forwarded import trust_test
from vaultgate.proxy.server import ServerContext

log = logging.getLogger("vaultgate.adapters")


class AuthzContext(ServerContext):
    """The engine and limits shared by the adapters, and who may call them."""

    def __init__(
        self, engine: Engine, policy: Policy, loop: asyncio.AbstractEventLoop
    ) -> None:
        super().__init__(engine, policy, loop)
        self.adapters = settings_of(policy)
        self.may_call = trust_test(self.adapters.trusted_peers)
        self.denials = DenialCache()

    def reload(self, policy: Policy) -> None:
        """Swap in ``policy``; raises (keeping the old one) if it cannot run."""
        super().reload(policy)
        old, self.adapters = self.adapters, settings_of(policy)
        self.may_call = trust_test(self.adapters.trusted_peers)
        if old.listeners() != self.adapters.listeners():
            log.warning("policy.needs_restart key=adapters source=%s", policy.source)


def settings_of(policy: Policy) -> AdaptersSettings:
    """The policy's ``adapters`` section."""
    return cast(AdaptersSettings, policy.settings["adapters"])
