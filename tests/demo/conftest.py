"""Tokens of the seeded demo users, obtained once per session."""

from __future__ import annotations

import pytest

from tests.fixtures.demo import DemoServer


@pytest.fixture(scope="session")
def alice_token(demo_api: DemoServer) -> str:
    return demo_api.login("alice")


@pytest.fixture(scope="session")
def bob_token(demo_api: DemoServer) -> str:
    return demo_api.login("bob")


@pytest.fixture(scope="session")
def support_token(demo_api: DemoServer) -> str:
    return demo_api.login("sam")
