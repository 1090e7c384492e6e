"""Access-token verification with a key source, a rule set and a cache.

The pure checks live in ``core.jwt_verify``; this class adds what needs
state: the key source (which may fetch), the cache of verified tokens, and
the one retry after a refresh when a token names a key not seen yet.
"""

from __future__ import annotations

from vaultgate.core.jwt_verify import (
    JwtRules,
    KeySet,
    TokenInvalid,
    Verified,
    check_times,
    verify_token,
)
from vaultgate.core.token_cache import TokenCache
from vaultgate.guards.jwks import KeySource


class Verifier:
    """Verifies access tokens for one ``jwt`` setting of a policy."""

    def __init__(self, source: KeySource, rules: JwtRules, cache_size: int) -> None:
        self.source = source
        self.rules = rules
        self.cache = TokenCache(cache_size)
        self._keys: KeySet | None = None

    def cached(self, digest: bytes, now: float) -> Verified | None:
        """A verified token from the cache, time checks redone; None on a miss."""
        keys = self.source.current(now)
        if keys is not self._keys:
            self._switch(keys)
            return None
        token = self.cache.get(digest, now)
        if token is not None:
            check_times(token, self.rules, now)
        return token

    async def verify(self, token: str, digest: bytes, now: float) -> Verified:
        """Verify a token not in the cache, and cache it."""
        keys = self.source.current(now) or await self.source.wait(now)
        self._switch(keys)
        try:
            verified = verify_token(token, keys, self.rules, now)
        except TokenInvalid as exc:
            if exc.reason != "token.unknown_key":
                raise
            if not await self.source.refresh_unknown(now):
                raise
            keys = await self.source.wait(now)
            self._switch(keys)
            verified = verify_token(token, keys, self.rules, now)
        self.cache.put(digest, verified, now, self.rules.skew)
        return verified

    def _switch(self, keys: KeySet | None) -> None:
        # A new key set may have withdrawn a key: tokens it signed must be
        # verified again, so nothing verified with the old set is kept.
        if keys is not self._keys:
            if self._keys is not None and (
                keys is None or keys.version != self._keys.version
            ):
                self.cache.clear()
            self._keys = keys
