"""The floor of a Python HTTP relay on this machine (a benchmark target, not vaultgate).

The least an asyncio proxy on uvloop + httptools can do per request: each
client connection gets its own keep-alive upstream connection, bytes are
passed on as they arrive, and both directions are fed to an httptools
parser only so that a message's end is known (as any HTTP proxy must).  No
header is looked at, nothing is rewritten, no limit is enforced, nothing is
logged.  ``bench/throughput.py`` runs it as the ``python-floor`` target so
that vaultgate's figures can be read against what any Python relay costs
here, in the same run.

    python -m bench.floor_relay LISTEN_PORT UPSTREAM_PORT
"""

from __future__ import annotations

import asyncio
import sys
from typing import cast

import httptools
import uvloop


class _UpstreamSide(asyncio.Protocol):
    def __init__(self, client: _ClientSide) -> None:
        self.client = client
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.client.upstream_ready(self)

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)
        self.client.send(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.client.close()


class _ClientSide(asyncio.Protocol):
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.upstream: _UpstreamSide | None = None
        self.waiting: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        loop = asyncio.get_running_loop()
        connecting = loop.create_connection(
            lambda: _UpstreamSide(self), "127.0.0.1", self.upstream_port
        )
        loop.create_task(connecting)

    def upstream_ready(self, upstream: _UpstreamSide) -> None:
        self.upstream = upstream
        assert upstream.transport is not None
        for data in self.waiting:
            upstream.transport.write(data)
        self.waiting.clear()

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.close()
            return
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.write(data)
        else:
            self.waiting.append(data)

    def send(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.close()


async def _serve(port: int, upstream_port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: _ClientSide(upstream_port), "127.0.0.1", port, backlog=1024
    )
    async with server:
        await server.serve_forever()


def main() -> None:
    port, upstream_port = int(sys.argv[1]), int(sys.argv[2])
    uvloop.run(_serve(port, upstream_port))


if __name__ == "__main__":
    main()
