"""Starting, reloading and stopping the proxy, in one process or many.

``serve`` validates the policy and runs one worker in this process, or,
with ``workers`` above one, a ``Supervisor`` that forks the workers: each
binds its own socket to the same address with SO_REUSEPORT, so the kernel
spreads connections among them.  Signals: SIGHUP reloads the policy (a bad
one is refused and logged, the old one keeps running), SIGTERM and SIGINT
stop accepting, let in-flight requests finish within
``server.drain_timeout``, and exit 0.  The supervisor restarts a worker
that dies, and gives up on a crash loop.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import socket
import sys
import time
from collections import deque

import uvloop

from vaultgate.admin.server import start_admin
from vaultgate.core.model import Mode
from vaultgate.core.policy import Policy, load_policy
from vaultgate.engine import Engine
from vaultgate.errors import PolicyError
from vaultgate.guards import load_all
from vaultgate.guards.base import Services, build_guards
from vaultgate.proxy.connection import ClientConnection
from vaultgate.proxy.server import ServerContext
from vaultgate.proxy.tls import server_context
from vaultgate.state import check_shared
from vaultgate.state.base import Store
from vaultgate.state.memory import MemoryStore
from vaultgate.state.settings import store_for
from vaultgate.telemetry.audit import AuditLog

log = logging.getLogger("vaultgate.proxy")

# Pending connections the kernel queues per worker: absorbs a burst of a
# few thousand new clients while the worker is busy.
BACKLOG = 2048
# A worker that dies is started again after this pause ...
RESTART_DELAY = 0.5
# ... unless this many died within RESTART_WINDOW seconds: a crash loop,
# which restarting only hides.
MAX_RESTARTS = 5
RESTART_WINDOW = 60.0
# On top of drain_timeout, how long the supervisor waits for workers to
# exit before killing them.
STOP_GRACE = 5.0

_SIGNALS = {signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGCHLD}


def serve(policy_path: str, workers: int = 1) -> int:
    """Run the proxy until SIGTERM; the process exit status."""
    try:
        policy = _load(policy_path)
    except PolicyError as exc:
        log.error("policy.invalid error=%s", exc)
        return 2
    if workers <= 1:
        return run_worker(policy_path, policy)
    try:
        # Per-process memory state would multiply every limit by workers.
        check_shared(policy.state, workers, policy.source)
        warm_up(policy)
    except PolicyError as exc:
        log.error("policy.invalid error=%s", exc)
        return 2
    return Supervisor(policy_path, policy, workers).run()


def make_store(policy: Policy) -> Store:
    """The state store the policy names (memory or a Redis URL)."""
    return store_for(policy)


def warm_up(policy: Policy) -> None:
    """Build every route's guards once, before the workers are forked.

    Guards compile what they can share (pattern databases) into caches; the
    forked workers inherit them instead of each compiling its own.
    """
    services = Services(MemoryStore(), time.time)
    for route in (*policy.routes, policy.default_route):
        if route.mode is not Mode.OFF:
            build_guards(policy, route, services)


def _load(path: str) -> Policy:
    """Load and check a policy, TLS files included."""
    load_all()
    policy = load_policy(path)
    if policy.tls is not None:
        server_context(policy.tls, policy.source)
    return policy


# Objects allocated per request before a young-generation collection
# (CPython's default: 700).  A request allocates hundreds, so the default
# collects every few requests; the older generations follow less often
# too.  Measured: 2-8% less CPU per inspected request.
GC_THRESHOLDS = (20_000, 20, 20)


def _settle_gc() -> None:
    """Keep what loading built out of every collection, and collect less often.

    The policy, guards and pattern databases live as long as the worker:
    frozen, no collection scans them again.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def run_worker(policy_path: str, policy: Policy) -> int:
    """Serve in this process until stopped; the exit status."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(_worker(policy_path, policy))


async def _worker(path: str, policy: Policy) -> int:
    loop = asyncio.get_running_loop()
    host, port = policy.listen
    try:
        sock = listen_socket(host, port)
    except OSError as exc:
        log.error("proxy.listen_failed host=%s port=%d error=%s", host, port, exc)
        return 1
    try:
        tls = server_context(policy.tls, policy.source) if policy.tls else None
        engine = Engine(policy, make_store(policy), AuditLog(policy.settings["audit"]))
    except (PolicyError, OSError) as exc:
        log.error("policy.invalid error=%s", exc)
        sock.close()
        return 2
    await engine.store.open()  # connect early; an unreachable store is logged
    _settle_gc()
    context = ServerContext(engine, policy, loop, tls)
    return await _run(context, sock, path)


async def _run(context: ServerContext, sock: socket.socket, path: str) -> int:
    loop = context.loop
    server = await loop.create_server(
        lambda: ClientConnection(context),
        sock=sock,
        ssl=context.tls,
        backlog=BACKLOG,
        ssl_handshake_timeout=context.settings.header_timeout if context.tls else None,
    )
    await context.engine.audit.start()  # spooled events first, then new ones
    context.start()
    admin = await start_admin(context.policy, context.engine)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, reload, context, path)
    host, port = context.policy.listen
    log.info(
        "proxy.listening host=%s port=%d scheme=%s upstream=%s pid=%d",
        host,
        port,
        context.scheme,
        context.policy.upstream,
        os.getpid(),
    )
    await stop.wait()
    log.info("proxy.draining connections=%d", len(context.connections))
    server.close()
    clean = await context.drain(context.settings.drain_timeout)
    if admin is not None:
        await admin.aclose()
    await context.close()
    log.info("proxy.stopped clean=%s pid=%d", clean, os.getpid())
    return 0


def reload(context: ServerContext, path: str) -> None:
    """Load the policy again and swap it in; keep the old one on error."""
    try:
        policy = _load(path)
        context.reload(policy)
    except PolicyError as exc:
        log.error("policy.reload_refused source=%s error=%s", path, exc)
        return
    except Exception:
        log.exception("policy.reload_failed source=%s", path)
        return
    log.info("policy.reloaded source=%s routes=%d", path, len(policy.routes))


def listen_socket(host: str, port: int, shared: bool = True) -> socket.socket:
    """A socket bound to ``host:port``; ``shared``: other workers may bind too."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if shared:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class Supervisor:
    """Forks the workers, passes signals on, restarts the ones that die."""

    def __init__(self, path: str, policy: Policy, workers: int) -> None:
        self.path = path
        self.policy = policy
        self.workers = workers
        self.children: dict[int, float] = {}  # pid -> start time
        self.deaths: deque[float] = deque()
        self.due: list[float] = []  # times at which to start a worker

    def run(self) -> int:
        signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        try:
            for _ in range(self.workers):
                self._spawn()
            return self._watch()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)

    def _spawn(self) -> None:
        pid = os.fork()
        if pid == 0:
            self._child()
        self.children[pid] = time.monotonic()
        log.info("worker.started pid=%d", pid)

    def _child(self) -> None:
        code = 1
        try:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
            code = run_worker(self.path, self.policy)
        except BaseException:
            log.exception("worker.crashed pid=%d", os.getpid())
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    def _watch(self) -> int:
        while True:
            now = time.monotonic()
            while self.due and self.due[0] <= now:
                self.due.pop(0)
                self._spawn()
            wait = min([1.0, *(t - now for t in self.due)])
            info = signal.sigtimedwait(_SIGNALS, max(wait, 0.01))
            if not self._reap():
                self._stop()
                return 1
            if info is None or info.si_signo == signal.SIGCHLD:
                continue
            if info.si_signo == signal.SIGHUP:
                self._reload()
            else:
                return self._stop()

    def _reap(self) -> bool:
        """Collect dead workers and plan their restart; False on a crash loop."""
        while self.children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            if self.children.pop(pid, None) is None:
                continue
            code = os.waitstatus_to_exitcode(status)
            log.warning("worker.exited pid=%d code=%d", pid, code)
            now = time.monotonic()
            self.deaths.append(now)
            while self.deaths and self.deaths[0] < now - RESTART_WINDOW:
                self.deaths.popleft()
            if len(self.deaths) > MAX_RESTARTS:
                log.error("worker.crash_loop deaths=%d", len(self.deaths))
                return False
            self.due.append(now + RESTART_DELAY)
        return True

    def _reload(self) -> None:
        try:
            self.policy = _load(self.path)
        except PolicyError as exc:
            log.error("policy.reload_refused source=%s error=%s", self.path, exc)
            return
        for pid in self.children:
            os.kill(pid, signal.SIGHUP)
        log.info("policy.reload_sent workers=%d", len(self.children))

    def _stop(self) -> int:
        for pid in self.children:
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.policy.server.drain_timeout + STOP_GRACE
        clean = True
        while self.children and time.monotonic() < deadline:
            signal.sigtimedwait({signal.SIGCHLD}, 0.2)
            while self.children:
                pid, status = os.waitpid(-1, os.WNOHANG)
                if pid == 0:
                    break
                self.children.pop(pid, None)
                clean = clean and os.waitstatus_to_exitcode(status) == 0
        for pid in self.children:
            log.error("worker.killed pid=%d", pid)
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        return 0 if clean and not self.children else 1
