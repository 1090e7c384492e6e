"""Detection rate and false positives, vaultgate beside nginx + ModSecurity + CRS.

Runs ``../shared/tools/waf_eval.py`` over the shared corpora against each
target, in front of an nginx upstream that answers 200 to everything (so a
403 can only come from the proxy), and prints both summaries side by side.
Who-sends defences (rate limits, bans, bots) are off in the policy used, as
the tool's README asks: it sends everything from 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from bench import servers

HERE = Path(__file__).parent
WAF_EVAL = HERE.parent.parent / "shared" / "tools" / "waf_eval.py"


def evaluate(port: int, out: Path, extra: list[str]) -> dict[str, object]:
    argv = [
        sys.executable, str(WAF_EVAL), "--target", f"http://127.0.0.1:{port}",
        "--json", str(out), *extra,
    ]  # fmt: skip
    subprocess.run(argv, check=True)
    return dict(json.loads(out.read_text()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--targets", default="vaultgate,nginx+modsec+crs")
    parser.add_argument("--policy", default=str(HERE / "policies" / "detection.yaml"))
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("waf_eval_args", nargs="*", help="passed to waf_eval.py")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    wanted = args.targets.split(",")
    policy = Path(args.policy).read_text()
    with servers.workdir() as work, servers.upstream(work) as up:
        policy = policy.replace("@UPSTREAM@", f"http://127.0.0.1:{up.port}")
        if "vaultgate" in wanted:
            with servers.vaultgate(work, "vaultgate-detect", policy) as vg:
                evaluate(
                    vg.port, args.out / "detection-vaultgate.json", args.waf_eval_args
                )
        if "nginx+modsec+crs" in wanted:
            with servers.modsec_proxy(work, up.port) as ms:
                evaluate(
                    ms.port, args.out / "detection-modsec.json", args.waf_eval_args
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
