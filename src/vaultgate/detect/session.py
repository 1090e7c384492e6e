"""Session fixation: a session id planted through the URL, or a cookie set
by script.

How this works: in a fixation attack the victim follows a link that carries
a session id the attacker chose (``?jsessionid=...``), so the request comes
from another site or from nowhere (no Referer).  ``check_session`` looks
for parameters named after framework session cookies and fires unless the
Referer is this host; generic names (``sessionid``) fire only when another
site sent the link, and ``session_id`` waits for paranoia 2 (payment
providers redirect back with a checkout ``session_id``).  The value rule
catches a cookie planted by script or markup (``document.cookie=...;
domain=``, ``<meta http-equiv=Set-Cookie``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from vaultgate.core.model import Finding
from vaultgate.core.request import Request
from vaultgate.detect.base import Rule, register_rules
from vaultgate.detect.engine import register_request_check
from vaultgate.detect.shell import words

# Session cookie names of web frameworks, lower case.
FRAMEWORK_SESSION_NAMES = words(
    """
    jsessionid phpsessid aspsessionid asp.net_sessionid laravel_session
    ci_session connect.sid _rails_session rack.session play_session sails.sid
    koa.sess koa:sess next-auth.session-token __secure-next-auth.session-token
    __host-next-auth.session-token zend_session_id jservsession jwsession
    weblogicsession phpsession shiny-token meteor_login_token _flask_session
    cakephp cfid cftoken cfsid _session_id
    """
)
# Generic names: at paranoia 1 only when a foreign site sent the link
# (Stripe-style checkout redirects pass "session_id" from the payment
# provider's site, so that one waits for paranoia 2).
GENERIC_SESSION_NAMES = frozenset({"sessionid", "session-id", "sessid"})
LOOSE_SESSION_NAMES = frozenset({"session_id", "sid", "session"})


def _referer_host(request: Request) -> str | None:
    """The Referer's host, "" when unparsable, None when there is none."""
    referer = request.header("referer")
    if not referer:
        return None
    try:
        return urlsplit(referer.strip()).netloc.lower()
    except ValueError:
        return ""


_ALL_NAMES = FRAMEWORK_SESSION_NAMES | GENERIC_SESSION_NAMES | LOOSE_SESSION_NAMES


def _fixes(name: str, referer: str | None, host: str, paranoia: int) -> bool:
    """Whether a parameter ``name`` (lower case) plants a session id."""
    if referer == host:
        return False
    if name in FRAMEWORK_SESSION_NAMES or name.startswith("aspsessionid"):
        return True
    if name in GENERIC_SESSION_NAMES:
        return referer is not None or paranoia >= 2
    return name in LOOSE_SESSION_NAMES and paranoia >= 2


def _parameters(request: Request) -> list[tuple[str, str]]:
    """(kind, lower-case name) of query and form parameters and JSON keys.

    Only the top level of a JSON body: a planted session id is a parameter
    the framework reads, not a field deep inside a document.
    """
    names = [("query-name", name.lower()) for name, _ in request.args]
    names += [("form-name", name.lower()) for name, _ in request.form()]
    document = request.json()
    if isinstance(document, dict):
        names += [("json-key", key.lower()) for key in document if isinstance(key, str)]
    return names


# Every session name above contains one of these.
_HINTS = ("sess", "sid", "cfid", "token", "cakephp")


def check_session(request: Request, paranoia: int) -> list[Finding]:
    """A finding per session-id parameter that did not come from this site."""
    if not request.body:
        # The common GET: a few substring tests on the query, no parsing;
        # a '%' may spell a hint ("j%73essionid"), so that query is parsed.
        query = request.query.lower()
        if "%" not in query and not any(hint in query for hint in _HINTS):
            return []
    planted = [
        (kind, name)
        for kind, name in _parameters(request)
        if name in _ALL_NAMES or name.startswith("aspsessionid")
    ]
    if not planted:
        return []
    referer = _referer_host(request)
    host = (request.header("host") or "").strip().lower()
    return [
        Finding("session", "session.fixation", 5, f"{kind}:{name[:64]}", name[:64])
        for kind, name in planted
        if _fixes(name, referer, host, paranoia)
    ]


RULES = (
    Rule(
        "session.cookie_by_script",
        "session",
        r"\.cookie\b.{0,200}?\b(?:expires|domain|path|max-age)\s*="
        r"|document\.cookie\s*=|http-equiv\s*=\s*['\"]?set-cookie",
        5,
        description="a cookie set by script or a meta tag, to fix a session",
    ),
)

register_rules(*RULES)
register_request_check("session", check_session)
