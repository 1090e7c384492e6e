"""Path traversal and local file inclusion."""

from __future__ import annotations

import pytest

from tests.detect.family_cases import benign_values, families, rule_ids

MUST_FIRE = [
    ("query", "file", "../../../etc/passwd"),
    ("query", "file", "..\\..\\windows\\win.ini"),
    ("query", "file", "%2e%2e%2f%2e%2e%2fetc%2fpasswd"),
    ("query", "file", "%252e%252e%252fetc%252fpasswd"),
    ("query", "file", "%c0%ae%c0%ae%c0%afetc%c0%afpasswd"),
    ("query", "file", ".../.../WINDOWS/win.ini"),
    ("query", "file", "..;/..;/admin"),
    ("query", "file", "0x2e0x2e/0x2e0x2e/etc/hosts"),
    ("query", "file", "/static/img/../../etc/passwd"),
    ("query", "file", "..\\pineapple"),
    ("query", "page", "/etc/shadow"),
    ("query", "page", "/proc/self/environ"),
    ("query", "page", "C:\\boot.ini"),
    ("query", "page", "/root/.ssh/id_rsa"),
    ("query", "page", "~/.aws/credentials"),
    ("json", "$.path", "../../.htaccess"),
    ("json", "$.path", "file:///etc/./passwd"),
    ("json", "$.path", "\\\\10.0.0.5\\c$\\users\\default\\ntuser.dat"),
    ("path", "", "/.git/config"),
    ("path", "", "/api/.env"),
    ("path", "", "/backup/index.php.bak"),
    ("path", "", "/shop/cart.jsp.old"),
    ("path", "", "/site/web.config"),
    ("path", "", "/index.php~"),
    ("path", "", "/dump.rdb"),
    ("path", "", "/@fs/etc/passwd"),
    ("path", "", "/@id/__x00__virtual:module"),
]

MUST_NOT_FIRE = [
    ("json", "$.memo", "docs/../readme"),
    ("json", "$.memo", "Wait... really?"),
    ("json", "$.memo", "see section 2.1/2.2"),
    ("json", "$.memo", "etc. and so on"),
    ("json", "$.memo", "hosts of the event"),
    ("json", "$.memo", "profile photo updated"),
    ("json", "$.memo", "file: statement.pdf"),
    ("json", "$.memo", "repo https://github.com/org/tool.git/"),
    ("path", "", "/.well-known/openid-configuration"),
    ("path", "", "/.vaultgate/refusal"),
    ("path", "", "/api/v1/accounts/123/statements"),
    ("path", "", "/static/app.v2.min.js"),
    ("path", "", "/statements/2024.zip"),
    ("path", "", "/users/@alice/payments"),
    ("path", "", "/v1/id/42"),
]


@pytest.mark.parametrize(("kind", "name", "payload"), MUST_FIRE)
def test_traversal_fires(kind: str, name: str, payload: str) -> None:
    assert "traversal" in families(payload, kind, name)


@pytest.mark.parametrize(("kind", "name", "payload"), MUST_NOT_FIRE)
def test_ordinary_paths_pass(kind: str, name: str, payload: str) -> None:
    assert "traversal" not in families(payload, kind, name)


@pytest.mark.parametrize("payload", benign_values())
def test_benign_values_pass(payload: str) -> None:
    assert "traversal" not in families(payload)


def test_one_dot_dot_inside_prose_waits_for_paranoia_2() -> None:
    assert "traversal.dotdot_once" in rule_ids("docs/../readme", paranoia=2)
