"""Recent refusals, kept briefly so nginx can show the client the real answer.

auth_request only lets vaultgate say 401 or 403, and nginx then answers
with its own error page.  The documented nginx configuration sends that
403 to a named location that asks vaultgate for the refusal by incident
id, so the client gets exactly what the inline proxy would have sent
(429 with Retry-After, a challenge, the problem document).  nginx asks
within milliseconds of the check, so a few seconds of memory suffice; a
refusal asked for later, or never, is simply forgotten.  Time is passed in.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

# Refusals remembered at once: a flood of refused requests costs at most
# this many entries (a problem document is ~300 bytes, a challenge page a
# few KiB, so well under 64 MiB).
MAX_KEPT = 8192
# nginx fetches the refusal right after the check; ten seconds covers a
# loaded machine many times over.
KEEP_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class Refusal:
    """A rendered refusal: status, headers and body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


class DenialCache:
    """Refusals by incident id, oldest forgotten first."""

    def __init__(self, size: int = MAX_KEPT, keep: float = KEEP_SECONDS) -> None:
        self.size = size
        self.keep = keep
        self._items: OrderedDict[str, tuple[float, Refusal]] = OrderedDict()

    def put(self, incident_id: str, refusal: Refusal, now: float) -> None:
        """Remember ``refusal`` until ``now + keep``."""
        self._items[incident_id] = (now + self.keep, refusal)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def take(self, incident_id: str, now: float) -> Refusal | None:
        """The refusal for ``incident_id``, once; None if unknown or expired."""
        self._expire(now)
        entry = self._items.pop(incident_id, None)
        return entry[1] if entry is not None else None

    def _expire(self, now: float) -> None:
        # Entries are in insertion order with one lifetime, so the expired
        # ones are all at the front.
        while self._items:
            expires, _ = next(iter(self._items.values()))
            if expires > now:
                return
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
