"""The clean-traffic template writes the same event as the general builder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from tests.telemetry.kit import Gate, policy
from vaultgate.core.exchange import Exchange
from vaultgate.core.model import Finding, Principal
from vaultgate.core.request import Request, TLSInfo
from vaultgate.telemetry.audit import Timings
from vaultgate.telemetry.events import clean_event, request_event

TIMINGS = Timings(40, 900, 1000, 120, 2048)
ROUTES = (
    '  - path: "/plain/{*}"\n    mode: "off"\n'
    '  - path: "/watch/{*}"\n    mode: monitor\n'
    "  - path: '/odd \"route\"/{*}'\n    mode: block\n"
)

# method, path, client ip, peer ip, version, status
CASES = [
    ("GET", "/accounts/1001?from=2026-01-01", "203.0.113.7", "10.0.0.2", "1.1", 200),
    ("POST", "/payments", "203.0.113.7", "", "1.0", 201),
    ("GET", "/plain/x", "2001:db8::1", "2001:db8::1", "1.1", 404),
    ("DELETE", "/watch/a%22b%5Cc", "198.51.100.9", "10.0.0.2", "1.1", 204),
    ("GET", "/odd%20%22route%22/k\u00e9y", "198.51.100.9", "10.0.0.2", "1.1", 200),
    ("PATCH", "/accounts/%E2%82%AC\u2028", "203.0.113.7", "10.0.0.2", "1.1", 499),
]


def gate(tmp: Path) -> Gate:
    sink = f"    - file: {{path: {tmp / 'audit.jsonl'}}}\n"
    return Gate(policy(tmp, sink, routes=ROUTES))


@pytest.mark.parametrize(
    ("method", "target", "client", "peer", "version", "status"), CASES
)
async def test_template_matches_the_general_event(
    tmp_path: Path,
    method: str,
    target: str,
    client: str,
    peer: str,
    version: str,
    status: int,
) -> None:
    g = gate(tmp_path)
    request = Request(method, target, [("Host", "h")], client, peer, version)
    ex = g.engine.begin(request)
    await g.engine.decide(ex)
    general = orjson.dumps(request_event(ex, status, TIMINGS, False, [], 1.0))
    fast = clean_event(ex, status, TIMINGS)  # the path is now known clean

    assert fast is not None
    assert orjson.loads(fast) == orjson.loads(general)


NOTED: dict[str, Callable[[Exchange], object]] = {
    "principal": lambda ex: setattr(ex, "principal", Principal("user", "alice")),
    "tag": lambda ex: ex.tags.update({"login.username": "alice"}),
    "finding": lambda ex: ex.add(Finding("xss", "xss.tag", 0, "query:q", "<svg")),
    "score": lambda ex: setattr(ex, "score", 1),
    "incomplete": lambda ex: setattr(ex, "inspection_incomplete", "body"),
    "tls": lambda ex: setattr(ex.request, "tls", TLSInfo("TLSv1.3", "x", "sni")),
}


@pytest.mark.parametrize("kind", sorted(NOTED))
async def test_anything_noted_takes_the_general_builder(
    tmp_path: Path, kind: str
) -> None:
    g = gate(tmp_path)
    ex = g.engine.begin(Request("GET", "/accounts/1", [("Host", "h")], "192.0.2.1"))
    await g.engine.decide(ex)
    request_event(ex, 200, TIMINGS, False, [], 1.0)  # the path is known clean
    assert clean_event(ex, 200, TIMINGS) is not None

    NOTED[kind](ex)

    assert clean_event(ex, 200, TIMINGS) is None


async def test_a_path_never_seen_clean_takes_the_general_builder(
    tmp_path: Path,
) -> None:
    g = gate(tmp_path)
    target = "/accounts/4111111111111111"  # a card number: the masker's work
    ex = g.engine.begin(Request("GET", target, [("Host", "h")], "192.0.2.1"))
    await g.engine.decide(ex)

    assert clean_event(ex, 200, TIMINGS) is None
    doc = request_event(ex, 200, TIMINGS, False, [], 1.0)
    assert "4111111111111111" not in orjson.dumps(doc).decode()
    assert clean_event(ex, 200, TIMINGS) is None, "a masked path is never cached"
