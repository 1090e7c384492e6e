"""Pure JWT verification: keys, algorithm allow-list and claims at a given time.

How this works: a JWKS document is compiled once into a ``KeySet`` that maps
``(kid, alg)`` to a PyJWT key bound to that one algorithm, built only for
the algorithms the key's type can serve.  A token's header is parsed here,
strictly; its ``alg`` must be on the policy's allow-list and bound to the
named key, so an HMAC token signed with an RSA public key (algorithm
confusion) or an unsigned ``none`` token never reaches a signature check.
PyJWT's JWS layer checks the signature; the claims are then checked here
against ``JwtRules`` at the time passed in.  Every failure raises
``TokenInvalid`` carrying a reason id and a description safe for clients.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
import orjson
from jwt.algorithms import get_default_algorithms

RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
# The algorithms a key can serve, by (kty, crv).  An EC key serves only the
# algorithm of its curve (RFC 7518 3.4); an RSA key both PKCS#1 and PSS.
_FAMILIES: Mapping[tuple[str, str], frozenset[str]] = {
    ("RSA", ""): RSA_ALGORITHMS,
    ("EC", "P-256"): frozenset({"ES256"}),
    ("EC", "P-384"): frozenset({"ES384"}),
    ("EC", "P-521"): frozenset({"ES512"}),
    ("OKP", "Ed25519"): frozenset({"EdDSA"}),
    ("OKP", "Ed448"): frozenset({"EdDSA"}),
    ("oct", ""): HMAC_ALGORITHMS,
}
SUPPORTED_ALGORITHMS = frozenset().union(*_FAMILIES.values())
ASYMMETRIC_ALGORITHMS = SUPPORTED_ALGORITHMS - HMAC_ALGORITHMS
# Private members of RSA, EC and OKP keys: dropped before a key is built,
# so a JWKS published with private parts by mistake still only verifies.
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth"})
# 16 KiB: larger than any access token an identity provider issues (they
# must fit in a header line); a bigger one is refused before decoding.
MAX_TOKEN_BYTES = 16 * 1024
# Access-token media types of RFC 9068 and the customary "JWT"; a token
# typed otherwise (a DPoP proof, a logout token) is not an access token.
ACCESS_TOKEN_TYPES = frozenset({"jwt", "at+jwt", "application/at+jwt"})

_JWS = jwt.PyJWS()
# Three base64url segments (RFC 7515 7.1).  An empty signature parses, so
# that an unsigned "alg: none" token is refused for its algorithm.
_COMPACT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\Z")


class TokenInvalid(Exception):
    """A token or proof was refused; ``description`` is safe to show."""

    def __init__(self, reason: str, description: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.description = description


def malformed(what: str = "token") -> TokenInvalid:
    return TokenInvalid(f"{what}.malformed", f"{what} malformed")


@dataclass(frozen=True, slots=True)
class KeySet:
    """Verification keys by ``(kid, alg)``; ``kid`` is "" for keys without one."""

    keys: Mapping[tuple[str, str], jwt.PyJWK]
    kids: frozenset[str]
    version: str  # digest of the document, to notice a changed key set

    def find(self, kid: str | None, alg: str) -> jwt.PyJWK:
        """The key named by a token header, or ``TokenInvalid``."""
        if kid is None:
            # No kid: acceptable only when one key could have signed it.
            found = [key for (_, a), key in self.keys.items() if a == alg]
            if len(found) == 1:
                return found[0]
            raise TokenInvalid("token.unknown_key", "token signing key unknown")
        key = self.keys.get((kid, alg))
        if key is not None:
            return key
        if kid in self.kids:
            # A known key asked to verify another family's algorithm: this
            # is algorithm confusion, not a key we have yet to fetch.
            raise TokenInvalid("token.alg_not_allowed", "token algorithm not accepted")
        raise TokenInvalid("token.unknown_key", "token signing key unknown")


def parse_jwks(document: bytes, algorithms: frozenset[str]) -> tuple[KeySet, list[str]]:
    """Compile a JWKS document; returns the key set and why keys were skipped.

    Raises ValueError when the document is not a JWKS or has no usable key.
    """
    try:
        data = orjson.loads(document)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise ValueError("not a JWKS document (an object with a 'keys' list)")
    keys: dict[tuple[str, str], jwt.PyJWK] = {}
    skipped: list[str] = []
    for index, item in enumerate(data["keys"]):
        try:
            _add_key(keys, item, algorithms)
        except ValueError as exc:
            skipped.append(f"keys[{index}]: {exc}")
    if not keys:
        raise ValueError("no key usable with the allowed algorithms")
    version = hashlib.sha256(document).hexdigest()[:16]
    return KeySet(keys, frozenset(kid for kid, _ in keys), version), skipped


def _add_key(
    keys: dict[tuple[str, str], jwt.PyJWK], item: Any, algorithms: frozenset[str]
) -> None:
    if not isinstance(item, dict):
        raise ValueError("not an object")
    if item.get("use", "sig") != "sig":
        raise ValueError("not a signature key (use)")
    kid = item.get("kid", "")
    if not isinstance(kid, str):
        raise ValueError("kid is not a string")
    usable = _algorithms_of(item) & algorithms
    if not usable:
        raise ValueError("no allowed algorithm for this key type")
    public = {k: v for k, v in item.items() if k not in _PRIVATE_MEMBERS}
    for alg in sorted(usable):
        if (kid, alg) in keys:
            raise ValueError(f"duplicate kid {kid!r}")
        keys[(kid, alg)] = _build_key(public, alg)


def _algorithms_of(item: Mapping[str, Any]) -> frozenset[str]:
    kty = item.get("kty")
    crv = item.get("crv", "") if kty in ("EC", "OKP") else ""
    family = _FAMILIES.get((str(kty), str(crv)), frozenset())
    alg = item.get("alg")
    if alg is not None:
        # A key that names its algorithm serves that one only (RFC 7517 4.4).
        return family & {alg}
    return family


def _build_key(public: dict[str, Any], alg: str) -> jwt.PyJWK:
    try:
        key = jwt.PyJWK(public, algorithm=alg)
    except jwt.PyJWTError as exc:
        raise ValueError(f"unusable key ({exc})") from None
    weak = get_default_algorithms()[alg].check_key_length(key.key)
    if weak:
        raise ValueError("key too short for " + alg)
    return key


def key_for_proof(jwk: Any, alg: str) -> jwt.PyJWK:
    """A public key from a proof's ``jwk`` header (RFC 9449 4.2), or ValueError."""
    if not isinstance(jwk, dict) or _PRIVATE_MEMBERS & jwk.keys() or "k" in jwk:
        raise ValueError("jwk must be a public key")
    if alg not in _algorithms_of(jwk) or alg not in ASYMMETRIC_ALGORITHMS:
        raise ValueError("jwk does not serve alg")
    return _build_key(jwk, alg)


@dataclass(frozen=True, slots=True)
class JwtRules:
    """What a valid access token must satisfy."""

    algorithms: frozenset[str]
    issuers: frozenset[str]
    audiences: frozenset[str]
    required: tuple[str, ...] = ("exp",)
    # Seconds of clock difference tolerated on exp, nbf and iat.
    skew: float = 30.0
    max_age: float = 0.0  # seconds since iat; 0: no limit


@dataclass(frozen=True, slots=True)
class Verified:
    """A token whose signature and claims were checked.

    The scopes and roles are read once here, as a cached token is used
    many times: ``scope`` is space-separated (RFC 8693 4.2), ``scp`` and
    ``roles`` are lists (or space-separated strings) by custom.
    """

    claims: Mapping[str, Any]
    alg: str
    kid: str
    exp: float | None
    nbf: float | None
    iat: float | None
    scopes: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def parse_header(token: str, what: str = "token") -> dict[str, Any]:
    """The JOSE header of a compact JWS, parsed strictly."""
    if len(token) > MAX_TOKEN_BYTES or not _COMPACT.match(token):
        raise malformed(what)
    segment = token[: token.index(".")]
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        header = orjson.loads(raw)
    except (binascii.Error, ValueError):
        raise malformed(what) from None
    if not isinstance(header, dict) or not isinstance(header.get("alg"), str):
        raise malformed(what)
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise malformed(what)
    return header


def verify_signature(
    token: str, key: jwt.PyJWK, alg: str, what: str = "token"
) -> dict[str, Any]:
    """The payload of a JWS whose signature ``key`` verifies."""
    try:
        decoded = _JWS.decode_complete(token, key=key, algorithms=[alg])
    except jwt.InvalidSignatureError:
        raise TokenInvalid(
            f"{what}.bad_signature", f"{what} signature invalid"
        ) from None
    except jwt.PyJWTError:
        raise malformed(what) from None
    try:
        payload = orjson.loads(decoded["payload"])
    except orjson.JSONDecodeError:
        raise malformed(what) from None
    if not isinstance(payload, dict):
        raise malformed(what)
    return payload


def verify_token(token: str, keys: KeySet, rules: JwtRules, now: float) -> Verified:
    """Check an access token's header, signature and claims at ``now``."""
    header = parse_header(token)
    alg = header["alg"]
    if alg not in rules.algorithms:
        raise TokenInvalid("token.alg_not_allowed", "token algorithm not accepted")
    typ = header.get("typ")
    if typ is not None and (
        not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES
    ):
        raise TokenInvalid("token.bad_type", "token type not accepted")
    kid = header.get("kid")
    claims = verify_signature(token, keys.find(kid, alg), alg)
    verified = _claims(claims, alg, kid or "", rules)
    check_times(verified, rules, now)
    return verified


def _claims(claims: dict[str, Any], alg: str, kid: str, rules: JwtRules) -> Verified:
    for name in rules.required:
        if name not in claims:
            raise TokenInvalid("token.missing_claim", "token lacks a required claim")
    verified = Verified(
        claims,
        alg,
        kid,
        _date(claims, "exp"),
        _date(claims, "nbf"),
        _date(claims, "iat"),
        _strings(claims.get("scope")) | _strings(claims.get("scp")),
        _strings(claims.get("roles")),
    )
    iss = claims.get("iss")
    if rules.issuers and (not isinstance(iss, str) or iss not in rules.issuers):
        raise TokenInvalid("token.bad_issuer", "issuer not accepted")
    if rules.audiences and not rules.audiences & _audiences(claims.get("aud")):
        raise TokenInvalid("token.bad_audience", "audience not accepted")
    return verified


def _strings(value: Any) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list):
        return frozenset(v for v in value if isinstance(v, str))
    return frozenset()


def _date(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenInvalid("token.malformed", "token malformed")
    return float(value)


def _audiences(aud: Any) -> frozenset[str]:
    if isinstance(aud, str):
        return frozenset((aud,))
    if isinstance(aud, list):
        return frozenset(a for a in aud if isinstance(a, str))
    return frozenset()


def check_times(token: Verified, rules: JwtRules, now: float) -> None:
    """Check exp, nbf, iat and the maximum age at ``now`` (also for cache hits)."""
    skew = rules.skew
    if token.exp is not None and now >= token.exp + skew:
        raise TokenInvalid("token.expired", "token expired")
    if token.nbf is not None and now + skew < token.nbf:
        raise TokenInvalid("token.not_yet_valid", "token not yet valid")
    if token.iat is not None and now + skew < token.iat:
        raise TokenInvalid("token.not_yet_valid", "token not yet valid")
    if rules.max_age and (token.iat is None or now - token.iat > rules.max_age + skew):
        raise TokenInvalid("token.too_old", "token too old")
