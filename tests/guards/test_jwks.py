"""Keys from a URL: a real loopback JWKS server, rotation and refresh limits."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import orjson
import pytest

from tests.guards.jose_kit import T0, Gate, Key, claims, ec_key, jwks, mint, policy_file
from vaultgate.core.model import Action
from vaultgate.guards.jwks import MIN_REFRESH_INTERVAL


class JwksServer(BaseHTTPRequestHandler):
    """Serves ``document`` at /jwks; counts the requests it answers."""

    document: ClassVar[bytes] = b""
    status: ClassVar[int] = 200
    hits: ClassVar[int] = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        if self.status == 302:
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:1/jwks")
            self.end_headers()
            return
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.document)))
        self.end_headers()
        self.wfile.write(self.document)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[type[JwksServer], str]]:
    handler = type(
        "Handler", (JwksServer,), {"document": b"", "status": 200, "hits": 0}
    )
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield handler, f"http://127.0.0.1:{httpd.server_address[1]}/jwks"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def keys() -> list[Key]:
    return [ec_key(f"k{i}") for i in range(4)]


def serve(handler: type[JwksServer], *keys: Key) -> None:
    handler.document = orjson.dumps(jwks(*keys))


def url_gate(tmp_path: Path, url: str, extra: str = "") -> Gate:
    return Gate(policy_file(tmp_path, extra, jwks_path=url))


async def test_keys_are_fetched_and_rotated_on_an_unknown_kid(
    tmp_path: Path, server: tuple[type[JwksServer], str], keys: list[Key]
) -> None:
    handler, url = server
    serve(handler, keys[0])
    gate = url_gate(tmp_path, url)
    assert (await gate.send(token=mint(keys[0], claims())))[0].action is Action.ALLOW
    assert handler.hits == 1

    # The issuer rotates: the new kid is fetched once the refresh limit allows.
    serve(handler, keys[0], keys[1])
    rotated = mint(keys[1], claims())
    assert (await gate.send(token=rotated))[0].reasons == ("token.unknown_key",)
    assert handler.hits == 1  # the first fetch was less than 30 s ago
    gate.clock.now = T0 + MIN_REFRESH_INTERVAL + 1
    assert (await gate.send(token=rotated))[0].action is Action.ALLOW
    assert handler.hits == 2

    # Forged kids cannot make vaultgate hammer the identity provider.
    for i in range(5):
        gate.clock.now += 1
        forged = mint(keys[2], claims(jti=f"f{i}"))
        assert (await gate.send(token=forged))[0].reasons == ("token.unknown_key",)
    assert handler.hits == 2


async def test_background_refresh_withdraws_a_key(
    tmp_path: Path, server: tuple[type[JwksServer], str], keys: list[Key]
) -> None:
    handler, url = server
    serve(handler, keys[0], keys[1])
    gate = url_gate(tmp_path, url, "    refresh: 1m\n")
    old = mint(keys[0], claims(exp=int(T0) + 3600))
    assert (await gate.send(token=old))[0].action is Action.ALLOW
    serve(handler, keys[1])
    gate.clock.now = T0 + 61
    # The stale keys serve while the refresh runs; then the token goes.
    for _ in range(200):
        decision, _ = await gate.send(token=old)
        if decision.action is not Action.ALLOW:
            break
        await asyncio.sleep(0.01)
    assert decision.reasons == ("token.unknown_key",)
    assert handler.hits == 2


@pytest.mark.parametrize("status", [404, 500, 302])
async def test_no_keys_at_start_is_503_not_401(
    tmp_path: Path, server: tuple[type[JwksServer], str], keys: list[Key], status: int
) -> None:
    handler, url = server
    serve(handler, keys[0])
    handler.status = status  # 302: a redirect is never followed
    gate = url_gate(tmp_path, url)
    decision, _ = await gate.send(token=mint(keys[0], claims()))
    assert (decision.status, decision.reasons) == (503, ("token.keys_unavailable",))


async def test_a_failed_refresh_keeps_the_last_good_keys(
    tmp_path: Path, server: tuple[type[JwksServer], str], keys: list[Key]
) -> None:
    handler, url = server
    serve(handler, keys[0])
    gate = url_gate(tmp_path, url, "    refresh: 1m\n")
    assert (await gate.send(token=mint(keys[0], claims())))[0].action is Action.ALLOW
    handler.document = b"<html>maintenance</html>"
    gate.clock.now = T0 + 61
    for _ in range(50):
        assert (await gate.send(token=mint(keys[0], claims())))[
            0
        ].action is Action.ALLOW
        if handler.hits == 2:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    assert (await gate.send(token=mint(keys[0], claims())))[0].action is Action.ALLOW
