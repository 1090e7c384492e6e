"""Splunk HEC delivery against a real HEC-compatible receiver on loopback."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from tests.fixtures.receivers import HEC_TOKEN, HttpReceiver
from tests.telemetry.kit import FAST, Gate, expected_ids, policy, until


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEC_TOKEN", HEC_TOKEN)


def hec_policy(tmp: Path, port: int, extra: str = "") -> str:
    sink = (
        f"    - splunk_hec: {{url: 'http://127.0.0.1:{port}', token_env: HEC_TOKEN,"
        f" index: payments, batch_events: 50, {FAST}{extra}}}\n"
    )
    return policy(tmp, sink)


async def test_events_arrive_in_hec_envelopes_with_ecs_fields(
    tmp_path: Path, hec_receiver: HttpReceiver
) -> None:
    gate = Gate(hec_policy(tmp_path, hec_receiver.port))
    await gate.audit.start()
    await gate.send("/accounts/1001")
    await gate.send("/accounts/1002", alert="bola")
    assert await until(lambda: len(hec_receiver.events) == 3)
    await gate.audit.aclose()

    envelope = hec_receiver.events[0]
    assert envelope["index"] == "payments"
    assert envelope["sourcetype"] == "_json"
    assert envelope["time"] == pytest.approx(gate.sent[0].now, abs=0.001)
    request, _, alert = hec_receiver.documents
    assert request["event"]["id"] == gate.sent[0].incident_id
    assert request["event"]["kind"] == "event"
    assert request["http"]["request"]["method"] == "GET"
    assert request["url"]["path"] == "/accounts/1001"
    assert alert["event"]["kind"] == "alert"
    assert alert["vaultgate"]["alert"]["type"] == "bola"
    assert alert["event"]["id"] == gate.sent[1].incident_id + "-bola"
    headers = hec_receiver.headers[0]
    assert headers["Content-Encoding"] == "gzip"
    assert headers["X-Splunk-Request-Channel"]


async def test_receiver_down_for_a_while_gets_every_event_once_back(
    tmp_path: Path, hec_receiver: HttpReceiver
) -> None:
    gate = Gate(hec_policy(tmp_path, hec_receiver.port))
    await gate.audit.start()
    await gate.burst(100, every_alert=10)
    assert await until(lambda: len(hec_receiver.events) == 110)

    hec_receiver.stop()
    await gate.burst(300, every_alert=7)
    channel = gate.audit.channels[0]
    assert await until(lambda: channel.spooled > 0 and not channel.queued)
    assert not channel.healthy
    await asyncio.sleep(0.3)  # a few failed retries while it is down

    hec_receiver.start()
    total = len(expected_ids(gate.sent))
    assert await until(lambda: len(hec_receiver.events) >= total)
    await gate.audit.aclose()
    ids = hec_receiver.ids()
    assert sorted(ids) == sorted(expected_ids(gate.sent))
    assert len(ids) == len(set(ids)), "no event delivered twice"
    assert ids == expected_ids(gate.sent), "delivered in the order recorded"
    assert channel.stats.retries > 0
    assert channel.stats.dropped == {}


async def test_a_restart_with_events_spooled_loses_none(
    tmp_path: Path, hec_receiver: HttpReceiver
) -> None:
    hec_receiver.stop()
    first = Gate(hec_policy(tmp_path, hec_receiver.port))
    await first.audit.start()
    await first.burst(250, every_alert=5)
    await first.audit.aclose()  # the sink is down: everything goes to the spool
    assert list((tmp_path / "spool" / "splunk_hec").glob("*/*.seg"))

    hec_receiver.start()
    second = Gate(hec_policy(tmp_path, hec_receiver.port))
    await second.audit.start()
    await second.burst(20)
    expected = expected_ids(first.sent) + expected_ids(second.sent)
    assert await until(lambda: len(hec_receiver.events) >= len(expected))
    await second.audit.aclose()
    assert hec_receiver.ids() == expected, "spooled first, in order, none twice"


async def test_unsent_queue_at_close_is_spooled_and_sent_by_the_next_process(
    tmp_path: Path, hec_receiver: HttpReceiver
) -> None:
    # Never started and closed synchronously: the queue goes to the spool.
    first = Gate(hec_policy(tmp_path, hec_receiver.port))
    await first.burst(30)
    first.audit.close()
    assert not hec_receiver.events

    second = Gate(hec_policy(tmp_path, hec_receiver.port))
    await second.audit.start()
    assert await until(lambda: len(hec_receiver.events) == 30)
    await second.audit.aclose()
    assert hec_receiver.ids() == expected_ids(first.sent)


async def test_transient_errors_are_retried_with_backoff(
    tmp_path: Path, hec_receiver: HttpReceiver
) -> None:
    hec_receiver.fail_next(3, status=503)
    gate = Gate(hec_policy(tmp_path, hec_receiver.port))
    await gate.audit.start()
    await gate.burst(10)
    assert await until(lambda: len(hec_receiver.events) == 10)
    await gate.audit.aclose()
    assert hec_receiver.ids() == expected_ids(gate.sent)
    assert gate.audit.channels[0].stats.retries == 3


async def test_a_batch_hec_refuses_for_good_is_counted_not_retried(
    tmp_path: Path, hec_receiver: HttpReceiver
) -> None:
    hec_receiver.fail_next(1, status=400)
    gate = Gate(hec_policy(tmp_path, hec_receiver.port))
    await gate.audit.start()
    await gate.send(alert="replay")
    assert await until(lambda: gate.audit.channels[0].stats.dropped != {})
    await gate.send()
    assert await until(lambda: len(hec_receiver.events) == 1)
    await gate.audit.aclose()
    assert gate.audit.channels[0].stats.dropped == {("rejected", "alert"): 2}


async def test_wrong_token_keeps_events_until_it_is_fixed(
    tmp_path: Path, hec_receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEC_TOKEN", "00000000-0000-0000-0000-000000000000")
    gate = Gate(hec_policy(tmp_path, hec_receiver.port))
    await gate.audit.start()
    await gate.burst(5)
    channel = gate.audit.channels[0]
    assert await until(lambda: channel.spooled == 5)
    await gate.audit.aclose()

    monkeypatch.setenv("HEC_TOKEN", HEC_TOKEN)
    fixed = Gate(hec_policy(tmp_path, hec_receiver.port))
    await fixed.audit.start()
    assert await until(lambda: len(hec_receiver.events) == 5)
    await fixed.audit.aclose()


@pytest.mark.parametrize("delay", [0, 2])
async def test_with_acknowledgements_a_batch_counts_once_acknowledged(
    tmp_path: Path, hec_receiver: HttpReceiver, delay: int
) -> None:
    hec_receiver.ack = True
    hec_receiver.ack_delay = delay
    extra = ", ack: true, ack_poll: 20ms, ack_timeout: 5s"
    gate = Gate(hec_policy(tmp_path, hec_receiver.port, extra))
    await gate.audit.start()
    await gate.burst(120)
    channel = gate.audit.channels[0]
    assert await until(lambda: channel.stats.delivered == 120)
    await gate.audit.aclose()
    assert hec_receiver.ids() == expected_ids(gate.sent)
    assert all(left < 0 for left in hec_receiver.acks_pending.values())


async def test_an_unacknowledged_batch_is_sent_again(
    tmp_path: Path, hec_receiver: HttpReceiver
) -> None:
    hec_receiver.ack = True
    hec_receiver.ack_delay = 1000  # the first batch is never acknowledged
    extra = ", ack: true, ack_poll: 20ms, ack_timeout: 200ms"
    gate = Gate(hec_policy(tmp_path, hec_receiver.port, extra))
    await gate.audit.start()
    await gate.send()
    assert await until(lambda: len(hec_receiver.events) == 1)
    hec_receiver.ack_delay = 0
    assert await until(lambda: gate.audit.channels[0].stats.delivered == 1)
    await gate.audit.aclose()
    assert hec_receiver.ids() == [gate.sent[0].incident_id] * 2, "at least once"


async def test_missing_token_variable_is_a_policy_error(tmp_path: Path) -> None:
    from vaultgate.errors import PolicyError

    text = policy(
        tmp_path, "    - splunk_hec: {url: 'http://127.0.0.1:1', token_env: NO_SUCH}\n"
    )
    with pytest.raises(PolicyError, match="NO_SUCH to be set") as caught:
        Gate(text)
    assert "p.yaml: audit.sinks[0]: splunk_hec.token_env" in str(caught.value)


async def test_events_spooled_before_a_crash_are_delivered_after_it(
    tmp_path: Path, hec_receiver: HttpReceiver
) -> None:
    hec_receiver.stop()
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).with_name("crash_worker.py")),
        str(tmp_path / "spool"),
        str(hec_receiver.port),
        "300",
        stdout=asyncio.subprocess.PIPE,
    )
    assert worker.stdout is not None
    line = await asyncio.wait_for(worker.stdout.readline(), 60)
    assert line == b"spooled\n"
    worker.kill()  # SIGKILL: no close, no flush
    await worker.wait()

    hec_receiver.start()
    gate = Gate(hec_policy(tmp_path, hec_receiver.port))
    await gate.audit.start()
    assert await until(lambda: len(hec_receiver.events) == 300)
    await gate.audit.aclose()
    assert hec_receiver.ids() == [f"crash-{i:05d}" for i in range(300)]


async def test_ack_asked_of_a_token_without_acknowledgement_still_delivers(
    tmp_path: Path, hec_receiver: HttpReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    extra = ", ack: true, ack_poll: 20ms"  # the receiver gives no ackId
    gate = Gate(hec_policy(tmp_path, hec_receiver.port, extra))
    await gate.audit.start()
    await gate.burst(3)
    assert await until(lambda: gate.audit.channels[0].stats.delivered == 3)
    await gate.audit.aclose()
    assert hec_receiver.ids() == expected_ids(gate.sent), "sent once, kept"
    assert caplog.text.count("audit.hec_no_ack") == 1
