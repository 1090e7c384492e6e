"""``vaultgate demo``: the demo banking API with vaultgate in front of it.

How this works: the demo API runs as a child process on its own port and
writes its JWKS into the run's directory; the packaged default policy is a
template whose ``${name}`` placeholders this command fills in (ports, the
directory, the audit sink) and writes next to the JWKS; vaultgate then
serves that policy in the foreground.  Ctrl-C or SIGTERM stops vaultgate,
which drains, and then the demo API.  The child runs in its own session so
that Ctrl-C reaches vaultgate first, and dies with its parent on Linux.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from vaultgate.errors import PolicyError

TEMPLATE = "default-policy.yaml"
# Starting Python and generating a key takes well under a second; a shared,
# busy CI machine gets a generous margin.
STARTUP_SECONDS = 15.0
STOP_SECONDS = 5.0  # the child's grace period after SIGTERM

_PLACEHOLDER = re.compile(r"\$\{([a-z_]+)\}")


class DemoError(Exception):
    """The demo could not start; the message says what to do."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8080, help="vaultgate's port")
    parser.add_argument(
        "--api-port", type=int, default=9000, help="the demo API's port"
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="vaultgate worker processes"
    )
    parser.add_argument(
        "--dir",
        help="keep the JWKS and the rendered policy here (default: a temporary "
        "directory removed at exit)",
    )
    parser.add_argument(
        "--audit", default="-", help="audit event file ('-': standard output)"
    )


def run(args: argparse.Namespace) -> int:
    """Start the demo API and vaultgate; return when both have stopped."""
    try:
        _ensure_free(args.port, "--port")
        _ensure_free(args.api_port, "--api-port")
        with _directory(args.dir) as directory, _demo_api(args, directory):
            policy_path = write_policy(directory, args)
            _check(policy_path)
            print(banner(args.port, directory), flush=True)
            return _serve(policy_path, args.workers)
    except (DemoError, PolicyError) as exc:
        print(f"vaultgate demo: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def render_policy(template: str, values: Mapping[str, str]) -> str:
    """Fill in ``${name}`` placeholders, escaped for a double-quoted YAML string."""

    def value_of(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise DemoError(f"{TEMPLATE}: unknown placeholder ${{{name}}}")
        return json.dumps(values[name])[1:-1]  # JSON escapes are YAML's too

    return _PLACEHOLDER.sub(value_of, template)


def write_policy(directory: Path, args: argparse.Namespace) -> Path:
    """Render the packaged default policy for this run into ``directory``."""
    packaged = resources.files("vaultgate").joinpath("data").joinpath(TEMPLATE)
    template = packaged.read_text("utf-8")
    values = {
        "port": str(args.port),
        "api_port": str(args.api_port),
        "demo_dir": str(directory.resolve()),
        "audit": args.audit,
    }
    path = directory / "policy.yaml"
    path.write_text(render_policy(template, values), encoding="utf-8")
    return path


def banner(port: int, directory: Path) -> str:
    """Where to send requests, with examples to paste into a shell."""
    base = f"http://127.0.0.1:{port}"
    auth = '-H "Authorization: Bearer $TOKEN"'
    return f"""
vaultgate demo: send requests to {base}
  (demo API behind it: see docs/demo.md; policy: {directory / "policy.yaml"})

  # 1. log in as alice and keep her token
  TOKEN=$(curl -s {base}/login -H 'Content-Type: application/json' \\
    -d '{{"username":"alice","password":"correct-horse-1"}}' \\
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

  # 2. read one of alice's own accounts
  curl -s {base}/accounts/1001 {auth}

  # 3. BOLA: alice asks for carol's account
  curl -s {base}/accounts/1007 {auth}

  # 4. SQL injection in the payee search
  curl -s "{base}/search?q=x%27%20UNION%20SELECT%20password%20FROM%20users--"

  # 5. the leaking error page
  curl -s "{base}/debug/error?id=1001%27"

  # 6. a trap path (this may ban your address for a while: try it last)
  curl -s {base}/.env

Ctrl-C stops vaultgate and the demo API.
"""


# -- the pieces ----------------------------------------------------------------


def _ensure_free(port: int, option: str) -> None:
    # vaultgate binds with SO_REUSEPORT, so a second demo on a taken port
    # would silently share it with the first; a probe without that option
    # fails instead.  SO_REUSEADDR only forgives TIME_WAIT leftovers.
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise DemoError(
                f"127.0.0.1:{port} is taken (another vaultgate demo?): "
                f"choose another port with {option}"
            ) from None


@contextmanager
def _directory(wanted: str | None) -> Iterator[Path]:
    if wanted:
        path = Path(wanted)
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    path = Path(tempfile.mkdtemp(prefix="vaultgate-demo-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextmanager
def _demo_api(args: argparse.Namespace, directory: Path) -> Iterator[None]:
    command = [sys.executable, "-m", "vaultgate.demo", "--host", "127.0.0.1"]
    command += [
        "--port",
        str(args.api_port),
        "--jwks-out",
        str(directory / "jwks.json"),
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_die_with_parent,  # safe here: no threads exist yet
    )
    try:
        _await_ready(process, args.api_port)
        yield
    finally:
        _stop(process)


def _die_with_parent() -> None:
    # If vaultgate is killed outright, the demo API must not linger on its
    # port: PR_SET_PDEATHSIG (Linux) sends it SIGTERM when we die.
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def _await_ready(process: subprocess.Popen[str], port: int) -> None:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], STARTUP_SECONDS)
    line = process.stdout.readline() if ready else ""
    if "listening on" not in line:
        raise DemoError(
            f"the demo API did not start on 127.0.0.1:{port} (is the port "
            "taken? choose another with --api-port)"
        )


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stdout is not None:
        process.stdout.close()


def _check(policy_path: Path) -> None:
    from vaultgate.core.policy import load_policy
    from vaultgate.guards import load_all

    load_all()
    load_policy(str(policy_path))


def _serve(policy_path: Path, workers: int) -> int:
    from vaultgate.proxy.runner import serve

    return serve(str(policy_path), workers)
