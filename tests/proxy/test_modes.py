"""Monitor vs block, and trusted proxies, through a real proxy.

The method allow-list is the guard that decides here: in block mode a
method outside it is answered with 405 and never forwarded; in monitor mode
the same decision is recorded in the audit event and the request goes on.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fixtures.servers import EchoUpstream, Vaultgate, vaultgate_proc
from tests.proxy.client import Answer, request

POLICY = """
listen: 127.0.0.1:@PORT@
upstream: "{upstream}"
mode: block
audit: {{file: "-"}}
trusted_proxies: [127.0.0.0/8, 10.0.0.0/8]
allowed_methods: [GET]
routes:
  - path: /watched/{{rest*}}
    mode: monitor
  - path: /enforced/{{rest*}}
  - path: /writable/{{rest*}}
    allowed_methods: [GET, POST]
"""


@pytest.fixture(scope="module")
def proxy(echo_upstream: EchoUpstream) -> Iterator[Vaultgate]:
    with vaultgate_proc(POLICY.format(upstream=echo_upstream.url)) as running:
        yield running


# What a real API client sends: block mode runs every default guard, and
# the protocol-anomaly rules score a bare request (IP as Host, no type).
CLIENT = {
    "Host": "api.bank.test",
    "User-Agent": "bank-app/5.2",
    "Accept": "application/json",
    "Content-Type": "application/json",
}


def send(
    proxy: Vaultgate,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    return request(proxy.port, method, path, body, {**CLIENT, **(headers or {})})


def audit_event(proxy: Vaultgate, marker: str) -> dict[str, Any]:
    """The request's audit event (not a separate alert event)."""
    deadline = time.monotonic() + 5  # the audit log is flushed once a second
    while time.monotonic() < deadline:
        for event in proxy.audit():
            if marker in event["url"]["path"] and "response" in event["http"]:
                return event
        time.sleep(0.1)
    raise AssertionError(f"no audit event for {marker}")


def test_block_mode_refuses_and_forwards_nothing(
    proxy: Vaultgate, echo_upstream: EchoUpstream
):
    marker = f"blocked{time.monotonic_ns()}"
    answer = send(proxy, "POST", f"/enforced/{marker}", b"{}")
    assert answer.status == 405
    assert answer.header("allow") == "GET, HEAD"
    doc = answer.json()
    assert b"method.not-allowed" not in answer.body  # never names the rule
    assert echo_upstream.find(marker) == []
    event = audit_event(proxy, marker)
    assert event["vaultgate"]["enforced"] is True
    assert event["event"]["id"] == doc["incident_id"]


def test_monitor_mode_records_the_same_decision_and_forwards(
    proxy: Vaultgate, echo_upstream: EchoUpstream
):
    marker = f"watched{time.monotonic_ns()}"
    answer = send(proxy, "POST", f"/watched/{marker}", b"{}")
    assert answer.status == 200
    assert len(echo_upstream.find(marker)) == 1
    event = audit_event(proxy, marker)
    assert event["event"]["action"] == "block"
    assert event["vaultgate"]["enforced"] is False
    assert "method.not-allowed" in event["event"]["reason"]


def test_route_allow_list_replaces_the_top_level_one(proxy: Vaultgate):
    assert send(proxy, "POST", "/writable/x", b"{}").status == 200
    assert send(proxy, "HEAD", "/enforced/x").status == 200


@pytest.mark.parametrize(
    ("xff", "client"),
    [
        # Rightmost address not trusted: 203.0.113.7 (10.0.0.5 is trusted).
        ("198.51.100.1, 203.0.113.7, 10.0.0.5", "203.0.113.7"),
        # Every hop trusted: the leftmost is the client.
        ("10.1.1.1, 10.0.0.5", "10.1.1.1"),
        # A hop that is no address: stop at the last trusted one.
        ("nonsense, 10.0.0.5", "10.0.0.5"),
    ],
)
def test_trusted_peer_forwarding_fields_name_the_client(
    proxy: Vaultgate, echo_upstream: EchoUpstream, xff: str, client: str
):
    marker = f"trusted{time.monotonic_ns()}"
    headers = {"X-Forwarded-For": xff, "X-Forwarded-Proto": "https"}
    assert send(proxy, "GET", f"/enforced/{marker}", headers=headers).status == 200
    assert audit_event(proxy, marker)["client"]["ip"] == client
    [seen] = echo_upstream.find(marker)
    # A trusted peer's chain is extended, its protocol kept.
    assert seen.header("X-Forwarded-For") == f"{xff}, 127.0.0.1"
    assert seen.header("X-Forwarded-Proto") == "https"


def test_response_guards_rewrite_a_buffered_answer(
    proxy: Vaultgate, echo_upstream: EchoUpstream
):
    # The default response filter masks card numbers in JSON answers; the
    # echo upstream repeats the request's fields in its JSON answer.
    marker = f"filtered{time.monotonic_ns()}"
    card = "4111111111111111"
    headers = {"X-Card": card, "Accept-Encoding": "gzip"}
    answer = send(proxy, "GET", f"/enforced/{marker}", headers=headers)
    assert answer.status == 200
    assert card.encode() not in answer.body
    assert answer.header("content-length") == str(len(answer.body))
    assert answer.json()["target"] == f"/enforced/{marker}"
    # Filters read bodies, so the upstream was asked for no compression.
    [seen] = echo_upstream.find(marker)
    assert seen.header("Accept-Encoding") is None
    assert seen.header("X-Card") == card
