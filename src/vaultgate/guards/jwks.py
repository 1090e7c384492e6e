"""Where verification keys come from: a JWKS file or an HTTPS URL.

How this works: a file is read and compiled when the policy loads, so a
reload picks up a rotated key and a broken file is refused with the
policy.  A URL is fetched outside the request path: a first fetch starts
as soon as an event loop runs (the first request waits for it if it has
not finished), later fetches run in the background once the keys are older
than the refresh interval, while requests go on with the keys they have.
A token naming an unknown ``kid`` asks for one early refresh, at most once
per ``MIN_REFRESH_INTERVAL``, so forged kids cannot make vaultgate hammer
the identity provider.  A failed fetch keeps the last good keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import urllib.error
import urllib.request
from typing import Any

from vaultgate.core.jwt_verify import KeySet, parse_jwks

log = logging.getLogger("vaultgate.tokens")

# An unknown kid triggers at most one fetch per 30 s: an attacker sending
# random kids costs the identity provider two requests a minute.
MIN_REFRESH_INTERVAL = 30.0
# 512 KiB: a JWKS of a hundred RSA-4096 keys is under 100 KiB.
MAX_JWKS_BYTES = 512 * 1024
# A fetch that takes longer than this is abandoned; the old keys stay.
FETCH_TIMEOUT = 5.0


class KeysUnavailable(Exception):
    """No key set could be loaded yet."""


def load_jwks_file(path: str, algorithms: frozenset[str]) -> KeySet:
    """Read and compile a JWKS file; ValueError says what is wrong."""
    try:
        with open(path, "rb") as handle:
            document = handle.read(MAX_JWKS_BYTES + 1)
    except OSError as exc:
        raise ValueError(exc.strerror or "unreadable") from None
    if len(document) > MAX_JWKS_BYTES:
        raise ValueError(f"larger than {MAX_JWKS_BYTES} bytes")
    keys, skipped = parse_jwks(document, algorithms)
    for problem in skipped:
        log.warning("jwks.key_skipped source=%s problem=%s", path, problem)
    return keys


class KeySource:
    """Keys loaded once, with the policy (a JWKS file)."""

    def __init__(self, keys: KeySet | None, name: str) -> None:
        self.keys = keys
        self.name = name

    def current(self, now: float) -> KeySet | None:
        """The keys to verify with now (may start a background refresh)."""
        return self.keys

    async def wait(self, now: float) -> KeySet:
        """The keys, waiting for a first load if there is none yet."""
        if self.keys is None:
            raise KeysUnavailable(self.name)
        return self.keys

    async def refresh_unknown(self, now: float) -> bool:
        """Refetch after an unknown kid; True if the key set changed."""
        return False

    def prime(self, now: float) -> None:
        """Start loading in the background if an event loop runs."""


class UrlKeySource(KeySource):
    """Keys fetched from an HTTPS (or loopback HTTP) URL and refreshed."""

    def __init__(self, url: str, algorithms: frozenset[str], refresh: float) -> None:
        super().__init__(None, url)
        self.url = url
        self.algorithms = algorithms
        self.refresh = refresh
        self.fetched_at = 0.0
        self._attempted_at = float("-inf")
        self._task: asyncio.Task[None] | None = None

    def current(self, now: float) -> KeySet | None:
        if now - self.fetched_at >= self.refresh:
            self._start(now)
        return self.keys

    async def wait(self, now: float) -> KeySet:
        if self.keys is None:
            task = self._start(now)
            if task is not None:
                await asyncio.shield(task)
        if self.keys is None:
            raise KeysUnavailable(self.url)
        return self.keys

    async def refresh_unknown(self, now: float) -> bool:
        before = self.keys.version if self.keys else ""
        task = self._start(now)
        if task is None:
            return False
        await asyncio.shield(task)
        return self.keys is not None and self.keys.version != before

    def prime(self, now: float) -> None:
        with contextlib.suppress(RuntimeError):  # no running loop: first request
            self._start(now)

    def _start(self, now: float) -> asyncio.Task[None] | None:
        """The fetch in progress, or a new one unless the last began too recently."""
        if self._task is not None and not self._task.done():
            return self._task
        if now - self._attempted_at < MIN_REFRESH_INTERVAL:
            return None
        loop = asyncio.get_running_loop()
        self._attempted_at = now
        self._task = loop.create_task(self._fetch(now), name=f"jwks {self.url}")
        return self._task

    async def _fetch(self, now: float) -> None:
        try:
            document = await asyncio.to_thread(fetch, self.url)
            keys, skipped = parse_jwks(document, self.algorithms)
        except ValueError as exc:
            log.warning("jwks.fetch_failed url=%s error=%s", self.url, exc)
            return
        except Exception:
            # A background task: nobody else would see this failure.
            log.exception("jwks.fetch_failed url=%s", self.url)
            return
        for problem in skipped:
            log.warning("jwks.key_skipped source=%s problem=%s", self.url, problem)
        if self.keys is None or keys.version != self.keys.version:
            log.info("jwks.loaded url=%s keys=%d", self.url, len(keys.kids))
        self.keys, self.fetched_at = keys, now


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect could lead from https to http or to another host: the key
    # set must come from the URL the policy names, or not at all.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(
    _NoRedirect(), urllib.request.HTTPSHandler(context=ssl.create_default_context())
)


def fetch(url: str) -> bytes:
    """GET a JWKS document (blocking: run it in a thread); ValueError on failure."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with _OPENER.open(request, timeout=FETCH_TIMEOUT) as response:
            if response.status != 200:
                raise ValueError(f"HTTP status {response.status}")
            document: bytes = response.read(MAX_JWKS_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise ValueError(f"HTTP status {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ValueError(str(getattr(exc, "reason", exc))) from None
    if len(document) > MAX_JWKS_BYTES:
        raise ValueError(f"larger than {MAX_JWKS_BYTES} bytes")
    return document
