"""NGINX auth_request through a real nginx on the documented configuration.

A client talks to nginx; nginx asks ``vaultgate authz`` and proxies what
is allowed to a recording upstream.  Each case asserts what the client
sees and whether the upstream saw the request.  Every case sends from its
own loopback address, since a trap bans the address that sprang it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from tests.adapters.kit import Authz, authz_proc, call, loopback, nginx_proc
from tests.fixtures.servers import EchoUpstream

POLICY = """
mode: block
audit: {file: "@AUDIT@", spool_dir: "@AUDIT@.spool"}
traps:
  honeytokens: {bearer_tokens: [vg-honey-token-0001]}
routes:
  - path: /limited/{name}
    limits: [{key: ip, rate: 2/minute}]
adapters:
  nginx: {listen: 127.0.0.1:@NGINX@}
"""
INCIDENT = re.compile(r"^[0-9a-f]{16}$")


@pytest.fixture(scope="module")
def authz() -> Iterator[Authz]:
    with authz_proc(POLICY) as running:
        yield running


@pytest.fixture(scope="module")
def nginx(authz: Authz, echo_upstream: EchoUpstream) -> Iterator[int]:
    with nginx_proc(authz.ports["nginx"], echo_upstream.port) as port:
        yield port


# (case, method, target, extra fields, body, status the client sees,
#  whether the upstream receives it)
CASES = [
    ("clean", "GET", "/accounts/42?view=full&n=1", [], b"", 200, True),
    (
        "sqli-query",
        "GET",
        "/accounts?id=1%27%20OR%20%271%27%3D%271",
        [],
        b"",
        403,
        False,
    ),
    (
        "xss-query",
        "GET",
        "/search?q=%3Cscript%3Ealert(1)%3C/script%3E",
        [],
        b"",
        403,
        False,
    ),
    (
        "traversal",
        "GET",
        "/files?name=..%2F..%2F..%2Fetc%2Fpasswd",
        [],
        b"",
        403,
        False,
    ),
    ("trap-path", "GET", "/.env", [], b"", 404, False),
    (
        "honeytoken",
        "GET",
        "/accounts/7",
        [("Authorization", "Bearer vg-honey-token-0001")],
        b"",
        401,
        False,
    ),
    # auth_request sends no body: an attack in the body is not seen.  This
    # pins the documented limitation; the inline proxy blocks it.
    (
        "body-unseen",
        "POST",
        "/payments",
        [("Content-Type", "application/json")],
        b"{\"memo\": \"1' OR '1'='1' --\"}",
        200,
        True,
    ),
]


@pytest.mark.parametrize(
    ("case", "method", "target", "fields", "body", "status", "forwarded"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_client_sees_the_verdict(
    authz: Authz,
    nginx: int,
    echo_upstream: EchoUpstream,
    case: str,
    method: str,
    target: str,
    fields: list[tuple[str, str]],
    body: bytes,
    status: int,
    forwarded: bool,
) -> None:
    marker = f"case={case}"
    target += ("&" if "?" in target else "?") + marker
    source = loopback(CASES.index(next(c for c in CASES if c[0] == case)))
    answer = call(nginx, method, target, fields, body, source=source)
    assert answer.status == status, answer
    assert bool(echo_upstream.find(marker)) is forwarded
    if forwarded:
        seen = echo_upstream.find(marker)[0]
        assert INCIDENT.match(seen.header("X-Vaultgate-Incident") or "")
        return
    # The refusal the inline proxy would send: a problem document, and no
    # X-Vaultgate-* field (on a trap's 404 it would betray the trap).
    assert answer.headers["content-type"] == "application/problem+json"
    assert not [name for name in answer.headers if name.startswith("x-vaultgate")]
    problem = answer.json()
    assert problem["status"] == status
    if case == "trap-path":
        assert "incident_id" not in problem  # a plain not-found, by design
        return
    event = authz.event(problem["incident_id"])
    assert event["vaultgate"].get("tags", {}).get("adapter") == "nginx", json.dumps(
        event
    )


def test_honeytoken_refusal_keeps_its_challenge(nginx: int) -> None:
    answer = call(
        nginx,
        "GET",
        "/accounts/8",
        [("Authorization", "Bearer vg-honey-token-0001")],
        source=loopback(40),
    )
    assert answer.status == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")


def test_rate_limit_reaches_the_client_as_429(nginx: int) -> None:
    source = loopback(41)
    statuses = [call(nginx, "GET", "/limited/a", source=source) for _ in range(3)]
    assert [a.status for a in statuses] == [200, 200, 429]
    throttled = statuses[-1]
    assert int(throttled.headers["retry-after"]) > 0
    assert throttled.json()["status"] == 429


def test_a_trap_bans_the_client_for_later_requests(nginx: int) -> None:
    source = loopback(42)
    assert call(nginx, "GET", "/accounts/1", source=source).status == 200
    assert call(nginx, "GET", "/wp-login.php", source=source).status == 404
    after = call(nginx, "GET", "/accounts/1", source=source)
    assert after.status == 403
    # Another client is not affected.
    assert call(nginx, "GET", "/accounts/1", source=loopback(43)).status == 200


def test_check_endpoint_is_not_reachable_from_outside(nginx: int) -> None:
    answer = call(nginx, "GET", "/.vaultgate/check", source=loopback(44))
    assert answer.status == 404  # nginx's internal location


def test_monitor_mode_after_reload_lets_attacks_through(
    authz: Authz, nginx: int, echo_upstream: EchoUpstream
) -> None:
    authz.reload(POLICY.replace("mode: block", "mode: monitor"))
    try:
        target = "/accounts?id=1%27%20OR%20%271%27%3D%271&case=monitor"
        answer = call(nginx, "GET", target, source=loopback(45))
        assert answer.status == 200
        assert echo_upstream.find("case=monitor")
    finally:
        authz.reload(POLICY)


def test_untrusted_caller_is_refused_whatever_it_reports(
    authz: Authz, nginx: int, echo_upstream: EchoUpstream
) -> None:
    authz.reload(POLICY + "  trusted_peers: [192.0.2.1/32]\n")
    try:
        answer = call(nginx, "GET", "/accounts/1?case=untrusted", source=loopback(46))
        assert answer.status == 403
        assert not echo_upstream.find("case=untrusted")
        assert "adapter.refused adapter=nginx" in authz.log()
    finally:
        authz.reload(POLICY)
