"""Typed access to a parsed YAML policy, with errors that say where.

A ``Node`` wraps one value of the YAML document together with its path
(``routes[2].limits[0].rate``) and the file it came from.  Every accessor
either returns a checked Python value or raises ``PolicyError`` naming the
file, the path and what was expected, so section parsers read like a schema.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from typing import Any

from vaultgate.errors import PolicyError

_UNITS = {
    "ms": 0.001,
    "s": 1.0,
    "second": 1.0,
    "sec": 1.0,
    "m": 60.0,
    "min": 60.0,
    "minute": 60.0,
    "h": 3600.0,
    "hour": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$")
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([a-z]+)\s*$")
_SIZE = re.compile(r"^\s*(\d+)\s*(b|kb|kib|k|mb|mib|m|gb|gib|g)?\s*$", re.I)
_SIZE_UNITS = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


class Node:
    """One value of a policy document, with where it came from."""

    __slots__ = ("value", "path", "source")

    def __init__(self, value: Any, path: str, source: str) -> None:
        self.value = value
        self.path = path
        self.source = source

    def error(self, expected: str, show_value: bool = True) -> PolicyError:
        """A ``PolicyError`` for this node."""
        got = self.value if show_value else None
        return PolicyError(self.source, self.path, expected, got)

    def child(self, key: str | int, value: Any) -> Node:
        if isinstance(key, int):
            path = f"{self.path}[{key}]"
        else:
            path = f"{self.path}.{key}" if self.path else key
        return Node(value, path, self.source)

    # -- containers ---------------------------------------------------------

    def mapping(self, allowed: frozenset[str] | set[str]) -> dict[str, Node]:
        """A mapping whose keys must be among ``allowed``."""
        if self.value is None:
            return {}
        if not isinstance(self.value, dict):
            raise self.error("a mapping")
        out = {}
        for key, value in self.value.items():
            if not isinstance(key, str) or key not in allowed:
                where = self.child(str(key), value)
                raise where.error("one of: " + ", ".join(sorted(allowed)), False)
            out[key] = self.child(key, value)
        return out

    def items(self) -> Iterator[tuple[str, Node]]:
        """Every key of a free-form mapping (keys must be strings)."""
        if self.value is None:
            return
        if not isinstance(self.value, dict):
            raise self.error("a mapping")
        for key, value in self.value.items():
            if not isinstance(key, str):
                raise self.error("string keys")
            yield key, self.child(key, value)

    def seq(self, allow_scalar: bool = False) -> list[Node]:
        """A list; a lone scalar counts as a list of one if allowed."""
        if self.value is None:
            return []
        if not isinstance(self.value, list):
            if allow_scalar and not isinstance(self.value, dict):
                return [self]
            raise self.error("a list")
        return [self.child(i, v) for i, v in enumerate(self.value)]

    # -- scalars ------------------------------------------------------------

    def text(self, choices: frozenset[str] | None = None) -> str:
        if not isinstance(self.value, str) or not self.value:
            raise self.error("a non-empty string")
        if choices is not None and self.value not in choices:
            raise self.error("one of: " + ", ".join(sorted(choices)))
        return self.value

    def integer(self, minimum: int = 0, maximum: int = 2**62) -> int:
        value = self.value
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(f"an integer from {minimum} to {maximum}")
        if not minimum <= value <= maximum:
            raise self.error(f"an integer from {minimum} to {maximum}")
        return value

    def number(self, minimum: float = 0.0, maximum: float = 1e18) -> float:
        value = self.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(f"a number from {minimum} to {maximum}")
        if not minimum <= value <= maximum:
            raise self.error(f"a number from {minimum} to {maximum}")
        return float(value)

    def flag(self) -> bool:
        if not isinstance(self.value, bool):
            raise self.error("true or false")
        return self.value

    def duration(self) -> float:
        """Seconds, from ``30``, ``250ms``, ``15m``, ``2h`` or ``1 day``."""
        if isinstance(self.value, int | float) and not isinstance(self.value, bool):
            if self.value >= 0:
                return float(self.value)
        elif isinstance(self.value, str):
            match = _DURATION.match(self.value.lower())
            unit = _unit(match.group(2)) if match else None
            if match and unit:
                return float(match.group(1)) * unit
        raise self.error("a duration such as 30s, 250ms, 15m or 2h")

    def size(self) -> int:
        """Bytes, from ``1024``, ``64KiB`` or ``10MB`` (binary multiples)."""
        if isinstance(self.value, int) and not isinstance(self.value, bool):
            if self.value >= 0:
                return self.value
        elif isinstance(self.value, str):
            match = _SIZE.match(self.value)
            if match:
                unit = (match.group(2) or "b")[0].lower()
                return int(match.group(1)) * _SIZE_UNITS[unit]
        raise self.error("a size such as 8192, 64KiB or 10MiB")

    def rate(self) -> tuple[int, float]:
        """``(count, period_seconds)`` from ``300/minute`` or ``5/15minutes``."""
        if isinstance(self.value, str):
            match = _RATE.match(self.value.lower())
            unit = _unit(match.group(3)) if match else None
            if match and unit and int(match.group(1)) > 0:
                periods = int(match.group(2) or 1)
                if periods > 0:
                    return int(match.group(1)), periods * unit
        raise self.error("'<n>/<unit>' such as 300/minute or 5/15minutes")

    def networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """A list of IP addresses or CIDR networks."""
        nets = []
        for item in self.seq(allow_scalar=True):
            try:
                nets.append(ipaddress.ip_network(item.text(), strict=False))
            except ValueError:
                raise item.error("an IP address or CIDR network") from None
        return tuple(nets)


def _unit(name: str) -> float | None:
    """Seconds in a unit named singular or plural ("minute", "minutes")."""
    if name in _UNITS:
        return _UNITS[name]
    if name.endswith("s") and name[:-1] in _UNITS:
        return _UNITS[name[:-1]]
    return None
