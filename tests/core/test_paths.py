"""Path normalisation for routing: one spelling per path."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaultgate.core.paths import normalize_path

CASES = [
    ("/accounts/1", "/accounts/1"),
    ("/accounts/%31", "/accounts/1"),
    ("//accounts///1", "/accounts/1"),
    ("/x/../accounts/1", "/accounts/1"),
    ("/./accounts/./1", "/accounts/1"),
    ("/../../etc/passwd", "/etc/passwd"),
    ("/accounts\\1", "/accounts/1"),
    ("/a/b/", "/a/b/"),
    ("", "/"),
    ("/%2e%2e/admin", "/admin"),
]


@pytest.mark.parametrize(("raw", "expected"), CASES)
def test_spellings_of_one_path_normalise_alike(raw: str, expected: str) -> None:
    assert normalize_path(raw) == expected


@given(st.text(alphabet="/.%2e\\ab", max_size=40))
def test_result_is_absolute_and_has_no_dot_segments(raw: str) -> None:
    path = normalize_path("/" + raw)
    assert path.startswith("/")
    assert "/../" not in path + "/" and "/./" not in path + "/"
