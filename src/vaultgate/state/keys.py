"""Store keys built from request data: digests and client identities.

Keys are digests, never the raw values: a username or a header value in a
Redis key would put personal data in the store, make key length depend on
the attacker, and let braces in a value steer its Cluster hash slot.
"""

from __future__ import annotations

import hashlib
import ipaddress
from functools import lru_cache

# 128-bit digests: collisions are out of reach, keys stay short.
_DIGEST_BYTES = 16
# One IPv6 host is normally given a whole /64, and can rotate through it
# at will; treating the /64 as one client is the usual practice.
IPV6_CLIENT_PREFIX = 64


def digest(*parts: str) -> str:
    """A short hex digest of ``parts`` (unambiguous: parts are separated)."""
    h = hashlib.blake2b(digest_size=_DIGEST_BYTES)
    for part in parts:
        data = part.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(4, "big"))
        h.update(data)
    return h.hexdigest()


@lru_cache(maxsize=65536)
def network_id(address: str, v4_prefix: int = 32, v6_prefix: int = 64) -> str:
    """The network ``address`` belongs to at the given prefix lengths."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address  # not an address: the text itself is the identity
    prefix = v4_prefix if parsed.version == 4 else v6_prefix
    if prefix == parsed.max_prefixlen:
        return str(parsed)
    return str(ipaddress.ip_network(f"{parsed}/{prefix}", strict=False))


def client_id(address: str) -> str:
    """The client an address stands for: an IPv4 address or an IPv6 /64."""
    return network_id(address, 32, IPV6_CLIENT_PREFIX)
