"""``vaultgate check``: what it prints for a valid policy, and its errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from vaultgate.cli import main

VALID = """
listen: 0.0.0.0:8443
upstream: http://127.0.0.1:9000
mode: block
trusted_proxies: [10.0.0.0/8]
allowed_methods: [GET]
server:
  max_body_bytes: 1MiB
routes:
  - path: /payments
    methods: [POST]
    allowed_methods: [POST]
  - path: /accounts/{account_id}
    mode: monitor
  - path: /health
    mode: "off"
"""


def check(
    tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    status = main(["check", str(path)])
    out, err = capsys.readouterr()
    return status, out, err


def test_valid_policy_is_described(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    status, out, _ = check(tmp_path, VALID, capsys)
    assert status == 0
    lines = out.splitlines()
    assert "listen: http://0.0.0.0:8443" in lines
    assert "upstream: http://127.0.0.1:9000" in lines
    assert "mode: block" in lines
    assert "trusted_proxies: 10.0.0.0/8" in lines
    assert "  max_body_bytes: 1048576" in lines
    routes = [
        line.strip() for line in lines if line.startswith("  [") or "(default)" in line
    ]
    assert routes[0].startswith("[0] POST /payments  mode=block  guards: ")
    assert "methods" in routes[0]
    assert routes[1].startswith("[1] * /accounts/{account_id}  mode=monitor")
    assert routes[2] == "[2] * /health  mode=off  guards: (none: mode off)"
    assert routes[3].startswith("(default) * /{*}  mode=block")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("upstream: [1]\n", "upstream: expected a non-empty string, got [1]"),
        ("listen: nowhere\nupstream: http://u\n", "listen: expected '<host>:<port>'"),
        (
            "upstream: http://u\nroutes:\n  - path: /a\n    methods: [FETCH]\n",
            "routes[0].methods[0]: expected an HTTP method, got 'FETCH'",
        ),
        (
            "upstream: http://u\nallowed_methods: [BREW]\n",
            "allowed_methods[0]: expected an HTTP method",
        ),
        (
            "upstream: http://u\nserver: {header_timeout: soon}\n",
            "server.header_timeout",
        ),
        (
            "upstream: http://u\ntls: {cert: /none.pem, key: /none.key}\n",
            "tls.cert: expected a readable PEM certificate and matching key",
        ),
        ("upstream: http://u\nlisten: [\n", "expected valid YAML"),
    ],
)
def test_invalid_policy_exits_2_with_where_and_what(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
):
    status, out, err = check(tmp_path, text, capsys)
    assert status == 2
    assert out == ""
    assert f"{tmp_path / 'policy.yaml'}: " in err
    assert message in err


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["check", str(tmp_path / "none.yaml")]) == 2
    assert "expected a readable file" in capsys.readouterr().err
