"""``vaultgate check``: validate a policy and print what it understood.

Exit status 0 when the policy loads and every route's guards build, 2 with
the error (file, path inside it, what was expected) otherwise: the same
checks ``vaultgate run`` makes before it serves.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import fields

from vaultgate.core.policy import Policy, Route, ServerSettings, load_policy
from vaultgate.errors import PolicyError
from vaultgate.guards import load_all
from vaultgate.guards.base import Services, build_guards
from vaultgate.proxy.logconfig import configure_logging
from vaultgate.proxy.tls import server_context
from vaultgate.state.memory import MemoryStore

_DEFAULTS = ServerSettings()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("policy", help="the policy file (YAML)")


def run(args: argparse.Namespace) -> int:
    """Print the policy as understood; 2 with the error when it is invalid."""
    configure_logging("text", "warning")  # guards warn while they build
    load_all()
    try:
        policy = load_policy(args.policy)
        if policy.tls is not None:
            server_context(policy.tls, policy.source)
        text = describe(policy)
    except PolicyError as exc:
        print(f"vaultgate check: {exc}", file=sys.stderr)
        return 2
    print(text)
    return 0


def describe(policy: Policy) -> str:
    """A readable summary: the core settings, then each route."""
    scheme = "https" if policy.tls else "http"
    host, port = policy.listen
    lines = [
        f"policy: {policy.source} (valid)",
        f"listen: {scheme}://{host}:{port}",
        f"upstream: {policy.upstream}",
        f"mode: {policy.mode.value}",
        f"state: {policy.state}",
        "trusted_proxies: "
        + (", ".join(str(n) for n in policy.trusted_proxies) or "(none)"),
    ]
    lines += _server_lines(policy.server)
    services = Services(MemoryStore(), time.time)
    lines.append("routes:")
    for route in (*policy.routes, policy.default_route):
        lines.append("  " + _route_line(policy, route, services))
    return "\n".join(lines)


def _server_lines(server: ServerSettings) -> list[str]:
    changed = [
        f"  {f.name}: {getattr(server, f.name)}"
        for f in fields(ServerSettings)
        if getattr(server, f.name) != getattr(_DEFAULTS, f.name)
    ]
    return ["server (changed from defaults):", *changed] if changed else []


def _route_line(policy: Policy, route: Route, services: Services) -> str:
    methods = ",".join(sorted(route.methods)) if route.methods else "*"
    label = "(default)" if route.index < 0 else f"[{route.index}]"
    guards = build_guards(policy, route, services)
    names = ", ".join(g.name or type(g).__name__ for g in guards) or "(none)"
    if route.mode.value == "off":
        names = "(none: mode off)"
    return f"{label} {methods} {route.path}  mode={route.mode.value}  guards: {names}"
