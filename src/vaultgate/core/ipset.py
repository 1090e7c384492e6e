"""IP address sets compiled for lookup in microseconds, and list file formats.

How this works: a set keeps single addresses in a hash set and networks as
sorted, merged integer ranges per address family; a lookup is one hash
probe and one ``bisect``.  Lists come from files in three formats: plain
feeds (one address or CIDR per line, ``#`` or ``;`` comments), the Tor
project's exit list (``ExitAddress 1.2.3.4 2024-...`` lines) and its bulk
exit list (bare addresses).  A malformed line is an error naming the file
and line, so a corrupted feed is refused at load instead of half-applied.
"""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Iterable

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class IPSet:
    """An immutable set of addresses and networks."""

    __slots__ = ("_hosts", "_starts", "_ends", "size")

    def __init__(self, networks: Iterable[Network]) -> None:
        hosts: set[tuple[int, int]] = set()
        ranges: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
        for net in networks:
            start = int(net.network_address)
            if net.num_addresses == 1:
                hosts.add((net.version, start))
            else:
                ranges[net.version].append((start, start + net.num_addresses - 1))
        self._hosts = frozenset(hosts)
        self._starts: dict[int, list[int]] = {}
        self._ends: dict[int, list[int]] = {}
        for version, spans in ranges.items():
            merged = _merge(spans)
            self._starts[version] = [s for s, _ in merged]
            self._ends[version] = [e for _, e in merged]
        self.size = len(hosts) + sum(len(v) for v in self._starts.values())

    def __contains__(self, address: Address) -> bool:
        version, value = address.version, int(address)
        if (version, value) in self._hosts:
            return True
        starts = self._starts[version]
        i = bisect.bisect_right(starts, value) - 1
        return i >= 0 and value <= self._ends[version][i]


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def parse_address(text: str) -> Address | None:
    """The address ``text`` names (IPv4-mapped IPv6 unwrapped), or None."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        # ::ffff:1.2.3.4 is the IPv4 client of a dual-stack socket.
        return address.ipv4_mapped
    return address


class ListFormatError(ValueError):
    """A list file line that is not an address, a network or a comment."""

    def __init__(self, line: int, text: str) -> None:
        self.line = line
        super().__init__(f"line {line}: expected an IP address or CIDR, got {text!r}")


# Tor exit-list lines other than ExitAddress carry relay metadata.
_TOR_KEYWORDS = frozenset({"ExitNode", "Published", "LastStatus"})


def parse_feed(text: str) -> list[Network]:
    """Networks of a plain feed or a Tor exit list; raises ListFormatError."""
    networks: list[Network] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        if words[0] in _TOR_KEYWORDS:
            continue
        token = words[1] if words[0] == "ExitAddress" and len(words) > 1 else words[0]
        try:
            networks.append(ipaddress.ip_network(token, strict=False))
        except ValueError:
            raise ListFormatError(number, raw.strip()[:80]) from None
    return networks
