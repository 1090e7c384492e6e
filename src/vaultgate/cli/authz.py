"""``vaultgate authz``: the authorization adapters, beside nginx or Envoy.

Serves the adapters the policy's ``adapters`` section names (NGINX
auth_request, Envoy ext_authz over HTTP and gRPC) with the same engine and
guards as ``vaultgate run``, in the foreground, until SIGTERM.
"""

from __future__ import annotations

import argparse
import sys

from vaultgate.proxy.logconfig import configure_logging

_LEVELS = ("debug", "info", "warning", "error")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policy", required=True, help="the policy file (YAML)")
    parser.add_argument(
        "--check",
        action="store_true",
        help="validate the policy for the adapters and exit (0 valid, 2 not)",
    )
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="standard error log format; default text",
    )
    parser.add_argument(
        "--log-level", choices=_LEVELS, default="info", help="default info"
    )


def run(args: argparse.Namespace) -> int:
    """Serve the adapters until stopped; the exit status."""
    configure_logging(args.log_format, args.log_level)
    # Imported here: grpc and the proxy are only paid for by this command.
    from vaultgate.adapters.runner import load, serve
    from vaultgate.errors import PolicyError

    if args.check:
        try:
            policy = load(args.policy)
        except PolicyError as exc:
            print(f"vaultgate authz: {exc}", file=sys.stderr)
            return 2
        print(f"policy: {policy.source} (valid for vaultgate authz)")
        return 0
    return serve(args.policy)
