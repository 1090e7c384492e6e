"""What one worker's connections share, and how it reloads and drains.

A ``ServerContext`` holds the engine, the server limits, the trusted-proxy
test and the upstream pool.  A reload builds everything new first and then
swaps each reference in one assignment: a request in flight finishes with
what it started with, the next one sees the new policy.  What cannot change
without a restart (the listening address, TLS on or off, the state store,
the audit sink) is kept, and the log says so.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from email.utils import formatdate
from typing import TYPE_CHECKING

from vaultgate.core.policy import Policy
from vaultgate.core.request import TLSInfo
from vaultgate.engine import Engine
from vaultgate.proxy.forwarded import trust_test
from vaultgate.proxy.tls import load_certificate, server_context, tls_info
from vaultgate.proxy.upstream import UpstreamPool
from vaultgate.proxy.watchdog import Watchdog, interval_for

if TYPE_CHECKING:
    from vaultgate.proxy.connection import ClientConnection

log = logging.getLogger("vaultgate.proxy")
access_log = logging.getLogger("vaultgate.access")

# Housekeeping (audit flush, Date header, idle upstream connections) runs
# once a second: the audit log is then never more than a second behind.
HOUSEKEEPING_INTERVAL = 1.0


class ServerContext:
    """The engine, limits and pool that a worker's connections share."""

    def __init__(
        self,
        engine: Engine,
        policy: Policy,
        loop: asyncio.AbstractEventLoop,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.engine = engine
        self.policy = policy
        self.loop = loop
        self.tls = tls
        self.scheme = "https" if tls is not None else "http"
        self.settings = policy.server
        self.is_trusted = trust_test(policy.trusted_proxies)
        self.watchdog = Watchdog(loop, _interval(policy))
        self.pool = UpstreamPool(policy.upstream, policy.server, loop, self.watchdog)
        self.connections: set[ClientConnection] = set()
        self.draining = False
        self._drained = asyncio.Event()
        self.access = access_log.isEnabledFor(logging.DEBUG)
        self.date_line = b""
        self._housekeeping: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self.watchdog.start()
        self._tick()

    def tls_info(self, transport: asyncio.BaseTransport) -> TLSInfo:
        return tls_info(transport)

    def reload(self, policy: Policy) -> None:
        """Swap in ``policy``; raises (keeping the old one) if it cannot run."""
        if self.tls is not None and policy.tls is not None:
            # A throwaway context first: a failed load must not leave the
            # live one half-updated.
            server_context(policy.tls, policy.source)
        self.engine.reload(policy)
        if self.tls is not None and policy.tls is not None:
            load_certificate(self.tls, policy.tls, policy.source)
        old, self.policy = self.policy, policy
        self.settings = policy.server
        self.is_trusted = trust_test(policy.trusted_proxies)
        self.watchdog.interval = _interval(policy)
        if _pool_changed(old, policy):
            retired, self.pool = self.pool, self._new_pool(policy)
            retired.close()
        self.access = access_log.isEnabledFor(logging.DEBUG)
        _warn_fixed(old, policy)

    def _new_pool(self, policy: Policy) -> UpstreamPool:
        return UpstreamPool(policy.upstream, policy.server, self.loop, self.watchdog)

    def forget(self, conn: ClientConnection) -> None:
        """A connection closed; the last one ends a drain."""
        self.connections.discard(conn)
        if self.draining and not self.connections:
            self._drained.set()

    async def drain(self, grace: float) -> bool:
        """Finish in-flight requests within ``grace`` seconds; whether all did."""
        self.draining = True
        for conn in list(self.connections):
            conn.shutdown()
        if self.connections:
            try:
                async with asyncio.timeout(grace):
                    await self._drained.wait()
            except TimeoutError:
                pass
        left = len(self.connections)
        for conn in list(self.connections):
            conn.abort()
        return left == 0

    async def close(self) -> None:
        if self._housekeeping is not None:
            self._housekeeping.cancel()
        self.watchdog.stop()
        self.pool.close()
        await self.engine.close()

    def _tick(self) -> None:
        self.date_line = b"Date: %s\r\n" % formatdate(usegmt=True).encode("ascii")
        self.pool.prune()
        try:
            self.engine.audit.flush()
        except Exception:
            log.exception("audit.flush_failed")
        self._housekeeping = self.loop.call_later(HOUSEKEEPING_INTERVAL, self._tick)


def _interval(policy: Policy) -> float:
    s = policy.server
    return interval_for(
        s.header_timeout,
        s.body_timeout,
        s.idle_timeout,
        s.upstream_timeout,
    )


def _pool_changed(old: Policy, new: Policy) -> bool:
    a, b = old.server, new.server
    return old.upstream != new.upstream or (
        a.upstream_pool_size,
        a.upstream_connect_timeout,
        a.upstream_timeout,
    ) != (b.upstream_pool_size, b.upstream_connect_timeout, b.upstream_timeout)


def _warn_fixed(old: Policy, new: Policy) -> None:
    """Log the changes a reload cannot apply."""
    fixed = {
        "listen": (old.listen, new.listen),
        "tls": (old.tls is None, new.tls is None),
        "state": (old.state, new.state),
        "audit": (old.settings.get("audit"), new.settings.get("audit")),
    }
    for key, (before, after) in fixed.items():
        if before != after:
            log.warning("policy.needs_restart key=%s source=%s", key, new.source)
