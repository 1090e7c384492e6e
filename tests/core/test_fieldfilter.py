"""Field rules on JSON documents: deny, allow, mask, by name and by path."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from vaultgate.core.fieldfilter import (
    allow,
    allow_trie,
    deny,
    field_set,
    mask_fields,
    mask_value,
)

DOC: dict[str, Any] = {
    "id": 7,
    "owner": {"name": "Bob", "ssn": "123-45-6789", "tags": ["vip"]},
    "items": [
        {"id": 1, "name": "a", "secret": "s1"},
        {"id": 2, "name": "b", "secret": "s2", "nested": {"secret": "s3"}},
    ],
    "secret": "top",
}


@pytest.mark.parametrize(
    ("fields", "removed", "expected"),
    [
        (["secret"], 4, {"id": 7, "owner": DOC["owner"], "items": [
            {"id": 1, "name": "a"}, {"id": 2, "name": "b", "nested": {}}]}),
        (["$.secret"], 1, {k: v for k, v in DOC.items() if k != "secret"}),
        (["$.items[*].secret"], 2, {**DOC, "items": [
            {"id": 1, "name": "a"},
            {"id": 2, "name": "b", "nested": {"secret": "s3"}}]}),
        (["$.items[0]"], 1, {**DOC, "items": [DOC["items"][1]]}),
        (["$.owner.*"], 3, {**DOC, "owner": {}}),
        (["$.missing.x", "nothing"], 0, DOC),
        (["$"], 0, DOC),  # never the whole document
    ],
)  # fmt: skip
def test_deny(fields: list[str], removed: int, expected: dict[str, Any]) -> None:
    document = copy.deepcopy(DOC)
    assert deny(document, field_set(fields)) == removed
    assert document == expected


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (["id"], {"id": 7, "items": [{"id": 1}, {"id": 2}]}),
        (["owner"], {"owner": DOC["owner"]}),  # a kept name keeps its subtree
        (["$.items[*].name", "$.id"], {"id": 7, "items": [
            {"name": "a"}, {"name": "b"}]}),
        (["$.items[1].nested", "$.items[*].id"], {"items": [
            {"id": 1}, {"id": 2, "nested": {"secret": "s3"}}]}),
        (["$.items[*]", "$.items[0].name"], {"items": DOC["items"]}),
        (["$.owner.tags[0]"], {"owner": {"tags": ["vip"]}}),
        (["nothing"], {}),
        (["$"], DOC),
    ],
)  # fmt: skip
def test_allow(fields: list[str], expected: dict[str, Any]) -> None:
    chosen = field_set(fields)
    kept, _ = allow(copy.deepcopy(DOC), chosen.names, allow_trie(chosen.paths))
    assert kept == expected


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("4111111111111111", "************1111"),
        ("+442079460102", "*********0102"),
        ("1234567", "*******"),  # too short to keep four
        (12345678, "****5678"),
        ({"a": 1}, "[redacted]"),
        (None, None),
        (True, True),
    ],
)
def test_mask_value(value: object, masked: object) -> None:
    assert mask_value(value) == masked


def test_mask_fields_by_name_and_path() -> None:
    document = copy.deepcopy(DOC)
    count = mask_fields(document, field_set(["ssn", "$.items[*].secret"]))
    assert count == 3
    assert document["owner"]["ssn"] == "*******6789"
    assert [i["secret"] for i in document["items"]] == ["**", "**"]
    assert document["secret"] == "top"


def test_bad_paths_are_refused() -> None:
    with pytest.raises(ValueError, match="JSON path"):
        field_set(["$.a["])
