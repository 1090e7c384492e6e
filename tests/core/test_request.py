"""The request model: the target's path and query, split once."""

from __future__ import annotations

import dataclasses

import pytest

from vaultgate.core.request import Request

SPLITS = [
    ("/a/b?x=1&y=2", "/a/b", "x=1&y=2"),
    ("/a/b", "/a/b", ""),
    ("/a?", "/a", ""),
    ("/a?b?c", "/a", "b?c"),  # only the first "?" ends the path
    ("*", "*", ""),
]


@pytest.mark.parametrize(("target", "path", "query"), SPLITS)
def test_path_and_query_split_at_the_first_question_mark(
    target: str, path: str, query: str
) -> None:
    request = Request("GET", target, [], "192.0.2.1")
    assert (request.path, request.query) == (path, query)
    assert (request.path, request.query) == (path, query)  # from the cache


def test_replace_with_a_new_target_splits_the_new_target() -> None:
    request = Request("GET", "/old?a=1", [], "192.0.2.1")
    assert request.query == "a=1"
    moved = dataclasses.replace(request, target="/new?b=2")
    assert (moved.path, moved.query) == ("/new", "b=2")
