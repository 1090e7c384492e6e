"""Shellshock: a Bash function definition at the start of a header or value."""

from __future__ import annotations

import pytest

from tests.detect.family_cases import benign_values, families

MUST_FIRE = [
    ("header", "user-agent", "() { :; }; echo; /bin/bash -c 'id'"),
    ("header", "referer", '() { :;}; /bin/sh -c "sleep 6"'),
    ("header", "x-test", "() {"),
    ("query", "arg", "() { ignored; }; curl http://203.0.113.7/"),
    ("json-key", "$", "() { :; }"),
]

MUST_NOT_FIRE = [
    "function() { return 1; }",
    "Smith (Jr.) {office}",
    "emoji :-() {hug}",
    "f() would be a function call",
]


@pytest.mark.parametrize(("kind", "name", "payload"), MUST_FIRE)
def test_function_definition_fires(kind: str, name: str, payload: str) -> None:
    assert "shellshock" in families(payload, kind, name)


@pytest.mark.parametrize("payload", MUST_NOT_FIRE + benign_values())
def test_code_and_prose_pass(payload: str) -> None:
    assert "shellshock" not in families(payload, "header", "user-agent")
