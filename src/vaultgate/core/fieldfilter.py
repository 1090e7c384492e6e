"""Field rules for JSON documents: remove, keep only, mask, and mask by detector.

How this works: a field is named either by a JSON path (``$.owner.ssn``,
``$.items[*].pan``), which points at one place, or by a bare name
(``card_number``), which means that key at any depth.  ``deny`` removes
what it names; ``allow`` keeps only what it names (a kept name keeps its
whole subtree, containers left empty are dropped); ``mask`` replaces the
values it names by a masked string.  ``mask_values`` runs a ``Masker`` over
every remaining string (and every integer long enough to be a card number)
in one pass.  The functions edit the document in place: the caller owns
it, having just parsed it, and learns what changed from the counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from vaultgate.core.jsonpath import JSONPath, compile_path
from vaultgate.core.masking import Masker


@dataclass(frozen=True, slots=True)
class FieldSet:
    """Fields named by key (any depth) and by JSON path."""

    names: frozenset[str] = frozenset()
    paths: tuple[JSONPath, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.names or self.paths)


def field_set(items: Iterable[str]) -> FieldSet:
    """A ``FieldSet`` from names and ``$`` paths; ValueError names a bad path."""
    names: set[str] = set()
    paths: list[JSONPath] = []
    for item in items:
        if item.startswith("$"):
            paths.append(compile_path(item))
        else:
            names.add(item)
    return FieldSet(frozenset(names), tuple(paths))


# -- deny -------------------------------------------------------------------------


def deny(document: Any, fields: FieldSet) -> int:
    """Remove the named fields; the number of values removed."""
    removed = _deny_names(document, fields.names) if fields.names else 0
    for path in fields.paths:
        removed += _deny_path(document, path)
    return removed


def _deny_names(node: Any, names: frozenset[str]) -> int:
    removed = 0
    if isinstance(node, dict):
        for key in [k for k in node if k in names]:
            del node[key]
            removed += 1
        for child in node.values():
            removed += _deny_names(child, names)
    elif isinstance(node, list):
        for child in node:
            removed += _deny_names(child, names)
    return removed


def _deny_path(document: Any, path: JSONPath) -> int:
    if not path.steps:
        return 0  # "$" itself: a whole document is never removed
    parents = JSONPath(path.text, path.steps[:-1]).find(document)
    last = path.steps[-1]
    removed = 0
    for parent in list(parents):
        removed += _remove_child(parent, last)
    return removed


def _remove_child(parent: Any, step: str | int | None) -> int:
    if step is None and isinstance(parent, dict | list):
        count = len(parent)
        parent.clear()
        return count
    if isinstance(step, str) and isinstance(parent, dict) and step in parent:
        del parent[step]
        return 1
    if isinstance(step, int) and isinstance(parent, list) and _has(parent, step):
        del parent[step]
        return 1
    return 0


def _has(items: list[Any], index: int) -> bool:
    return -len(items) <= index < len(items)


# -- allow --------------------------------------------------------------------------

# A trie of allowed paths: a dict per step (keys, indexes, None for "*"),
# or _WHOLE where an allowed path ends and its subtree is kept entire.
_WHOLE: dict[Any, Any] = {}


def allow_trie(paths: tuple[JSONPath, ...]) -> dict[Any, Any]:
    """The trie of ``paths``, built once per policy."""
    root: dict[Any, Any] = {}
    for path in paths:
        if not path.steps:
            return _WHOLE
        node = root
        for step in path.steps[:-1]:
            child = node.setdefault(step, {})
            if child is _WHOLE:
                break
            node = child
        else:
            node[path.steps[-1]] = _WHOLE
    return root


def allow(
    document: Any, names: frozenset[str], trie: dict[Any, Any] | None
) -> tuple[Any, int]:
    """Keep only the named fields; (the kept document, values dropped)."""
    dropped = [0]
    kept, _ = _allow(document, trie, names, dropped)
    return kept, dropped[0]


def _allow(
    node: Any, trie: dict[Any, Any] | None, names: frozenset[str], dropped: list[int]
) -> tuple[Any, bool]:
    if trie is _WHOLE:
        return node, True
    if isinstance(node, dict):
        out = {}
        for key, child in node.items():
            if key in names:
                out[key] = child
                continue
            kept, ok = _allow(child, _child(trie, key), names, dropped)
            if ok:
                out[key] = kept
            else:
                dropped[0] += 1
        return out, bool(out)
    if isinstance(node, list):
        items = []
        for index, child in enumerate(node):
            kept, ok = _allow(child, _child(trie, index), names, dropped)
            if ok:
                items.append(kept)
            else:
                dropped[0] += 1
        return items, bool(items)
    return node, False


def _child(trie: dict[Any, Any] | None, step: str | int) -> dict[Any, Any] | None:
    if trie is None:
        return None
    exact: dict[Any, Any] | None = trie.get(step)
    star: dict[Any, Any] | None = trie.get(None)
    if exact is None or star is None:
        return exact if exact is not None else star
    if exact is _WHOLE or star is _WHOLE:
        return _WHOLE
    return _merge(exact, star)


def _merge(a: dict[Any, Any], b: dict[Any, Any]) -> dict[Any, Any]:
    out = dict(a)
    for key, value in b.items():
        if key not in out:
            out[key] = value
        elif out[key] is _WHOLE or value is _WHOLE:
            out[key] = _WHOLE
        else:
            out[key] = _merge(out[key], value)
    return out


# -- mask ---------------------------------------------------------------------------


def mask_fields(document: Any, fields: FieldSet) -> int:
    """Replace the named fields' values by masks; the number masked."""
    count = 0
    if fields.names:
        count += _mask_names(document, fields.names)
    for path in fields.paths:
        if not path.steps:
            continue
        last = path.steps[-1]
        for parent in list(JSONPath(path.text, path.steps[:-1]).find(document)):
            count += _mask_child(parent, last)
    return count


def _mask_names(node: Any, names: frozenset[str]) -> int:
    count = 0
    if isinstance(node, dict):
        for key, child in node.items():
            if key in names:
                node[key] = mask_value(child)
                count += 1
            else:
                count += _mask_names(child, names)
    elif isinstance(node, list):
        for child in node:
            count += _mask_names(child, names)
    return count


def _mask_child(parent: Any, step: str | int | None) -> int:
    if isinstance(parent, dict):
        keys = list(parent) if step is None else [step] if step in parent else []
    elif isinstance(parent, list):
        size = len(parent)
        keys = list(range(size)) if step is None else []
        if isinstance(step, int) and -size <= step < size:
            keys = [step]
    else:
        return 0
    for key in keys:
        parent[key] = mask_value(parent[key])
    return len(keys)


def mask_value(value: Any) -> Any:
    """A value's mask: the last four characters of 8 or more, else stars."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, dict | list):
        return "[redacted]"
    text = str(value)
    # Four characters of a short value give away too large a share of it.
    keep = 4 if len(text) >= 8 else 0
    return "*" * (len(text) - keep) + text[len(text) - keep :]


# Integers of 12 to 19 digits may be card numbers sent as JSON numbers.
_MIN_CARD_INT = 10**11
_MAX_CARD_INT = 10**19 - 1


def mask_values(document: Any, masker: Masker) -> tuple[Any, int]:
    """Run ``masker`` over every string value; (document, values masked)."""
    if isinstance(document, str):
        masked = masker.mask(document)
        return masked, int(masked != document)
    if not isinstance(document, dict | list):
        return document, 0
    slots: list[tuple[Any, Any]] = []
    texts: list[str] = []
    _leaves(document, slots, texts)
    changed = masker.mask_many(texts)
    for index, text in changed.items():
        container, key = slots[index]
        container[key] = text
    return document, len(changed)


def _leaves(node: Any, slots: list[tuple[Any, Any]], texts: list[str]) -> None:
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, child in items:
        if isinstance(child, str):
            slots.append((node, key))
            texts.append(child)
        elif isinstance(child, dict | list):
            _leaves(child, slots, texts)
        elif isinstance(child, int) and _MIN_CARD_INT <= child <= _MAX_CARD_INT:
            slots.append((node, key))
            texts.append(str(child))
