"""``python -m vaultgate.demo``: run the demo banking API on its own.

Once it listens (and the JWKS file, if asked for, is written) it prints one
line, ``demo-api listening on http://HOST:PORT``, to standard output: a
parent process reads it to learn the port when it asked for port 0.
SIGINT and SIGTERM stop it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

import uvloop

from vaultgate.demo.api import DemoAPI, start
from vaultgate.demo.tokens import KeyFileError

log = logging.getLogger("vaultgate.demo")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m vaultgate.demo",
        description="The demo banking API (deliberately weak: see docs/demo.md).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1")
    parser.add_argument("--port", type=int, default=9000, help="0: any free port")
    parser.add_argument("--key", help="PEM file of the EC P-256 signing key")
    parser.add_argument("--jwks-out", help="write the JWKS to this file")
    return parser.parse_args(argv)


class StartError(Exception):
    """The demo API could not start; the message says why."""


async def serve(args: argparse.Namespace) -> None:
    """Run until SIGINT or SIGTERM."""
    try:
        api = await start(args.host, args.port, args.key)
    except OSError as exc:
        where = f"{args.host}:{args.port}"
        raise StartError(f"cannot listen on {where}: {exc.strerror}") from None
    try:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        if args.jwks_out:
            _write_jwks(api, args.jwks_out)
        # The parent may signal as soon as it reads this: handlers first.
        print(f"demo-api listening on {api.url}", flush=True)
        await stop.wait()
    finally:
        await api.close()


def _write_jwks(api: DemoAPI, path: str) -> None:
    try:
        api.write_jwks(path)
    except OSError as exc:
        raise StartError(f"cannot write the JWKS to {path}: {exc.strerror}") from None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s %(message)s")
    try:
        uvloop.run(serve(args))
    except (KeyFileError, StartError) as exc:
        print(f"demo-api: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
