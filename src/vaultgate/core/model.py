"""Values that flow through the pipeline: findings, decisions, principals.

A detector or guard reports what it saw as ``Finding`` values; the pipeline
turns them, with the scores and the policy's thresholds, into exactly one
``Decision``.  Blocking is a value, never an exception.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Phase(enum.IntEnum):
    """The pipeline's phases, in the order they run (see DESIGN.md)."""

    PROTOCOL = 1
    REPUTATION = 2
    TRAPS = 3
    RATE = 4
    TOKENS = 5
    AUTHZ = 6
    PAYLOAD = 7
    SCORING = 8


class Action(enum.Enum):
    """What happens to a request."""

    ALLOW = "allow"
    ALERT = "alert"  # allow, but the audit event is an alert
    THROTTLE = "throttle"  # 429 with Retry-After
    CHALLENGE = "challenge"  # proof-of-work or similar before going on
    BLOCK = "block"

    @property
    def stops(self) -> bool:
        """Whether this action keeps the request from the upstream."""
        return self in _STOPPING


_STOPPING = frozenset({Action.THROTTLE, Action.CHALLENGE, Action.BLOCK})


class Mode(enum.Enum):
    """How a route's decisions are enforced."""

    BLOCK = "block"  # enforce
    MONITOR = "monitor"  # decide and record as in block mode, but forward
    OFF = "off"  # no inspection at all


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a detector or guard saw in a request.

    ``score`` is the finding's contribution to the request's anomaly score
    (CRS-like: 5 critical, 4 error, 3 warning, 2 notice); ``snippet`` is
    already decoded, truncated and redacted.
    """

    family: str
    rule_id: str
    score: int
    location: str = ""
    snippet: str = ""
    confidence: float = 1.0
    blocking: bool = False  # True: decisive on its own, whatever the score


@dataclass(frozen=True, slots=True)
class Decision:
    """The one verdict the pipeline returns for a request."""

    action: Action
    status: int = 200
    score: int = 0
    reasons: tuple[str, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    # A problem ``detail`` safe to show the client (never names a rule).
    detail: str = ""
    # An HTML/JSON body replacing the problem body (challenge pages).
    body: bytes | None = None
    content_type: str = ""


ALLOW = Decision(Action.ALLOW)


@dataclass(slots=True)
class Principal:
    """Who a request is attributed to: user, API key or token subject."""

    kind: str  # "user", "apikey", "client" or "ip"
    id: str
    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()
    claims: dict[str, object] = field(default_factory=dict)
    token_id: str = ""  # jti, or a digest of the token when it has none
