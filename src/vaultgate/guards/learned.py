"""Learned threat scoring: the attack-likelihood model and the route model.

How this works.  Both guards run in the payload phase after inspection
(guards of a phase run by name: ``inspection``, ``learned``,
``route-model``) and reuse the values inspection extracted and decoded
(``ex.scratch``), extracting them only when inspection is off.  Neither
decides: each adds a finding whose score joins the rule findings in the
scoring guard, and the request's score feeds the client's running threat
score like any other (``guards.clients``).  ``monitor: true`` records what
a model would have added (audit tags) without adding it.

Policy keys (top level and per route)::

    model:
      enabled: true       # the attack-likelihood model (shipped with vaultgate)
      file: ""            # another model file written by `vaultgate train`
      likely: 0.0         # probability thresholds; 0 = the model file's
      certain: 0.0
      likely_score: 3     # finding scores at each threshold
      certain_score: 5
      weight: 1.0         # multiplies both scores on this route
      monitor: false
      cache: 4096         # distinct short values whose scores are kept
    learning:
      mode: off           # off | learn | enforce
      file: ""            # the route-model JSON file (required unless off)
      min_clients: 3      # distinct clients before a shape is trusted
      weight: 1.0
      scores: {path: 5, method: 5, param: 5, enum: 5, type: 5, chars: 5,
               length: 5}
      max_score: 10
      flush_every: 30s    # learn mode: how often the file is updated
      monitor: false
"""

from __future__ import annotations

import atexit
import os
import time
from dataclasses import dataclass, field, replace
from typing import Any

from vaultgate.core.exchange import Exchange
from vaultgate.core.model import Action, Decision, Finding, Phase
from vaultgate.core.policy import Policy, Route, Section, register_section
from vaultgate.core.schema import Node
from vaultgate.detect.base import Value
from vaultgate.detect.engine import MAX_SNIPPET, mask_cards
from vaultgate.detect.extract import extract
from vaultgate.detect.normalize import expand_all
from vaultgate.guards.base import Guard, Services, register_guard
from vaultgate.ml.learner import Learner, flush_all, learner_for, load_route_model
from vaultgate.ml.model import Model, ScoreCache, has_code_words, load_model
from vaultgate.ml.routes import Deviation, RouteModel, client_digest, parameters

# Set by the inspection guard: the decoded values it scanned, and the
# values as extracted (before decoding).
VALUES = "inspection.values"
RAW_VALUES = "inspection.raw"
# A request scoring this much (a warning-level finding) makes its client
# distrusted by learning; notices alone only keep that request out.
FLAG_SCORE = 3
# Probabilities are recorded in audit tags with this many decimals.
_DIGITS = 4
DEVIATION_KINDS = ("path", "method", "param", "enum", "type", "chars", "length")


@dataclass(frozen=True, slots=True)
class ModelSettings:
    """One route's settings for the attack-likelihood model."""

    enabled: bool = True
    file: str = ""
    likely: float = 0.0  # 0: the threshold stored in the model file
    certain: float = 0.0
    likely_score: int = 3  # with one warning-level rule finding: blocked
    certain_score: int = 5  # blocked on its own at the default block_score
    weight: float = 1.0
    monitor: bool = False
    # Distinct short values whose scores are kept (0: none): user agents
    # and enumerations repeat, and a kept score is exact.
    cache: int = 4096


@dataclass(frozen=True, slots=True)
class LearningSettings:
    """One route's settings for the learned route model."""

    mode: str = "off"
    file: str = ""
    # 3 clients: one client (or two colluding) cannot teach a shape.
    min_clients: int = 3
    weight: float = 1.0
    scores: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(DEVIATION_KINDS, 5)
    )
    # A request far outside in many ways still scores at most this.
    max_score: int = 10
    flush_every: float = 30.0
    monitor: bool = False


_MODEL_KEYS = frozenset(
    {"enabled", "file", "likely", "certain", "likely_score", "certain_score"}
    | {"weight", "monitor", "cache"}
)
_LEARNING_KEYS = frozenset(
    {"mode", "file", "min_clients", "weight", "scores", "max_score"}
    | {"flush_every", "monitor"}
)


def _parse_model(node: Node, base: ModelSettings | None = None) -> ModelSettings:
    settings = base or ModelSettings()
    values: dict[str, Any] = {}
    for key, child in node.mapping(_MODEL_KEYS).items():
        if key in ("enabled", "monitor"):
            values[key] = child.flag()
        elif key == "file":
            values[key] = child.text()
        elif key in ("likely", "certain"):
            values[key] = child.number(0.0, 1.0)
        elif key == "weight":
            values[key] = child.number(0.0, 100.0)
        elif key == "cache":
            values[key] = child.integer(0, 1_000_000)
        else:
            values[key] = child.integer(0, 10_000)
    settings = replace(settings, **values)
    if settings.enabled:
        load_model(settings.file)  # a missing or wrong file fails at load
    return settings


def _parse_learning(
    node: Node, base: LearningSettings | None = None
) -> LearningSettings:
    settings = base or LearningSettings()
    values: dict[str, Any] = {}
    for key, child in node.mapping(_LEARNING_KEYS).items():
        if key == "mode":
            values[key] = child.text(frozenset({"off", "learn", "enforce"}))
        elif key == "file":
            values[key] = child.text()
        elif key in ("min_clients", "max_score"):
            values[key] = child.integer(1, 10_000)
        elif key == "weight":
            values[key] = child.number(0.0, 100.0)
        elif key == "flush_every":
            values[key] = child.duration()
        elif key == "monitor":
            values[key] = child.flag()
        else:
            values[key] = _scores(child, settings.scores)
    settings = replace(settings, **values)
    if settings.mode != "off" and not settings.file:
        raise node.child("file", None).error("a file for the route model", False)
    if settings.mode == "enforce":
        if not os.path.exists(settings.file):
            where = node.child("file", settings.file)
            raise where.error("a route model file (vaultgate train --route-model)")
        try:
            _enforced_model(settings.file)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            where = node.child("file", settings.file)
            raise where.error(f"a route model written by vaultgate ({exc})") from None
    return settings


def _scores(node: Node, base: dict[str, int]) -> dict[str, int]:
    scores = dict(base)
    for key, child in node.mapping(frozenset(DEVIATION_KINDS)).items():
        scores[key] = child.integer(0, 10_000)
    return scores


register_section(Section("model", _parse_model, _parse_model))
register_section(Section("learning", _parse_learning, _parse_learning))


def request_values(ex: Exchange) -> tuple[list[Value], list[Value]]:
    """Decoded and raw values of the request, from inspection when it ran."""
    values = ex.scratch.get(VALUES)
    raw = ex.scratch.get(RAW_VALUES)
    if values is None or raw is None:
        raw = extract(ex.request).values
        values = expand_all(raw)
        ex.scratch[VALUES], ex.scratch[RAW_VALUES] = values, raw
    return values, raw


def client_of(ex: Exchange) -> str:
    """Who taught or sent a request: the principal, else the address."""
    if ex.principal is not None:
        return "principal:" + ex.principal.id
    return "ip:" + ex.request.client_ip


# -- the attack-likelihood model ---------------------------------------------------


class ModelGuard(Guard):
    """Adds a finding when a value looks like an attack to the model."""

    name = "learned"
    phase = Phase.PAYLOAD

    def __init__(self, settings: ModelSettings, model: Model) -> None:
        self.settings = settings
        self.model = model
        self.cache = _cache_for(model, settings.cache)
        has_code_words("")  # compiles the fast path's database at load time
        self.likely = settings.likely or model.threshold
        self.certain = max(self.likely, settings.certain or model.strong)

    async def check(self, ex: Exchange) -> Decision | None:
        values, raw = request_values(ex)
        raw_texts = frozenset(v.text for v in raw)
        assessment = self.model.assess(values, raw_texts, self.cache)
        value = assessment.value
        if value is None or assessment.probability < self.likely:
            return None
        certain = assessment.probability >= self.certain
        rule = "ml.attack" if certain else "ml.suspicious"
        base = self.settings.certain_score if certain else self.settings.likely_score
        location = f"{value.kind}:{value.name}"
        ex.tags["model.probability"] = round(assessment.probability, _DIGITS)
        ex.tags["model.location"] = location
        if self.settings.monitor:
            ex.tags["model.monitor"] = rule
            return None
        snippet = mask_cards(value.text[:MAX_SNIPPET])
        score = round(base * self.settings.weight)
        ex.add(Finding("ml", rule, score, location, snippet, assessment.probability))
        return None


_CACHES: dict[tuple[int, int], ScoreCache] = {}


def _cache_for(model: Model, size: int) -> ScoreCache | None:
    """One score cache per model and size, shared by the routes using it."""
    if size == 0:
        return None
    key = (id(model), size)
    cache = _CACHES.get(key)
    if cache is None:
        cache = _CACHES[key] = ScoreCache(size)
    return cache


@register_guard("learned", Phase.PAYLOAD)
def _model_factory(policy: Policy, route: Route, services: Services) -> Guard | None:
    settings: ModelSettings = route.settings["model"]
    if not settings.enabled or settings.weight == 0:
        return None
    return ModelGuard(settings, load_model(settings.file))


# -- the route model ----------------------------------------------------------------


class RouteLearnGuard(Guard):
    """Learn mode: records the clean requests of trustworthy clients."""

    name = "route-model"
    phase = Phase.PAYLOAD

    def __init__(self, learner: Learner) -> None:
        self.learner = learner

    async def on_decision(self, ex: Exchange, decision: Decision) -> None:
        client = client_of(ex)
        if ex.findings or ex.score or decision.action.stops:
            # Never learnt from; the sender is distrusted for a while unless
            # all it earned were notices (a Host header that is an address).
            if decision.action is not Action.ALLOW or ex.score >= FLAG_SCORE:
                self.learner.flag(client, ex.now)
            return
        if self.learner.is_flagged(client, ex.now):
            return
        _, raw = request_values(ex)
        self.learner.learn(
            ex.request.method,
            ex.normalized_path or ex.request.path,
            parameters(raw),
            client_digest(client),
            ex.now,
        )


class RouteEnforceGuard(Guard):
    """Enforce mode: scores what is far outside the learnt traffic."""

    name = "route-model"
    phase = Phase.PAYLOAD

    def __init__(self, settings: LearningSettings, model: RouteModel) -> None:
        self.settings = settings
        self.model = model

    async def check(self, ex: Exchange) -> Decision | None:
        _, raw = request_values(ex)
        found = self.model.check(
            ex.request.method,
            ex.normalized_path or ex.request.path,
            parameters(raw),
            self.settings.min_clients,
        )
        if not found:
            return None
        ex.tags["route_model.deviations"] = [f"{d.kind}:{d.where}" for d in found]
        if self.settings.monitor:
            return None
        ex.add(self._finding(found))
        return None

    def _finding(self, found: list[Deviation]) -> Finding:
        settings = self.settings
        total = sum(settings.scores[d.kind] for d in found) * settings.weight
        first = found[0]
        kinds = ",".join(dict.fromkeys(d.kind for d in found))
        return Finding(
            "route",
            "route." + first.kind,
            min(settings.max_score, round(total)),
            "route:" + first.where,
            kinds,
        )


@register_guard("route-model", Phase.PAYLOAD)
def _route_factory(policy: Policy, route: Route, services: Services) -> Guard | None:
    settings: LearningSettings = route.settings["learning"]
    if settings.mode == "learn":
        return RouteLearnGuard(learner_for(settings.file, settings.flush_every))
    if settings.mode == "enforce":
        return RouteEnforceGuard(settings, _enforced_model(settings.file))
    return None


_ENFORCED: dict[str, tuple[float, RouteModel]] = {}


def _enforced_model(path: str) -> RouteModel:
    """The model file's content, re-read when the file changed since."""
    try:
        stamp = os.stat(path).st_mtime
    except OSError:
        stamp = 0.0  # removed since the policy loaded: nothing enforced
    cached = _ENFORCED.get(path)
    if cached is None or cached[0] != stamp:
        cached = _ENFORCED[path] = (stamp, load_route_model(path))
    return cached[1]


# What was learnt since the last flush is not lost at a clean shutdown.
atexit.register(lambda: flush_all(time.time()))
