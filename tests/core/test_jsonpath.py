"""The JSON path dialect used by policies."""

from __future__ import annotations

from typing import Any

import pytest

from vaultgate.core.jsonpath import compile_path

DOC = {
    "user": {"name": "alice", "ids": [1001, 1002]},
    "items": [{"id": 1, "tags": ["a"]}, {"id": 2}],
    "odd-key": {"x": True},
}

CASES: list[tuple[str, list[Any]]] = [
    ("$.user.name", ["alice"]),
    ("$.user.ids[1]", [1002]),
    ("$.user.ids[*]", [1001, 1002]),
    ("$.items[*].id", [1, 2]),
    ("$.items[*].tags[0]", ["a"]),
    ("$['odd-key'].x", [True]),
    ("$.user.*", ["alice", [1001, 1002]]),
    ("$.missing", []),
    ("$.user.ids[9]", []),
    ("$", [DOC]),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_paths_select(text: str, expected: list[Any]) -> None:
    assert list(compile_path(text).find(DOC)) == expected


@pytest.mark.parametrize("bad", ["user.name", "$.", "$..x", "$[x]", "$.a[-1"])
def test_bad_paths_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="JSON path"):
        compile_path(bad)
