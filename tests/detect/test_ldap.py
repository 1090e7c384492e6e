"""LDAP filter injection."""

from __future__ import annotations

import pytest

from tests.detect.family_cases import benign_values, families

MUST_FIRE = [
    "*)(uid=*))(|(uid=*",
    "admin)(|(password=*)",
    "*(|(objectclass=*))",
    "(&(uid=admin)(!(&(1=0)(userPassword=q))))",
    "printer)(uid=*)",
    "value)(gidNumber<=100",
    "john)(sn~=smith",
    "val)&(cn=admin",
    "test)\t(\t|",
    "bar)(&)",
    "userPassword:2.5.13.18:=123",
]

MUST_NOT_FIRE = [
    "Smith (Jr.)(Sr.)",
    "Refund (partial)(see note)",
    "Payment (1 of 2)",
    "(c) 2024 Example Bank",
    "Ratio (a)(b) approved",
]


@pytest.mark.parametrize("payload", MUST_FIRE)
def test_filter_breakout_fires(payload: str) -> None:
    assert "ldap" in families(payload, "form", "username")


@pytest.mark.parametrize("payload", MUST_NOT_FIRE + benign_values())
def test_parentheses_in_prose_pass(payload: str) -> None:
    assert "ldap" not in families(payload, "form", "username")
