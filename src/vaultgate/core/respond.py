"""The one place where a decision becomes an HTTP response.

Blocked requests get an RFC 9457 problem document with an incident id that
the audit event carries too.  It says what kind of refusal this is, never
which rule fired: that would teach an attacker how to tune the payload.
"""

from __future__ import annotations

import orjson

from vaultgate.core.model import Decision

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    409: "Conflict",
    411: "Length Required",
    413: "Content Too Large",
    414: "URI Too Long",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    505: "HTTP Version Not Supported",
}

PROBLEM_TYPE = "application/problem+json"


def reason_phrase(status: int) -> str:
    """The reason phrase for a status we answer with."""
    return _TITLES.get(status, "Error")


def problem(status: int, detail: str, incident_id: str) -> bytes:
    """An RFC 9457 problem document."""
    return orjson.dumps(
        {
            "type": "about:blank",
            "title": reason_phrase(status),
            "status": status,
            "detail": detail,
            "instance": f"urn:vaultgate:incident:{incident_id}",
            "incident_id": incident_id,
        }
    )


_DEFAULT_DETAIL = {
    401: "The request's credentials were not accepted.",
    403: "The request was refused by the API gateway's security policy.",
    429: "Too many requests; retry after the time given in Retry-After.",
}


def render(
    decision: Decision, incident_id: str
) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body for a stopping decision."""
    headers = list(decision.headers)
    if decision.body is not None:
        headers.append(("Content-Type", decision.content_type or "text/html"))
        return decision.status, headers, decision.body
    detail = decision.detail or _DEFAULT_DETAIL.get(
        decision.status, "The request was refused."
    )
    headers.append(("Content-Type", PROBLEM_TYPE))
    headers.append(("Cache-Control", "no-store"))
    return decision.status, headers, problem(decision.status, detail, incident_id)
