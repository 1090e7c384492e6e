"""``vaultgate authz`` as a user runs it: validation, exit codes, a taken port."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from tests.fixtures.servers import VAULTGATE

VALID = "adapters:\n  nginx: {listen: 127.0.0.1:@PORT@}\n"


def authz(
    policy: Path, *extra: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    argv = [*VAULTGATE, "authz", "--policy", str(policy), *extra]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize(
    ("text", "code", "said"),
    [
        ("mode: block\n", 2, "adapters: expected at least one of nginx"),
        # The inline proxy's policy keys stay valid, upstream included.
        (
            "upstream: http://127.0.0.1:9000\n" + VALID.replace("@PORT@", "9100"),
            0,
            "valid for vaultgate authz",
        ),
    ],
)
def test_check_validates_for_the_adapters(
    tmp_path: Path, text: str, code: int, said: str
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(text)
    done = authz(policy, "--check")
    assert done.returncode == code, done.stderr
    assert said in done.stdout + done.stderr


@pytest.mark.parametrize("adapter", ["nginx", "envoy_grpc"])
def test_a_taken_port_stops_startup_instead_of_sharing(
    tmp_path: Path, adapter: str
) -> None:
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        policy = tmp_path / "policy.yaml"
        text = VALID.replace("nginx", adapter).replace("@PORT@", str(port))
        policy.write_text(text)
        done = authz(policy)
    assert done.returncode == 1
    assert "adapter.listen_failed" in done.stderr
    assert "adapter.listening" not in done.stderr
