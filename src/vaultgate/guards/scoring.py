"""Threat scoring: the findings' scores against the route's thresholds.

Detectors add findings with scores; this guard, last in the pipeline, turns
the sum into a decision.  A finding marked ``blocking`` decides on its own.
An incomplete inspection (a limit stopped it) is decided by the policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vaultgate.core.exchange import Exchange
from vaultgate.core.model import Action, Decision, Finding, Phase
from vaultgate.core.policy import Policy, Route, Section, register_section
from vaultgate.core.schema import Node
from vaultgate.guards.base import Guard, Services, register_guard


@dataclass(frozen=True, slots=True)
class ScoringSettings:
    # 5 = one critical finding, or two lesser ones that agree: CRS's
    # inbound threshold at paranoia 1, a well-understood default.
    block_score: int = 5
    # Allowed, but logged with full (redacted) detail as an alert.
    alert_score: int = 3
    # What to do when a limit stopped inspection: block or allow.
    on_incomplete: str = "block"


_KEYS = frozenset({"block_score", "alert_score", "on_incomplete"})


def _parse(node: Node, base: ScoringSettings | None = None) -> ScoringSettings:
    base = base or ScoringSettings()
    fields = node.mapping(_KEYS)
    values: dict[str, Any] = {}
    if "block_score" in fields:
        values["block_score"] = fields["block_score"].integer(1, 10_000)
    if "alert_score" in fields:
        values["alert_score"] = fields["alert_score"].integer(1, 10_000)
    if "on_incomplete" in fields:
        values["on_incomplete"] = fields["on_incomplete"].text(
            frozenset({"block", "allow"})
        )
    merged = ScoringSettings(**{**_asdict(base), **values})
    if merged.alert_score > merged.block_score:
        raise node.error("alert_score not above block_score", show_value=False)
    return merged


def _asdict(settings: ScoringSettings) -> dict[str, Any]:
    return {key: getattr(settings, key) for key in _KEYS}


register_section(Section("scoring", _parse, _parse))


class ScoringGuard(Guard):
    name = "scoring"
    phase = Phase.SCORING

    def __init__(self, settings: ScoringSettings) -> None:
        self.settings = settings

    async def check(self, ex: Exchange) -> Decision | None:
        reasons = _reasons(ex.findings)
        if (
            any(f.blocking for f in ex.findings)
            or ex.score >= self.settings.block_score
        ):
            return Decision(Action.BLOCK, 403, ex.score, reasons)
        if ex.inspection_incomplete and self.settings.on_incomplete == "block":
            reason = "inspection-incomplete:" + ex.inspection_incomplete
            return Decision(Action.BLOCK, 403, ex.score, (*reasons, reason))
        if ex.score >= self.settings.alert_score:
            return Decision(Action.ALERT, 200, ex.score, reasons)
        return None


def _reasons(findings: list[Finding]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(f.rule_id for f in findings))


@register_guard("scoring", Phase.SCORING)
def _factory(policy: Policy, route: Route, services: Services) -> Guard | None:
    return ScoringGuard(route.settings["scoring"])
