"""``vaultgate run`` end to end: events to HEC, metrics on the admin port, and
events spooled at shutdown while the SIEM is down delivered by the next run."""

from __future__ import annotations

import http.client
import re
from pathlib import Path

import pytest

from tests.fixtures.receivers import HEC_TOKEN, HttpReceiver, wait_until
from tests.fixtures.servers import EchoUpstream, Vaultgate, vaultgate_proc

ADMIN_TOKEN = "run-admin-token-5d1e"


def policy(upstream: EchoUpstream, hec_port: int, spool: Path) -> str:
    return (
        "listen: 127.0.0.1:@PORT@\n"
        f"upstream: {upstream.url}\n"
        "admin: {listen: '127.0.0.1:0', token_env: RUN_ADMIN_TOKEN}\n"
        "audit:\n"
        f"  spool_dir: {spool}\n"
        "  sinks:\n"
        f"    - splunk_hec: {{url: 'http://127.0.0.1:{hec_port}', token_env: RUN_HEC,"
        " flush_interval: 20ms, retry_min: 20ms, retry_max: 100ms}\n"
    )


def get(port: int, path: str, headers: dict[str, str] | None = None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers={"Host": "api.bank.test", **(headers or {})})
    status = conn.getresponse().status
    conn.close()
    return status


def scrape(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    body = conn.getresponse().read().decode()
    conn.close()
    return body


def admin_port(running: Vaultgate) -> int:
    log = running.wait_log("admin.listening")
    found = re.search(r"admin\.listening host=\S+ port=(\d+)", log)
    assert found is not None
    return int(found.group(1))


def paths(receiver: HttpReceiver) -> list[str]:
    return [
        d["url"]["path"] for d in receiver.documents if d["event"]["kind"] == "event"
    ]


@pytest.fixture
def env() -> dict[str, str]:
    return {"RUN_HEC": HEC_TOKEN, "RUN_ADMIN_TOKEN": ADMIN_TOKEN}


def test_events_reach_hec_and_survive_a_restart_while_it_is_down(
    tmp_path: Path,
    echo_upstream: EchoUpstream,
    hec_receiver: HttpReceiver,
    env: dict[str, str],
) -> None:
    text = policy(echo_upstream, hec_receiver.port, tmp_path / "spool")
    first = [f"/accounts/{i}" for i in range(20)]
    later = [f"/payments/{i}" for i in range(10)]
    with vaultgate_proc(text, env=env) as running:
        assert all(get(running.port, p) == 200 for p in first)
        assert wait_until(lambda: sorted(paths(hec_receiver)) == sorted(first))

        port = admin_port(running)
        assert get(port, "/metrics") == 401
        # The receiver records a batch before vaultgate reads its answer.
        delivered = 'vaultgate_audit_delivered_total{sink="splunk_hec"} 20.0'
        assert wait_until(lambda: delivered in scrape(port))
        requests = r'vaultgate_requests_total\{.*status="200".*\} 20\.0'
        assert re.search(requests, scrape(port))

        hec_receiver.stop()
        assert all(get(running.port, p) == 200 for p in later)
    # SIGTERM with the SIEM down: the ten events went to the spool.
    assert list((tmp_path / "spool" / "splunk_hec").glob("*/*.seg"))

    hec_receiver.start()
    with vaultgate_proc(text, env=env):
        assert wait_until(lambda: len(paths(hec_receiver)) == 30, 20)
    assert sorted(paths(hec_receiver)) == sorted(first + later), "none lost, none twice"
