"""The token guard: who is calling, and whether their token is still good.

How this works: the guard takes the access token from where the route says
(``Authorization: Bearer`` or ``DPoP`` by default), looks it up in the
verified-token cache by digest or verifies it (``guards.verifier``), and
then, on every request whether the token was cached or not, checks the
revocation list, the route's scopes, the sender binding (DPoP, mTLS), the
single-use seen-set and token drift.  A token that passes becomes the
request's principal for the guards that follow.  A refusal is a 401 with an
RFC 6750 ``WWW-Authenticate`` challenge whose description names the kind
of failure but nothing an attacker could tune against; the reason id
(``token.expired``, ``dpop.replayed`` ...) goes to the audit event.
"""

from __future__ import annotations

import hashlib

from vaultgate.core.exchange import Exchange
from vaultgate.core.jwt_verify import TokenInvalid, Verified, malformed
from vaultgate.core.model import Action, Decision, Phase, Principal
from vaultgate.core.policy import Policy, Route, Section, register_section
from vaultgate.guards import seen
from vaultgate.guards.base import Guard, Services, register_guard
from vaultgate.guards.dpop import check_binding
from vaultgate.guards.drift import check_drift
from vaultgate.guards.jwks import KeysUnavailable
from vaultgate.guards.seen import StoreRefused
from vaultgate.guards.token_policy import TokenSettings, parse_route, parse_top
from vaultgate.guards.verifier import Verifier
from vaultgate.state.base import Store

register_section(Section("tokens", parse_top, parse_route))

# A single-use token with no exp is remembered for a day: longer than any
# access token should live, short enough to bound the seen-set.
NO_EXP_SEEN_TTL = 86400.0


@register_guard("tokens", Phase.TOKENS)
def _factory(policy: Policy, route: Route, services: Services) -> Guard | None:
    settings: TokenSettings = route.settings["tokens"]
    if not settings.enabled or settings.jwt is None:
        return None
    settings.jwt.verifier.source.prime(services.clock())
    return TokenGuard(settings, settings.jwt.verifier, services.store)


class TokenGuard(Guard):
    """Validates the route's access token and sets the principal."""

    name = "tokens"
    phase = Phase.TOKENS

    def __init__(
        self, settings: TokenSettings, verifier: Verifier, store: Store
    ) -> None:
        self.settings = settings
        self.verifier = verifier
        self.store = store
        self._missing = _missing(settings)
        # Whether every token must be sender-bound on this route; if not,
        # only a token with a cnf claim (or sent as DPoP) needs the check.
        self._always_bound = "required" in (settings.dpop, settings.mtls)

    async def check(self, ex: Exchange) -> Decision | None:
        found: tuple[str, str] | None = None
        try:
            found = self._extract(ex)
            if found is None:
                return self._missing if self._wants_token(ex) else None
            await self._accept(ex, *found)
        except TokenInvalid as exc:
            return _refusal(exc, found[0] if found else "", self.settings)
        except KeysUnavailable:
            return _UNAVAILABLE
        except StoreRefused as exc:
            return exc.decision
        return None

    def _wants_token(self, ex: Exchange) -> bool:
        # A CORS preflight never carries credentials (Fetch standard, CORS
        # protocol): refusing it would break every browser client.
        request = ex.request
        if request.method == "OPTIONS" and request.header(
            "access-control-request-method"
        ):
            return False
        return self.settings.required

    def _extract(self, ex: Exchange) -> tuple[str, str] | None:
        """``(scheme, token)``; the scheme is "" when not in Authorization."""
        kind, name = self.settings.source
        if kind == "cookie":
            token = next((v for n, v in ex.request.cookies if n == name), "")
            return ("", token) if token else None
        if kind == "header":
            token = ex.request.header(name) or ""
            if token[:7].lower() == "bearer ":
                token = token[7:].strip()
            return ("", token) if token else None
        value = ex.request.header("authorization")
        if not value:
            return None
        scheme, _, token = value.partition(" ")
        scheme = scheme.lower()
        if scheme not in ("bearer", "dpop"):
            return None  # another scheme (Basic ...) is not a token here
        token = token.strip()
        if not token:
            raise malformed()
        return scheme, token

    async def _accept(self, ex: Exchange, scheme: str, token: str) -> None:
        digest = hashlib.sha256(token.encode("latin-1")).digest()
        verified = self.verifier.cached(digest, ex.now)
        if verified is None:
            verified = await self.verifier.verify(token, digest, ex.now)
        settings = self.settings
        claims = verified.claims
        jti = claims.get("jti")
        token_id = jti if isinstance(jti, str) and jti else digest.hex()[:32]
        self._check_claims(verified, token_id)
        binding = ""
        if self._always_bound or scheme == "dpop" or "cnf" in claims:
            binding = await check_binding(
                ex, token, scheme, verified, settings, self.store
            )
        if settings.single_use:
            await self._once(ex, verified, token_id)
        if settings.drift is not None:
            await check_drift(ex, token_id, settings.drift, self.store)
        ex.principal = principal(verified, token_id)
        ex.tags["token.id"] = token_id
        if binding:
            ex.tags["token.binding"] = binding

    def _check_claims(self, verified: Verified, token_id: str) -> None:
        revoked = self.settings.revoked
        sub = verified.claims.get("sub")
        if token_id in revoked.jtis or (
            isinstance(sub, str) and sub in revoked.subjects
        ):
            raise TokenInvalid("token.revoked", "token revoked")
        wanted = self.settings.scopes
        if wanted and not wanted <= verified.scopes:
            raise TokenInvalid(
                "token.insufficient_scope", "token lacks a required scope"
            )

    async def _once(self, ex: Exchange, verified: Verified, token_id: str) -> None:
        skew = self.verifier.rules.skew
        exp = verified.exp
        ttl = exp - ex.now + skew if exp is not None else NO_EXP_SEEN_TTL
        key = f"tok:once:{verified.claims.get('iss', '')}:{token_id}"
        if not await seen.first_seen(ex, self.store, self.name, key, max(ttl, 1.0)):
            raise TokenInvalid("token.replayed", "token replayed")


def principal(verified: Verified, token_id: str) -> Principal:
    """The principal a verified token names."""
    claims = verified.claims
    sub = claims.get("sub")
    kind, ident = "user", sub
    if not isinstance(sub, str) or not sub:
        # A client-credentials token names a client, not a user.
        client = claims.get("client_id") or claims.get("azp")
        kind, ident = (
            ("client", client) if isinstance(client, str) else ("token", token_id)
        )
    # The claims are copied: a guard that edits its principal must not
    # change the cached token every later request will see.
    return Principal(
        kind, str(ident), verified.roles, verified.scopes, dict(claims), token_id
    )


# -- responses ------------------------------------------------------------------

_UNAVAILABLE = Decision(
    Action.BLOCK,
    503,
    reasons=("token.keys_unavailable",),
    headers=(("Retry-After", "30"),),
    detail="Tokens cannot be checked right now; retry shortly.",
)


def _missing(settings: TokenSettings) -> Decision:
    # RFC 6750 3.1: no error code when the request carried no token at all.
    challenges = [("WWW-Authenticate", "Bearer")]
    if settings.dpop == "required":
        challenges = [("WWW-Authenticate", _dpop_challenge(settings))]
    return Decision(
        Action.BLOCK,
        401,
        reasons=("token.missing",),
        headers=tuple(challenges),
        detail="An access token is required.",
    )


def _dpop_challenge(settings: TokenSettings, params: str = "") -> str:
    algs = " ".join(sorted(settings.proof.algorithms))
    return f'DPoP algs="{algs}"' + (", " + params if params else "")


def _refusal(exc: TokenInvalid, scheme: str, settings: TokenSettings) -> Decision:
    status, error = 401, "invalid_token"
    if exc.reason == "token.insufficient_scope":
        status, error = 403, "insufficient_scope"
    elif exc.reason.startswith("dpop.") and exc.reason not in _DPOP_TOKEN_REASONS:
        error = "invalid_dpop_proof"
    params = f'error="{error}", error_description="{exc.description}"'
    if scheme == "dpop" or error == "invalid_dpop_proof":
        challenge = _dpop_challenge(settings, params)
    else:
        challenge = "Bearer " + params
    return Decision(
        Action.BLOCK,
        status,
        reasons=(exc.reason,),
        headers=(("WWW-Authenticate", challenge),),
        detail=f"The access token was not accepted: {exc.description}.",
    )


# Failures of the token's binding rather than of the proof (RFC 9449 7.1).
_DPOP_TOKEN_REASONS = frozenset({"dpop.unbound_token", "dpop.bearer_scheme"})
