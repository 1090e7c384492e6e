"""Method allow-lists: a route answers only the methods it is meant for.

``allowed_methods`` at the top of the policy applies to every route, and a
route's own list replaces it.  Any other method is refused with 405 and an
``Allow`` field (RFC 9110 section 15.5.6), before any other guard runs.
Allowing GET allows HEAD too, as every origin answers HEAD like GET.  This
is not route matching: a route's ``methods`` key chooses which route a
request belongs to; this list refuses the rest.
"""

from __future__ import annotations

from vaultgate.core.exchange import Exchange
from vaultgate.core.model import Action, Decision, Phase
from vaultgate.core.policy import Policy, Route, Section, register_section
from vaultgate.core.schema import Node
from vaultgate.guards.base import Guard, Services, register_guard

_METHODS = frozenset(
    ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")
)


def _parse(node: Node, base: frozenset[str] | None = None) -> frozenset[str] | None:
    if node.value is None:
        return base
    names = set()
    for item in node.seq(allow_scalar=True):
        name = item.text().upper()
        if name not in _METHODS:
            raise item.error("an HTTP method (" + ", ".join(sorted(_METHODS)) + ")")
        names.add(name)
    if not names:
        raise node.error("at least one method")
    if "GET" in names:
        names.add("HEAD")
    return frozenset(names)


register_section(Section("allowed_methods", _parse, _parse))


class MethodGuard(Guard):
    """Refuses methods not in the route's allow-list."""

    name = "methods"
    phase = Phase.PROTOCOL

    def __init__(self, allowed: frozenset[str]) -> None:
        self.allowed = allowed
        allow = ", ".join(sorted(allowed))
        self.refusal = Decision(
            Action.BLOCK,
            405,
            reasons=("method.not-allowed",),
            headers=(("Allow", allow),),
            detail="This resource does not accept the request's method.",
        )

    async def check(self, ex: Exchange) -> Decision | None:
        if ex.request.method in self.allowed:
            return None
        return self.refusal


@register_guard("methods", Phase.PROTOCOL)
def _factory(policy: Policy, route: Route, services: Services) -> Guard | None:
    allowed = route.settings["allowed_methods"]
    return MethodGuard(allowed) if allowed else None
