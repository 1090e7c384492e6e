"""Bot detection and the proof-of-work challenge, through a real engine.

The challenge page's own script is run in node to solve a challenge, so the
JavaScript a browser would run is the one tested.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from tests.core.test_fingerprint import CHROME_NAV, REQUESTS_AS_CHROME
from tests.guards.rate_kit import Gate, make_gate, store_url
from vaultgate.core import pow
from vaultgate.core.model import Action, Decision
from vaultgate.core.request import TLSInfo
from vaultgate.guards.challenge import ENDPOINT
from vaultgate.guards.challenge_page import page_script

__all__ = ["store_url"]

POLICY = """
challenge: {difficulty: 10}
bots: {enabled: true, browser_only: true, challenge_score: 5}
"""
CURL = (("User-Agent", "curl/8.5.0"), ("Accept", "*/*"))
BROWSER_CURL = (*CURL, ("Accept", "text/html"))


def challenge_of(decision: Decision) -> str:
    www = dict(decision.headers)["WWW-Authenticate"]
    fields = dict(
        part.strip().split("=", 1) for part in www.removeprefix("PoW ").split(",")
    )
    return fields["challenge"].strip('"')


async def redeem(gate: Gate, challenge: str, counter: str, **kw: object) -> Decision:
    body = json.dumps({"challenge": challenge, "counter": counter}).encode()
    headers = [("Content-Type", "application/json"), *kw.pop("headers", CURL)]  # type: ignore[misc]
    _, decision = await gate.send(
        ENDPOINT, method="POST", headers=headers, body=body, **kw
    )  # type: ignore[arg-type]
    return decision


async def test_a_script_is_challenged_and_a_solution_earns_a_clearance(
    store_url: str, tmp_path: Path
) -> None:
    gate = await make_gate(POLICY, store_url, tmp_path)
    _, decision = await gate.send("/app", headers=CURL)
    assert (decision.action, decision.status) == (Action.CHALLENGE, 429)
    assert decision.reasons == ("challenge.bots",)
    challenge = challenge_of(decision)
    answer = await redeem(gate, challenge, pow.solve(challenge, 10))
    assert (answer.action, answer.status) == (Action.CHALLENGE, 200)
    cookie = dict(answer.headers)["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    token = json.loads(answer.body or b"")["clearance"]
    # The cookie, or the header API clients use, now lets it through.
    for header in (("Cookie", f"vg_clearance={token}"), ("X-PoW-Clearance", token)):
        _, decision = await gate.send("/app", headers=(*CURL, header))
        assert not decision.action.stops
    # Bound to the address it was earned from.
    headers = (*CURL, ("X-PoW-Clearance", token))
    _, decision = await gate.send("/app", ip="203.0.113.50", headers=headers)
    assert decision.action is Action.CHALLENGE


async def test_a_solution_is_accepted_once(store_url: str, tmp_path: Path) -> None:
    gate = await make_gate(POLICY, store_url, tmp_path)
    _, decision = await gate.send("/app", headers=CURL)
    challenge = challenge_of(decision)
    counter = pow.solve(challenge, 10)
    assert (await redeem(gate, challenge, counter)).status == 200
    replay = await redeem(gate, challenge, counter)
    assert (replay.status, replay.reasons) == (403, ("challenge.refused",))
    assert (await redeem(gate, challenge, "not-a-number")).status == 403


async def test_a_one_shot_solution_header_passes_one_request(tmp_path: Path) -> None:
    gate = await make_gate(POLICY, "", tmp_path)
    _, decision = await gate.send("/app", headers=CURL)
    challenge = challenge_of(decision)
    header = ("X-PoW-Solution", f"{challenge}:{pow.solve(challenge, 10)}")
    _, first = await gate.send("/app", headers=(*CURL, header))
    _, second = await gate.send("/app", headers=(*CURL, header))
    assert [first.action.stops, second.action.stops] == [False, True]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
async def test_the_challenge_page_solves_its_challenge_in_javascript(
    tmp_path: Path,
) -> None:
    gate = await make_gate(POLICY, "", tmp_path)
    _, decision = await gate.send("/app", headers=BROWSER_CURL)
    assert decision.content_type.startswith("text/html")
    csp = dict(decision.headers)["Content-Security-Policy"]
    assert "script-src 'nonce-" in csp and "default-src 'none'" in csp
    script = page_script(decision.body or b"")
    runner = script + (
        "\nvar n = 0; while (!globalThis.vaultgatePow.works(n)) { n++; }"
        "\nconsole.log(n);"
    )
    node = await asyncio.create_subprocess_exec(
        "node", "-e", runner, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(node.communicate(), timeout=60)
    found = out.decode().strip()
    answer = await redeem(gate, challenge_of(decision), found, headers=BROWSER_CURL)
    assert answer.status == 200


async def test_real_browsers_pass_a_browser_only_route(tmp_path: Path) -> None:
    gate = await make_gate(POLICY, "", tmp_path)
    ex, decision = await gate.send("/app", headers=CHROME_NAV[1:])
    assert not decision.action.stops
    assert "bots.score" not in ex.tags


# (bots settings, headers, expected action, expected findings)
SCORES = [
    (
        "{enabled: true, challenge_score: 6}",
        REQUESTS_AS_CHROME[1:],
        Action.ALLOW,
        ["bots.header-order", "bots.missing.accept-language"],
    ),
    (
        "{enabled: true}",
        REQUESTS_AS_CHROME[1:],
        Action.CHALLENGE,
        ["bots.header-order", "bots.missing.accept-language"],
    ),
    ("{enabled: true, block_score: 5}", CURL, Action.ALLOW, []),
    (
        "{enabled: true, browser_only: true, block_score: 5}",
        CURL,
        Action.BLOCK,
        ["bots.library.curl"],
    ),
    ("{enabled: false, browser_only: true}", CURL, Action.ALLOW, []),
]


@pytest.mark.parametrize(("settings", "headers", "action", "rules"), SCORES)
async def test_the_bot_score_meets_the_thresholds(
    tmp_path: Path,
    settings: str,
    headers,
    action: Action,
    rules: list[str],  # type: ignore[no-untyped-def]
) -> None:
    gate = await make_gate(f"bots: {settings}\n", "", tmp_path)
    ex, decision = await gate.send("/app", headers=headers)
    assert decision.action is action
    assert sorted(f.rule_id for f in ex.findings if f.family == "bots") == rules


async def test_a_client_that_ignores_challenges_scores_higher(tmp_path: Path) -> None:
    gate = await make_gate(POLICY, "", tmp_path)
    ip = "192.0.2.77"
    rules = []
    for _ in range(3):
        ex, _ = await gate.send("/app", ip=ip, headers=CURL)
        rules.append(sorted(f.rule_id for f in ex.findings))
    assert rules[0] == rules[1] == ["bots.library.curl"]
    assert rules[2] == ["bots.ignored-challenges", "bots.library.curl"]


# (seconds between requests, whether the cadence is flagged)
CADENCES = [
    ([1.0] * 9, True),  # a timer
    ([0.5] * 9, True),
    ([1.0, 3.2, 0.4, 7.5, 2.2, 0.9, 5.1, 1.7, 2.8], False),  # a person
    ([1.0] * 5, False),  # too few requests to tell
]


@pytest.mark.parametrize(("gaps", "flagged"), CADENCES)
async def test_too_regular_a_cadence_is_flagged(
    tmp_path: Path, gaps: list[float], flagged: bool
) -> None:
    gate = await make_gate("bots: {enabled: true, cadence: true}\n", "", tmp_path)
    ip = f"192.0.2.{len(gaps) + int(gaps[0] * 10)}"
    ex, _ = await gate.send("/app", ip=ip, headers=CHROME_NAV[1:])
    for gap in gaps:
        gate.clock.now += gap
        ex, _ = await gate.send("/app", ip=ip, headers=CHROME_NAV[1:])
    assert ("bots.cadence" in [f.rule_id for f in ex.findings]) is flagged


# (JA4 of the connection, expected rule)
JA4S = [
    ("", None),  # the proxy computed none: the signal is skipped
    ("t13d1516h2_8daaf6152771_e5627efa2ab1", None),
    ("t13d190900_9dc949149365_97f8aa674fd9", "bots.ja4-no-alpn"),
    ("t13d311200_e8f1e7e78f70_d339722ba4af", "bots.ja4-denied"),
]


@pytest.mark.parametrize(("ja4", "rule"), JA4S)
async def test_the_tls_fingerprint_is_a_signal_when_known(
    tmp_path: Path, ja4: str, rule: str | None
) -> None:
    policy = "bots: {enabled: true, ja4_deny: [t13d3112]}\n"
    gate = await make_gate(policy, "", tmp_path)
    request_headers = CHROME_NAV[1:]
    from vaultgate.core.request import Request

    request = Request("GET", "/app", [("Host", "x"), *request_headers], "192.0.2.9")
    request.tls = TLSInfo(version="TLSv1.3", ja4=ja4)
    ex = gate.engine.begin(request)
    await gate.engine.decide(ex)
    found = [f.rule_id for f in ex.findings if f.rule_id.startswith("bots.ja4")]
    assert found == ([rule] if rule else [])
