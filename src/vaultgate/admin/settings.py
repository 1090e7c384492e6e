"""The ``admin`` policy section: where the admin server listens, and its token.

The admin server runs only when the policy has an ``admin`` section (an
empty one, ``admin: {}``, takes the defaults): a metrics port nobody asked
for is one more thing to protect, and two proxies on one machine would
fight over it.  The bearer token is read from the environment variable the
section names, never from the policy file.
"""

from __future__ import annotations

from dataclasses import dataclass

from vaultgate.core.policy import Section, register_section
from vaultgate.core.schema import Node


@dataclass(frozen=True, slots=True)
class AdminSettings:
    enabled: bool = False
    # Loopback: metrics tell an attacker which rules fire; expose them
    # further only on purpose, behind the token.
    host: str = "127.0.0.1"
    port: int = 9901  # worker N listens on port + N; 0: any free port
    token_env: str = "VAULTGATE_ADMIN_TOKEN"


_KEYS = frozenset({"enabled", "listen", "token_env"})


def parse_admin(node: Node) -> AdminSettings:
    """Read the top-level ``admin`` section; absent (or null) means disabled."""
    fields = node.mapping(_KEYS)
    settings = AdminSettings(enabled=node.value is not None)
    host, port = settings.host, settings.port
    if "listen" in fields:
        host, sep, text = fields["listen"].text().rpartition(":")
        if not sep or not text.isdigit() or not 0 <= int(text) < 65536:
            raise fields["listen"].error("'<host>:<port>' such as 127.0.0.1:9901")
        host, port = host.strip("[]") or "127.0.0.1", int(text)
    enabled = fields["enabled"].flag() if "enabled" in fields else settings.enabled
    token_env = (
        fields["token_env"].text() if "token_env" in fields else settings.token_env
    )
    return AdminSettings(enabled, host, port, token_env)


register_section(Section("admin", parse_admin))
