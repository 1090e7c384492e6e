"""The per-request record that every phase reads and adds to.

An ``Exchange`` carries the request, the route it matched, the principal
once a token or key identified one, the findings so far and the audit
fields guards want recorded.  It is created once per request by the engine
and passed by reference; nothing in it does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vaultgate.core.model import Decision, Finding, Principal
from vaultgate.core.policy import Policy, Route
from vaultgate.core.request import Request


@dataclass(slots=True)
class Exchange:
    """A request on its way through the pipeline, and what was learnt."""

    request: Request
    policy: Policy
    route: Route
    params: Mapping[str, str]  # route template parameters, decoded
    now: float  # wall-clock seconds (time.time()) when the head arrived
    incident_id: str
    normalized_path: str = ""
    principal: Principal | None = None
    findings: list[Finding] = field(default_factory=list)
    score: int = 0
    # Set when a limit stopped inspection (body too long, too deep...).
    inspection_incomplete: str = ""
    decision: Decision | None = None
    # Fields for the audit event, set by guards ("login.username": ...).
    # Values must already be redacted: the audit writer logs them as given.
    tags: dict[str, Any] = field(default_factory=dict)
    # Per-request scratch that guards share (parsed body values, ...).
    scratch: dict[str, Any] = field(default_factory=dict)

    def add(self, finding: Finding) -> None:
        """Record a finding and add its score."""
        self.findings.append(finding)
        self.score += finding.score

    @property
    def route_key(self) -> str:
        return self.route.path
