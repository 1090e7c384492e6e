"""Security alerts: the one way a guard asks for a separate alert event.

A guard that saw something a SIEM rule should key on calls
``raise_alert(ex, BOLA, object="4711")``.  The audit log then writes, next
to the request's own event, one alert event per alert type, with its own
id (``<incident id>-<type>``), ``event.kind: alert`` and
``vaultgate.alert.type``; the request's event carries the redacted detail,
is never sampled and is kept when a full spool drops allowed traffic.
A guard may instead set ``ex.tags["alert"]`` to a type or a list of types.

Some alerts follow from what guards already record, so the audit log
derives them in ``alert_types`` (one table, below): a trap finding, a ban
put in place, a replayed token or nonce, an object-level authorization
refusal, and a stopped attack.  Raising them explicitly as well is harmless:
each type appears once.
"""

from __future__ import annotations

import re
from typing import Any

from vaultgate.core.exchange import Exchange
from vaultgate.core.model import Action

# The types vaultgate itself raises; a SIEM rule can key on each.
TRAP_HIT = "trap_hit"  # a decoy path or honeytoken was touched
BAN = "ban"  # a client was banned
REPLAY = "replay"  # a token, proof or signature nonce was used twice
BOLA = "bola"  # an object of another principal was asked for
ENUMERATION = "enumeration"  # a principal walked many object ids
CREDENTIAL_STUFFING = "credential_stuffing"  # many usernames from one client
BRUTE_FORCE = "brute_force"  # many failed logins for one account
TOKEN_MISUSE = "token_misuse"  # a token used from a new device or network
EXFILTRATION = "exfiltration"  # a response looked like bulk extraction
ATTACK = "attack"  # payload findings stopped or flagged the request
ALERT_TYPES = frozenset(
    {TRAP_HIT, BAN, REPLAY, BOLA, ENUMERATION, CREDENTIAL_STUFFING}
    | {BRUTE_FORCE, TOKEN_MISUSE, EXFILTRATION, ATTACK}
)

ALERT_TAG = "alert"
# Custom types are allowed if a SIEM can use them as a keyword.
_TYPE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
# A bounded number of alert events per request, whatever guards do.
MAX_ALERTS = 8

Alert = dict[str, Any]  # {"type": ..., and the guard's fields}


def raise_alert(ex: Exchange, alert_type: str, **fields: str | int | float) -> None:
    """Ask for an alert event of ``alert_type`` for ``ex``, with ``fields``.

    Field values must already be safe to log (they are masked again).
    """
    if not _TYPE.match(alert_type):
        raise ValueError(f"alert type {alert_type!r}: expected [a-z][a-z0-9_]*")
    alerts = _explicit(ex)
    alerts.append({"type": alert_type, **fields})
    ex.tags[ALERT_TAG] = alerts


def _explicit(ex: Exchange) -> list[Alert]:
    """The alerts guards set, whichever form they used."""
    raw = ex.tags.get(ALERT_TAG)
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else [raw]
    out: list[Alert] = []
    for item in items:
        alert = dict(item) if isinstance(item, dict) else {"type": item}
        if isinstance(alert.get("type"), str) and _TYPE.match(alert["type"]):
            out.append(alert)
    return out


def alert_types(ex: Exchange) -> list[Alert]:
    """Every alert of ``ex``: raised ones first, then derived; one per type."""
    decision = ex.decision
    if not ex.tags and not ex.findings and (decision is None or not decision.reasons):
        return []  # most requests: nothing raised, nothing to derive from
    found: dict[str, Alert] = {}
    for alert in _explicit(ex):
        found.setdefault(alert["type"], alert)
    for alert_type in _derived(ex):
        found.setdefault(alert_type, {"type": alert_type})
    if not found and _stopped_attack(ex):
        found[ATTACK] = {"type": ATTACK}
    return list(found.values())[:MAX_ALERTS]


def _derived(ex: Exchange) -> list[str]:
    """Alert types implied by the decision's reasons and a ban put in place."""
    decision = ex.decision
    reasons = decision.reasons if decision is not None else ()
    out = [kind for reason in reasons if (kind := _by_reason(reason))]
    if "ban.ttl" in ex.tags:
        out.append(BAN)
    return out


def _stopped_attack(ex: Exchange) -> bool:
    """Findings that made the decision a block or an alert."""
    decision = ex.decision
    return (
        decision is not None
        and bool(ex.findings)
        and decision.action in (Action.BLOCK, Action.ALERT)
    )


def _by_reason(reason: str) -> str | None:
    if reason.startswith("trap."):
        return TRAP_HIT
    if reason.endswith(".replayed"):
        return REPLAY
    if reason.startswith("bola.enumeration"):
        return ENUMERATION
    if reason.startswith("bola."):
        return BOLA
    return None
