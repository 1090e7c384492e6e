"""Starting, reloading and stopping ``vaultgate authz``: the adapters only.

``serve`` loads the policy (no ``upstream`` needed: nothing is forwarded),
builds one engine, store and audit log as ``vaultgate run`` does, and starts
every adapter the ``adapters`` section names on one event loop: the nginx
and Envoy HTTP adapters on the inline proxy's connection code, the gRPC
service on grpc.aio.  Signals as for ``vaultgate run``: SIGHUP reloads (a
bad policy is refused and the old one kept), SIGTERM and SIGINT stop
accepting, let checks in flight finish within ``server.drain_timeout``,
and exit 0.  One process: the gRPC runtime does not survive a fork, and a
check is cheap enough that one core serves a large proxy fleet.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from collections.abc import Callable
from typing import Any

import uvloop

from vaultgate.adapters.context import AuthzContext, settings_of
from vaultgate.adapters.envoy_grpc import STOP_GRACE, start_server
from vaultgate.adapters.envoy_http import EnvoyHttpConnection
from vaultgate.adapters.nginx import NginxConnection
from vaultgate.core.policy import Policy, load_policy
from vaultgate.engine import Engine
from vaultgate.errors import PolicyError
from vaultgate.guards import load_all
from vaultgate.proxy.connection import ClientConnection
from vaultgate.proxy.runner import BACKLOG, listen_socket, make_store
from vaultgate.telemetry.audit import AuditLog

log = logging.getLogger("vaultgate.adapters")

_CONNECTIONS: dict[str, type[ClientConnection]] = {
    "nginx": NginxConnection,
    "envoy_http": EnvoyHttpConnection,
}


def load(path: str) -> Policy:
    """Load a policy for the adapters; at least one must be configured."""
    load_all()
    policy = load_policy(path, require_upstream=False)
    if not settings_of(policy).any:
        raise PolicyError(
            policy.source, "adapters", "at least one of nginx, envoy_http, envoy_grpc"
        )
    return policy


def serve(policy_path: str) -> int:
    """Serve the adapters until SIGTERM; the process exit status."""
    try:
        policy = load(policy_path)
    except PolicyError as exc:
        log.error("policy.invalid error=%s", exc)
        return 2
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(_serve(policy_path, policy))


async def _serve(path: str, policy: Policy) -> int:
    try:
        sockets = _bind(policy)
    except OSError as exc:
        log.error("adapter.listen_failed error=%s", exc)
        return 1
    try:
        engine = Engine(policy, make_store(policy), AuditLog(policy.settings["audit"]))
    except (PolicyError, OSError) as exc:
        log.error("policy.invalid error=%s", exc)
        for sock in sockets.values():
            sock.close()
        return 2
    await engine.store.open()  # connect early; an unreachable store is logged
    context = AuthzContext(engine, policy, asyncio.get_running_loop())
    return await _run(context, sockets, path)


def _bind(policy: Policy) -> dict[str, socket.socket]:
    """Listening sockets for the HTTP adapters; all of them, or none."""
    sockets: dict[str, socket.socket] = {}
    try:
        for name, where in settings_of(policy).listeners().items():
            if name in _CONNECTIONS:
                sockets[name] = _listen(where.host, where.port)
    except OSError:
        for sock in sockets.values():
            sock.close()
        raise
    return sockets


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` that no other process may share.

    Unlike the proxy's workers, an adapter does not share its port: a
    second vaultgate bound to it would silently take half the checks.
    """
    return listen_socket(host, port, shared=False)


async def _run(
    context: AuthzContext, sockets: dict[str, socket.socket], path: str
) -> int:
    loop = context.loop
    try:
        grpc_server = await _start_grpc(context)
    except RuntimeError as exc:  # grpc's word for "could not bind"
        log.error("adapter.listen_failed adapter=envoy_grpc error=%s", exc)
        for sock in sockets.values():
            sock.close()
        await context.close()
        return 1
    servers = []
    for name, sock in sockets.items():
        factory = _factory(name, context)
        servers.append(await loop.create_server(factory, sock=sock, backlog=BACKLOG))
        host, port = sock.getsockname()[:2]
        _listening(name, host, port)
    context.start()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, reload, context, path)
    await stop.wait()
    log.info("adapter.draining connections=%d", len(context.connections))
    for server in servers:
        server.close()
    if grpc_server is not None:
        await grpc_server.stop(STOP_GRACE)
    clean = await context.drain(context.settings.drain_timeout)
    await context.close()
    log.info("adapter.stopped clean=%s pid=%d", clean, os.getpid())
    return 0


def _factory(name: str, context: AuthzContext) -> Callable[[], ClientConnection]:
    kind = _CONNECTIONS[name]
    return lambda: kind(context)


async def _start_grpc(context: AuthzContext) -> Any:
    where = context.adapters.envoy_grpc
    if where is None:
        return None
    server, port = await start_server(context, where.host, where.port)
    _listening("envoy_grpc", where.host, port)
    return server


def _listening(name: str, host: str, port: int) -> None:
    log.info(
        "adapter.listening adapter=%s host=%s port=%d pid=%d",
        name,
        host,
        port,
        os.getpid(),
    )


def reload(context: AuthzContext, path: str) -> None:
    """Load the policy again and swap it in; keep the old one on error."""
    try:
        policy = load(path)
        context.reload(policy)
    except PolicyError as exc:
        log.error("policy.reload_refused source=%s error=%s", path, exc)
        return
    except Exception:
        log.exception("policy.reload_failed source=%s", path)
        return
    log.info("policy.reloaded source=%s routes=%d", path, len(policy.routes))
