"""Broken object-level authorization: ownership of object ids, and enumeration.

How this works: the ``owner`` section of a route names where its object ids
are (route parameters, query or form fields, JSON paths in the body) and
the principal claim that lists what the caller owns.  Every id found must
be owned (equal to the claim, a member of it, or under its tenant prefix),
else the request is refused with 403 and the reason ``bola.not_owner``.
Where the proxy cannot know ownership, the ``enumeration`` section watches
the shape of access instead: many distinct ids, ids walked in small steps,
or many 403/404 answers from one principal (or address) on one route.  Each
signal has a block and a ban threshold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from vaultgate.core.exchange import Exchange
from vaultgate.core.jsonpath import JSONPath, compile_path
from vaultgate.core.masking import redact
from vaultgate.core.model import Action, Decision, Finding, Phase, Principal
from vaultgate.core.policy import Policy, Route, Section, register_section
from vaultgate.core.schema import Node
from vaultgate.errors import PolicyError
from vaultgate.guards.base import Guard, Services, register_guard
from vaultgate.guards.clients import ban, best_effort, ip_subject, principal_subject
from vaultgate.state.base import Store

_SOURCES = ("param", "query", "form", "json")
_MATCHES = frozenset({"auto", "equal", "member", "prefix"})


@dataclass(frozen=True, slots=True)
class IdRef:
    """Where an object id is: a route parameter, a field, a JSON path."""

    source: str  # one of _SOURCES
    name: str
    path: JSONPath | None = None


@dataclass(frozen=True, slots=True)
class OwnerSettings:
    ids: tuple[IdRef, ...] = ()
    claim: str = "accounts"
    # auto: member of a list claim, equal to a scalar one.
    match: str = "auto"
    bypass_roles: frozenset[str] = frozenset()
    # What to do without a principal: no token, no owner to compare.
    anonymous: str = "block"


# -- policy: owner -------------------------------------------------------------

_OWNER_TOP = frozenset({"claim", "match", "bypass_roles", "anonymous"})
_OWNER_ROUTE = _OWNER_TOP | frozenset(_SOURCES)


def _parse_owner(node: Node) -> OwnerSettings:
    return _owner_fields(node.mapping(_OWNER_TOP), OwnerSettings())


def _parse_owner_route(node: Node, top: OwnerSettings) -> OwnerSettings:
    fields = node.mapping(_OWNER_ROUTE)
    ids = tuple(ref for source in _SOURCES for ref in _refs(fields, source))
    if not ids:
        raise node.error("at least one of param, query, form or json", False)
    return replace(_owner_fields(fields, top), ids=ids)


def _owner_fields(fields: dict[str, Node], base: OwnerSettings) -> OwnerSettings:
    values: dict[str, Any] = {}
    if "claim" in fields:
        values["claim"] = fields["claim"].text()
    if "match" in fields:
        values["match"] = fields["match"].text(_MATCHES)
    if "bypass_roles" in fields:
        roles = fields["bypass_roles"].seq(allow_scalar=True)
        values["bypass_roles"] = frozenset(r.text() for r in roles)
    if "anonymous" in fields:
        values["anonymous"] = fields["anonymous"].text(frozenset({"block", "allow"}))
    return replace(base, **values)


def _refs(fields: dict[str, Node], source: str) -> list[IdRef]:
    if source not in fields:
        return []
    refs = []
    for item in fields[source].seq(allow_scalar=True):
        text = item.text()
        if source != "json":
            refs.append(IdRef(source, text))
            continue
        try:
            refs.append(IdRef(source, text, compile_path(text)))
        except ValueError as exc:
            raise item.error(str(exc)) from None
    return refs


register_section(Section("owner", _parse_owner, _parse_owner_route))


# -- policy: enumeration ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Threshold:
    """Block at ``block``, ban at ``ban`` (0: never), counted over ``window`` s."""

    block: int
    ban: int
    window: float


@dataclass(frozen=True, slots=True)
class EnumerationSettings:
    enabled: bool = False
    id: IdRef | None = None  # None: the route's last path parameter
    # 30 distinct objects a minute is more than a person pages through in
    # an app; a script walking ids passes it in seconds.
    distinct: Threshold = Threshold(30, 60, 60.0)
    # 10 ids in a row, each 1-3 apart in one direction, within the window.
    sequential: Threshold = Threshold(10, 20, 300.0)
    max_step: int = 3
    # 403 and 404 answers: a caller guessing ids collects them.
    failures: Threshold = Threshold(20, 40, 60.0)
    ban_for: float = 900.0  # 15 minutes


_ENUM_KEYS = frozenset(
    {"enabled", "param", "json", "distinct", "sequential", "max_step"}
    | {"failures", "ban_for"}
)
_THRESHOLD_KEYS = frozenset({"block", "ban", "window"})


def _parse_enumeration(node: Node) -> EnumerationSettings:
    return _enumeration(node, EnumerationSettings())


def _parse_enumeration_route(
    node: Node, top: EnumerationSettings
) -> EnumerationSettings:
    if isinstance(node.value, bool):
        return replace(top, enabled=node.value)
    return _enumeration(node, replace(top, enabled=True))


def _enumeration(node: Node, base: EnumerationSettings) -> EnumerationSettings:
    fields = node.mapping(_ENUM_KEYS)
    values: dict[str, Any] = {}
    if "enabled" in fields:
        values["enabled"] = fields["enabled"].flag()
    if "param" in fields:
        values["id"] = IdRef("param", fields["param"].text())
    elif "json" in fields:
        refs = _refs(fields, "json")
        values["id"] = refs[0] if len(refs) == 1 else None
        if values["id"] is None:
            raise fields["json"].error("one JSON path")
    for key in ("distinct", "sequential", "failures"):
        if key in fields:
            values[key] = _threshold(fields[key], getattr(base, key))
    if "max_step" in fields:
        values["max_step"] = fields["max_step"].integer(1, 1000)
    if "ban_for" in fields:
        values["ban_for"] = fields["ban_for"].duration()
    return replace(base, **values)


def _threshold(node: Node, base: Threshold) -> Threshold:
    fields = node.mapping(_THRESHOLD_KEYS)
    block = fields["block"].integer(1, 10**9) if "block" in fields else base.block
    # Unless given, the ban comes at twice the block threshold: a client
    # that carries on as far again after being refused is no accident.
    banned = fields["ban"].integer(0, 10**9) if "ban" in fields else 2 * block
    window = fields["window"].duration() if "window" in fields else base.window
    if banned and banned < block:
        raise node.error("ban at or above block", show_value=False)
    return Threshold(block, banned, window)


register_section(Section("enumeration", _parse_enumeration, _parse_enumeration_route))


# -- ownership -----------------------------------------------------------------

_TRAILING_NUMBER = re.compile(r"^(.*?)(\d{1,18})$")


def _canonical(value: object) -> str | None:
    """An id as the upstream would compare it; None for non-id values."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def owns(principal: Principal, claim: str, match: str, object_id: str) -> bool:
    """Whether ``object_id`` belongs to ``principal`` under the claim rule."""
    owned = principal.claims.get(claim)
    if owned is None and claim == "sub":
        owned = principal.id
    if isinstance(owned, list | tuple | set | frozenset):
        values = [v for v in (_canonical(x) for x in owned) if v is not None]
    else:
        single = _canonical(owned)
        values = [single] if single is not None else []
        if match == "member":
            return False
    if match == "prefix":
        return any(_under(object_id, prefix) for prefix in values)
    return object_id in values


def _under(object_id: str, prefix: str) -> bool:
    # "acme" owns "acme-17" and "acme/17", never "acmecorp-17".
    if not prefix or not object_id.startswith(prefix):
        return False
    rest = object_id[len(prefix) :]
    return rest == "" or not prefix[-1].isalnum() or not rest[0].isalnum()


def object_ids(ex: Exchange, refs: tuple[IdRef, ...]) -> list[str] | None:
    """Every id the request names; None when the body cannot be read."""
    found: list[str] = []
    request = ex.request
    for ref in refs:
        if ref.source == "param":
            value = ex.params.get(ref.name)
            found.extend([value] if value is not None else [])
        elif ref.source == "query":
            found.extend(v for k, v in request.args if k == ref.name)
        elif ref.source == "form":
            found.extend(v for k, v in request.form() if k == ref.name)
        elif request.body and ref.path is not None:
            document = request.json()
            if document is None:
                return None
            for value in ref.path.find(document):
                # An object or a float where an id belongs may still reach
                # a record upstream (coercion): it cannot be shown owned.
                found.append(_canonical(value) or "\x00unverifiable")
    return found


# -- the guard ---------------------------------------------------------------------


def _refuse(reason: str, status: int = 403) -> Decision:
    return Decision(Action.BLOCK, status, 0, (reason,))


@dataclass(slots=True)
class BolaGuard(Guard):
    """Object ownership and enumeration on one route."""

    name = "bola"
    phase = Phase.AUTHZ

    route: str
    owner: OwnerSettings | None
    enumeration: EnumerationSettings | None
    store: Store
    statuses: frozenset[int] = field(default=frozenset({403, 404}))

    async def check(self, ex: Exchange) -> Decision | None:
        if self.owner is not None:
            decision = self._ownership(ex, self.owner)
            if decision is not None:
                # The refusal stands even when the store cannot count it.
                await best_effort(ex, "bola", self._count_failure(ex))
                return decision
        if self.enumeration is not None:
            decision = await self._enumeration(ex, self.enumeration)
            if decision is not None:
                # The refusal is one more 403 the client collects.
                await best_effort(ex, "bola", self._count_failure(ex))
            return decision
        return None

    def _ownership(self, ex: Exchange, owner: OwnerSettings) -> Decision | None:
        principal = ex.principal
        if principal is None:
            if owner.anonymous == "allow":
                return None
            ex.add(Finding("bola", "bola.no_principal", 5, blocking=True))
            return _refuse("bola.no_principal", 401)
        bypass = owner.bypass_roles & principal.roles
        if bypass:
            ex.tags["bola.bypass_role"] = min(bypass)
            return None
        ids = object_ids(ex, owner.ids)
        if ids is None:
            ex.add(Finding("bola", "bola.unreadable_body", 5, "body", blocking=True))
            return _refuse("bola.unreadable_body")
        for object_id in ids:
            if not owns(principal, owner.claim, owner.match, object_id):
                ex.add(Finding("bola", "bola.not_owner", 5, blocking=True))
                # Some APIs use an IBAN or a card number as the id.
                ex.tags["bola.object"] = redact(object_id[:64])
                return _refuse("bola.not_owner")
        return None

    async def _enumeration(
        self, ex: Exchange, settings: EnumerationSettings
    ) -> Decision | None:
        ref = settings.id
        ids = object_ids(ex, (ref,)) if ref is not None else []
        subject = _subject(ex)
        verdicts = []
        if ids:
            key = f"{self.route}:{subject}"
            verdicts.append(await self._distinct(ex, settings, key, ids[0]))
            verdicts.append(await self._sequential(ex, settings, key, ids[0]))
        failures = await self.store.count(
            f"enum:fail:{self.route}:{subject}", settings.failures.window, ex.now
        )
        verdicts.append(_level(failures, settings.failures, "failures"))
        return await self._escalate(ex, settings, verdicts)

    async def _distinct(
        self, ex: Exchange, settings: EnumerationSettings, key: str, object_id: str
    ) -> tuple[str, str] | None:
        threshold = settings.distinct
        seen = await self.store.distinct(
            f"enum:ids:{key}", object_id, threshold.window, ex.now
        )
        return _level(seen, threshold, "distinct")

    async def _sequential(
        self, ex: Exchange, settings: EnumerationSettings, key: str, object_id: str
    ) -> tuple[str, str] | None:
        match = _TRAILING_NUMBER.match(object_id)
        if match is None:
            return None
        state_key = f"enum:seq:{key}"
        stored = await self.store.get(state_key)
        run = _next_run(stored, match.group(1), int(match.group(2)), settings)
        state = f"{match.group(1)}\x1f{match.group(2)}\x1f{run[0]}\x1f{run[1]}"
        window = settings.sequential.window
        await self.store.put(state_key, state.encode(), window, ex.now)
        return _level(run[0], settings.sequential, "sequential")

    async def _escalate(
        self,
        ex: Exchange,
        settings: EnumerationSettings,
        verdicts: list[tuple[str, str] | None],
    ) -> Decision | None:
        found = [v for v in verdicts if v is not None]
        if not found:
            return None
        level, signal = max(found, key=lambda v: v[0] == "ban")
        reason = "bola.enumeration." + signal
        ex.add(Finding("bola", reason, 5, blocking=True))
        if level == "ban":
            await best_effort(ex, "bola", ban(ex, self.store, settings.ban_for, reason))
        return _refuse(reason)

    async def on_response(
        self, ex: Exchange, status: int, headers: list[tuple[str, str]]
    ) -> None:
        if status in self.statuses:
            await best_effort(ex, "bola", self._count_failure(ex))

    async def _count_failure(self, ex: Exchange) -> None:
        settings = self.enumeration
        if settings is None:
            return
        threshold = settings.failures
        total = await self.store.hit(
            f"enum:fail:{self.route}:{_subject(ex)}", threshold.window, ex.now
        )
        if threshold.ban and total >= threshold.ban:
            await ban(ex, self.store, settings.ban_for, "bola.enumeration.failures")


def _subject(ex: Exchange) -> str:
    if ex.principal is not None:
        return principal_subject(ex.principal.id)
    return ip_subject(ex.request.client_ip)


def _level(count: int, threshold: Threshold, signal: str) -> tuple[str, str] | None:
    if threshold.ban and count >= threshold.ban:
        return ("ban", signal)
    if count >= threshold.block:
        return ("block", signal)
    return None


def _next_run(
    stored: bytes | None, prefix: str, number: int, settings: EnumerationSettings
) -> tuple[int, int]:
    """The walk's (length, direction) after visiting ``prefix`` + ``number``."""
    if stored is None:
        return 1, 0
    try:
        last_prefix, last, run, direction = stored.decode().split("\x1f")
        step, length, heading = number - int(last), int(run), int(direction)
    except ValueError:
        return 1, 0
    if last_prefix != prefix:
        return 1, 0
    if step == 0:
        return length, heading  # the same object again: no step
    sign = 1 if step > 0 else -1
    if abs(step) <= settings.max_step and heading in (0, sign):
        return length + 1, sign
    return 1, 0


@register_guard("bola", Phase.AUTHZ)
def _factory(policy: Policy, route: Route, services: Services) -> Guard | None:
    owner: OwnerSettings = route.settings["owner"]
    has_owner = bool(owner.ids)
    if has_owner:
        _check_params(policy, route, owner.ids, "owner")
    enumeration = _enumeration_of(policy, route)
    if not has_owner and enumeration is None:
        return None
    return BolaGuard(
        route.path, owner if has_owner else None, enumeration, services.store
    )


def _enumeration_of(policy: Policy, route: Route) -> EnumerationSettings | None:
    settings: EnumerationSettings = route.settings["enumeration"]
    if not settings.enabled:
        return None
    if settings.id is None:
        if not route.params:
            return None  # no object id on this route to watch
        settings = replace(settings, id=IdRef("param", route.params[-1]))
    assert settings.id is not None
    _check_params(policy, route, (settings.id,), "enumeration")
    return settings


def _check_params(
    policy: Policy, route: Route, refs: tuple[IdRef, ...], key: str
) -> None:
    for ref in refs:
        if ref.source == "param" and ref.name not in route.params:
            where = f"routes[{route.index}].{key}.param"
            expected = "a parameter of the route's path: " + ", ".join(route.params)
            raise PolicyError(policy.source, where, expected, ref.name)
