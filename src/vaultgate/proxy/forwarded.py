"""Who the client is, and the forwarding fields the upstream receives.

X-Forwarded-For and Forwarded are written by whoever sent the request, so
they are believed only when the peer is a proxy the policy trusts, and then
only up to the first address not trusted: walking the chain from the right
(the hop nearest us), that address is the last one a trusted proxy saw
connect.  Anything left of it is the client's own claim.  X-Forwarded-For
is read first because it is what load balancers append (nginx, Envoy, AWS
ALB, Cloudflare); Forwarded (RFC 7239) only when X-Forwarded-For is absent,
since a trusted proxy that writes one passes a forged other through.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def canonical(text: str) -> str:
    """An address in canonical form; IPv4-mapped IPv6 becomes IPv4."""
    address = parse_address(text)
    return str(address) if address is not None else text


def parse_address(text: str) -> Address | None:
    """An IP address from a forwarding element, port and brackets removed."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.partition(":")[0]  # IPv4 with a port
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def trust_test(networks: Sequence[Network]) -> Callable[[str], bool]:
    """A test of whether an address is in one of ``networks``."""
    nets = tuple(networks)

    def trusted(text: str) -> bool:
        address = parse_address(text)
        return address is not None and any(address in net for net in nets)

    return trusted


def client_address(
    peer: str, xff: str | None, forwarded: str | None, trusted: Callable[[str], bool]
) -> str:
    """The client address, given a trusted peer and its forwarding fields."""
    if xff is not None:
        chain = [hop.strip() for hop in xff.split(",")]
    elif forwarded is not None:
        chain = forwarded_for(forwarded)
    else:
        return peer
    current = peer
    for hop in reversed(chain):
        address = parse_address(hop)
        if address is None:
            # A trusted proxy passed on something that is no address: stop
            # at the last hop that reported a real one.
            return current
        current = str(address)
        if not trusted(current):
            return current
    return current


def forwarded_for(value: str) -> list[str]:
    """The ``for=`` values of a Forwarded field, in order (RFC 7239 4)."""
    found = []
    for element in value.split(","):
        for pair in element.split(";"):
            name, _, node = pair.partition("=")
            if name.strip().lower() == "for":
                found.append(node.strip().strip('"'))
    return found


def forwarding_fields(
    peer: str,
    scheme: str,
    xff: str | None = None,
    xfp: str | None = None,
    forwarded: str | None = None,
) -> bytes:
    """X-Forwarded-For, X-Forwarded-Proto and Forwarded for the upstream.

    The incoming values are passed only for a trusted peer; for any other
    peer they are dropped, so the upstream never sees a client's own claim.
    """
    node = f'"[{peer}]"' if ":" in peer else peer
    element = f"for={node};proto={scheme}"
    chain = f"{xff}, {peer}" if xff else peer
    proto = xfp or scheme
    fwd = f"{forwarded}, {element}" if forwarded else element
    text = f"X-Forwarded-For: {chain}\r\nX-Forwarded-Proto: {proto}\r\n"
    return (text + f"Forwarded: {fwd}\r\n").encode("latin-1")
