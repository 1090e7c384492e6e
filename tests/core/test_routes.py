"""Route matching: the most specific template wins, parameters are captured."""

from __future__ import annotations

import pytest

from vaultgate.core.policy import parse_policy
from vaultgate.guards import load_all

load_all()

POLICY = parse_policy(
    """
upstream: http://127.0.0.1:9000
routes:
  - {path: /accounts}
  - {path: '/accounts/{account_id}'}
  - {path: /accounts/me}
  - {path: '/accounts/{account_id}/transactions'}
  - {path: /payments, methods: [POST]}
  - {path: /payments}
  - {path: '/files/{rest*}'}
  - {path: '/static/{*}'}
""",
    "routes.yaml",
)

CASES = [
    ("GET", "/accounts", "/accounts", {}),
    ("GET", "/accounts/", "/accounts", {}),
    ("GET", "/accounts/1001", "/accounts/{account_id}", {"account_id": "1001"}),
    ("GET", "/accounts/me", "/accounts/me", {}),
    (
        "GET",
        "/accounts/7/transactions",
        "/accounts/{account_id}/transactions",
        {"account_id": "7"},
    ),
    ("POST", "/payments", "/payments", {}),
    ("GET", "/payments", "/payments", {}),
    ("GET", "/files/a/b/c.txt", "/files/{rest*}", {"rest": "a/b/c.txt"}),
    ("GET", "/static/app.js", "/static/{*}", {}),
    ("GET", "/accounts/7/other", "/{*}", {}),  # falls back to the default route
    ("GET", "/", "/{*}", {}),
]


@pytest.mark.parametrize(("method", "path", "template", "params"), CASES)
def test_most_specific_route_wins(
    method: str, path: str, template: str, params: dict[str, str]
) -> None:
    match = POLICY.match(method, path)
    assert match.route.path == template
    assert dict(match.params) == params


def test_method_specific_route_beats_any_method_route() -> None:
    post = POLICY.match("POST", "/payments").route
    get = POLICY.match("GET", "/payments").route
    assert post.methods == frozenset({"POST"})
    assert get.methods is None
