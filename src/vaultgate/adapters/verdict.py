"""A decision as an authorization verdict, and what each caller may be told.

``core.respond.render`` stays the one place where a decision becomes a
response: a verdict carries what it rendered, the status, headers and body
the inline proxy would have sent.  Each adapter then fits that answer to
what its caller understands (NGINX's auth_request knows only 2xx, 401 and
403; Envoy's HTTP service treats 5xx as its own failure) and passes the
real status and the incident id in ``X-Vaultgate-*`` fields.  Nothing here
does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from vaultgate.core.model import Decision
from vaultgate.core.respond import render

STATUS_FIELD = "X-Vaultgate-Status"
INCIDENT_FIELD = "X-Vaultgate-Incident"
DECISION_FIELD = "X-Vaultgate-Decision"

# Fields that frame the message between the proxy and vaultgate, never
# the client's: they say nothing about the original request.
FRAMING = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)


@dataclass(frozen=True, slots=True)
class Verdict:
    """Allowed or not, and the answer the inline proxy would have given."""

    allowed: bool
    status: int  # 200 when allowed, else the rendered status
    headers: tuple[tuple[str, str], ...]  # rendered headers, when denied
    body: bytes  # the rendered body (RFC 9457 problem), when denied
    incident_id: str
    action: str  # the decision's action: allow, alert, throttle ...

    def marks(self) -> list[tuple[str, str]]:
        """The ``X-Vaultgate-*`` fields every answer carries."""
        return [
            (STATUS_FIELD, str(self.status)),
            (INCIDENT_FIELD, self.incident_id),
            (DECISION_FIELD, self.action),
        ]


def verdict(decision: Decision, incident_id: str) -> Verdict:
    """The verdict for ``decision`` (already relaxed by monitor mode)."""
    action = decision.action.value
    if not decision.action.stops:
        return Verdict(True, 200, (), b"", incident_id, action)
    status, headers, body = render(decision, incident_id)
    return Verdict(False, status, tuple(headers), body, incident_id, action)


def nginx_status(result: Verdict) -> int:
    """What auth_request understands: 200 allows, 401 or 403 denies.

    Any other status of the subrequest is an error to nginx (500 to the
    client), so a throttle or a challenge is told as 403 and the real
    status travels in ``X-Vaultgate-Status``.
    """
    if result.allowed:
        return 200
    return 401 if result.status == 401 else 403


def envoy_http_status(result: Verdict) -> int:
    """What Envoy's HTTP authorization service may answer.

    200 allows; any other status denies and reaches the client, except a
    5xx, which Envoy counts as the service failing (and, with
    ``failure_mode_allow``, lets the request through): a refusal must never
    read as a failure, so 5xx and other non-4xx statuses are told as 403.
    """
    if result.allowed:
        return 200
    return result.status if 300 <= result.status < 500 else 403


def keep_fields(
    headers: list[tuple[str, str]], dropped: frozenset[str]
) -> list[tuple[str, str]]:
    """``headers`` less the ones whose lower-case name is in ``dropped``."""
    return [(name, value) for name, value in headers if name.lower() not in dropped]


def field(headers: list[tuple[str, str]], name: str) -> str | None:
    """The value of ``name`` (lower case), repeated ones joined by commas."""
    values = [value for key, value in headers if key.lower() == name]
    return ", ".join(values) if values else None
