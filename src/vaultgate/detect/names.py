"""Parameter names and JSON keys of a request, for name-borne attacks.

How this works: the value extractor skips names that are plain identifiers
(``page``, ``items[]``), since nothing in them executes.  A few attacks
are carried by exactly such names: prototype pollution (``__proto__``,
``constructor[prototype]``), Spring class-loader access
(``class.module.classLoader...``) and Java class names bound as
parameters.  ``request_names`` lists every name once so that the
request-level checks of those families can look at them.
"""

from __future__ import annotations

from typing import Any

from vaultgate.core.request import Request

# JSON keys visited per request, and how deep: the same order of bounds as
# the value extractor's, so a check here never costs more than a scan.
MAX_NAMES = 4096
MAX_DEPTH = 32


def request_names(request: Request) -> list[tuple[str, str]]:
    """(kind, name) for each query, form and cookie name and JSON key."""
    names = [("query-name", name) for name, _ in request.args]
    names += [("form-name", name) for name, _ in request.form()]
    names += [("cookie-name", name) for name, _ in request.cookies]
    document = request.json()
    if isinstance(document, dict | list):
        _keys(document, MAX_DEPTH, names)
    return names[:MAX_NAMES]


def _keys(node: Any, depth: int, out: list[tuple[str, str]]) -> None:
    if depth < 0 or len(out) >= MAX_NAMES:
        return
    children = node.values() if isinstance(node, dict) else node
    if isinstance(node, dict):
        out.extend(("json-key", key) for key in node if isinstance(key, str))
    for child in children:
        if isinstance(child, dict | list):
            _keys(child, depth - 1, out)
