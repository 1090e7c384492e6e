"""``vaultgate demo``: the rendered default policy and the command itself."""

from __future__ import annotations

import argparse
import http.client
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import ec

from vaultgate.cli.demo import DemoError, render_policy, write_policy
from vaultgate.core.model import Mode
from vaultgate.core.policy import load_policy
from vaultgate.demo.tokens import public_jwk, write_jwks
from vaultgate.guards import load_all


def _args(**changes: object) -> argparse.Namespace:
    values: dict[str, object] = {
        "port": 8080,
        "api_port": 9000,
        "workers": 1,
        "dir": None,
        "audit": "-",
    }
    return argparse.Namespace(**{**values, **changes})


def test_the_rendered_default_policy_loads(tmp_path: Path) -> None:
    load_all()
    # The default policy validates tokens against the demo API's JWKS,
    # which the demo writes into its directory before vaultgate starts.
    key = ec.generate_private_key(ec.SECP256R1())
    write_jwks({"keys": [public_jwk(key)]}, str(tmp_path / "jwks.json"))
    path = write_policy(tmp_path, _args(port=8181, api_port=9191))
    policy = load_policy(str(path))
    assert policy.listen == ("127.0.0.1", 8181)
    assert policy.upstream == "http://127.0.0.1:9191"
    assert policy.mode is Mode.BLOCK
    assert policy.match("GET", "/accounts/1007").route.path == "/accounts/{account_id}"
    assert policy.match("GET", "/health").route.mode is Mode.OFF
    payments = policy.match("POST", "/payments").route
    assert payments.settings["on_state_error"] == "block"


@pytest.mark.parametrize(
    "value", ['C:\\demo "runs"', "/tmp/with space/and'quote", "/tmp/ünïcode"]
)
def test_placeholder_values_are_escaped_for_yaml(value: str) -> None:
    rendered = render_policy('file: "${audit}"\n', {"audit": value})
    assert yaml.safe_load(rendered) == {"file": value}


def test_an_unknown_placeholder_is_an_error() -> None:
    with pytest.raises(DemoError, match="unknown placeholder"):
        render_policy('upstream: "${upstream_url}"', {"port": "1"})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _vaultgate_demo(*options: str) -> subprocess.Popen[str]:
    # The console script pip installed beside this interpreter: what a
    # user runs.
    command = [str(Path(sys.executable).with_name("vaultgate")), "demo", *options]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.parametrize("option", ["--port", "--api-port"])
def test_a_taken_port_is_reported_with_what_to_do(tmp_path: Path, option: str) -> None:
    with socket.socket() as taken:
        # As vaultgate binds: SO_REUSEPORT would let a second one share it.
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        process = _vaultgate_demo(option, port, "--dir", str(tmp_path))
        _, errors = process.communicate(timeout=30)
    assert process.returncode == 2
    assert f"127.0.0.1:{port} is taken" in errors and option in errors


def _get(port: int, path: str, token: str = "") -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _login(port: int) -> str:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = json.dumps({"username": "alice", "password": "correct-horse-1"})
    try:
        connection.request("POST", "/login", body, {"Content-Type": "application/json"})
        token: str = json.loads(connection.getresponse().read())["access_token"]
        return token
    finally:
        connection.close()


def _wait_for(port: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if _get(port, "/health")[0] == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing answered on port {port}")


def test_vaultgate_demo_proxies_the_demo_api_and_stops_both(tmp_path: Path) -> None:
    pytest.importorskip("vaultgate.proxy.runner", reason="the proxy runner")
    port, api_port = _free_port(), _free_port()
    process = _vaultgate_demo(
        *("--port", str(port), "--api-port", str(api_port), "--dir", str(tmp_path)),
        *("--audit", str(tmp_path / "audit.jsonl")),
    )
    try:
        _wait_for(port, 30)
        token = _login(port)
        status, body = _get(port, "/accounts/1001", token)
        assert status == 200 and json.loads(body)["id"] == 1001
        assert json.loads((tmp_path / "jwks.json").read_text())["keys"]
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert f"send requests to http://127.0.0.1:{port}" in output
    with pytest.raises(OSError):
        _get(api_port, "/health")
