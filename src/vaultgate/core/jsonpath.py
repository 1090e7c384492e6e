"""A small JSON path dialect, compiled once: ``$.a.b``, ``$.items[*].id``.

Policies name values inside JSON documents (the username of a login body,
an account id in a transfer, a field to remove from a response).  Only the
child, index and wildcard steps are supported: enough to point at a field,
and simple enough that evaluation is a few dictionary lookups.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_\-]*)|\[(\d+|\*)\]|\.\*|\['([^']+)'\]")


@dataclass(frozen=True, slots=True)
class JSONPath:
    """A compiled path; ``steps`` are keys (str), indexes (int) or ``None`` (*)."""

    text: str
    steps: tuple[str | int | None, ...]

    def find(self, document: Any) -> Iterator[Any]:
        """Every value the path selects in ``document``."""
        return _find(document, self.steps, 0)

    def first(self, document: Any) -> Any:
        """The first value selected, or None."""
        return next(self.find(document), None)


def compile_path(text: str) -> JSONPath:
    """Compile ``$.a[0].b``; raises ValueError naming what is wrong."""
    if not text.startswith("$"):
        raise ValueError("a JSON path starting with '$'")
    steps: list[str | int | None] = []
    pos = 1
    while pos < len(text):
        match = _STEP.match(text, pos)
        if match is None:
            raise ValueError("a JSON path of .key, ['key'], [n] and [*] steps")
        key, index, quoted = match.groups()
        if key is not None or quoted is not None:
            steps.append(key if key is not None else quoted)
        elif index is not None and index != "*":
            steps.append(int(index))
        else:
            steps.append(None)
        pos = match.end()
    return JSONPath(text, tuple(steps))


def _find(node: Any, steps: tuple[str | int | None, ...], i: int) -> Iterator[Any]:
    if i == len(steps):
        yield node
        return
    step = steps[i]
    if step is None:
        children = node.values() if isinstance(node, dict) else node
        if isinstance(node, dict | list):
            for child in children:
                yield from _find(child, steps, i + 1)
    elif isinstance(step, int):
        if isinstance(node, list) and -len(node) <= step < len(node):
            yield from _find(node[step], steps, i + 1)
    elif isinstance(node, dict) and step in node:
        yield from _find(node[step], steps, i + 1)
