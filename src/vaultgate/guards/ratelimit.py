"""Rate enforcement: GCRA limits keyed by IP, principal, token, route, username.

How this works: the ``limits`` section lists limits at the top level (one
bucket per key value across every route) and per route (added to the top
level's, with buckets of their own for that route).  Per request, the guard
builds each limit's key from the request, charges every bucket in one store
call (one Redis round trip) and, if any bucket is empty, answers 429 with
Retry-After and the draft IETF RateLimit / RateLimit-Policy fields, or bans
the client when the limit says ``action: ban``.

Limits keyed by principal run in the authorization phase, after the token
guard has named the principal: deriving it here from an unverified token
would let a client charge someone else's bucket or dodge its own.  A limit
whose key is missing from a request (no principal, no such header, no
username in the body) does not apply to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from vaultgate.core.exchange import Exchange
from vaultgate.core.model import Action, Decision, Phase
from vaultgate.core.policy import Policy, Route, Section, register_section
from vaultgate.core.schema import Node
from vaultgate.errors import PolicyError, StateError
from vaultgate.guards import clients
from vaultgate.guards.base import Guard, Services, register_guard
from vaultgate.guards.login import FieldLocation, parse_location
from vaultgate.state.base import RateCheck, RateResult, Store
from vaultgate.state.keys import client_id, digest
from vaultgate.state.settings import state_failed

_PARTS = frozenset({"ip", "principal", "token", "route", "username"})
_ACTIONS = frozenset({"throttle", "ban"})
_ITEM_KEYS = frozenset(
    {"key", "rate", "burst", "action", "ban_for", "name", "username"}
)
# A burst above a million requests is a typo, not a policy.
_MAX_BURST = 1_000_000
# 15 minutes: long enough to stop a scripted attack, short enough that a
# misjudged client is not locked out for the day.
_DEFAULT_BAN = 900.0


@dataclass(frozen=True, slots=True)
class Limit:
    """One limit: whose requests it counts, how many, and what exceeding does."""

    name: str
    parts: tuple[str, ...]  # ip, principal, token, route, username, header:<h>
    limit: int
    period: float
    burst: int = 0  # requests at once; 0 means ``limit``
    action: str = "throttle"
    ban_for: float = _DEFAULT_BAN
    scope: str = ""  # the route a route-level limit belongs to
    username: FieldLocation | None = None
    where: str = ""  # policy path, for errors found when guards are built

    @property
    def by_principal(self) -> bool:
        return "principal" in self.parts

    @property
    def identity(self) -> str:
        """What names this limit's buckets; edits to it start new buckets."""
        shape = f"{self.limit}/{self.period:g}/{self.burst}"
        return f"{self.scope}|{'+'.join(self.parts)}|{shape}"


@dataclass(frozen=True, slots=True)
class LimitsSettings:
    limits: tuple[Limit, ...] = ()


# -- policy section ------------------------------------------------------------


def _parse(node: Node) -> LimitsSettings:
    return LimitsSettings(tuple(_item(i, "") for i in node.seq()))


def _parse_route(node: Node, top: LimitsSettings) -> LimitsSettings:
    inherit, items = True, node.seq() if isinstance(node.value, list) else []
    if isinstance(node.value, dict):
        fields = node.mapping({"inherit", "rules"})
        inherit = fields["inherit"].flag() if "inherit" in fields else True
        items = fields["rules"].seq() if "rules" in fields else []
    route = _route_path(node)
    own = tuple(_item(item, route) for item in items)
    return LimitsSettings((top.limits if inherit else ()) + own)


def _route_path(node: Node) -> str:
    # The route's path is not passed to section parsers; the node path
    # ("routes[3].limits") is unique per route and stable across reloads
    # that keep the route in place.
    return node.path.rsplit(".", 1)[0]


def _item(node: Node, scope: str) -> Limit:
    fields = node.mapping(_ITEM_KEYS)
    for required in ("key", "rate"):
        if required not in fields:
            raise node.child(required, None).error(f"a limit's '{required}'", False)
    parts = tuple(_part(p) for p in fields["key"].seq(allow_scalar=True))
    if not parts or len(set(parts)) != len(parts):
        raise fields["key"].error("one or more distinct key parts")
    count, period = fields["rate"].rate()
    values: dict[str, Any] = {}
    if "burst" in fields:
        values["burst"] = fields["burst"].integer(1, _MAX_BURST)
    if "action" in fields:
        values["action"] = fields["action"].text(_ACTIONS)
    if "ban_for" in fields:
        values["ban_for"] = fields["ban_for"].duration()
    if "username" in fields:
        values["username"] = parse_location(fields["username"])
    name = fields["name"].text() if "name" in fields else _name(parts, count, period)
    where = f"{node.source}: {node.path}"
    return Limit(name, parts, count, period, scope=scope, where=where, **values)


def _part(node: Node) -> str:
    text = node.text().strip().lower()
    if text in _PARTS:
        return text
    if text.startswith("header:") and len(text) > len("header:"):
        return text
    raise node.error("ip, principal, token, route, username or header:<name>")


def _name(parts: tuple[str, ...], count: int, period: float) -> str:
    return f"{'+'.join(parts)}-{count}-per-{period:g}s"


register_section(Section("limits", _parse, _parse_route))


# -- keys ----------------------------------------------------------------------


def key_of(limit: Limit, ex: Exchange) -> str | None:
    """The bucket key of ``limit`` for this request, or None if a part is absent."""
    values = [limit.identity]
    for part in limit.parts:
        value = _value(part, limit, ex)
        if value is None:
            return None
        values.append(value)
    return "lim:" + digest(*values)


def _value(part: str, limit: Limit, ex: Exchange) -> str | None:
    request = ex.request
    if part == "ip":
        return client_id(request.client_ip)
    if part == "route":
        return ex.route.path
    if part == "principal":
        return ex.principal.id if ex.principal is not None else None
    if part == "token":
        return request.header("authorization")
    if part == "username":
        return limit.username.extract(request) if limit.username else None
    return request.header(part[len("header:") :])


# -- the guards ----------------------------------------------------------------


class LimitsGuard(Guard):
    """Charges the route's limits that do not need a principal."""

    name = "limits"
    phase = Phase.RATE

    def __init__(self, limits: tuple[Limit, ...], store: Store) -> None:
        self.limits = limits
        self.store = store

    async def check(self, ex: Exchange) -> Decision | None:
        keyed = [(lim, key) for lim in self.limits if (key := key_of(lim, ex))]
        if not keyed:
            return None
        checks = [
            RateCheck(key, lim.limit, lim.period, lim.burst) for lim, key in keyed
        ]
        try:
            admission = await self.store.admit((), checks, (), ex.now)
        except StateError as exc:
            return state_failed(ex, self.name, exc)
        if admission.allowed:
            return None
        denied = [
            (lim, result)
            for (lim, _), result in zip(keyed, admission.rates, strict=True)
            if not result.allowed
        ]
        return await self._exceeded(ex, denied)

    async def _exceeded(
        self, ex: Exchange, denied: list[tuple[Limit, RateResult]]
    ) -> Decision:
        names = tuple(f"limits.{lim.name}" for lim, _ in denied)
        ex.tags["limits.exceeded"] = [lim.name for lim, _ in denied]
        banning = [lim for lim, _ in denied if lim.action == "ban"]
        if banning:
            ttl = max(lim.ban_for for lim in banning)
            try:
                await clients.ban(ex, self.store, ttl, f"limits.ban:{banning[0].name}")
            except StateError as exc:
                state_failed(ex, self.name, exc)
            return Decision(Action.BLOCK, 403, 0, names)
        return Decision(Action.THROTTLE, 429, 0, names, headers=rate_headers(denied))


class PrincipalLimitsGuard(LimitsGuard):
    """Charges the limits keyed by principal, once the token guard named it."""

    name = "limits.principal"
    phase = Phase.AUTHZ


def rate_headers(
    denied: list[tuple[Limit, RateResult]],
) -> tuple[tuple[str, str], ...]:
    """Retry-After and the RateLimit / RateLimit-Policy fields (draft-10)."""
    retry = max(1, math.ceil(max(result.retry_after for _, result in denied)))
    policies = ", ".join(
        f'"{lim.name}";q={lim.limit};w={max(1, round(lim.period))}' for lim, _ in denied
    )
    states = ", ".join(
        f'"{lim.name}";r={res.remaining};t={max(1, math.ceil(res.retry_after))}'
        for lim, res in denied
    )
    return (
        ("Retry-After", str(retry)),
        ("RateLimit-Policy", policies),
        ("RateLimit", states),
    )


def _resolved(route: Route) -> tuple[Limit, ...]:
    """The route's limits with username locations filled in from ``login``."""
    login = route.settings.get("login")
    fallback = getattr(login, "username", None)
    resolved = []
    for lim in route.settings["limits"].limits:
        if "username" in lim.parts and lim.username is None:
            if fallback is None:
                source, _, path = lim.where.partition(": ")
                raise PolicyError(
                    source,
                    path + ".username",
                    "json:$.path or form:field (or a login section on the route)",
                    None,
                )
            lim = replace(lim, username=fallback)
        resolved.append(lim)
    return tuple(resolved)


@register_guard("limits", Phase.RATE)
def _factory(policy: Policy, route: Route, services: Services) -> Guard | None:
    limits = tuple(lim for lim in _resolved(route) if not lim.by_principal)
    return LimitsGuard(limits, services.store) if limits else None


@register_guard("limits.principal", Phase.AUTHZ)
def _principal_factory(
    policy: Policy, route: Route, services: Services
) -> Guard | None:
    limits = tuple(lim for lim in _resolved(route) if lim.by_principal)
    return PrincipalLimitsGuard(limits, services.store) if limits else None
