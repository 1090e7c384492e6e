"""The demo bank's HTTP interface: routes, authentication and JSON handlers.

How this works: ``DemoApp`` is the ``App`` the HTTP server calls.  It
normalises the path the way a lenient origin does (so ``/x/../accounts/1``
reaches ``/accounts/1``, as it would on many real servers), finds the route,
answers 404, 405 or 401 itself, and otherwise calls the route's handler
with the verified token claims.  Every answer is JSON except the leaking
error page; none is ever 403 (the evaluator reads 403 as "the proxy
blocked it").
"""

from __future__ import annotations

import posixpath
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

import orjson

from vaultgate.demo import gql
from vaultgate.demo.bank import (
    Bank,
    account_document,
    account_summary,
    payment_document,
    transaction_document,
)
from vaultgate.demo.debug import error_page
from vaultgate.demo.http import Request, Response
from vaultgate.demo.tokens import LIFETIME_SECONDS, TokenIssuer

Claims = dict[str, Any]
Handler = Callable[["Call"], Response]

DEFAULT_PAGE = 20  # transactions per page unless ?limit= says otherwise
MAX_PAGE = 100


@dataclass(frozen=True, slots=True)
class Call:
    """What a handler gets: the request, the path parameters, the claims."""

    request: Request
    params: dict[str, str]
    claims: Claims | None

    @property
    def caller(self) -> Claims:
        """The claims of a route that requires a token."""
        return self.claims or {}


@dataclass(frozen=True, slots=True)
class Route:
    """A path template (segments, ``{name}`` for a parameter) and its methods."""

    template: tuple[str, ...]
    methods: dict[str, Handler]
    auth: str  # "required", "optional" or "none"

    @property
    def allow(self) -> str:
        names = set(self.methods) | {"OPTIONS"}
        if "GET" in names:
            names.add("HEAD")
        return ", ".join(sorted(names))


def json_response(status: int, document: Any, *extra: tuple[str, str]) -> Response:
    """A JSON answer."""
    return Response(status, orjson.dumps(document), "application/json", extra)


def _error(status: int, error: str, detail: str = "") -> Response:
    document = {"error": error, "detail": detail} if detail else {"error": error}
    return json_response(status, document)


_NOT_FOUND = _error(404, "not_found")
_HEALTH = json_response(200, {"status": "ok", "service": "demo-bank"})
_BEARER = 'Bearer realm="demo-bank"'


class DemoApp:
    """Routes a request to its handler."""

    def __init__(
        self, bank: Bank, issuer: TokenIssuer, clock: Callable[[], float] = time.time
    ) -> None:
        self.bank = bank
        self.issuer = issuer
        self.clock = clock
        self.schema = gql.build()
        self._exact: dict[tuple[str, ...], Route] = {}
        self._templated: list[Route] = []
        for route in self._routes():
            is_template = any(s.startswith("{") for s in route.template)
            if is_template:
                self._templated.append(route)
            else:
                self._exact[route.template] = route

    def _routes(self) -> list[Route]:
        return [
            Route((), {"GET": self.index}, "none"),
            Route(("health",), {"GET": self.health}, "none"),
            Route((".well-known", "jwks.json"), {"GET": self.jwks}, "none"),
            Route(("login",), {"POST": self.login}, "none"),
            Route(("accounts",), {"GET": self.accounts}, "required"),
            Route(("accounts", "{account_id}"), {"GET": self.account}, "required"),
            Route(
                ("accounts", "{account_id}", "transactions"),
                {"GET": self.transactions},
                "required",
            ),
            Route(("payments",), {"POST": self.pay}, "required"),
            Route(("payments", "{payment_id}"), {"GET": self.payment}, "required"),
            Route(
                ("graphql",), {"GET": self.graphql, "POST": self.graphql}, "required"
            ),
            Route(("search",), {"GET": self.search}, "none"),
            Route(("support", "ticket"), {"POST": self.ticket}, "optional"),
            Route(("debug", "error"), {"GET": self.debug, "POST": self.debug}, "none"),
        ]

    # -- dispatch -------------------------------------------------------------

    def __call__(self, request: Request) -> Response:
        found = self._match(_segments(request.path))
        if found is None:
            return _NOT_FOUND
        route, params = found
        method = "GET" if request.method == "HEAD" else request.method
        handler = route.methods.get(method)
        if handler is None:
            return _no_handler(request.method, route)
        claims = None
        if route.auth != "none":
            claims = self._claims(request)
            if claims is None and route.auth == "required":
                return _unauthorized(bool(request.header("authorization")))
        return handler(Call(request, params, claims))

    def _match(self, segments: tuple[str, ...]) -> tuple[Route, dict[str, str]] | None:
        route = self._exact.get(segments)
        if route is not None:
            return route, {}
        for route in self._templated:
            params = _bind(route.template, segments)
            if params is not None:
                return route, params
        return None

    def _claims(self, request: Request) -> Claims | None:
        scheme, _, token = request.header("authorization").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return self.issuer.verify(token.strip(), self.clock())

    # -- public endpoints -------------------------------------------------------

    def index(self, call: Call) -> Response:
        routes = [*self._exact.values(), *self._templated]
        endpoints = [
            f"{method} /{'/'.join(route.template)}"
            for route in routes
            for method in route.methods
        ]
        return json_response(200, {"service": "demo-bank", "endpoints": endpoints})

    def health(self, call: Call) -> Response:
        return _HEALTH

    def jwks(self, call: Call) -> Response:
        return json_response(200, self.issuer.jwks, ("Cache-Control", "max-age=300"))

    def login(self, call: Call) -> Response:
        form = _login_form(call.request)
        if isinstance(form, Response):
            return form
        user = self.bank.authenticate(*form)
        if user is None:
            return json_response(
                401,
                {
                    "error": "invalid_credentials",
                    "detail": "wrong username or password",
                },
                ("WWW-Authenticate", _BEARER),
            )
        token = self.issuer.issue(user, int(self.clock()))
        document = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": LIFETIME_SECONDS,
        }
        return json_response(200, document, ("Cache-Control", "no-store"))

    def search(self, call: Call) -> Response:
        query = _args(call.request).get("q", "")
        results = [
            {"name": p.name, "iban": p.iban, "category": p.category}
            for p in self.bank.search_payees(query)
        ]
        document = {"query": query, "count": len(results), "results": results}
        return json_response(200, document)

    def ticket(self, call: Call) -> Response:
        form = _json_body(call.request)
        if isinstance(form, Response):
            return form
        status, document = self.bank.open_ticket(call.claims, form, self.clock())
        return json_response(status, document)

    def debug(self, call: Call) -> Response:
        args = _args(call.request)
        body, content_type = error_page(args.get("id", "1001'"), args.get("format", ""))
        return Response(500, body, content_type)

    # -- accounts and payments ------------------------------------------------------

    def accounts(self, call: Call) -> Response:
        owned = self.bank.accounts_for(call.caller)
        return json_response(200, {"accounts": [account_summary(a) for a in owned]})

    def account(self, call: Call) -> Response:
        # BOLA ON PURPOSE: the claims are not passed on (docs/demo.md).
        account = self.bank.account(call.params["account_id"])
        if account is None:
            return _error(404, "account_not_found")
        return json_response(200, account_document(account))

    def transactions(self, call: Call) -> Response:
        limit = _page_size(_args(call.request).get("limit"))
        if limit is None:
            return _error(400, "invalid_request", f"limit: 1 to {MAX_PAGE}")
        found = self.bank.transactions(call.params["account_id"], limit)
        if found is None:
            return _error(404, "account_not_found")
        document = {
            "account_id": int(call.params["account_id"]),
            "count": len(found),
            "transactions": [transaction_document(tx) for tx in found],
        }
        return json_response(200, document)

    def pay(self, call: Call) -> Response:
        order = _json_body(call.request)
        if isinstance(order, Response):
            return order
        key = call.request.headers.get("idempotency-key")
        status, document = self.bank.pay(call.caller, order, key, self.clock())
        if status == 201:
            where = ("Location", f"/payments/{document['id']}")
            return json_response(status, document, where)
        return json_response(status, document)

    def payment(self, call: Call) -> Response:
        payment = self.bank.payment(call.caller, call.params["payment_id"])
        if payment is None:
            return _error(404, "payment_not_found")
        return json_response(200, payment_document(payment))

    def graphql(self, call: Call) -> Response:
        operation = gql.read_operation(call.request)
        if isinstance(operation, gql.BadOperation):
            errors = [{"message": operation.message}]
            return json_response(operation.status, {"errors": errors})
        now = self.clock()
        status, document = gql.run(self.schema, operation, self.bank, call.caller, now)
        return json_response(status, document)


# -- helpers ------------------------------------------------------------------


def _segments(raw_path: str) -> tuple[str, ...]:
    # A lenient origin: decode once, fold slashes, resolve dot segments.
    path = unquote(raw_path, errors="replace") if "%" in raw_path else raw_path
    if not path.startswith("/"):
        return ("\x00",)  # "*" or an authority: matches no route
    if "//" in path or "/." in path:
        path = posixpath.normpath(path)
    return tuple(part for part in path.split("/") if part)


def _bind(
    template: tuple[str, ...], segments: tuple[str, ...]
) -> dict[str, str] | None:
    if len(template) != len(segments):
        return None
    params = {}
    for pattern, segment in zip(template, segments, strict=True):
        if pattern.startswith("{"):
            params[pattern[1:-1]] = segment
        elif pattern != segment:
            return None
    return params


def _no_handler(method: str, route: Route) -> Response:
    allow = ("Allow", route.allow)
    if method == "OPTIONS":
        return Response(204, b"", headers=(allow,))
    return json_response(405, {"error": "method_not_allowed"}, allow)


def _unauthorized(token_given: bool) -> Response:
    challenge = _BEARER + (', error="invalid_token"' if token_given else "")
    detail = (
        "the token is invalid or expired"
        if token_given
        else "a Bearer token is required"
    )
    return json_response(
        401,
        {"error": "unauthorized", "detail": detail},
        ("WWW-Authenticate", challenge),
    )


def _args(request: Request) -> dict[str, str]:
    # The first value of each name wins, as most frameworks do.
    pairs = parse_qsl(request.query, keep_blank_values=True, errors="replace")
    args: dict[str, str] = {}
    for name, value in pairs:
        args.setdefault(name, value)
    return args


def _json_body(request: Request) -> Any:
    """The body parsed as JSON, or a 400 response saying why not."""
    if not request.body:
        return _error(400, "invalid_json", "a JSON body is required")
    try:
        return orjson.loads(request.body)
    except orjson.JSONDecodeError:
        return _error(400, "invalid_json", "the body is not valid JSON")


def _login_form(request: Request) -> tuple[str, str] | Response:
    content_type = request.header("content-type").split(";")[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":
        text = request.body.decode("utf-8", "replace")
        form: Any = dict(parse_qsl(text, keep_blank_values=True))
    else:
        form = _json_body(request)
        if isinstance(form, Response):
            return form
    if not isinstance(form, dict):
        return _error(400, "invalid_request", "expected {username, password}")
    username, password = form.get("username"), form.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        return _error(400, "invalid_request", "expected {username, password}")
    return username, password


def _page_size(text: str | None) -> int | None:
    if text is None:
        return DEFAULT_PAGE
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_PAGE:
        return None
    return int(text)
