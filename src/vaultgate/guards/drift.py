"""Token drift: one token used from several networks or devices at once.

A token captured on one machine (by malware, a proxy log, a leaked HAR
file) and replayed from another shows up as the same token id seen from a
second network or a second device within minutes.  Each request adds its
network (/24 or /64) and device fingerprint to two short-lived sets per
token in the shared store; past the policy's counts, the request gets a
finding (or is refused, per policy).  A request from an address that the
reputation phase found on a list (Tor exits, a custom list) weighs more.
"""

from __future__ import annotations

import hashlib
import ipaddress

from vaultgate.core.exchange import Exchange
from vaultgate.core.jwt_verify import TokenInvalid
from vaultgate.core.model import Finding
from vaultgate.guards import seen
from vaultgate.guards.token_policy import DriftSettings
from vaultgate.state.base import Store

# The seam with the reputation phase (guards.reputation.LABELS): it runs
# first and stores here the labels of the lists holding the client address
# ("tor", a feed's name ..., and "allow", which is not a warning).
LISTS_SCRATCH_KEY = "reputation.labels"
# The request headers a device fingerprint is made of: stable for one
# browser or app build, and different between most devices.
_DEVICE_HEADERS = (
    "user-agent",
    "accept-language",
    "sec-ch-ua",
    "sec-ch-ua-platform",
    "sec-ch-ua-mobile",
)


def network_of(ip: str) -> str:
    """The /24 (IPv4) or /64 (IPv6) network of an address."""
    if ":" not in ip:
        head, _, _ = ip.rpartition(".")
        return head + ".0/24" if head else ip
    try:
        packed = ipaddress.IPv6Address(ip.split("%", 1)[0]).packed
    except ValueError:
        return ip
    return packed[:8].hex() + "::/64"


def device_of(ex: Exchange) -> str:
    """A short fingerprint of the client's device headers."""
    request = ex.request
    text = "\n".join(request.header(name) or "" for name in _DEVICE_HEADERS)
    return hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=8).hexdigest()


async def check_drift(
    ex: Exchange, token_id: str, settings: DriftSettings, store: Store
) -> None:
    """Record where the token is used; flag (or refuse) too many places."""
    window, client = settings.window, ex.request.client_ip
    networks = await seen.distinct(
        ex, store, "tokens", f"tok:net:{token_id}", network_of(client), window
    )
    devices = await seen.distinct(
        ex, store, "tokens", f"tok:dev:{token_id}", device_of(ex), window
    )
    listed = bool(set(ex.scratch.get(LISTS_SCRATCH_KEY, ())) - {"allow"})
    score = settings.score + (settings.listed_score if listed else 0)
    if networks > settings.networks:
        _flag(ex, settings, "token.drift_network", score, f"{networks} networks")
    if devices > settings.devices:
        _flag(ex, settings, "token.drift_device", score, f"{devices} devices")


def _flag(
    ex: Exchange, settings: DriftSettings, rule: str, score: int, what: str
) -> None:
    if settings.action == "block":
        raise TokenInvalid(rule, "token used from an unexpected place")
    ex.add(Finding("tokens", rule, score, location="token", snippet=what))
