"""Traps: decoy paths and honeytoken credentials that only attackers touch.

How this works: the ``traps`` section compiles, once per policy, the decoy
paths (the policy's own plus a built-in set of what scanners probe, less
any path a policy route declares) into a set of exact paths and a few
prefixes, and the honeytokens (usernames, bearer tokens, API keys) into
SHA-256 digests.  Per request, a hit bans the client for ``ban_for`` and
raises an alert.  A decoy path answers 404: a scanner reads "nothing here"
and learns neither that a trap fired nor which paths to avoid, where a 403
would flag the path as protected and worth a bypass attempt.  A honeytoken
answers 401, as any rejected credential does.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field

import orjson

from vaultgate.core.exchange import Exchange
from vaultgate.core.jsonpath import JSONPath, compile_path
from vaultgate.core.model import Action, Decision, Finding, Phase
from vaultgate.core.policy import Policy, Route, Section, register_section
from vaultgate.core.schema import Node
from vaultgate.guards.base import Guard, Services, register_guard
from vaultgate.guards.clients import ban, best_effort, security_log
from vaultgate.state.base import Store

# Paths only probes ask for.  A trailing "/" makes a prefix (the directory
# and everything under it).  Left out on purpose: /config.json and
# /actuator/health, which real single-page apps and health checks fetch.
BUILTIN_PATHS = (
    "/.env",
    "/.env.local",
    "/.env.production",
    "/.git/",
    "/.svn/",
    "/.hg/",
    "/.DS_Store",
    "/.aws/credentials",
    "/.ssh/",
    "/.htpasswd",
    "/wp-login.php",
    "/wp-config.php",
    "/wp-admin/",
    "/xmlrpc.php",
    "/phpmyadmin/",
    "/phpinfo.php",
    "/vendor/phpunit/",
    "/server-status",
    "/server-info",
    "/actuator/env",
    "/actuator/heapdump",
    "/actuator/configprops",
    "/backup.zip",
    "/backup.sql",
    "/dump.sql",
    "/database.sql",
)
# The trap finding's score: decisive on its own, and worth two critical
# findings in the client's running threat score.
_TRAP_SCORE = 10
_NOT_FOUND = orjson.dumps({"type": "about:blank", "title": "Not Found", "status": 404})
_CATCH_ALL = re.compile(r"^/\{[A-Za-z_0-9]*\*\}$")
_ANY_METHOD = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


@dataclass(frozen=True, slots=True)
class TrapSettings:
    # The policy's own decoys, lower case; a prefix ends in "/".  They stay
    # even where a route matches them: the operator chose them.
    paths: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()
    builtin: bool = True
    ban_for: float = 3600.0  # an hour: long enough to stop a scan run
    answer: int = 404
    usernames: tuple[bytes, ...] = ()  # SHA-256 digests
    username_fields: tuple[str | JSONPath, ...] = ()
    bearer_tokens: tuple[bytes, ...] = ()
    api_keys: tuple[bytes, ...] = ()
    api_key_headers: tuple[str, ...] = ("x-api-key", "api-key")

    @property
    def honeytokens(self) -> bool:
        return bool(self.usernames or self.bearer_tokens or self.api_keys)


_KEYS = frozenset({"paths", "builtin", "ban_for", "answer", "honeytokens"})
_TOKEN_KEYS = frozenset(
    {"usernames", "username_fields", "bearer_tokens", "api_keys", "api_key_headers"}
)
_DEFAULT_USERNAME_FIELDS = ("$.username", "$.email", "$.login", "username", "email")


def _parse(node: Node) -> TrapSettings:
    fields = node.mapping(_KEYS)
    own = [_path(i).lower() for i in fields["paths"].seq()] if "paths" in fields else []
    settings = TrapSettings(
        paths=frozenset(p for p in own if p[-1] != "/"),
        prefixes=tuple(sorted(p for p in own if p[-1] == "/")),
        builtin=fields["builtin"].flag() if "builtin" in fields else True,
        ban_for=fields["ban_for"].duration() if "ban_for" in fields else 3600.0,
        answer=_answer(fields["answer"]) if "answer" in fields else 404,
    )
    if "honeytokens" in fields:
        settings = _honeytokens(fields["honeytokens"], settings)
    return settings


def _path(node: Node) -> str:
    text = node.text()
    if not text.startswith("/"):
        raise node.error("a path starting with '/'")
    return text


def _answer(node: Node) -> int:
    status = node.integer(400, 499)
    if status not in (403, 404):
        raise node.error("403 or 404")
    return status


def _honeytokens(node: Node, settings: TrapSettings) -> TrapSettings:
    fields = node.mapping(_TOKEN_KEYS)
    values = {key: [_digest(i, key) for i in fields[key].seq()] for key in fields}
    names = fields.get("username_fields")
    headers = fields.get("api_key_headers")
    return TrapSettings(
        settings.paths,
        settings.prefixes,
        settings.builtin,
        settings.ban_for,
        settings.answer,
        usernames=tuple(values.get("usernames", ())),
        username_fields=_field_refs(names) if names else _defaults(),
        bearer_tokens=tuple(values.get("bearer_tokens", ())),
        api_keys=tuple(values.get("api_keys", ())),
        api_key_headers=tuple(h.text().lower() for h in headers.seq())
        if headers
        else settings.api_key_headers,
    )


def _digest(node: Node, key: str) -> bytes:
    """The SHA-256 of a honeytoken, or the ``sha256:<hex>`` digest given."""
    if key in ("username_fields", "api_key_headers"):
        return b""
    text = node.text()
    if text.startswith("sha256:"):
        try:
            raw = bytes.fromhex(text[7:])
        except ValueError:
            raw = b""
        if len(raw) != 32:
            raise node.error("sha256: followed by 64 hex digits", False)
        return raw
    if key == "usernames":
        text = text.lower()
    return hashlib.sha256(text.encode()).digest()


def _field_refs(node: Node) -> tuple[str | JSONPath, ...]:
    refs: list[str | JSONPath] = []
    for item in node.seq(allow_scalar=True):
        text = item.text()
        try:
            refs.append(compile_path(text) if text.startswith("$") else text)
        except ValueError as exc:
            raise item.error(str(exc)) from None
    return tuple(refs)


def _defaults() -> tuple[str | JSONPath, ...]:
    return tuple(
        compile_path(t) if t[0] == "$" else t for t in _DEFAULT_USERNAME_FIELDS
    )


register_section(Section("traps", _parse))


@dataclass(frozen=True, slots=True)
class Decoys:
    """Every decoy path in force under one policy, lower case."""

    paths: frozenset[str]
    prefixes: tuple[str, ...]  # each ends in "/"
    # The prefixes without their "/": ``/admin`` is the decoy ``/admin/`` too.
    bare: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "bare", frozenset(p[:-1] for p in self.prefixes))

    def __contains__(self, path: str) -> bool:
        # One C-level test per kind, not a Python loop over the prefixes.
        if path in self.paths or path.rstrip("/") in self.paths:
            return True
        return path.startswith(self.prefixes) or path in self.bare


def decoys(settings: TrapSettings, policy: Policy) -> Decoys:
    """The policy's decoys plus the built-ins no policy route declares."""
    builtin = BUILTIN_PATHS if settings.builtin else ()
    exact = [p.lower() for p in builtin if p[-1] != "/"]
    prefixes = [p.lower() for p in builtin if p[-1] == "/"]
    return Decoys(
        settings.paths | {p for p in exact if not _declared(policy, p)},
        (
            *settings.prefixes,
            *(p for p in prefixes if not _declared_prefix(policy, p)),
        ),
    )


def _declared(policy: Policy, path: str) -> bool:
    # A root catch-all ("/{*}") forwards everything else; it does not
    # declare /.env, so the decoys stay in front of it.
    for method in _ANY_METHOD:
        found = policy.table.lookup(method, path)
        if found is not None and not _CATCH_ALL.match(policy.routes[found[0]].path):
            return True
    return False


def _declared_prefix(policy: Policy, prefix: str) -> bool:
    if _declared(policy, prefix.rstrip("/")) or _declared(policy, prefix + "x"):
        return True
    return any(r.path.lower().startswith(prefix) for r in policy.routes)


# -- guard --------------------------------------------------------------------


class TrapGuard(Guard):
    """Bans the client that touches a decoy path or presents a honeytoken."""

    name = "traps"
    phase = Phase.TRAPS

    def __init__(self, settings: TrapSettings, decoys: Decoys, store: Store) -> None:
        self.settings = settings
        self.decoys = decoys
        self.store = store

    async def check(self, ex: Exchange) -> Decision | None:
        if ex.normalized_path.lower() in self.decoys:
            return await self._spring(ex, "trap.path", "path")
        if self.settings.honeytokens:
            where = _presented(ex, self.settings)
            if where:
                return await self._spring(ex, "trap.honeytoken", where)
        return None

    async def _spring(self, ex: Exchange, reason: str, where: str) -> Decision:
        ex.add(Finding("trap", reason, _TRAP_SCORE, where, blocking=True))
        ex.tags["trap.kind"] = reason
        security_log.warning(
            "trap.hit incident=%s kind=%s where=%s", ex.incident_id, reason, where
        )
        await best_effort(
            ex, "traps", ban(ex, self.store, self.settings.ban_for, reason)
        )
        if reason == "trap.honeytoken":
            challenge = (("WWW-Authenticate", 'Bearer error="invalid_token"'),)
            return Decision(Action.BLOCK, 401, ex.score, (reason,), challenge)
        if self.settings.answer == 404:
            return Decision(
                Action.BLOCK,
                404,
                ex.score,
                (reason,),
                body=_NOT_FOUND,
                content_type="application/problem+json",
            )
        return Decision(Action.BLOCK, 403, ex.score, (reason,))


def _presented(ex: Exchange, settings: TrapSettings) -> str:
    """Where the request presents a honeytoken ("" when it does not)."""
    request = ex.request
    auth = request.header("authorization") or ""
    bearer = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
    if bearer and _matches(bearer, settings.bearer_tokens):
        return "header:authorization"
    for name in settings.api_key_headers if settings.api_keys else ():
        value = request.header(name)
        if value is not None and _matches(value.strip(), settings.api_keys):
            return "header:" + name
    if settings.usernames and request.body:
        for value in _usernames(ex, settings.username_fields):
            if _matches(value.lower(), settings.usernames):
                return "body:username"
    return ""


def _usernames(ex: Exchange, refs: tuple[str | JSONPath, ...]) -> list[str]:
    document = ex.request.json()
    form = ex.request.form() if document is None else []
    found: list[str] = []
    for ref in refs:
        if isinstance(ref, JSONPath):
            if document is not None:
                found.extend(v for v in ref.find(document) if isinstance(v, str))
        else:
            found.extend(value for name, value in form if name == ref)
    return found


def _matches(value: str, digests: tuple[bytes, ...]) -> bool:
    """Constant-time membership: every digest is compared, hit or not."""
    presented = hashlib.sha256(value.encode("utf-8", "surrogateescape")).digest()
    hit = False
    for digest in digests:
        hit |= hmac.compare_digest(presented, digest)
    return hit


# The decoys of the last policy built: every route's factory call of one
# load shares them instead of matching the built-ins against the routes
# once per route.
_last: tuple[Policy, Decoys] | None = None


def _decoys_of(policy: Policy) -> Decoys:
    global _last
    if _last is None or _last[0] is not policy:
        _last = (policy, decoys(policy.settings["traps"], policy))
    return _last[1]


@register_guard("traps", Phase.TRAPS)
def _factory(policy: Policy, route: Route, services: Services) -> Guard | None:
    settings: TrapSettings = policy.settings["traps"]
    found = _decoys_of(policy)
    if not (found.paths or found.prefixes or settings.honeytokens):
        return None
    return TrapGuard(settings, found, services.store)
