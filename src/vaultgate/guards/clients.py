"""Clients as the state store knows them: subjects, bans and threat scores.

A subject names who a ban or a score applies to: ``ip:<address>`` and
``principal:<id>``.  Every guard that bans (traps, enumeration, bulk
exfiltration, rate limits) uses these names, so the one ban check of the
reputation phase sees them all, in every process sharing the store.

The threat score decays exponentially without a read-modify-write: points
earned at time ``t`` are stored multiplied by ``2 ** ((t - e) / half_life)``
in a counter of the epoch starting at ``e``; the score at ``now`` is each
epoch counter times ``2 ** ((e - now) / half_life)``, summed.  Adding is
one atomic ``hit``; an epoch lasts ``_EPOCH_HALF_LIVES`` half-lives, after
which what it holds has decayed to almost nothing, so two epochs suffice.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

from vaultgate.core.exchange import Exchange
from vaultgate.core.model import Mode
from vaultgate.errors import StateError
from vaultgate.state import health
from vaultgate.state.base import Store

T = TypeVar("T")

security_log = logging.getLogger("vaultgate.security")

# Set in ``Exchange.scratch`` by the reputation phase for allow-listed clients.
ALLOWED = "reputation.allow"
# Set in ``Exchange.scratch`` when a client should prove it is not a bot;
# the value is the reason.  A challenge guard (rate phase) serves it.
CHALLENGE = "challenge.requested"

# 8 half-lives: what an epoch held is down to 1/256 when it is dropped.
_EPOCH_HALF_LIVES = 8
# Points are kept in thousandths: counters hold integers.
_SCALE = 1000
_TOLERANCE = 0.01
# A client that just crossed a threshold is held there at least this long,
# or a score right at it would earn a challenge that expires at once.
_MIN_HOLD = 60.0


def ip_subject(address: str) -> str:
    return f"ip:{address}"


def principal_subject(principal_id: str) -> str:
    return f"principal:{principal_id}"


def subjects_of(ex: Exchange) -> list[str]:
    """The subjects a request is attributed to: its IP, then its principal."""
    found = [ip_subject(ex.request.client_ip)]
    if ex.principal is not None:
        found.append(principal_subject(ex.principal.id))
    return found


async def best_effort(ex: Exchange, guard: str, call: Awaitable[T]) -> T | None:
    """Await a store call whose failure must not change the verdict.

    A trap answers as a trap and a foreign object stays refused when the
    store is down; only the ban or the count is lost (logged, counted).
    Answers never fail for it either: the response path has no
    ``on_state_error`` to apply.
    """
    try:
        return await call
    except StateError as exc:
        health.report(guard, ex.route.path, "skipped", exc)
        ex.tags["state.error"] = guard
        return None


def enforcing(ex: Exchange) -> bool:
    """Whether this request may change shared state that blocks later ones.

    Monitor mode records what it would do but bans no one, and an
    allow-listed client is never banned (allow wins over ban).
    """
    return ex.route.mode is Mode.BLOCK and not ex.scratch.get(ALLOWED)


async def ban(ex: Exchange, store: Store, ttl: float, reason: str) -> bool:
    """Ban the request's subjects for ``ttl`` s; False when not enforcing."""
    if ttl <= 0:
        return False
    if not enforcing(ex):
        ex.tags["ban.skipped"] = reason
        return False
    for subject in subjects_of(ex):
        await store.ban(subject, ttl, reason, ex.now)
    ex.tags["ban.reason"] = reason
    ex.tags["ban.ttl"] = ttl
    security_log.warning(
        "ban.added incident=%s reason=%s ttl=%d", ex.incident_id, reason, ttl
    )
    return True


@dataclass(frozen=True, slots=True)
class ScoreSettings:
    """The running threat score: decay, points earned and action thresholds."""

    # 10 minutes: a burst of attacks keeps a client flagged for the next
    # quarter of an hour; an isolated false positive fades within one.
    half_life: float = 600.0
    challenge: float = 30.0
    block: float = 60.0
    ban: float = 100.0
    ban_for: float = 3600.0  # how long a ban earned by the score lasts
    # Points: per unit of a request's anomaly score (a trap hit's finding
    # weighs 10), per blocked request, per 4xx answer from the upstream
    # (storms of them are how scanners look).
    finding: float = 1.0
    blocked: float = 5.0
    client_error: float = 1.0

    def level(self, score: float) -> str | None:
        """The action a score calls for: ban, block, challenge or None."""
        # Stored points are rounded to thousandths: 3 x 10 may read 29.9995.
        score += _TOLERANCE
        if score >= self.ban:
            return "ban"
        if score >= self.block:
            return "block"
        if score >= self.challenge:
            return "challenge"
        return None

    def time_above(self, score: float, threshold: float) -> float:
        """Seconds until ``score`` decays below ``threshold`` (a minute at least)."""
        return max(_MIN_HOLD, self.half_life * math.log2(max(score / threshold, 1.0)))


def challenge_key(subject: str) -> str:
    return f"rep:challenge:{subject}"


async def add_points(
    store: Store, settings: ScoreSettings, subject: str, points: float, now: float
) -> float:
    """Add ``points`` to ``subject``'s score; return the score after it."""
    epoch_len = settings.half_life * _EPOCH_HALF_LIVES
    epoch = math.floor(now / epoch_len)
    start = epoch * epoch_len
    amount = round(points * _SCALE * 2 ** ((now - start) / settings.half_life))
    window = 2 * epoch_len
    current = await store.hit(f"rep:{subject}:{epoch}", window, now, amount)
    previous = await store.count(f"rep:{subject}:{epoch - 1}", window, now)
    return _decayed(current, start, now, settings) + _decayed(
        previous, start - epoch_len, now, settings
    )


async def read_score(
    store: Store, settings: ScoreSettings, subject: str, now: float
) -> float:
    """``subject``'s current score."""
    epoch_len = settings.half_life * _EPOCH_HALF_LIVES
    epoch = math.floor(now / epoch_len)
    start = epoch * epoch_len
    window = 2 * epoch_len
    current = await store.count(f"rep:{subject}:{epoch}", window, now)
    previous = await store.count(f"rep:{subject}:{epoch - 1}", window, now)
    return _decayed(current, start, now, settings) + _decayed(
        previous, start - epoch_len, now, settings
    )


def _decayed(total: int, start: float, now: float, settings: ScoreSettings) -> float:
    if total == 0:
        return 0.0
    return float(total) / _SCALE * 2 ** ((start - now) / settings.half_life)


async def raise_score(ex: Exchange, store: Store, points: float, why: str) -> None:
    """Add points to every subject of ``ex`` and escalate past thresholds."""
    settings = _settings(ex)
    if settings is None or points <= 0 or ex.scratch.get(ALLOWED):
        return
    for subject in subjects_of(ex):
        score = await add_points(store, settings, subject, points, ex.now)
        level = settings.level(score)
        if level is not None:
            await _escalate(ex, store, settings, subject, score, level)
            ex.tags["reputation.level"] = level
            ex.tags["reputation.why"] = why


async def _escalate(
    ex: Exchange,
    store: Store,
    settings: ScoreSettings,
    subject: str,
    score: float,
    level: str,
) -> None:
    if not enforcing(ex):
        return
    # A ban in place (a trap's, a longer one) is never shortened by this.
    if level != "challenge" and await store.banned([subject], ex.now):
        return
    if level == "ban":
        await store.ban(subject, settings.ban_for, "reputation.ban", ex.now)
        security_log.warning(
            "reputation.ban incident=%s score=%.1f", ex.incident_id, score
        )
    elif level == "block":
        ttl = settings.time_above(score, settings.block)
        await store.ban(subject, ttl, "reputation.block", ex.now)
    elif subject.startswith("ip:"):
        # Challenges are served in the rate phase, before a token names the
        # principal: only an address can be asked to solve one.
        ttl = settings.time_above(score, settings.challenge)
        await store.put(challenge_key(subject), b"1", ttl, ex.now)


def _settings(ex: Exchange) -> ScoreSettings | None:
    reputation = ex.policy.settings.get("reputation")
    score = getattr(reputation, "score", None)
    return score if isinstance(score, ScoreSettings) else None
