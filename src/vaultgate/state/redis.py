"""The Redis store: standalone, Sentinel or Cluster, through redis-py asyncio.

How this works: every operation is one command or one Lua script
(``state.scripts``), so it is atomic.  ``admit`` sends one EVALSHA with all
of a request's keys to a standalone server or a Sentinel-managed master:
one round trip.  On a Cluster, keys are grouped by hash slot, one script
call per slot, all in one pipeline (one round trip per node, in parallel);
if the admission then fails in one slot, the buckets charged in the others
are refunded, so a denied request never consumes a limit.

Every call runs under ``timeout`` (a few milliseconds) and every library
error is translated into ``StateError`` in ``_guard``, the one boundary.
After ``_TRIP_AFTER`` failures in a row the store fails fast for
``_COOL_OFF`` seconds rather than make every request wait for a dead server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from redis import exceptions as rexc
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff
from redis.crc import key_slot

from vaultgate.errors import StateError
from vaultgate.state import gcra, health
from vaultgate.state.base import (
    MAX_MEMBERS,
    Admission,
    RateCheck,
    RateResult,
    Store,
    Tally,
)
from vaultgate.state.scripts import ADMIT, ALL, FIRST_SEEN, REFUND, Script

log = logging.getLogger("vaultgate.state")

T = TypeVar("T")
Client = Redis | RedisCluster

# 64 connections per process: each in-flight call holds one, and at a
# ~0.2 ms round trip that carries over 100k calls per second.
_MAX_CONNECTIONS = 64
# Five failures in a row is an outage, not a blip.
_TRIP_AFTER = 5
# While tripped, calls fail at once for half a second, then are tried again.
_COOL_OFF = 0.5
# Connecting and loading scripts at start-up may take this long.
_OPEN_TIMEOUT = 2.0
_PREFIX = "vg:"
_US = gcra.US


class RedisStore(Store):
    """A ``Store`` in Redis; build it with ``state.open_store``."""

    def __init__(self, client: Client, timeout: float, cluster: bool) -> None:
        self._client = client
        self._timeout = timeout
        self._cluster = cluster
        self._failures = 0
        self._tripped_until = 0.0

    async def open(self) -> None:
        try:
            async with asyncio.timeout(_OPEN_TIMEOUT):
                if isinstance(self._client, RedisCluster):
                    await self._client.initialize()
                await self._client.ping()
                for script in ALL:
                    await self._client.script_load(script.source)
        except (TimeoutError, rexc.RedisError, rexc.RedisClusterException, OSError):
            log.warning("state.unreachable store=redis", exc_info=True)

    async def close(self) -> None:
        await self._client.aclose()

    # -- the boundary ----------------------------------------------------------

    async def _guard(self, op: str, call: Callable[[], Awaitable[T]]) -> T:
        loop = asyncio.get_running_loop()
        if loop.time() < self._tripped_until:
            health.count(op, "tripped")
            raise StateError(f"redis {op}: failing fast after repeated errors")
        try:
            async with asyncio.timeout(self._timeout):
                result = await call()
        except TimeoutError:
            self._failed(op, "timeout", loop.time())
            ms = self._timeout * 1000
            raise StateError(f"redis {op}: no answer within {ms:g} ms") from None
        except (rexc.RedisError, rexc.RedisClusterException, OSError) as exc:
            self._failed(op, "error", loop.time())
            raise StateError(f"redis {op}: {type(exc).__name__}: {exc}") from None
        self._failures = 0
        return result

    def _failed(self, op: str, kind: str, now: float) -> None:
        health.count(op, kind)
        self._failures += 1
        if self._failures >= _TRIP_AFTER:
            self._tripped_until = now + _COOL_OFF

    async def _eval(self, script: Script, keys: list[str], args: list[Any]) -> Any:
        try:
            return await self._client.evalsha(script.sha, len(keys), *keys, *args)
        except rexc.NoScriptError:
            # The server restarted or failed over and lost its script cache.
            return await self._client.eval(script.source, len(keys), *keys, *args)

    async def _pipeline(self, calls: list[tuple[Script, list[str], list[Any]]]) -> Any:
        pipe = self._client.pipeline(transaction=False)
        for script, keys, args in calls:
            # execute_command: redis-py's Cluster pipeline refuses its own
            # evalsha helper but routes the raw command by its keys' slot.
            pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
        replies = await pipe.execute(raise_on_error=False)
        for i, reply in enumerate(replies):
            if isinstance(reply, rexc.NoScriptError):
                replies[i] = await self._eval(*calls[i])
            elif isinstance(reply, Exception):
                raise reply
        return replies

    # -- admit and rate --------------------------------------------------------

    async def admit(
        self,
        bans: Sequence[str],
        checks: Sequence[RateCheck],
        tallies: Sequence[Tally],
        now: float,
    ) -> Admission:
        at = gcra.to_us(now)
        if not self._cluster:
            call = _admit_call(bans, checks, tallies, at)
            reply = await self._guard("admit", lambda: self._eval(*call))
            return _admission(reply, checks)
        return await self._guard(
            "admit", lambda: self._admit_sharded(bans, checks, tallies, at)
        )

    async def _admit_sharded(
        self,
        bans: Sequence[str],
        checks: Sequence[RateCheck],
        tallies: Sequence[Tally],
        at: int,
    ) -> Admission:
        groups = list(_by_slot(bans, checks, tallies).values())
        calls = [
            _admit_call(
                [bans[i] for i in g.bans],
                [checks[i] for i in g.checks],
                [tallies[i] for i in g.tallies],
                at,
            )
            for g in groups
        ]
        replies = await self._pipeline(calls) if calls else []
        parts = [
            _admission(reply, [checks[i] for i in g.checks])
            for reply, g in zip(replies, groups, strict=True)
        ]
        sizes = (len(bans), len(checks), len(tallies))
        admission = _merge(sizes, groups, parts)
        if not admission.allowed:
            await self._refund(groups, parts, checks, at)
        return admission

    async def _refund(
        self,
        groups: list[Group],
        parts: list[Admission],
        checks: Sequence[RateCheck],
        at: int,
    ) -> None:
        calls = []
        for group, part in zip(groups, parts, strict=True):
            charged = [checks[i] for i in group.checks]
            if charged and part.allowed:
                keys = [_key("r", c.key) for c in charged]
                back = [_bucket(c).interval * c.cost for c in charged]
                calls.append((REFUND, keys, [at, *back]))
        if calls:
            await self._pipeline(calls)

    async def rate(self, checks: Sequence[RateCheck], now: float) -> list[RateResult]:
        return (await self.admit((), checks, (), now)).rates

    async def hit(self, key: str, window: float, now: float, amount: int = 1) -> int:
        tally = Tally(key, window, amount)
        return (await self.admit((), (), (tally,), now)).counts[0]

    async def count(self, key: str, window: float, now: float) -> int:
        tally = Tally(key, window, 0)
        return (await self.admit((), (), (tally,), now)).counts[0]

    async def distinct(self, key: str, member: str, window: float, now: float) -> int:
        tally = Tally(key, window, 1 if member else 0, member, distinct=True)
        return (await self.admit((), (), (tally,), now)).counts[0]

    async def banned(self, subjects: Sequence[str], now: float) -> str | None:
        if not subjects:
            return None
        return (await self.admit(subjects, (), (), now)).banned

    # -- single commands -------------------------------------------------------

    async def first_seen(self, key: str, ttl: float, now: float) -> bool:
        args = [gcra.to_us(now), gcra.to_us(ttl)]
        call = (FIRST_SEEN, [_key("s", key)], args)
        return bool(await self._guard("first_seen", lambda: self._eval(*call)))

    async def ban(self, subject: str, ttl: float, reason: str, now: float) -> None:
        value = f"{gcra.to_us(now + ttl)}:{reason}"
        ms = max(1, round(ttl * 1000))
        key = _key("b", subject)
        await self._guard("ban", lambda: self._client.set(key, value, px=ms))

    async def unban(self, subject: str) -> None:
        key = _key("b", subject)
        await self._guard("unban", lambda: self._client.delete(key))

    async def get(self, key: str) -> bytes | None:
        name = _key("v", key)
        value = await self._guard("get", lambda: self._client.get(name))
        return value if isinstance(value, bytes) else None

    async def put(self, key: str, value: bytes, ttl: float, now: float) -> None:
        name, ms = _key("v", key), max(1, round(ttl * 1000))
        await self._guard("put", lambda: self._client.set(name, value, px=ms))


# -- building calls and reading replies ----------------------------------------


def _key(kind: str, key: str) -> str:
    return f"{_PREFIX}{kind}:{key}"


def _bucket(check: RateCheck) -> gcra.Bucket:
    return gcra.Bucket.of(check.limit, check.period, check.burst)


def _admit_call(
    bans: Sequence[str],
    checks: Sequence[RateCheck],
    tallies: Sequence[Tally],
    at: int,
) -> tuple[Script, list[str], list[Any]]:
    keys = [_key("b", s) for s in bans] + [_key("r", c.key) for c in checks]
    args: list[Any] = [at, len(bans), len(checks), len(tallies), MAX_MEMBERS]
    for check in checks:
        bucket = _bucket(check)
        args += [bucket.interval, bucket.capacity, check.cost]
    for tally in tallies:
        keys.append(_key("d" if tally.distinct else "c", tally.key))
        kind = "d" if tally.distinct else "c"
        args += [kind, gcra.to_us(tally.window), tally.amount, tally.member]
    return ADMIT, keys, args


def _admission(reply: Any, checks: Sequence[RateCheck]) -> Admission:
    banned, rates, counts = reply
    reason = banned.decode("utf-8", "replace") if banned else None
    if reason is not None:
        return Admission(reason, [], [int(n) for n in counts])
    results = [_rate(c, r) for c, r in zip(checks, rates, strict=True)]
    return Admission(reason, results, [int(n) for n in counts])


def _rate(check: RateCheck, row: list[int]) -> RateResult:
    allowed, remaining, retry, reset = row
    return RateResult(bool(allowed), check.limit, remaining, retry / _US, reset / _US)


class Group:
    """The positions of one hash slot's bans, checks and tallies."""

    __slots__ = ("bans", "checks", "tallies")

    def __init__(self) -> None:
        self.bans: list[int] = []
        self.checks: list[int] = []
        self.tallies: list[int] = []


def _by_slot(
    bans: Sequence[str], checks: Sequence[RateCheck], tallies: Sequence[Tally]
) -> dict[int, Group]:
    groups: dict[int, Group] = {}

    def group(key: str) -> Group:
        return groups.setdefault(key_slot(key.encode()), Group())

    for i, subject in enumerate(bans):
        group(_key("b", subject)).bans.append(i)
    for i, check in enumerate(checks):
        group(_key("r", check.key)).checks.append(i)
    for i, tally in enumerate(tallies):
        group(_key("d" if tally.distinct else "c", tally.key)).tallies.append(i)
    return groups


def _merge(
    n: tuple[int, int, int], groups: list[Group], parts: list[Admission]
) -> Admission:
    reasons: dict[int, str] = {}
    rates: list[RateResult | None] = [None] * n[1]
    counts = [0] * n[2]
    for group, part in zip(groups, parts, strict=True):
        if part.banned is not None:
            reasons.update(dict.fromkeys(group.bans, part.banned))
        for i, result in zip(group.checks, part.rates, strict=False):
            rates[i] = result
        for i, count in zip(group.tallies, part.counts, strict=True):
            counts[i] = count
    # The first banned subject in the caller's order decides, as on one
    # server; a slot whose call found a ban computed no rates.
    banned = next((reasons[i] for i in range(n[0]) if i in reasons), None)
    if banned is not None:
        return Admission(banned, [], counts)
    return Admission(None, [r for r in rates if r is not None], counts)


def open_redis(url: str, timeout: float) -> RedisStore:
    """A ``RedisStore`` for a ``redis[s]://``, ``redis+sentinel://`` or
    ``redis+cluster://`` URL; connects lazily (call ``open``)."""
    options: dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": Retry(NoBackoff(), 1),
    }
    scheme = url.split("://", 1)[0]
    if scheme in ("redis", "rediss"):
        pool = BlockingConnectionPool.from_url(
            url, max_connections=_MAX_CONNECTIONS, timeout=timeout, **options
        )
        return RedisStore(Redis(connection_pool=pool), timeout, cluster=False)
    hosts, rest, password = _split(url)
    if scheme in ("redis+sentinel", "rediss+sentinel"):
        return _sentinel(hosts, rest, password, scheme, timeout, options)
    if scheme in ("redis+cluster", "rediss+cluster"):
        nodes = [ClusterNode(host, port) for host, port in hosts]
        client = RedisCluster(
            startup_nodes=nodes,
            password=password,
            ssl=scheme.startswith("rediss"),
            max_connections=_MAX_CONNECTIONS,
            **options,
        )
        return RedisStore(client, timeout, cluster=True)
    raise ValueError(f"unknown state store scheme {scheme!r}")


def _sentinel(
    hosts: list[tuple[str, int]],
    rest: str,
    password: str | None,
    scheme: str,
    timeout: float,
    options: dict[str, Any],
) -> RedisStore:
    name, _, db = rest.partition("/")
    if not name:
        raise ValueError("a redis+sentinel:// URL ends with /<master name>")
    sentinel = Sentinel(hosts, **options)  # type: ignore[no-untyped-call]
    client = sentinel.master_for(
        name,
        password=password,
        db=int(db or 0),
        ssl=scheme.startswith("rediss"),
        max_connections=_MAX_CONNECTIONS,
        **options,
    )
    return RedisStore(client, timeout, cluster=False)


def _split(url: str) -> tuple[list[tuple[str, int]], str, str | None]:
    """Hosts, the path after them and a password from ``scheme://[:pw@]h:p,h:p/x``."""
    netloc, _, rest = url.split("://", 1)[1].partition("/")
    password = None
    if "@" in netloc:
        auth, _, netloc = netloc.rpartition("@")
        password = auth.partition(":")[2] or None
    hosts = []
    for item in netloc.split(","):
        host, sep, port = item.rpartition(":")
        if not sep or not port.isdigit():
            raise ValueError(f"'{item}' is not host:port")
        hosts.append((host.strip("[]"), int(port)))
    return hosts, rest.strip("/"), password
