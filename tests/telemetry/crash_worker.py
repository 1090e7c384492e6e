"""A process that records events while its HEC sink is down, then is killed.

Run by test_hec: it prints ``spooled`` once every event is in the spool,
and the test kills it with SIGKILL, as a crash would.
"""

from __future__ import annotations

import asyncio
import sys
import time

from vaultgate.core.schema import Node
from vaultgate.telemetry.audit import AuditLog
from vaultgate.telemetry.settings import parse_audit


async def main(spool: str, port: int, count: int) -> None:
    settings = parse_audit(
        Node(
            {
                "spool_dir": spool,
                "sinks": [
                    {
                        "splunk_hec": {
                            "url": f"http://127.0.0.1:{port}",
                            "token_env": "HEC_TOKEN",
                            "flush_interval": "20ms",
                            "retry_min": "20ms",
                            "retry_max": "50ms",
                        }
                    }
                ],
            },
            "audit",
            "crash.yaml",
        )
    )
    audit = AuditLog(settings)
    await audit.start()
    for i in range(count):
        audit.record_refusal(
            time.time(), f"crash-{i:05d}", "10.0.0.1", "GET", "/", 400, "x"
        )
    channel = audit.channels[0]
    for _ in range(3000):  # 30 s at most
        if channel.spooled >= count:
            print("spooled", flush=True)
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(60)  # killed before this ends


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
