"""Brute force and credential stuffing on the login routes the policy declares.

How this works: each login attempt is counted when it arrives, as if it
would fail: failures per username, per client address and per network, the
distinct usernames tried from the address, and attempts per address (for
the failure ratio).  Counting first, in one atomic store call, means a rig
firing attempts in parallel cannot slip more past a threshold than the
threshold allows.  The response then settles the attempt: a success gives
the failure back.  What a failure looks like is the policy's: status codes,
or a field of the JSON response.

The counts before this attempt pick an escalation level per counter, and
the highest wins: a small delay, then a proof-of-work challenge (one
solution per attempt), then 429 for the rest of the window, then a ban of
the address (``guards.clients``: every route, every process).
"""

from __future__ import annotations

import asyncio
import math
import unicodedata
from dataclasses import dataclass, fields, replace
from typing import Any

import orjson

from vaultgate.core.exchange import Exchange
from vaultgate.core.jsonpath import JSONPath, compile_path
from vaultgate.core.model import Action, Decision, Mode, Phase
from vaultgate.core.policy import Policy, Route, Section, register_section
from vaultgate.core.request import Request
from vaultgate.core.schema import Node
from vaultgate.errors import StateError
from vaultgate.guards import clients
from vaultgate.guards.base import Guard, Services, register_guard
from vaultgate.guards.challenge import Challenger, challenger_for
from vaultgate.state import health
from vaultgate.state.base import Store, Tally
from vaultgate.state.keys import client_id, digest, network_id
from vaultgate.state.settings import state_failed

_LEVELS = ("none", "delay", "challenge", "block", "ban")
_PENDING = "login.pending"
# Response bodies past 64 KiB are not login answers; they are not parsed.
_MAX_BODY = 64 * 1024


# -- where the username is -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldLocation:
    """A request field: ``json:$.username`` or ``form:username``."""

    text: str
    json: JSONPath | None = None
    form: str = ""

    def extract(self, request: Request) -> str | None:
        """The field's value, normalised, or None when absent or not text."""
        if self.json is not None:
            value = self.json.first(request.json())
        else:
            value = next((v for k, v in request.form() if k == self.form), None)
        if not isinstance(value, str):
            return None
        return normalise_username(value) or None


def normalise_username(value: str) -> str:
    """One spelling per username: ``Alice `` and ``ａｌｉｃｅ`` count as ``alice``."""
    return unicodedata.normalize("NFKC", value).strip().casefold()


def parse_location(node: Node) -> FieldLocation:
    text = node.text()
    kind, _, where = text.partition(":")
    if kind == "json":
        try:
            return FieldLocation(text, json=compile_path(where))
        except ValueError as exc:
            raise node.error(str(exc)) from None
    if kind == "form" and where:
        return FieldLocation(text, form=where)
    raise node.error("json:$.path or form:field")


# -- settings ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ladder:
    """Counts at which each escalation starts; 0 means never."""

    delay: int = 0
    challenge: int = 0
    block: int = 0
    ban: int = 0

    def level(self, count: int) -> int:
        """0 none, 1 delay, 2 challenge, 3 block, 4 ban."""
        steps = (self.delay, self.challenge, self.block, self.ban)
        return max((i + 1 for i, t in enumerate(steps) if t and count >= t), default=0)


@dataclass(frozen=True, slots=True)
class FailureField:
    """A JSON response field whose value marks a failed login."""

    path: JSONPath
    equals: Any = None  # None: any value but null and false


@dataclass(frozen=True, slots=True)
class LoginSettings:
    username: FieldLocation | None = None  # None: not a login route
    failure_status: frozenset[int] = frozenset({401})
    failure_field: FailureField | None = None
    window: float = 900.0  # 15 minutes, as most lockout policies count
    # A user with a typo or two is never slowed; ten failures on one
    # account in a quarter hour is an attack (and the usual bank lockout).
    per_username: Ladder = Ladder(delay=3, challenge=5, block=10)
    per_ip: Ladder = Ladder(delay=5, challenge=10, block=30, ban=100)
    # A /24 or /64 is a household, an office or a NAT: looser thresholds.
    per_network: Ladder = Ladder(challenge=50, block=200)
    # Credential stuffing: many accounts tried from one address.
    distinct_usernames: Ladder = Ladder(challenge=4, block=10, ban=25)
    # Failures / attempts per address, once there are enough attempts.
    failure_ratio: float = 0.9
    ratio_min_attempts: int = 20
    ratio_level: str = "challenge"
    delay_step: float = 0.25  # added per failure past the delay threshold
    max_delay: float = 2.0  # never hold a request longer than this
    ban_for: float = 3600.0
    network_v4: int = 24
    network_v6: int = 64


_LADDERS = ("per_username", "per_ip", "per_network", "distinct_usernames")
_DURATIONS = ("window", "delay_step", "max_delay", "ban_for")


def _parse_top(node: Node) -> LoginSettings:
    return _parse(node, LoginSettings())


def _parse(node: Node, base: LoginSettings) -> LoginSettings:
    known = {f.name for f in fields(LoginSettings)}
    values: dict[str, Any] = {}
    for key, child in node.mapping(known).items():
        values[key] = _value(key, child)
    settings = replace(base, **values)
    if settings.max_delay > 10:
        raise node.child("max_delay", settings.max_delay).error("at most 10s")
    return settings


def _parse_route(node: Node, top: LoginSettings) -> LoginSettings:
    settings = _parse(node, top)
    if settings.username is None:
        raise node.child("username", None).error("json:$.path or form:field", False)
    return settings


def _value(key: str, node: Node) -> Any:
    if key == "username":
        return parse_location(node)
    if key == "failure_status":
        codes = [c.integer(100, 599) for c in node.seq(allow_scalar=True)]
        return frozenset(codes)
    if key == "failure_field":
        return _failure_field(node)
    if key in _LADDERS:
        names = {f.name for f in fields(Ladder)}
        steps = node.mapping(names).items()
        return Ladder(**{name: child.integer(0, 10**9) for name, child in steps})
    if key in _DURATIONS:
        return node.duration()
    if key == "failure_ratio":
        return node.number(0.01, 1.0)
    if key == "ratio_level":
        return node.text(frozenset(_LEVELS[1:]))
    if key == "ratio_min_attempts":
        return node.integer(1, 10**9)
    return node.integer(8, 32 if key == "network_v4" else 128)


def _failure_field(node: Node) -> FailureField:
    if isinstance(node.value, str):
        fields_ = {"path": node}
    else:
        fields_ = node.mapping({"path", "equals"})
    if "path" not in fields_:
        raise node.child("path", None).error("a JSON path such as $.error", False)
    try:
        path = compile_path(fields_["path"].text())
    except ValueError as exc:
        raise fields_["path"].error(str(exc)) from None
    equals = fields_["equals"].value if "equals" in fields_ else None
    return FailureField(path, equals)


register_section(Section("login", _parse_top, _parse_route))


# -- the guard -----------------------------------------------------------------


# The counters of an attempt, in the order of its tallies.
_COUNTERS = ("ip", "network", "tries", "username", "distinct_usernames")


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt's tallies and the counts they returned, by counter name."""

    tallies: tuple[Tally, ...]
    counts: dict[str, int]  # this attempt included


class LoginGuard(Guard):
    """Counts login attempts and escalates against brute force and stuffing."""

    name = "login"
    phase = Phase.RATE

    def __init__(
        self, settings: LoginSettings, store: Store, challenger: Challenger
    ) -> None:
        self.settings = settings
        self.store = store
        self.challenger = challenger
        self._ladders = (
            ("ip", settings.per_ip),
            ("network", settings.per_network),
            ("username", settings.per_username),
            ("distinct_usernames", settings.distinct_usernames),
        )

    async def check(self, ex: Exchange) -> Decision | None:
        tallies = self._tallies(ex)
        try:
            counts = (await self.store.admit((), (), tallies, ex.now)).counts
        except StateError as exc:
            return state_failed(ex, self.name, exc)
        attempt = Attempt(tuple(tallies), dict(zip(_COUNTERS, counts, strict=False)))
        ex.scratch[_PENDING] = attempt
        level, why = self._level(attempt, before=True)
        if level:
            ex.tags["login.level"] = _LEVELS[level]
            ex.tags["login.why"] = why
        return await self._escalate(ex, level, why, attempt)

    def _tallies(self, ex: Exchange) -> list[Tally]:
        s = self.settings
        assert s.username is not None  # the factory builds no guard otherwise
        username = s.username.extract(ex.request)
        address = ex.request.client_ip
        ip = client_id(address)
        net = network_id(address, s.network_v4, s.network_v6)
        tallies = [
            Tally("login:fail:" + digest("ip", ip), s.window),
            Tally("login:fail:" + digest("net", net), s.window),
            Tally("login:tries:" + digest("ip", ip), s.window),
        ]
        if username is not None:
            name = digest("user", username)
            tallies.append(Tally("login:fail:" + name, s.window))
            users = "login:users:" + digest("ip", ip)
            tallies.append(Tally(users, s.window, 1, name, distinct=True))
        return tallies

    def _level(self, attempt: Attempt, before: bool) -> tuple[int, str]:
        """The highest level any counter calls for, and which counter.

        ``before``: judge by the counts before this attempt (at request
        time); otherwise with it (once it failed).
        """
        back = 1 if before else 0
        counts = attempt.counts
        best, why = 0, ""
        for name, ladder in self._ladders:
            if name in counts:
                level = ladder.level(counts[name] - back)
                if level > best:
                    best, why = level, name
        ratio = self._ratio_level(counts["ip"] - back, counts["tries"] - back)
        if ratio > best:
            best, why = ratio, "failure_ratio"
        return best, why

    def _ratio_level(self, failures: int, tries: int) -> int:
        s = self.settings
        if tries < s.ratio_min_attempts or failures < s.failure_ratio * tries:
            return 0
        return _LEVELS.index(s.ratio_level)

    async def _escalate(
        self, ex: Exchange, level: int, why: str, attempt: Attempt
    ) -> Decision | None:
        if level == 4:
            try:
                await clients.ban(ex, self.store, self.settings.ban_for, "login.ban")
            except StateError as exc:
                state_failed(ex, self.name, exc)
            return Decision(Action.BLOCK, 403, 0, (f"login.ban:{why}",))
        if level == 3:
            retry = str(math.ceil(self.settings.window / 10))
            headers = (("Retry-After", retry),)
            return Decision(Action.THROTTLE, 429, 0, (f"login.block:{why}",), headers)
        if level == 2:
            # Each attempt needs its own solution; an attempt refused for
            # want of one stays counted, so ignoring challenges escalates.
            reason = f"login.challenge:{why}"
            return await self.challenger.gate(ex, reason, once=True)
        if level == 1 and ex.route.mode is Mode.BLOCK:
            await asyncio.sleep(self._delay(attempt, why))
        return None

    def _delay(self, attempt: Attempt, why: str) -> float:
        s = self.settings
        ladder = dict(self._ladders).get(why)
        threshold = ladder.delay if ladder is not None else 0
        over = max(1, attempt.counts.get(why, 0) - threshold)
        return min(s.max_delay, s.delay_step * over)

    # -- the response settles the attempt --------------------------------------

    async def on_response(
        self, ex: Exchange, status: int, headers: list[tuple[str, str]]
    ) -> None:
        if self.settings.failure_field is not None and _is_json(headers):
            return  # filter_body decides, from the body
        await self._settle(ex, status in self.settings.failure_status)

    def wants_body(
        self, ex: Exchange, status: int, headers: list[tuple[str, str]]
    ) -> bool:
        return (
            self.settings.failure_field is not None
            and _PENDING in ex.scratch
            and _is_json(headers)
        )

    async def filter_body(
        self, ex: Exchange, status: int, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, bytes]:
        failed = status in self.settings.failure_status or self._says_failed(body)
        await self._settle(ex, failed)
        return status, body

    def _says_failed(self, body: bytes) -> bool:
        rule = self.settings.failure_field
        if rule is None or len(body) > _MAX_BODY:
            return False
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            return False
        value = rule.path.first(document)
        if rule.equals is None:
            return value is not None and value is not False
        return bool(value == rule.equals)

    async def _settle(self, ex: Exchange, failed: bool) -> None:
        attempt = ex.scratch.pop(_PENDING, None)
        if not isinstance(attempt, Attempt):
            return
        ex.tags["login.outcome"] = "failure" if failed else "success"
        if not failed:
            await self._give_back(ex, attempt)
            return
        level, why = self._level(attempt, before=False)
        if level == 4:
            try:
                await clients.ban(ex, self.store, self.settings.ban_for, "login.ban")
            except StateError as exc:
                health.report(self.name, ex.route.path, "ban-skipped", exc)
            ex.tags["login.why"] = why

    async def _give_back(self, ex: Exchange, attempt: Attempt) -> None:
        """Undo an attempt's failure counts (the attempt count stays)."""
        undo = [
            replace(t, amount=-1)
            for t in attempt.tallies
            if not t.key.startswith("login:tries:")
        ]
        ex.scratch.pop(_PENDING, None)
        try:
            await self.store.admit((), (), undo, ex.now)
        except StateError as exc:
            health.report(self.name, ex.route.path, "give-back-skipped", exc)


def _is_json(headers: list[tuple[str, str]]) -> bool:
    for name, value in headers:
        if name.lower() == "content-type":
            media = value.split(";", 1)[0].strip().lower()
            return media == "application/json" or media.endswith("+json")
    return False


@register_guard("login", Phase.RATE)
def _factory(policy: Policy, route: Route, services: Services) -> Guard | None:
    settings: LoginSettings = route.settings["login"]
    if settings.username is None:
        return None
    challenger = challenger_for(policy, route, services.store)
    return LoginGuard(settings, services.store, challenger)
