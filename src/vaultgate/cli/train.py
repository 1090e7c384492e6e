"""``vaultgate train``: the attack-likelihood model, or a route model offline.

Without ``--route-model`` it trains the attack-likelihood model (needs the
``train`` extra: ``pip install 'vaultgate[train]'``) from the project's
generators plus any recorded traffic given, writes ``attack-model.npz``
and ``MODEL_CARD.md`` to ``--out``, and prints what it measured on
held-out data.  With the defaults and the CSIC file given as
``--benign-http`` it reproduces the shipped model.

With ``--route-model FILE`` it learns a route model from recorded traffic
(``--from`` raw HTTP files, waf_eval exports or audit files) and writes
it where ``learning.file`` can load it.
"""

from __future__ import annotations

import argparse
import hashlib
import shlex
import subprocess
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="vaultgate-model", help="output directory")
    parser.add_argument("--seed", type=int, default=2010)
    parser.add_argument("--attacks", type=int, default=60_000)
    parser.add_argument("--benign", type=int, default=100_000)
    parser.add_argument(
        "--benign-http", nargs="*", default=[], help="raw HTTP files of benign traffic"
    )
    parser.add_argument(
        "--attack-http", nargs="*", default=[], help="raw HTTP files of attacks"
    )
    parser.add_argument("--audit", help="an audit JSON-lines file to learn from")
    parser.add_argument("--labels", help="labels of --audit events (JSON lines)")
    parser.add_argument("--route-model", help="build a route model into this file")
    parser.add_argument(
        "--from", dest="sources", nargs="*", default=[], help="recorded traffic"
    )
    parser.add_argument(
        "--client-key",
        default="request",
        help="who sent a recorded request: request (each its own client), ip, "
        "header:NAME or cookie:NAME; default request",
    )


def run(args: argparse.Namespace) -> int:
    """Train as asked; the exit status."""
    if args.route_model:
        return _route_model(args)
    if bool(args.audit) != bool(args.labels):
        print("vaultgate train: --audit and --labels go together", file=sys.stderr)
        return 2
    try:
        import sklearn  # noqa: F401 - only checks that the extra is installed
    except ImportError:
        print(
            "vaultgate train: scikit-learn is missing; install the train extra: "
            "pip install 'vaultgate[train]'",
            file=sys.stderr,
        )
        return 2
    return _attack_model(args)


def _progress(message: str) -> None:
    print(f"\r\033[K{message}", end="", file=sys.stderr, flush=True)


def _attack_model(args: argparse.Namespace) -> int:
    from vaultgate.ml import train as training
    from vaultgate.ml.card import model_card
    from vaultgate.ml.model import save_model

    options = training.Options(
        seed=args.seed,
        attacks=args.attacks,
        benign=args.benign,
        benign_http=tuple(args.benign_http),
        attack_http=tuple(args.attack_http),
        audit=args.audit or "",
        labels=args.labels or "",
    )
    model, report = training.run(options, _progress)
    print(file=sys.stderr)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    target = out / "attack-model.npz"
    save_model(target, model, {"seed": str(args.seed)})
    sha = hashlib.sha256(target.read_bytes()).hexdigest()[:16]
    command = _command(args)
    card = model_card(options, report, command, sha, _revision())
    (out / "MODEL_CARD.md").write_text(card)
    print(f"wrote {target} (sha256 {sha}) and {out / 'MODEL_CARD.md'}")
    print(f"thresholds: likely {report.threshold:.4f}, certain {report.strong:.4f}")
    print("\n".join(report.lines))
    return 0


def _revision() -> str:
    """The source tree's commit, when it is a git checkout ("" otherwise)."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _command(args: argparse.Namespace) -> str:
    """The command line that reproduces this run, for the model card."""
    words = ["vaultgate", "train", "--out", args.out, "--seed", str(args.seed)]
    words += ["--attacks", str(args.attacks), "--benign", str(args.benign)]
    for option, paths in (("--benign-http", args.benign_http),
                          ("--attack-http", args.attack_http)):  # fmt: skip
        if paths:
            words += [option, *paths]
    if args.audit:
        words += ["--audit", args.audit, "--labels", args.labels]
    return shlex.join(words)


def _route_model(args: argparse.Namespace) -> int:
    from vaultgate.ml.learner import save_route_model
    from vaultgate.ml.offline import build

    if not args.sources:
        print("vaultgate train --route-model: give --from FILE ...", file=sys.stderr)
        return 2
    try:
        model, learnt, skipped = build(args.sources, args.client_key, _progress)
    except (OSError, ValueError) as exc:
        print(f"\nvaultgate train: {exc}", file=sys.stderr)
        return 2
    print(file=sys.stderr)
    save_route_model(args.route_model, model)
    print(
        f"wrote {args.route_model}: {len(model.routes)} routes from {learnt} "
        f"requests ({skipped} flagged by inspection and left out)"
    )
    return 0
