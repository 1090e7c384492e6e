"""Start and stop the demo banking API inside a running event loop."""

from __future__ import annotations

import time
from typing import Any

from vaultgate.demo.app import DemoApp
from vaultgate.demo.bank import Bank
from vaultgate.demo.data import USERS
from vaultgate.demo.http import HTTPServer
from vaultgate.demo.tokens import TokenIssuer, load_key, write_jwks


class DemoAPI:
    """A running demo API: its port, its JWKS and a way to stop it."""

    def __init__(self, server: HTTPServer, app: DemoApp, host: str, port: int) -> None:
        self._server = server
        self._app = app
        self.host = host
        self.port = port

    @property
    def url(self) -> str:
        """The base URL, such as ``http://127.0.0.1:9000``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set that verifies this API's tokens."""
        return self._app.issuer.jwks

    def issue_token(self, username: str) -> str:
        """An access token for a seeded user, as ``POST /login`` would give."""
        user = USERS.get(username)
        if user is None:
            raise KeyError(f"no demo user {username!r}; known: {sorted(USERS)}")
        return self._app.issuer.issue(user, int(time.time()))

    def write_jwks(self, path: str) -> None:
        """Write the JWKS to ``path`` for vaultgate's token validation."""
        write_jwks(self.jwks, path)

    async def close(self) -> None:
        """Stop listening and close every connection."""
        await self._server.close()


async def start(host: str, port: int, key_path: str | None = None) -> DemoAPI:
    """Serve the demo API on ``host``:``port`` (0: a free port)."""
    issuer = TokenIssuer(load_key(key_path))
    app = DemoApp(Bank(), issuer)
    server = HTTPServer(app)
    bound = await server.start(host, port)
    return DemoAPI(server, app, host, bound)
