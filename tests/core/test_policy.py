"""Policy validation: every kind of mistake is refused with file, path, expectation."""

from __future__ import annotations

import pytest

from vaultgate.core.model import Mode
from vaultgate.core.policy import load_policy, parse_policy
from vaultgate.errors import PolicyError
from vaultgate.guards import load_all

load_all()

BASE = "upstream: http://127.0.0.1:9000\n"

# (policy text, expected message fragment): one row per kind of mistake.
MISTAKES = [
    ("upstream: ftp://x\n", "p.yaml: upstream: expected an http:// or https:// URL"),
    ("listen: 1.2.3.4\n" + BASE, "p.yaml: listen: expected '<host>:<port>'"),
    ("mode: enforce\n" + BASE, "p.yaml: mode: expected one of: block, monitor, off"),
    (BASE + "colour: blue\n", "p.yaml: colour: expected one of:"),
    (BASE + "routes: {path: /a}\n", "p.yaml: routes: expected a list"),
    (BASE + "routes: [{methods: [GET]}]\n", "p.yaml: routes[0]: expected a route"),
    (BASE + "routes: [{path: a}]\n", "p.yaml: routes[0].path: expected a path"),
    (
        BASE + "routes: [{path: '/a/{id}/{id}'}]\n",
        "routes[0].path: expected a path template whose parameter names are unique",
    ),
    (
        BASE + "routes: [{path: '/a/{x*}/b'}]\n",
        "routes[0].path: expected a catch-all {name*} only as the last segment",
    ),
    (
        BASE + "routes: [{path: /a, methods: [GET, FETCH]}]\n",
        "p.yaml: routes[0].methods[1]: expected an HTTP method, got 'FETCH'",
    ),
    (
        BASE + "routes: [{path: /a}, {path: /a}]\n",
        "p.yaml: routes[1].path: expected a path not already declared by routes[0]",
    ),
    (
        BASE + "routes: [{path: /a, mode: loud}]\n",
        "p.yaml: routes[0].mode: expected one of: block, monitor, off",
    ),
    (
        BASE + "server: {max_body_bytes: lots}\n",
        "p.yaml: server.max_body_bytes: expected a size such as 8192",
    ),
    (
        BASE + "server: {header_timeout: soon}\n",
        "p.yaml: server.header_timeout: expected a duration",
    ),
    (
        BASE + "server: {max_headers: 0}\n",
        "p.yaml: server.max_headers: expected an integer from 1 to 100000, got 0",
    ),
    (
        BASE + "server: {max_body_bytes: 1KiB, inspect_body_bytes: 2KiB}\n",
        "server.inspect_body_bytes: expected at most server.max_body_bytes",
    ),
    (BASE + "trusted_proxies: [10.0.0.0/33]\n", "trusted_proxies[0]: expected an IP"),
    (BASE + "tls: {cert: a.pem}\n", "p.yaml: tls.key: expected a file path"),
    (
        BASE + "scoring: {block_score: ten}\n",
        "scoring.block_score: expected an integer",
    ),
    (
        BASE + "scoring: {block_score: 3, alert_score: 4}\n",
        "p.yaml: scoring: expected alert_score not above block_score",
    ),
    (
        BASE + "routes: [{path: /a, traps: {ban_for: 1h}}]\n",
        "routes[0].traps: expected no route-level setting",
    ),
    (BASE + "routes: [{path: /a\n", "p.yaml: line 3: expected valid YAML"),
    ("listen: 0.0.0.0:8080\n", "p.yaml: upstream: expected an upstream URL"),
]


@pytest.mark.parametrize(("text", "message"), MISTAKES)
def test_mistakes_are_refused_with_where_and_what(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "p.yaml")
    assert message in str(caught.value)


def test_missing_file_names_the_file(tmp_path: object) -> None:
    with pytest.raises(PolicyError, match=r"nope\.yaml: expected a readable file"):
        load_policy("nope.yaml")


def test_ten_line_policy_gets_safe_defaults() -> None:
    policy = parse_policy(BASE, "p.yaml")
    assert policy.listen == ("127.0.0.1", 8080)
    assert policy.mode is Mode.BLOCK
    assert policy.server.max_url_bytes == 8192
    assert policy.server.inspect_body_bytes <= policy.server.max_body_bytes
    assert policy.routes == ()
    assert policy.match("GET", "/anything").route is policy.default_route


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("250ms", 0.25), ("30s", 30), ("2 minutes", 120), ("1h", 3600), (15, 15)],
)
def test_durations(text: object, seconds: float) -> None:
    # Pins a fixed bug: "250ms" was read as 250 minutes.
    policy = parse_policy(BASE + f"server: {{idle_timeout: {text}}}\n", "p.yaml")
    assert policy.server.idle_timeout == pytest.approx(seconds)


def test_units_are_understood() -> None:
    policy = parse_policy(
        BASE
        + "server: {max_body_bytes: 2MiB, inspect_body_bytes: 64KiB,"
        + " header_timeout: 250ms, idle_timeout: 2m}\n",
        "p.yaml",
    )
    assert policy.server.max_body_bytes == 2 * 1024 * 1024
    assert policy.server.inspect_body_bytes == 64 * 1024
    assert policy.server.header_timeout == pytest.approx(0.25)
    assert policy.server.idle_timeout == 120.0


def test_route_mode_and_settings_override_the_top_level() -> None:
    policy = parse_policy(
        BASE
        + "mode: monitor\nscoring: {block_score: 8}\n"
        + "routes:\n"
        + "  - {path: /payments, methods: [post], mode: block,"
        + " scoring: {block_score: 4}}\n"
        + "  - {path: /health}\n",
        "p.yaml",
    )
    payments, health = policy.routes
    assert payments.mode is Mode.BLOCK and health.mode is Mode.MONITOR
    assert payments.methods == frozenset({"POST"})
    assert payments.settings["scoring"].block_score == 4
    assert health.settings["scoring"].block_score == 8
