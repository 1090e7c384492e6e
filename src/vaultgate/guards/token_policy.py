"""The ``tokens`` policy section: JWT, replay, binding, drift and revocation.

How this works: the top-level section sets defaults and a route may repeat
any key to override it (``tokens: false`` turns the guard off there, for
``/health`` or ``/login``).  A ``jwt`` mapping in a route is merged over the
top-level one; when the result is the same, the route shares its verifier
(and so its cache and key source), so a token verified on one route is hot
on every route.  JWKS and revocation files are read here, at policy load,
and a reload reads them again.  Relative paths are taken from the policy
file's directory.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from vaultgate.core.binding import ProofRules
from vaultgate.core.jwt_verify import (
    ASYMMETRIC_ALGORITHMS,
    HMAC_ALGORITHMS,
    SUPPORTED_ALGORITHMS,
    JwtRules,
)
from vaultgate.core.schema import Node
from vaultgate.guards.jwks import KeySource, UrlKeySource, load_jwks_file
from vaultgate.guards.verifier import Verifier

log = logging.getLogger("vaultgate.tokens")

_DEFAULT_ALGORITHMS = ("ES256", "RS256", "PS256", "EdDSA")
# Loopback names an http:// JWKS URL may use: only a local identity
# provider (a test, a sidecar) may skip TLS, never a remote one.
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
# 20,000 tokens of about 1 KiB each bound the cache near 20 MiB and hold
# every token in use in a few minutes of a busy API.
DEFAULT_CACHE_SIZE = 20_000
# Keys are fetched again every 10 minutes: identity providers publish a new
# key hours or days before using it, and an unknown kid refreshes early.
DEFAULT_REFRESH = 600.0
# 30 s of clock skew: hosts kept by NTP differ by milliseconds, but VMs
# resuming and issuers with drifting clocks are seen at tens of seconds;
# it lengthens a stolen token's life by at most that much.
DEFAULT_SKEW = 30.0


@dataclass(frozen=True, slots=True)
class JwtConfig:
    """The ``jwt`` mapping as written, before keys are loaded."""

    jwks: str
    issuers: frozenset[str]
    audiences: frozenset[str]
    algorithms: frozenset[str] = frozenset(_DEFAULT_ALGORITHMS)
    required: tuple[str, ...] = ("exp",)
    skew: float = DEFAULT_SKEW
    max_age: float = 0.0
    refresh: float = DEFAULT_REFRESH
    cache_size: int = DEFAULT_CACHE_SIZE


@dataclass(frozen=True, slots=True)
class JwtSettings:
    config: JwtConfig
    verifier: Verifier = field(compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class DriftSettings:
    """Token drift: one token seen from too many networks or devices."""

    window: float = 900.0  # 15 minutes: a session's span, not a day's travel
    # Two networks: a phone moving from Wi-Fi to cellular is normal; a
    # third /24 (or /64) within the window rarely is.
    networks: int = 2
    devices: int = 2  # the same browser reports one fingerprint
    score: int = 3  # a warning on its own; with a second signal, a block
    listed_score: int = 2  # added when the client IP is on a listed network
    action: str = "score"  # or "block"


@dataclass(frozen=True, slots=True)
class Revocations:
    """Revoked token ids and subjects, from a file."""

    jtis: frozenset[str] = frozenset()
    subjects: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class TokenSettings:
    """The effective ``tokens`` settings of one route."""

    jwt: JwtSettings | None = None
    enabled: bool = True
    required: bool = True
    source: tuple[str, str] = ("authorization", "")  # or header/cookie, name
    single_use: bool = False
    scopes: frozenset[str] = frozenset()
    dpop: str = "optional"
    proof: ProofRules = ProofRules(frozenset(_DEFAULT_ALGORITHMS))
    public_url: str = ""
    mtls: str = "optional"
    revoked: Revocations = Revocations()
    drift: DriftSettings | None = DriftSettings()


_KEYS = frozenset(
    {"jwt", "required", "source", "single_use", "scopes", "dpop", "public_url"}
    | {"mtls", "revoked", "drift"}
)
_JWT_KEYS = frozenset(
    {"jwks", "issuer", "audience", "algorithms", "required_claims"}
    | {"clock_skew", "max_age", "refresh", "cache_size"}
)
_MODES = frozenset({"optional", "required"})


def parse_top(node: Node) -> TokenSettings:
    """The top-level ``tokens`` section (absent: no token checks)."""
    return _parse(node, TokenSettings())


def parse_route(node: Node, top: TokenSettings) -> TokenSettings:
    """A route's ``tokens`` setting over the top-level one."""
    if node.value is False:
        return dataclasses.replace(top, enabled=False)
    return _parse(node, top)


def _parse(node: Node, base: TokenSettings) -> TokenSettings:
    fields = node.mapping(_KEYS)
    values: dict[str, Any] = {}
    for key in ("required", "single_use"):
        if key in fields:
            values[key] = fields[key].flag()
    if "jwt" in fields:
        values["jwt"] = _jwt(fields["jwt"], base.jwt)
    if "source" in fields:
        values["source"] = _source(fields["source"])
    if "scopes" in fields:
        values["scopes"] = frozenset(n.text() for n in fields["scopes"].seq(True))
    if "mtls" in fields:
        values["mtls"] = fields["mtls"].text(_MODES)
    if "public_url" in fields:
        values["public_url"] = _public_url(fields["public_url"])
    if "revoked" in fields:
        values["revoked"] = _revocations(fields["revoked"])
    if "drift" in fields:
        values["drift"] = _drift(fields["drift"], base.drift)
    merged = dataclasses.replace(base, **values)
    if "dpop" in fields or "jwt" in fields:
        merged = _dpop(fields.get("dpop"), merged, node)
    if fields and merged.jwt is None:
        # Token settings with nothing to verify tokens with would be
        # silently ignored: a route meant to be protected would not be.
        raise node.child("jwt", None).error("a 'jwt' setting here or at the top", False)
    return merged


def _source(node: Node) -> tuple[str, str]:
    if node.value == "authorization":
        return ("authorization", "")
    fields = node.mapping({"header", "cookie"})
    if len(fields) != 1:
        raise node.error("authorization, {header: <name>} or {cookie: <name>}")
    kind, value = next(iter(fields.items()))
    name = value.text()
    return (kind, name.lower() if kind == "header" else name)


def _public_url(node: Node) -> str:
    url = node.text().rstrip("/")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
        raise node.error("scheme and host only, such as https://api.bank.example")
    return url


def _dpop(node: Node | None, settings: TokenSettings, section: Node) -> TokenSettings:
    skew = settings.jwt.config.skew if settings.jwt else DEFAULT_SKEW
    mode, proof = settings.dpop, settings.proof
    if node is not None and isinstance(node.value, str):
        mode = node.text(_MODES)
    elif node is not None:
        fields = node.mapping({"mode", "algorithms", "window"})
        mode = fields["mode"].text(_MODES) if "mode" in fields else mode
        if "algorithms" in fields:
            algs = _algorithms(fields["algorithms"], ASYMMETRIC_ALGORITHMS)
            proof = dataclasses.replace(proof, algorithms=algs)
        if "window" in fields:
            proof = dataclasses.replace(proof, window=fields["window"].duration())
    proof = dataclasses.replace(proof, skew=skew)
    return dataclasses.replace(settings, dpop=mode, proof=proof)


def _algorithms(node: Node, allowed: frozenset[str]) -> frozenset[str]:
    names = []
    for item in node.seq(allow_scalar=True):
        name = item.text()
        if name.lower() == "none":
            raise item.error(
                "a signing algorithm (never 'none': tokens must be signed)"
            )
        if name not in allowed:
            raise item.error("one of: " + ", ".join(sorted(allowed)))
        names.append(name)
    if not names:
        raise node.error("at least one algorithm")
    return frozenset(names)


# -- jwt ------------------------------------------------------------------------


def _jwt(node: Node, base: JwtSettings | None) -> JwtSettings:
    fields = node.mapping(_JWT_KEYS)
    if base is None:
        for key in ("jwks", "issuer", "audience"):
            if key not in fields:
                # Without iss and aud checks, a token the same identity
                # provider issued for another API would be accepted here.
                raise node.child(key, None).error(f"a setting for '{key}'", False)
    config = _jwt_config(fields, base.config if base else None)
    if base is not None and config == base.config:
        return base
    source = _key_source(fields.get("jwks") or node, config, base)
    return JwtSettings(config, Verifier(source, _rules(config), config.cache_size))


def _jwt_config(fields: dict[str, Node], base: JwtConfig | None) -> JwtConfig:
    values: dict[str, Any] = {}
    if "jwks" in fields:
        values["jwks"] = fields["jwks"].text()
    for key, name in (("issuer", "issuers"), ("audience", "audiences")):
        if key in fields:
            values[name] = frozenset(n.text() for n in fields[key].seq(True))
    if "algorithms" in fields:
        values["algorithms"] = _algorithms(fields["algorithms"], SUPPORTED_ALGORITHMS)
    if "required_claims" in fields:
        claims = [n.text() for n in fields["required_claims"].seq(True)]
        values["required"] = tuple(dict.fromkeys(claims))
    for key, name in (("clock_skew", "skew"), ("max_age", "max_age")):
        if key in fields:
            values[name] = fields[key].duration()
    if "refresh" in fields:
        values["refresh"] = max(fields["refresh"].duration(), 1.0)
    if "cache_size" in fields:
        values["cache_size"] = fields["cache_size"].integer(0, 10_000_000)
    if base is None:
        return JwtConfig(**values)
    return dataclasses.replace(base, **values)


def _rules(config: JwtConfig) -> JwtRules:
    return JwtRules(
        algorithms=config.algorithms,
        issuers=config.issuers,
        audiences=config.audiences,
        required=config.required,
        skew=config.skew,
        max_age=config.max_age,
    )


def _key_source(node: Node, config: JwtConfig, base: JwtSettings | None) -> KeySource:
    if base is not None and (base.config.jwks, base.config.algorithms) == (
        config.jwks,
        config.algorithms,
    ):
        return base.verifier.source
    where = config.jwks
    if where.startswith(("https://", "http://")):
        _check_url(node, where, config.algorithms)
        return UrlKeySource(where, config.algorithms, config.refresh)
    path = _relative(node, where)
    try:
        keys = load_jwks_file(path, config.algorithms)
    except ValueError as exc:
        raise node.error(f"a JWKS file with a usable key ({exc})") from None
    return KeySource(keys, path)


def _check_url(node: Node, url: str, algorithms: frozenset[str]) -> None:
    host = urllib.parse.urlsplit(url).hostname or ""
    if url.startswith("http://") and host not in _LOOPBACK_HOSTS:
        raise node.error("an https:// URL (http:// only for a loopback address)")
    if algorithms & HMAC_ALGORITHMS:
        # A shared HMAC secret must never travel as a fetched document.
        raise node.error("a JWKS file, not a URL, for HMAC algorithms")


def _relative(node: Node, path: str) -> str:
    if os.path.isabs(path) or not os.path.isfile(node.source):
        return path
    return os.path.join(os.path.dirname(node.source), path)


# -- revocation and drift -------------------------------------------------------


def _revocations(node: Node) -> Revocations:
    path = _relative(node, node.text())
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise node.error(f"a readable revocation list ({exc})") from None
    jtis: set[str] = set()
    subjects: set[str] = set()
    for number, line in enumerate(lines, 1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        kind, _, value = entry.partition(":")
        value = value.strip()
        if kind.strip() not in ("jti", "sub") or not value:
            raise node.error(
                f"'jti:<id>' or 'sub:<subject>' on line {number} of {path}"
            )
        (jtis if kind.strip() == "jti" else subjects).add(value)
    log.info("tokens.revocations path=%s jti=%d sub=%d", path, len(jtis), len(subjects))
    return Revocations(frozenset(jtis), frozenset(subjects))


_DRIFT_KEYS = frozenset(
    {"window", "networks", "devices", "score", "listed_score", "action"}
)


def _drift(node: Node, base: DriftSettings | None) -> DriftSettings | None:
    if node.value is False:
        return None
    fields = node.mapping(_DRIFT_KEYS)
    values: dict[str, Any] = {}
    if "window" in fields:
        values["window"] = fields["window"].duration()
    for key in ("networks", "devices"):
        if key in fields:
            values[key] = fields[key].integer(1, 1000)
    for key in ("score", "listed_score"):
        if key in fields:
            values[key] = fields[key].integer(0, 10_000)
    if "action" in fields:
        values["action"] = fields["action"].text(frozenset({"score", "block"}))
    return dataclasses.replace(base or DriftSettings(), **values)
