"""The shape of a GraphQL document: depth, aliases, fields, introspection.

How this works: the document is walked once from each operation, with
fragment spreads expanded where they are used (a fragment used five times
counts five times: that is what the server resolves).  A fragment that
spreads itself, directly or not, is a cycle the GraphQL spec forbids; the
walk stops there and reports it.  ``MAX_VISITS`` bounds the walk, so a
document built to explode through nested fragments costs a bounded amount.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphql.language import ast

# 10,000 selections: far beyond any legitimate query (the default field
# limit is 200), small enough to walk in a few milliseconds.
MAX_VISITS = 10_000


@dataclass(slots=True)
class Shape:
    """What an operation would make the server resolve."""

    depth: int = 0
    fields: int = 0
    aliases: int = 0
    introspection: bool = False
    fragment_cycle: bool = False
    truncated: bool = False  # MAX_VISITS reached: the counts are lower bounds


def measure(document: ast.DocumentNode) -> Shape:
    """The combined shape of every operation in ``document``."""
    fragments = {
        d.name.value: d
        for d in document.definitions
        if isinstance(d, ast.FragmentDefinitionNode)
    }
    shape = _Walk(fragments)
    for definition in document.definitions:
        if isinstance(definition, ast.OperationDefinitionNode):
            shape.selections(definition.selection_set, 1, frozenset())
    return shape.result


class _Walk:
    def __init__(self, fragments: dict[str, ast.FragmentDefinitionNode]) -> None:
        self.fragments = fragments
        self.result = Shape()
        self.visits = 0

    def selections(
        self, node: ast.SelectionSetNode | None, depth: int, active: frozenset[str]
    ) -> None:
        if node is None:
            return
        for selection in node.selections:
            self.visits += 1
            if self.visits > MAX_VISITS:
                self.result.truncated = True
                return
            self.selection(selection, depth, active)

    def selection(
        self, node: ast.SelectionNode, depth: int, active: frozenset[str]
    ) -> None:
        if isinstance(node, ast.FieldNode):
            self.field(node, depth, active)
        elif isinstance(node, ast.InlineFragmentNode):
            self.selections(node.selection_set, depth, active)
        elif isinstance(node, ast.FragmentSpreadNode):
            name = node.name.value
            if name in active:
                self.result.fragment_cycle = True
                return
            fragment = self.fragments.get(name)
            if fragment is not None:
                self.selections(fragment.selection_set, depth, active | {name})

    def field(self, node: ast.FieldNode, depth: int, active: frozenset[str]) -> None:
        shape = self.result
        shape.fields += 1
        shape.depth = max(shape.depth, depth)
        if node.alias is not None:
            shape.aliases += 1
        if node.name.value in ("__schema", "__type"):
            shape.introspection = True
        self.selections(node.selection_set, depth + 1, active)
