"""Route templates and the table that matches a request to its route.

Templates are paths whose segments are literals, ``{name}`` (exactly one
segment) or, last only, ``{name*}`` / ``{*}`` (the rest of the path).  The
table is a segment trie built once per policy: at each level a literal child
wins over a parameter, which wins over a catch-all, so the most specific
route is found without trying routes one by one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

_PARAM = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)?(\*)?\}$")


@dataclass(frozen=True, slots=True)
class Template:
    path: str
    methods: frozenset[str] | None
    segments: tuple[tuple[str, str], ...]  # (kind, text): lit | param | rest
    params: tuple[str, ...]


def compile_template(path: str, methods: frozenset[str] | None) -> Template:
    """Parse a route template; raises ValueError saying what is wrong."""
    if not path.startswith("/"):
        raise ValueError("a path starting with '/'")
    parts = [p for p in path.split("/")[1:]]
    if parts and parts[-1] == "":
        parts.pop()
    segments: list[tuple[str, str]] = []
    for i, part in enumerate(parts):
        segments.append(_segment(part, last=i == len(parts) - 1))
    params = tuple(text for kind, text in segments if kind != "lit" and text)
    if len(set(params)) != len(params):
        raise ValueError("a path template whose parameter names are unique")
    return Template(path, methods, tuple(segments), params)


def _segment(part: str, last: bool) -> tuple[str, str]:
    match = _PARAM.match(part)
    if match is None:
        if "{" in part or "}" in part or not part:
            raise ValueError("segments that are literals, {name} or a last {name*}")
        return ("lit", part)
    if match.group(2):
        if not last:
            raise ValueError("a catch-all {name*} only as the last segment")
        return ("rest", match.group(1) or "")
    if not match.group(1):
        raise ValueError("a parameter name inside {}")
    return ("param", match.group(1))


@dataclass(slots=True)
class _Node:
    literals: dict[str, _Node] = field(default_factory=dict)
    param: tuple[str, _Node] | None = None
    rest: list[tuple[str, int, frozenset[str] | None]] = field(default_factory=list)
    ends: list[tuple[int, frozenset[str] | None]] = field(default_factory=list)


class RouteTable:
    """Finds the most specific template for a method and path."""

    def __init__(self, templates: list[Template]) -> None:
        self._root = _Node()
        for index, template in enumerate(templates):
            self._add(index, template)

    def _add(self, index: int, template: Template) -> None:
        node = self._root
        for kind, text in template.segments:
            if kind == "lit":
                node = node.literals.setdefault(text, _Node())
            elif kind == "param":
                if node.param is None:
                    node.param = (text, _Node())
                elif node.param[0] != text:
                    # Two templates naming the same position differently
                    # would make the id's name depend on the route.
                    raise ValueError(f"parameter {{{text}}} vs {{{node.param[0]}}}")
                node = node.param[1]
            else:
                node.rest.append((text, index, template.methods))
                return
        node.ends.append((index, template.methods))

    def lookup(self, method: str, path: str) -> tuple[int, Mapping[str, str]] | None:
        """``(template index, params)`` for the best match, or None."""
        parts = path.split("/")[1:]
        if parts and parts[-1] == "":
            parts.pop()
        params: dict[str, str] = {}
        found = _walk(self._root, parts, 0, method, params)
        if found is None:
            return None
        return found, MappingProxyType(params)


def _walk(
    node: _Node, parts: list[str], i: int, method: str, params: dict[str, str]
) -> int | None:
    if i == len(parts):
        hit = _pick(node.ends, method)
        if hit is not None:
            return hit
        return _rest(node, parts, i, method, params)
    child = node.literals.get(parts[i])
    if child is not None:
        hit = _walk(child, parts, i + 1, method, params)
        if hit is not None:
            return hit
    if node.param is not None and parts[i]:
        name, child = node.param
        params[name] = parts[i]
        hit = _walk(child, parts, i + 1, method, params)
        if hit is not None:
            return hit
        del params[name]
    return _rest(node, parts, i, method, params)


def _rest(
    node: _Node, parts: list[str], i: int, method: str, params: dict[str, str]
) -> int | None:
    for name, index, methods in node.rest:
        if methods is None or method in methods:
            if name:
                params[name] = "/".join(parts[i:])
            return index
    return None


def _pick(ends: list[tuple[int, frozenset[str] | None]], method: str) -> int | None:
    # A route naming the method beats one that accepts any method.
    fallback = None
    for index, methods in ends:
        if methods is None:
            fallback = index if fallback is None else fallback
        elif method in methods:
            return index
    return fallback
