"""The ``adapters`` policy section: which authorization adapters listen where.

``vaultgate authz`` serves the adapters this section names and nothing
else; ``vaultgate run`` ignores it.  An adapter left out does not listen.
The peers allowed to call an adapter default to loopback: the adapters
believe the original method, target and client address that the caller
reports, so a caller from anywhere else could make any request look clean.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from vaultgate.core.policy import Section, register_section
from vaultgate.core.schema import Node

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# A sidecar proxy on the same host: loopback, both families.
LOOPBACK: tuple[Network, ...] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
)
NAMES = ("nginx", "envoy_http", "envoy_grpc")


@dataclass(frozen=True, slots=True)
class Listener:
    """Where one adapter listens."""

    host: str
    port: int


@dataclass(frozen=True, slots=True)
class AdaptersSettings:
    nginx: Listener | None = None
    envoy_http: Listener | None = None
    envoy_grpc: Listener | None = None
    # What Envoy's http_service.path_prefix puts before the original path.
    envoy_http_path_prefix: str = ""
    trusted_peers: tuple[Network, ...] = LOOPBACK

    @property
    def any(self) -> bool:
        return any(getattr(self, name) is not None for name in NAMES)

    def listeners(self) -> dict[str, Listener]:
        """The configured adapters by name."""
        found = {name: getattr(self, name) for name in NAMES}
        return {name: where for name, where in found.items() if where is not None}


_KEYS = frozenset({*NAMES, "trusted_peers"})
_ADAPTER_KEYS = {
    "nginx": frozenset({"listen"}),
    "envoy_http": frozenset({"listen", "path_prefix"}),
    "envoy_grpc": frozenset({"listen"}),
}


def parse_adapters(node: Node) -> AdaptersSettings:
    """Read the top-level ``adapters`` section; absent means none listen."""
    fields = node.mapping(_KEYS)
    found: dict[str, Listener] = {}
    prefix = ""
    for name in NAMES:
        if name not in fields:
            continue
        own = fields[name].mapping(_ADAPTER_KEYS[name])
        if "listen" not in own:
            raise fields[name].child("listen", None).error("'<host>:<port>'", False)
        found[name] = _listener(own["listen"])
        if "path_prefix" in own:
            prefix = _prefix(own["path_prefix"])
    _distinct(found, fields)
    peers = LOOPBACK
    if "trusted_peers" in fields:
        peers = fields["trusted_peers"].networks()
        if not peers:
            raise fields["trusted_peers"].error("at least one address or network")
    return AdaptersSettings(**found, envoy_http_path_prefix=prefix, trusted_peers=peers)


def _listener(node: Node) -> Listener:
    host, sep, port = node.text().rpartition(":")
    if not sep or not (port.isascii() and port.isdigit()) or int(port) > 65535:
        raise node.error("'<host>:<port>' such as 127.0.0.1:9100")
    return Listener(host.strip("[]") or "127.0.0.1", int(port))


def _prefix(node: Node) -> str:
    text = node.text()
    if not text.startswith("/") or "?" in text or "#" in text:
        raise node.error("a path prefix such as /authz (no query or fragment)")
    return text.rstrip("/")


def _distinct(found: dict[str, Listener], fields: dict[str, Node]) -> None:
    seen: dict[tuple[str, int], str] = {}
    for name, where in found.items():
        key = (where.host, where.port)
        if where.port and key in seen:
            listen = fields[name].child("listen", f"{where.host}:{where.port}")
            raise listen.error(f"an address other than {seen[key]}'s")
        seen[key] = name


register_section(Section("adapters", parse_adapters))
