"""Shared fixtures: real servers started on free loopback ports."""

pytest_plugins = [
    "tests.fixtures.redis",
    "tests.fixtures.demo",
    "tests.fixtures.servers",
    "tests.fixtures.receivers",
]
