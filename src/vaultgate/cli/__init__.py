"""The ``vaultgate`` command: one module per subcommand.

Each module in ``COMMANDS`` defines ``add_arguments(parser)`` and
``run(args) -> int``; they are imported only when their command runs, so
``vaultgate check`` does not pay for the proxy's imports.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# command name -> (module, one-line help)
COMMANDS = {
    "run": ("vaultgate.cli.run", "run the reverse proxy with a policy"),
    "check": ("vaultgate.cli.check", "validate a policy and print what it means"),
    "demo": ("vaultgate.cli.demo", "run the demo banking API behind vaultgate"),
    "train": ("vaultgate.cli.train", "train the attack model, or a route model"),
    "authz": ("vaultgate.cli.authz", "serve the nginx / Envoy authorization adapters"),
    "replay": ("vaultgate.cli.replay", "run recorded traffic through a policy offline"),
}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``vaultgate`` command."""
    parser = argparse.ArgumentParser(prog="vaultgate")
    commands = parser.add_subparsers(dest="command", required=True)
    modules = {}
    wanted = (argv if argv is not None else sys.argv[1:])[:1]
    for name, (module_name, help_text) in COMMANDS.items():
        sub = commands.add_parser(name, help=help_text)
        if name in wanted:
            modules[name] = importlib.import_module(module_name)
            modules[name].add_arguments(sub)
    args = parser.parse_args(argv)
    return int(modules[args.command].run(args))


if __name__ == "__main__":
    sys.exit(main())
