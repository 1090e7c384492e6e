"""The method allow-list guard: parsing and decisions."""

from __future__ import annotations

import asyncio
import re

import pytest

from vaultgate.core.model import Action
from vaultgate.core.policy import parse_policy
from vaultgate.core.request import Request
from vaultgate.engine import Engine
from vaultgate.errors import PolicyError
from vaultgate.guards import load_all
from vaultgate.state.memory import MemoryStore
from vaultgate.telemetry.audit import AuditLog, AuditSettings

load_all()

POLICY = """
upstream: http://u
allowed_methods: [get, POST]
routes:
  - path: /read
    allowed_methods: GET
  - path: /open
"""


def decide(method: str, path: str) -> tuple[int, tuple[tuple[str, str], ...]]:
    engine = Engine(
        parse_policy(POLICY, "p.yaml"),
        MemoryStore(),
        AuditLog(AuditSettings("/dev/null")),
    )
    ex = engine.begin(Request(method, path, [("Host", "a")], "192.0.2.1"))
    decision = asyncio.run(engine.decide(ex))
    if decision.action is Action.ALLOW:
        return 200, ()
    return decision.status, decision.headers


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/open", 200),
        ("HEAD", "/open", 200),  # GET allows HEAD
        ("POST", "/open", 200),
        ("DELETE", "/open", 405),
        ("GET", "/read", 200),
        ("POST", "/read", 405),  # the route's list replaces the top one
    ],
)
def test_allow_list(method: str, path: str, status: int):
    assert decide(method, path)[0] == status


def test_refusal_names_what_is_allowed():
    assert decide("PUT", "/read") == (405, (("Allow", "GET, HEAD"),))


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ("[BREW]", "allowed_methods[0]"),
        ("[]", "allowed_methods"),
        ("{a: 1}", "allowed_methods"),
    ],
)
def test_bad_lists_are_refused(value: str, where: str):
    with pytest.raises(PolicyError, match=re.escape(f"p.yaml: {where}: expected")):
        parse_policy(f"upstream: http://u\nallowed_methods: {value}\n", "p.yaml")
