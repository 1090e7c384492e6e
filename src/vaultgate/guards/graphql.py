"""GraphQL limits: depth, field count, aliases, batching, introspection.

One GraphQL request can ask a server for more work than a thousand REST
calls: deeply nested relations, hundreds of aliased copies of an expensive
field (the alias attack used to brute-force one-time codes in one request),
or a batch of many operations.  On routes that enable it, this guard parses
the query (GET ``?query=``, a JSON body or batch of them, or an
``application/graphql`` body) and refuses documents over the route's limits
before the API resolves anything.  A query that does not parse is left to
the API (it will refuse it) and to payload inspection, which reads it as text.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import graphql

from vaultgate.core.exchange import Exchange
from vaultgate.core.graphql_shape import Shape, measure
from vaultgate.core.model import Action, Decision, Phase
from vaultgate.core.policy import Policy, Route, Section, register_section
from vaultgate.core.schema import Node
from vaultgate.guards.base import Guard, Services, register_guard

# A query text longer than 64 KiB is refused without parsing: hand-written
# and generated queries of real clients stay under a few KiB.
MAX_QUERY_BYTES = 64 * 1024
# Parsing stops past this many tokens (graphql-core's own guard).
MAX_TOKENS = 20_000


@dataclass(frozen=True, slots=True)
class GraphQLSettings:
    enabled: bool = False
    # 10 levels: account → transactions → counterparty → ... real schemas
    # rarely need more than 6; deeper nesting is how resolvers are overloaded.
    max_depth: int = 10
    # 200 field selections after fragments are expanded.
    max_fields: int = 200
    # 10 aliases: enough for a screen that shows a few variants of a field,
    # far below the hundreds an alias brute-force sends.
    max_aliases: int = 10
    # Operations in one batched HTTP request.
    max_batch: int = 5
    # Schema introspection reveals every type and field: off in production.
    introspection: bool = False


_KEYS = frozenset(
    {"enabled", "max_depth", "max_fields", "max_aliases", "max_batch", "introspection"}
)


def _parse(node: Node, base: GraphQLSettings | None = None) -> GraphQLSettings:
    settings = base or GraphQLSettings()
    if isinstance(node.value, bool):
        return replace(settings, enabled=node.value)
    fields = node.mapping(_KEYS)
    values: dict[str, Any] = {"enabled": True} if base is not None else {}
    for key, child in fields.items():
        if key in ("enabled", "introspection"):
            values[key] = child.flag()
        else:
            values[key] = child.integer(1, 100_000)
    return replace(settings, **values)


register_section(Section("graphql", _parse, _parse))


class GraphQLGuard(Guard):
    name = "graphql"
    phase = Phase.PAYLOAD

    def __init__(self, settings: GraphQLSettings) -> None:
        self.settings = settings

    async def check(self, ex: Exchange) -> Decision | None:
        queries = _queries(ex)
        if len(queries) > self.settings.max_batch:
            return _refuse(ex, "graphql.batch", len(queries))
        for query in queries:
            reason = self._judge(query)
            if reason:
                return _refuse(ex, reason, 0)
        return None

    def _judge(self, query: str) -> str:
        if len(query) > MAX_QUERY_BYTES:
            return "graphql.too_large"
        try:
            document = graphql.parse(query, no_location=True, max_tokens=MAX_TOKENS)
        except graphql.GraphQLError:
            return ""
        return _violation(measure(document), self.settings)


def _violation(shape: Shape, limits: GraphQLSettings) -> str:
    if shape.fragment_cycle:
        return "graphql.fragment_cycle"
    if shape.truncated or shape.fields > limits.max_fields:
        return "graphql.fields"
    if shape.depth > limits.max_depth:
        return "graphql.depth"
    if shape.aliases > limits.max_aliases:
        return "graphql.aliases"
    if shape.introspection and not limits.introspection:
        return "graphql.introspection"
    return ""


def _refuse(ex: Exchange, reason: str, batch: int) -> Decision:
    ex.tags["graphql.violation"] = reason
    if batch:
        ex.tags["graphql.batch"] = batch
    detail = "The GraphQL request exceeds the limits of this API."
    return Decision(Action.BLOCK, 403, ex.score, (reason,), detail=detail)


def _queries(ex: Exchange) -> list[str]:
    """Every query text a GraphQL request carries (empty when none)."""
    request = ex.request
    if request.method == "GET":
        return [value for name, value in request.args if name == "query"]
    if request.content_type == "application/graphql":
        return [request.body.decode("utf-8", "replace")]
    document = request.json()
    items = document if isinstance(document, list) else [document]
    return [
        item["query"]
        for item in items
        if isinstance(item, dict) and isinstance(item.get("query"), str)
    ]


@register_guard("graphql", Phase.PAYLOAD)
def _factory(policy: Policy, route: Route, services: Services) -> Guard | None:
    settings: GraphQLSettings = route.settings["graphql"]
    return GraphQLGuard(settings) if settings.enabled else None
