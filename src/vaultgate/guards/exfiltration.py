"""Bulk exfiltration: too many records in one answer, too many bytes per client.

How this works: the ``exfiltration`` section sets, per route, the most
records one response may carry (the length of the list at a JSON path, or
of a top-level array, or of the longest list at the top level) and the most
response bytes one principal (or address, when anonymous) may receive in a
window, summed over every route that sets a byte limit.  The response
filter counts both when the answer passes (``judge_records``,
``account_bytes``); this module's guard refuses, before the upstream works,
a client whose byte budget is already spent.  Over a limit the policy
blocks (the answer is replaced by a 403 problem) or only alerts.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from vaultgate.core.exchange import Exchange
from vaultgate.core.jsonpath import JSONPath, compile_path
from vaultgate.core.model import Action, Decision, Finding, Mode, Phase
from vaultgate.core.policy import Policy, Route, Section, register_section
from vaultgate.core.schema import Node
from vaultgate.errors import PolicyError
from vaultgate.guards.base import Guard, Services, register_guard
from vaultgate.guards.clients import ban, best_effort, ip_subject, principal_subject
from vaultgate.state.base import Store


@dataclass(frozen=True, slots=True)
class ExfilSettings:
    max_records: int = 0  # 0: no limit
    records: JSONPath | None = None  # where the records are
    max_bytes: int = 0  # 0: no limit
    window: float = 3600.0
    action: str = "block"  # or "alert"
    ban_for: float = 0.0  # 0: no ban

    @property
    def active(self) -> bool:
        return bool(self.max_records or self.max_bytes)


_KEYS = frozenset({"max_records", "records", "max_bytes", "action", "ban_for"})


def _parse(node: Node, base: ExfilSettings | None = None) -> ExfilSettings:
    fields = node.mapping(_KEYS)
    values: dict[str, Any] = {}
    if "max_records" in fields:
        values["max_records"] = fields["max_records"].integer(0, 10**9)
    if "records" in fields:
        try:
            values["records"] = compile_path(fields["records"].text())
        except ValueError as exc:
            raise fields["records"].error(str(exc)) from None
    if "max_bytes" in fields:
        values["max_bytes"], values["window"] = _budget(fields["max_bytes"])
    if "action" in fields:
        values["action"] = fields["action"].text(frozenset({"block", "alert"}))
    if "ban_for" in fields:
        values["ban_for"] = fields["ban_for"].duration()
    return replace(base or ExfilSettings(), **values)


def _budget(node: Node) -> tuple[int, float]:
    """``50MB/1h`` as (bytes, window seconds)."""
    text = node.value if isinstance(node.value, str) else ""
    size, sep, window = text.partition("/")
    if not sep:
        raise node.error("'<size>/<duration>' such as 50MB/1h")
    try:
        return node.child("size", size).size(), node.child("window", window).duration()
    except PolicyError:
        raise node.error("'<size>/<duration>' such as 50MB/1h") from None


register_section(Section("exfiltration", _parse, _parse))


def count_records(document: Any, path: JSONPath | None) -> int:
    """How many records a response carries."""
    if path is not None:
        return sum(len(v) for v in path.find(document) if isinstance(v, list))
    if isinstance(document, list):
        return len(document)
    if isinstance(document, dict):
        return max(
            (len(v) for v in document.values() if isinstance(v, list)), default=0
        )
    return 0


def _subject(ex: Exchange) -> str:
    if ex.principal is not None:
        return principal_subject(ex.principal.id)
    return ip_subject(ex.request.client_ip)


def _bytes_key(ex: Exchange) -> str:
    return "exfil:bytes:" + _subject(ex)


def judge_records(ex: Exchange, settings: ExfilSettings, document: Any) -> str:
    """The reason when a response carries too many records, else ""."""
    if not settings.max_records:
        return ""
    records = count_records(document, settings.records)
    if records <= settings.max_records:
        return ""
    ex.tags["exfiltration.records"] = records
    return "exfiltration.records"


async def account_bytes(
    ex: Exchange, store: Store, settings: ExfilSettings, size: int
) -> str:
    """Count a response's bytes; the reason when the budget is exceeded."""
    if not settings.max_bytes or size <= 0:
        return ""
    counting = store.hit(_bytes_key(ex), settings.window, ex.now, size)
    total = await best_effort(ex, "exfiltration", counting)
    if total is None or total <= settings.max_bytes:
        return ""
    ex.tags["exfiltration.bytes"] = total
    return "exfiltration.bytes"


async def enforce(
    ex: Exchange, store: Store, settings: ExfilSettings, reason: str
) -> bool:
    """Record an exceeded limit; True when the answer must be replaced."""
    ex.add(Finding("exfiltration", reason, 5, "response"))
    previous = ex.decision
    blocking = settings.action == "block"
    action = Action.BLOCK if blocking else Action.ALERT
    reasons = (*(previous.reasons if previous else ()), reason)
    ex.decision = Decision(action, 403 if blocking else 200, ex.score, reasons)
    if not blocking or ex.route.mode is not Mode.BLOCK:
        return False
    await best_effort(ex, "exfiltration", ban(ex, store, settings.ban_for, reason))
    return True


class ExfiltrationGuard(Guard):
    """Refuses a client whose response byte budget is already spent."""

    name = "exfiltration"
    # After the token phase, so that the budget is the principal's, the
    # same one the response filter charges.
    phase = Phase.AUTHZ

    def __init__(self, settings: ExfilSettings, store: Store) -> None:
        self.settings = settings
        self.store = store

    async def check(self, ex: Exchange) -> Decision | None:
        settings = self.settings
        if settings.action != "block":
            return None
        spent = await self.store.count(_bytes_key(ex), settings.window, ex.now)
        if spent <= settings.max_bytes:
            return None
        ex.add(Finding("exfiltration", "exfiltration.bytes", 5, blocking=True))
        return Decision(Action.BLOCK, 403, ex.score, ("exfiltration.bytes",))


@register_guard("exfiltration", Phase.AUTHZ)
def _factory(policy: Policy, route: Route, services: Services) -> Guard | None:
    settings: ExfilSettings = route.settings["exfiltration"]
    if not settings.max_bytes:
        return None
    return ExfiltrationGuard(settings, services.store)
