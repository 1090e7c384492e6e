"""The admin HTTP server: ``/metrics`` for Prometheus, ``/healthz`` for probes.

How this works: a small asyncio HTTP/1.1 server on its own port answers
GET (and HEAD) requests, one per connection.  ``/metrics`` needs
``Authorization: Bearer <token>``, the token read once from the
environment variable the policy names and compared in constant time; when
the variable is unset every ``/metrics`` request is refused.  ``/healthz``
answers ``ok`` to anyone: it says only that the worker's loop runs, which
load balancers must be able to ask without a secret.

With ``--workers N`` each worker serves its own figures on ``port + N``
(its index), so that Prometheus scrapes every worker: see docs/metrics.md.
"""

from __future__ import annotations

import asyncio
import errno
import hmac
import logging
import os

from prometheus_client.exposition import choose_encoder
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import CollectorRegistry

from vaultgate.admin.settings import AdminSettings
from vaultgate.core.policy import Policy
from vaultgate.engine import Engine
from vaultgate.telemetry.metrics import RECORDER, VaultgateCollector

log = logging.getLogger("vaultgate.admin")

# A scrape request is one line and a few headers: 8 KiB is generous, and
# bounds what an unauthenticated peer can make us buffer.
MAX_HEAD = 8 * 1024
# A client gets this long to send its request head (slowloris).
HEAD_TIMEOUT = 5.0
# Worker processes look for a free admin port this far above the first:
# more workers than this on one machine would be more than its cores.
MAX_WORKER_PORTS = 64
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
}


class AdminServer:
    """A listening admin server; ``aclose`` stops it."""

    def __init__(self, engine: Engine, settings: AdminSettings, token: str) -> None:
        self.engine = engine
        self.settings = settings
        self._token = token.encode()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(VaultgateCollector(RECORDER, lambda: self.engine.audit))
        ProcessCollector(registry=self.registry)
        self._server: asyncio.Server | None = None
        self.port = 0

    async def listen(self, port: int) -> None:
        self._server = await asyncio.start_server(
            self._serve, self.settings.host, port, limit=MAX_HEAD
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT)
            writer.write(self.answer(head))
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            writer.write(_response(400, b"bad request\n"))
        except ConnectionError:
            pass
        except Exception:
            log.exception("admin.request_failed")
        finally:
            writer.close()

    def answer(self, head: bytes) -> bytes:
        """The whole HTTP response to one request head."""
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            return _response(400, b"bad request\n")
        method, target = parts[0], parts[1].split("?", 1)[0]
        if method not in ("GET", "HEAD"):
            return _response(405, b"method not allowed\n", (("Allow", "GET, HEAD"),))
        body = self._route(target, _fields(lines[1:]))
        return body if method == "GET" else body.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"

    def _route(self, target: str, fields: dict[str, str]) -> bytes:
        if target == "/healthz":
            return _response(200, b"ok\n")
        if target != "/metrics":
            return _response(404, b"not found\n")
        if not self._authorized(fields.get("authorization", "")):
            challenge = (("WWW-Authenticate", 'Bearer realm="vaultgate-admin"'),)
            return _response(401, b"unauthorized\n", challenge)
        # Text format 0.0.4 unless the scraper asks for OpenMetrics.
        encode, content_type = choose_encoder(fields.get("accept", ""))
        return _response(200, encode(self.registry), (), content_type)

    def _authorized(self, credentials: str) -> bool:
        scheme, _, presented = credentials.partition(" ")
        if not self._token or scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(presented.strip().encode(), self._token)


def _fields(header_lines: list[str]) -> dict[str, str]:
    """Header fields by lower-case name; the first of repeated ones wins."""
    fields: dict[str, str] = {}
    for line in header_lines:
        name, sep, value = line.partition(":")
        if sep:
            fields.setdefault(name.strip().lower(), value.strip())
    return fields


def _response(
    status: int,
    body: bytes,
    headers: tuple[tuple[str, str], ...] = (),
    content_type: str = "text/plain; charset=utf-8",
) -> bytes:
    lines = [
        f"HTTP/1.1 {status} {_REASONS[status]}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        "Cache-Control: no-store",
        "Connection: close",
        *(f"{name}: {value}" for name, value in headers),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def start_admin(
    policy: Policy, engine: Engine, worker: int | None = None
) -> AdminServer | None:
    """Start the admin server the policy asks for (None when it has none).

    Worker N listens on ``port + N``.  With ``worker`` None (the runner's
    case: its workers are not numbered) the server takes the first free
    port from ``port`` up, so N workers use ports ``port`` to ``port+N-1``.
    A port that cannot be bound is logged and gives None: losing metrics
    must not stop the proxy.
    """
    settings: AdminSettings = policy.settings["admin"]
    if not settings.enabled:
        return None
    token = os.environ.get(settings.token_env, "")
    if not token:
        log.warning("admin.no_token env=%s metrics=refused", settings.token_env)
    server = AdminServer(engine, settings, token)
    try:
        await _listen(server, settings, worker)
    except OSError as exc:
        log.error("admin.listen_failed host=%s error=%s", settings.host, exc)
        return None
    log.info("admin.listening host=%s port=%d", settings.host, server.port)
    return server


async def _listen(
    server: AdminServer, settings: AdminSettings, worker: int | None
) -> None:
    if worker is not None or not settings.port:
        await server.listen(settings.port + (worker or 0) if settings.port else 0)
        return
    for port in range(settings.port, settings.port + MAX_WORKER_PORTS):
        try:
            await server.listen(port)
            return
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
    last = settings.port + MAX_WORKER_PORTS - 1
    raise OSError(errno.EADDRINUSE, f"admin ports {settings.port}-{last} all in use")
