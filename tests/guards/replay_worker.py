"""One vaultgate process for the cross-process replay test.

Reads a JSON list of requests on stdin, runs each through a real engine on
the policy named in argv[1], whose state is a Redis URL, and prints the
reasons of each decision as a JSON list (``[]`` for an accepted request).
Started twice, at once, by ``test_replay.py``.
"""

from __future__ import annotations

import asyncio
import sys
import time

import orjson

from vaultgate.core.policy import load_policy
from vaultgate.core.request import Request
from vaultgate.engine import Engine
from vaultgate.guards import load_all
from vaultgate.state import open_store
from vaultgate.telemetry.audit import AuditLog, AuditSettings

# Generous: two processes and a Redis share two cores during the test.
STORE_TIMEOUT = 1.0


async def main(policy_path: str, go_at: float) -> list[list[str]]:
    load_all()
    policy = load_policy(policy_path)
    store = open_store(policy.state, STORE_TIMEOUT)
    await store.open()  # type: ignore[attr-defined]
    engine = Engine(policy, store, AuditLog(AuditSettings("/dev/null")))
    requests = orjson.loads(sys.stdin.buffer.read())
    await asyncio.sleep(max(0.0, go_at - time.time()))  # start with the other
    results = []
    for item in requests:
        headers = [("Host", "api.bank.test"), *map(tuple, item["headers"])]
        request = Request(item["method"], item["path"], headers, item["ip"])
        ex = engine.begin(request)
        await engine.decide(ex)
        results.append(list(ex.decision.reasons) if ex.decision else [])
    await engine.close()
    return results


if __name__ == "__main__":
    out = asyncio.run(main(sys.argv[1], float(sys.argv[2])))
    sys.stdout.buffer.write(orjson.dumps(out))
