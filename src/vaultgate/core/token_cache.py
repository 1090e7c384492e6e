"""A bounded cache of verified tokens, so a hot token costs microseconds.

Entries are keyed by the SHA-256 digest of the token (the token itself is
not kept as a key) and expire when the token does.  A hit only skips the
signature and the static claim checks: the time checks run again on every
hit, and revocation, single use and sender binding are the caller's, per
request.  When the key set changes, the owner clears the cache, so a token
signed with a key that was withdrawn is verified again, and refused.
"""

from __future__ import annotations

from collections import OrderedDict

from vaultgate.core.jwt_verify import Verified

# A token with no exp claim (allowed only when the policy drops exp from
# required claims) is kept this long, then verified again.
NO_EXP_TTL = 300.0


class TokenCache:
    """Least-recently-used verified tokens, at most ``capacity`` of them."""

    __slots__ = ("_capacity", "_entries")

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[bytes, tuple[Verified, float]] = OrderedDict()

    def get(self, digest: bytes, now: float) -> Verified | None:
        """The verified token for ``digest``, unless absent or expired."""
        entry = self._entries.get(digest)
        if entry is None:
            return None
        if now >= entry[1]:
            del self._entries[digest]
            return None
        self._entries.move_to_end(digest)
        return entry[0]

    def put(self, digest: bytes, token: Verified, now: float, skew: float) -> None:
        """Keep a verified token until its exp (plus skew)."""
        if self._capacity <= 0:
            return
        expires = token.exp + skew if token.exp is not None else now + NO_EXP_TTL
        self._entries[digest] = (token, expires)
        self._entries.move_to_end(digest)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
