"""``vaultgate run``: the reverse proxy, in the foreground, until SIGTERM."""

from __future__ import annotations

import argparse

from vaultgate.proxy.logconfig import configure_logging

_LEVELS = ("debug", "info", "warning", "error")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policy", required=True, help="the policy file (YAML)")
    parser.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help="worker processes sharing the port (SO_REUSEPORT); default 1",
    )
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="standard error log format; default text",
    )
    parser.add_argument(
        "--log-level",
        choices=_LEVELS,
        default="info",
        help="'debug' adds one vaultgate.access record per request",
    )


def run(args: argparse.Namespace) -> int:
    """Serve the policy until stopped; the exit status."""
    configure_logging(args.log_format, args.log_level)
    # Imported here: the proxy's imports are only paid for by this command.
    from vaultgate.proxy.runner import serve

    return serve(args.policy, args.workers)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("expected a number of workers from 1")
    return value
