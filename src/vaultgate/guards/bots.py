"""Bot detection: header signals, cadence, ignored challenges and JA4.

How this works: per request, ``core.fingerprint`` compares what the
User-Agent claims with the headers that came with it; this guard adds the
signals it keeps per process (a too-regular request cadence, challenges a
client never solved) and the TLS fingerprint when vaultgate terminated TLS
and the proxy computed one (``Request.tls.ja4``; when it is empty the JA4
signals are skipped).  The signals become findings (score 0: the bot score
has its own thresholds) and a bot score; past ``challenge_score`` the
client must pass a proof-of-work challenge (``guards.challenge``), past
``block_score`` it is refused.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from dataclasses import dataclass, fields, replace
from typing import Any

from vaultgate.core import fingerprint
from vaultgate.core.exchange import Exchange
from vaultgate.core.fingerprint import Signal
from vaultgate.core.model import Action, Decision, Finding, Phase
from vaultgate.core.policy import Policy, Route, Section, register_section
from vaultgate.core.schema import Node
from vaultgate.guards import clients
from vaultgate.guards.base import Guard, Services, register_guard
from vaultgate.guards.challenge import TRACKER
from vaultgate.state.keys import client_id

# Scores of the signals this module adds itself.
CADENCE = 3
IGNORED_CHALLENGES = 3
JA4_DENIED = 5
JA4_NO_ALPN = 2
# Two challenges left unsolved is a client that does not run the page.
_IGNORED_AFTER = 2
# Clients whose cadence is tracked, per process: bounded against botnets.
_MAX_CLIENTS = 100_000


@dataclass(frozen=True, slots=True)
class BotSettings:
    enabled: bool = False
    browser_only: bool = False  # only browsers use this route
    challenge_score: int = 5
    block_score: int = 0  # 0: never block on the bot score alone
    header_order: bool = True
    # Too-regular timing: the last ``cadence_requests`` intervals vary
    # less than ``cadence_max_cv`` (std / mean).  Off by default: API
    # clients that poll on a timer are regular and legitimate.
    cadence: bool = False
    cadence_requests: int = 8
    cadence_max_cv: float = 0.1
    ja4_deny: tuple[str, ...] = ()


def _parse(node: Node, base: BotSettings | None = None) -> BotSettings:
    values: dict[str, Any] = {}
    for key, child in node.mapping({f.name for f in fields(BotSettings)}).items():
        values[key] = _value(key, child)
    settings = replace(base or BotSettings(), **values)
    if settings.block_score and settings.block_score < settings.challenge_score:
        raise node.error("block_score of 0 or at least challenge_score", False)
    return settings


def _value(key: str, node: Node) -> Any:
    if key in ("enabled", "browser_only", "header_order", "cadence"):
        return node.flag()
    if key in ("challenge_score", "block_score"):
        return node.integer(0 if key == "block_score" else 1, 1000)
    if key == "cadence_requests":
        return node.integer(3, 100)
    if key == "cadence_max_cv":
        return node.number(0.0, 1.0)
    return tuple(item.text() for item in node.seq(allow_scalar=True))


register_section(Section("bots", _parse, _parse))


class Cadence:
    """Recent arrival times per client, bounded, in this process."""

    def __init__(self, capacity: int = _MAX_CLIENTS) -> None:
        self._capacity = capacity
        self._times: OrderedDict[str, deque[float]] = OrderedDict()

    def regular(self, client: str, now: float, intervals: int, max_cv: float) -> bool:
        """Record an arrival; True when the last ``intervals`` are too even."""
        times = self._times.pop(client, None) or deque(maxlen=intervals + 1)
        times.append(now)
        self._times[client] = times
        if len(self._times) > self._capacity:
            self._times.popitem(last=False)
        if len(times) <= intervals:
            return False
        gaps = [b - a for a, b in zip(times, list(times)[1:], strict=False)]
        mean = sum(gaps) / len(gaps)
        if mean <= 0:
            return True  # a burst of simultaneous requests is not a person
        spread = math.sqrt(sum((g - mean) ** 2 for g in gaps) / len(gaps))
        return spread / mean < max_cv


CADENCE_LOG = Cadence()


class BotGuard(Guard):
    """Scores a request's bot signals and asks for a challenge past a threshold."""

    name = "bots"
    phase = Phase.RATE

    def __init__(self, settings: BotSettings, solve_within: float) -> None:
        self.settings = settings
        self._within = solve_within

    async def check(self, ex: Exchange) -> Decision | None:
        if ex.scratch.get(clients.ALLOWED):
            return None
        found = self.signals(ex)
        if not found:
            return None
        score = sum(s.score for s in found)
        for signal in found:
            ex.add(Finding("bots", signal.rule, 0, "headers"))
        ex.tags["bots.score"] = score
        reasons = tuple(s.rule for s in found)
        if self.settings.block_score and score >= self.settings.block_score:
            return Decision(Action.BLOCK, 403, 0, reasons)
        if score >= self.settings.challenge_score:
            ex.scratch.setdefault(clients.CHALLENGE, "bots")
        return None

    def signals(self, ex: Exchange) -> list[Signal]:
        """Header, cadence, challenge and TLS signals of this request."""
        s = self.settings
        request = ex.request
        agent = fingerprint.parse_agent(request.header("user-agent") or "")
        secure = request.scheme == "https"
        http1 = request.version.startswith("1")
        found = fingerprint.signals(
            request.headers, agent, secure, s.browser_only, s.header_order and http1
        )
        client = client_id(request.client_ip)
        if s.cadence and CADENCE_LOG.regular(
            client, ex.now, s.cadence_requests, s.cadence_max_cv
        ):
            found.append(Signal("bots.cadence", CADENCE))
        if TRACKER.ignored(client, ex.now, self._within) >= _IGNORED_AFTER:
            found.append(Signal("bots.ignored-challenges", IGNORED_CHALLENGES))
        return found + self._tls(ex, agent)

    def _tls(self, ex: Exchange, agent: fingerprint.Agent) -> list[Signal]:
        ja4 = ex.request.tls.ja4 if ex.request.tls is not None else ""
        if not ja4:
            return []
        if any(ja4.startswith(prefix) for prefix in self.settings.ja4_deny):
            return [Signal("bots.ja4-denied", JA4_DENIED)]
        # Every browser offers ALPN (h2, http/1.1); most TLS libraries do
        # not unless told to.
        if agent.family and fingerprint.ja4_alpn(ja4) == "00":
            return [Signal("bots.ja4-no-alpn", JA4_NO_ALPN)]
        return []


@register_guard("bots", Phase.RATE)
def _factory(policy: Policy, route: Route, services: Services) -> Guard | None:
    settings: BotSettings = route.settings["bots"]
    if not settings.enabled:
        return None
    return BotGuard(settings, route.settings["challenge"].solve_within)
