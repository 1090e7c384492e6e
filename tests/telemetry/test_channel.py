"""Queues and spools at their limits: allowed traffic goes first, alerts stay."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.receivers import HEC_TOKEN, HttpReceiver
from tests.telemetry.kit import FAST, Gate, expected_ids, policy, until
from vaultgate.telemetry.metrics import RECORDER, VaultgateCollector


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEC_TOKEN", HEC_TOKEN)


def hec(port: int, extra: str = "") -> str:
    return (
        f"    - splunk_hec: {{url: 'http://127.0.0.1:{port}', token_env: HEC_TOKEN,"
        f" {FAST}{extra}}}\n"
    )


async def test_a_full_queue_refuses_allowed_traffic_and_keeps_a_reserve_for_alerts(
    tmp_path: Path, hec_receiver: HttpReceiver
) -> None:
    gate = Gate(policy(tmp_path, hec(hec_receiver.port, ", queue_size: 20")))
    await gate.burst(30)  # never started: nothing leaves the queue
    for _ in range(3):
        await gate.send(alert="replay")  # a request event and an alert event each
    channel = gate.audit.channels[0]
    assert channel.queued == 22  # 20, and a reserve of a tenth for alerts
    assert channel.stats.dropped == {
        ("queue_full", "allowed"): 10,
        ("queue_full", "alert"): 4,
    }
    await gate.audit.aclose()


async def test_a_full_spool_drops_old_allowed_events_and_delivers_every_alert(
    tmp_path: Path, hec_receiver: HttpReceiver
) -> None:
    hec_receiver.stop()
    text = policy(tmp_path, hec(hec_receiver.port), "  spool_max: 64KiB\n")
    gate = Gate(text)
    await gate.audit.start()
    # About 6 times what the spool holds; the alerts alone fit in it.
    await gate.burst(600, every_alert=40)
    channel, every = gate.audit.channels[0], expected_ids(gate.sent)

    def spool_drops() -> int:
        return channel.stats.dropped.get(("spool_full", "allowed"), 0)

    assert await until(lambda: channel.spooled + spool_drops() == len(every))
    # At most one segment over the limit, and the failed batch that went
    # back to the head of the spool (up to 500 events) on top.
    assert channel.spool_bytes <= 64 * 1024 * 9 // 8 + 500 * 1024
    assert spool_drops() > 0
    assert ("spool_full", "alert") not in channel.stats.dropped

    hec_receiver.start()
    lost = spool_drops()
    assert await until(lambda: len(hec_receiver.events) == len(every) - lost)
    await gate.audit.aclose()

    got = hec_receiver.ids()
    alerting = {ex.incident_id for ex in gate.sent if ex.tags.get("alert")}
    kept = [i for i in every if i.split("-")[0] in alerting]
    assert [i for i in got if i.split("-")[0] in alerting] == kept, "every alert"
    assert got == [i for i in every if i in set(got)], "in order"
    assert got[-1] == every[-1], "the newest allowed events are kept"

    exported = {
        tuple(sample.labels.values()): sample.value
        for family in VaultgateCollector(RECORDER, lambda: gate.audit).collect()
        if family.name == "vaultgate_audit_dropped"
        for sample in family.samples
    }
    assert exported[("splunk_hec", "spool_full", "allowed")] == lost
