"""The policy model: one YAML file, validated and compiled once.

How this works: the loader reads the document, handles the core keys itself
(``listen``, ``upstream``, ``mode``, ``server``, ``routes`` ...) and hands
every other top-level or route-level key to the ``Section`` registered for
it by a feature module (``inspection``, ``limits``, ``tokens`` ...).  A key
no one registered is an error, so a typo is refused at load, never ignored.
A loaded ``Policy`` is immutable; a reload builds a new one and the server
swaps it in one assignment.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import yaml

from vaultgate.core.model import Mode
from vaultgate.core.routes import RouteTable, compile_template
from vaultgate.core.schema import Node
from vaultgate.errors import PolicyError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Section:
    """A policy key owned by a feature module.

    ``parse`` reads the top-level value (``None`` node when absent, so it
    returns the defaults); ``parse_route`` reads the same key inside a route,
    given the top-level settings, and returns the route's effective settings.
    """

    key: str
    parse: Callable[[Node], Any]
    parse_route: Callable[[Node, Any], Any] | None = None


_SECTIONS: dict[str, Section] = {}


def register_section(section: Section) -> Section:
    """Register a policy section; a duplicate key is a programming error."""
    if section.key in _SECTIONS or section.key in _CORE_KEYS:
        raise ValueError(f"policy section {section.key!r} registered twice")
    _SECTIONS[section.key] = section
    return section


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """Limits and timeouts of the HTTP server; every value has a reason."""

    # 8 KiB: the request-target limit of nginx and most origins; longer
    # URLs are nearly always probes or buffer-overflow attempts.
    max_url_bytes: int = 8192
    # 32 KiB of header fields in all: four times a browser's worst case
    # with large cookies, still small enough to bound memory per request.
    max_header_bytes: int = 32768
    # 100 fields: RFC 9110 sets none; browsers send about 15.
    max_headers: int = 100
    # 10 MiB: the largest JSON payment batch we expect; set per deployment.
    max_body_bytes: int = 10 * 1024 * 1024
    # 128 KiB of a body is buffered and inspected; past it the request is
    # marked "inspection incomplete" and the policy decides.
    inspect_body_bytes: int = 128 * 1024
    header_timeout: float = 10.0  # slowloris: whole head within this
    body_timeout: float = 30.0  # whole body within this
    idle_timeout: float = 60.0  # keep-alive between requests
    upstream_connect_timeout: float = 3.0
    upstream_timeout: float = 30.0  # until the upstream's response head
    upstream_pool_size: int = 256  # idle keep-alive connections kept
    drain_timeout: float = 20.0  # SIGTERM: in-flight requests get this long


@dataclass(frozen=True, slots=True)
class TLSSettings:
    cert: str
    key: str
    client_ca: str = ""  # when set, client certificates are requested


@dataclass(frozen=True, slots=True)
class Route:
    """One route of the policy, with its section settings resolved."""

    index: int
    path: str
    methods: frozenset[str] | None  # None: any method
    mode: Mode
    settings: Mapping[str, Any]
    params: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.path


@dataclass(frozen=True, slots=True)
class RouteMatch:
    route: Route
    params: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Policy:
    """A loaded, validated, immutable policy."""

    source: str
    listen: tuple[str, int]
    upstream: str
    mode: Mode
    state: str
    trusted_proxies: tuple[Network, ...]
    server: ServerSettings
    tls: TLSSettings | None
    settings: Mapping[str, Any]  # top-level section settings by key
    routes: tuple[Route, ...]
    default_route: Route
    table: RouteTable = field(repr=False)

    def match(self, method: str, path: str) -> RouteMatch:
        """The most specific route for ``method`` and a normalised ``path``."""
        found = self.table.lookup(method, path)
        if found is None:
            return RouteMatch(self.default_route, MappingProxyType({}))
        index, params = found
        return RouteMatch(self.routes[index], params)


_CORE_KEYS = frozenset(
    {"version", "listen", "upstream", "mode", "state", "trusted_proxies"}
    | {"server", "tls", "routes"}
)
_ROUTE_KEYS = frozenset({"path", "methods", "mode", "name"})
_MODES = frozenset(m.value for m in Mode)
_METHODS = frozenset(
    ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT")
)


def load_policy(path: str, require_upstream: bool = True) -> Policy:
    """Read, validate and compile the policy file at ``path``."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise PolicyError(path, "", "a readable file", exc.strerror) from None
    return parse_policy(text, path, require_upstream)


def parse_policy(
    text: str, source: str = "<policy>", require_upstream: bool = True
) -> Policy:
    """Validate and compile a policy given as YAML text.

    ``require_upstream=False`` is for the authorization adapters, which
    forward nothing: an absent ``upstream`` is then ``""``.
    """
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).split("\n")[0]
        raise PolicyError(source, where, "valid YAML", problem) from None
    root = Node(document, "", source)
    allowed = _CORE_KEYS | _SECTIONS.keys()
    return _build(root.mapping(allowed), root, require_upstream)


def _build(top: dict[str, Node], root: Node, require_upstream: bool = True) -> Policy:
    blank = root.child
    settings = {
        key: section.parse(top.get(key) or blank(key, None))
        for key, section in _SECTIONS.items()
    }
    mode = Mode((top.get("mode") or blank("mode", "block")).text(_MODES))
    routes = _routes(top.get("routes") or blank("routes", None), settings, mode)
    default = _route(blank("default_route", {"path": "/{*}"}), -1, settings, mode)
    table = RouteTable([compile_template(r.path, r.methods) for r in routes])
    return Policy(
        source=root.source,
        listen=_address(top.get("listen") or blank("listen", "127.0.0.1:8080")),
        upstream=_upstream(top.get("upstream"), root, require_upstream),
        mode=mode,
        state=(top.get("state") or blank("state", "memory")).text(),
        trusted_proxies=(top.get("trusted_proxies") or blank("tp", [])).networks(),
        server=_server(top.get("server") or blank("server", None)),
        tls=_tls(top.get("tls")),
        settings=MappingProxyType(settings),
        routes=tuple(routes),
        default_route=default,
        table=table,
    )


def _routes(node: Node, settings: dict[str, Any], mode: Mode) -> list[Route]:
    routes = [_route(item, i, settings, mode) for i, item in enumerate(node.seq())]
    seen: dict[tuple[str, frozenset[str] | None], int] = {}
    for route in routes:
        key = (route.path, route.methods)
        if key in seen:
            where = node.child(route.index, None).child("path", route.path)
            raise where.error(f"a path not already declared by routes[{seen[key]}]")
        seen[key] = route.index
    return routes


def _route(node: Node, index: int, settings: dict[str, Any], mode: Mode) -> Route:
    fields = node.mapping(_ROUTE_KEYS | _SECTIONS.keys())
    if "path" not in fields:
        raise node.error("a route with a 'path'", show_value=False)
    path_node = fields["path"]
    try:
        params = compile_template(path_node.text(), None).params
    except ValueError as exc:
        raise path_node.error(str(exc)) from None
    methods = None
    if "methods" in fields:
        names = [m.text().upper() for m in fields["methods"].seq(allow_scalar=True)]
        for i, name in enumerate(names):
            if name not in _METHODS:
                raise fields["methods"].child(i, name).error("an HTTP method")
        methods = frozenset(names)
    own = {
        key: _route_section(key, fields.get(key), node, settings[key])
        for key in _SECTIONS
    }
    route_mode = Mode(fields["mode"].text(_MODES)) if "mode" in fields else mode
    return Route(index, path_node.text(), methods, route_mode, own, params)


def _route_section(key: str, node: Node | None, route: Node, top: Any) -> Any:
    section = _SECTIONS[key]
    if node is None:
        return top
    if section.parse_route is None:
        raise node.error("no route-level setting (this key is top-level only)")
    return section.parse_route(node, top)


def _address(node: Node) -> tuple[str, int]:
    host, sep, port = node.text().rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise node.error("'<host>:<port>' such as 0.0.0.0:8080")
    return host.strip("[]") or "0.0.0.0", int(port)


def _upstream(node: Node | None, root: Node, required: bool = True) -> str:
    if node is None:
        if not required:
            return ""
        raise root.child("upstream", None).error("an upstream URL", False)
    url = node.text()
    if not url.startswith(("http://", "https://")):
        raise node.error("an http:// or https:// URL")
    return url.rstrip("/")


_SERVER_SIZES = ("max_url_bytes", "max_header_bytes", "max_body_bytes")
_SERVER_INTS = ("max_headers", "upstream_pool_size")
_SERVER_TIMES = (
    "header_timeout",
    "body_timeout",
    "idle_timeout",
    "upstream_connect_timeout",
    "upstream_timeout",
    "drain_timeout",
)


def _server(node: Node) -> ServerSettings:
    keys = frozenset(_SERVER_SIZES + _SERVER_INTS + _SERVER_TIMES)
    fields = node.mapping(keys | {"inspect_body_bytes"})
    values: dict[str, Any] = {}
    for key, child in fields.items():
        if key in _SERVER_SIZES or key == "inspect_body_bytes":
            values[key] = child.size()
        elif key in _SERVER_INTS:
            values[key] = child.integer(1, 100_000)
        else:
            values[key] = child.duration()
    server = ServerSettings(**values)
    if server.inspect_body_bytes > server.max_body_bytes:
        raise fields["inspect_body_bytes"].error("at most server.max_body_bytes")
    return server


def _tls(node: Node | None) -> TLSSettings | None:
    if node is None:
        return None
    fields = node.mapping({"cert", "key", "client_ca"})
    for key in ("cert", "key"):
        if key not in fields:
            raise node.child(key, None).error("a file path", False)
    client_ca = fields["client_ca"].text() if "client_ca" in fields else ""
    return TLSSettings(fields["cert"].text(), fields["key"].text(), client_ca)
