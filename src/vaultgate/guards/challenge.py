"""Proof-of-work challenges: served when a guard asks, redeemed for clearance.

How this works: a guard that wants a client to prove it is a real browser
either sets ``Exchange.scratch[clients.CHALLENGE]`` (the bot and reputation
guards) or calls ``Challenger.gate`` itself (the login guard).  A client
passes with a clearance (cookie ``vg_clearance`` or header
``X-PoW-Clearance``) or with a one-shot ``X-PoW-Solution: <challenge>:<n>``
header; otherwise it gets 429 with ``WWW-Authenticate: PoW ...`` and, when
it accepts HTML, a page whose script does the work.  Solutions are posted to
``ENDPOINT``, checked (``core.pow``), refused if seen before, and answered
with a clearance bound to the client's address and user agent.

The signing key comes from the environment variable ``challenge.key_env``
names; without one, each process makes its own, so clearances do not carry
from one process or restart to the next (logged at start).
"""

from __future__ import annotations

import base64
import logging
import os
from collections import OrderedDict
from dataclasses import dataclass, fields, replace
from typing import Any

import orjson

from vaultgate.core import pow
from vaultgate.core.exchange import Exchange
from vaultgate.core.model import Action, Decision, Phase
from vaultgate.core.policy import Policy, Route, Section, register_section
from vaultgate.core.schema import Node
from vaultgate.errors import PolicyError, StateError
from vaultgate.guards import clients
from vaultgate.guards.base import Guard, Services, register_guard
from vaultgate.guards.challenge_page import render_page
from vaultgate.state import health
from vaultgate.state.base import Store
from vaultgate.state.keys import client_id, digest

log = logging.getLogger("vaultgate.security")

ENDPOINT = "/.well-known/vaultgate/challenge"
SOLUTION_HEADER = "x-pow-solution"
CLEARANCE_HEADER = "x-pow-clearance"
# A key shorter than 32 characters is guessable offline from one token.
_MIN_KEY = 32
# A posted solution is a few hundred bytes; anything longer is not one.
_MAX_SOLUTION = 1024
# Clients remembered as challenged, per process: enough for a busy login
# page, bounded so a botnet cannot grow it.
_MAX_TRACKED = 100_000


@dataclass(frozen=True, slots=True)
class ChallengeSettings:
    # 18 bits: about 260k hashes, under a second in a phone's browser and
    # a real cost per attempt for a credential-stuffing rig.
    difficulty: int = 18
    solve_within: float = 300.0  # a challenge is good for 5 minutes
    clearance_for: float = 1800.0  # a clearance for 30
    key_env: str = "VAULTGATE_CHALLENGE_KEY"
    cookie: str = "vg_clearance"


def _parse(node: Node, base: ChallengeSettings | None = None) -> ChallengeSettings:
    known = {f.name for f in fields(ChallengeSettings)}
    values: dict[str, Any] = {}
    for key, child in node.mapping(known).items():
        if key == "difficulty":
            values[key] = child.integer(1, pow.MAX_DIFFICULTY)
        elif key in ("solve_within", "clearance_for"):
            values[key] = child.duration()
        else:
            values[key] = child.text()
    return replace(base or ChallengeSettings(), **values)


register_section(Section("challenge", _parse, _parse))

_EPHEMERAL = os.urandom(32)
_WARNED: set[str] = set()


def signing_key(policy: Policy, settings: ChallengeSettings) -> bytes:
    """The HMAC key: the environment's, or this process's own."""
    value = os.environ.get(settings.key_env, "")
    if not value:
        if settings.key_env not in _WARNED:
            _WARNED.add(settings.key_env)
            log.warning("challenge.key.ephemeral env=%s", settings.key_env)
        return _EPHEMERAL
    if len(value) < _MIN_KEY:
        raise PolicyError(
            policy.source,
            "challenge.key_env",
            f"${settings.key_env} of at least {_MIN_KEY} characters",
            None,
        )
    return value.encode("utf-8")


class Challenger:
    """Issues, checks and redeems one route's challenges."""

    def __init__(self, settings: ChallengeSettings, key: bytes, store: Store) -> None:
        self.settings = settings
        self._key = key
        self._store = store

    def binding(self, ex: Exchange) -> bytes:
        agent = ex.request.header("user-agent") or ""
        return pow.client_binding(client_id(ex.request.client_ip), agent)

    async def gate(
        self, ex: Exchange, reason: str, once: bool = False
    ) -> Decision | None:
        """None if the client passes, else the challenge to answer with.

        ``once``: a clearance pays for one request only (login attempts).
        """
        if await self.passes(ex, once):
            return None
        return self.challenge(ex, reason)

    async def passes(self, ex: Exchange, once: bool = False) -> bool:
        """A valid clearance, or a fresh one-shot solution in a header."""
        binding = self.binding(ex)
        token = _clearance_token(ex, self.settings.cookie)
        now = int(ex.now)
        if token and pow.clearance_valid(self._key, token, binding, now):
            TRACKER.cleared(client_id(ex.request.client_ip))
            if not once:
                return True
            ttl = self.settings.clearance_for + pow.CLOCK_SKEW
            if await self._fresh(ex, "pow:used:" + digest(token), ttl):
                return True
        solution = ex.request.header(SOLUTION_HEADER)
        if solution:
            challenge, _, counter = solution.strip().rpartition(":")
            return await self._accept(ex, challenge, counter, binding) is None
        return False

    async def _accept(
        self, ex: Exchange, challenge: str, counter: str, binding: bytes
    ) -> str | None:
        """None when the solution is good and new, else why not."""
        settings = self.settings
        verdict = pow.verify(
            self._key,
            challenge,
            counter,
            binding,
            int(ex.now),
            int(settings.solve_within),
            settings.difficulty,
        )
        if not verdict.ok:
            return verdict.reason
        ttl = settings.solve_within + pow.CLOCK_SKEW
        fresh = await self._fresh(ex, "pow:" + verdict.nonce, ttl)
        return None if fresh else "replayed"

    async def _fresh(self, ex: Exchange, key: str, ttl: float) -> bool:
        """First use of ``key``; on a store failure, the route decides."""
        try:
            return await self._store.first_seen(key, ttl, ex.now)
        except StateError as exc:
            # Without the replay check a solution or clearance could be
            # reused by the same client for a few minutes.
            action = str(ex.route.settings.get("on_state_error", "allow"))
            health.report("challenge", ex.route.path, action, exc)
            return action == "allow"

    def challenge(self, ex: Exchange, reason: str) -> Decision:
        """A 429 carrying a new challenge, as a page for browsers."""
        settings = self.settings
        token = pow.issue(
            self._key,
            os.urandom(16),
            int(ex.now),
            settings.difficulty,
            self.binding(ex),
        )
        TRACKER.challenged(client_id(ex.request.client_ip), ex.now)
        www = (
            f'PoW realm="vaultgate", challenge="{token}", '
            f'difficulty={settings.difficulty}, algorithm="sha-256", '
            f'endpoint="{ENDPOINT}"'
        )
        headers = [("WWW-Authenticate", www), ("Cache-Control", "no-store")]
        reasons = (reason,)
        if not _wants_html(ex):
            detail = (
                "Solve the proof-of-work challenge in WWW-Authenticate, then retry."
            )
            return Decision(Action.CHALLENGE, 429, 0, reasons, tuple(headers), detail)
        nonce = base64.b64encode(os.urandom(12)).decode("ascii")
        headers += _page_headers(nonce)
        reload = ex.request.method in ("GET", "HEAD")
        body = render_page(token, settings.difficulty, ENDPOINT, reload, nonce)
        return Decision(
            Action.CHALLENGE,
            429,
            0,
            reasons,
            tuple(headers),
            body=body,
            content_type="text/html; charset=utf-8",
        )

    async def redeem(self, ex: Exchange) -> Decision:
        """Answer a solution posted to ``ENDPOINT``: a clearance, or 403."""
        challenge, counter = _posted_solution(ex)
        why = await self._accept(ex, challenge, counter, self.binding(ex))
        if why is not None:
            ex.tags["challenge.refused"] = why
            return Decision(Action.BLOCK, 403, 0, ("challenge.refused",))
        ttl = int(self.settings.clearance_for)
        token = pow.clearance(self._key, int(ex.now) + ttl, self.binding(ex))
        TRACKER.cleared(client_id(ex.request.client_ip))
        body = orjson.dumps({"clearance": token, "expires_in": ttl})
        headers = (
            ("Set-Cookie", self._cookie(ex, token, ttl)),
            ("Cache-Control", "no-store"),
        )
        return Decision(
            Action.CHALLENGE,
            200,
            0,
            ("challenge.passed",),
            headers,
            body=body,
            content_type="application/json",
        )

    def _cookie(self, ex: Exchange, token: str, ttl: int) -> str:
        secure = "; Secure" if ex.request.scheme == "https" else ""
        name = self.settings.cookie
        return f"{name}={token}; Path=/; Max-Age={ttl}; HttpOnly; SameSite=Lax{secure}"


def _clearance_token(ex: Exchange, cookie: str) -> str:
    header = ex.request.header(CLEARANCE_HEADER)
    if header:
        return header.strip()
    for name, value in ex.request.cookies:
        if name == cookie:
            return value
    return ""


def _posted_solution(ex: Exchange) -> tuple[str, str]:
    request = ex.request
    header = request.header(SOLUTION_HEADER)
    if header:
        challenge, _, counter = header.strip().rpartition(":")
        return challenge, counter
    if len(request.body) > _MAX_SOLUTION:
        return "", ""
    posted = request.json()
    if isinstance(posted, dict):
        text, number = posted.get("challenge"), posted.get("counter")
        if isinstance(text, str) and isinstance(number, str | int):
            return text, str(number)
    return "", ""


def _wants_html(ex: Exchange) -> bool:
    accept = ex.request.header("accept") or ""
    return "text/html" in accept


def _page_headers(nonce: str) -> list[tuple[str, str]]:
    policy = (
        f"default-src 'none'; script-src 'nonce-{nonce}'; "
        "style-src 'unsafe-inline'; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )
    return [
        ("Content-Security-Policy", policy),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "no-referrer"),
    ]


class ChallengeTracker:
    """Which clients this process challenged and that never came back cleared.

    A browser solves the page and returns with a clearance; a script that
    cannot run it keeps coming back without one.  Per process on purpose:
    it is a hint for the bot score, not a shared verdict.
    """

    def __init__(self, capacity: int = _MAX_TRACKED) -> None:
        self._capacity = capacity
        self._open: OrderedDict[str, tuple[float, int]] = OrderedDict()

    def challenged(self, client: str, now: float) -> None:
        first, count = self._open.pop(client, (now, 0))
        self._open[client] = (first, count + 1)
        if len(self._open) > self._capacity:
            self._open.popitem(last=False)

    def cleared(self, client: str) -> None:
        self._open.pop(client, None)

    def ignored(self, client: str, now: float, within: float) -> int:
        """Challenges ``client`` was given in the last ``within`` s, unsolved."""
        entry = self._open.get(client)
        if entry is None or now - entry[0] > within:
            return 0
        return entry[1]


TRACKER = ChallengeTracker()


class ChallengeGuard(Guard):
    """Redeems posted solutions and serves challenges other guards asked for."""

    name = "challenge"
    phase = Phase.RATE

    def __init__(self, challenger: Challenger) -> None:
        self.challenger = challenger

    async def check(self, ex: Exchange) -> Decision | None:
        if ex.normalized_path == ENDPOINT and ex.request.method == "POST":
            return await self.challenger.redeem(ex)
        return await self._serve(ex)

    async def _serve(self, ex: Exchange) -> Decision | None:
        reason = ex.scratch.get(clients.CHALLENGE)
        if not reason or ex.scratch.get(clients.ALLOWED) or ex.scratch.get(_SERVED):
            return None
        ex.scratch[_SERVED] = True
        return await self.challenger.gate(ex, f"challenge.{reason}")


class LateChallengeGuard(ChallengeGuard):
    """Serves challenges asked for once the principal was known."""

    name = "challenge.late"
    phase = Phase.AUTHZ

    async def check(self, ex: Exchange) -> Decision | None:
        return await self._serve(ex)


_SERVED = "challenge.served"


def challenger_for(policy: Policy, route: Route, store: Store) -> Challenger:
    """The route's challenger (its settings, the process's key)."""
    settings: ChallengeSettings = route.settings["challenge"]
    return Challenger(settings, signing_key(policy, settings), store)


@register_guard("challenge", Phase.RATE)
def _factory(policy: Policy, route: Route, services: Services) -> Guard | None:
    return ChallengeGuard(challenger_for(policy, route, services.store))


@register_guard("challenge.late", Phase.AUTHZ)
def _late_factory(policy: Policy, route: Route, services: Services) -> Guard | None:
    return LateChallengeGuard(challenger_for(policy, route, services.store))
