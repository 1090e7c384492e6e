"""The adapters' pure parts: the policy section, status mapping, kept refusals."""

from __future__ import annotations

import ipaddress

import pytest

from vaultgate.adapters.denials import KEEP_SECONDS, MAX_KEPT, DenialCache, Refusal
from vaultgate.adapters.envoy_http import _strip_prefix
from vaultgate.adapters.nginx import original_request
from vaultgate.adapters.settings import LOOPBACK, AdaptersSettings, Listener
from vaultgate.adapters.verdict import envoy_http_status, nginx_status, verdict
from vaultgate.core.model import ALLOW, Action, Decision
from vaultgate.core.policy import parse_policy
from vaultgate.errors import PolicyError
from vaultgate.guards import load_all

load_all()


def adapters(text: str) -> AdaptersSettings:
    policy = parse_policy(text, "p.yaml", require_upstream=False)
    found = policy.settings["adapters"]
    assert isinstance(found, AdaptersSettings)
    return found


def test_section_defaults_to_no_adapter_and_loopback_peers() -> None:
    settings = adapters("mode: block\n")
    assert not settings.any
    assert settings.trusted_peers == LOOPBACK


def test_section_reads_every_adapter() -> None:
    settings = adapters(
        "adapters:\n"
        "  nginx: {listen: 127.0.0.1:9100}\n"
        "  envoy_http: {listen: '[::1]:9101', path_prefix: /authz/}\n"
        "  envoy_grpc: {listen: 0.0.0.0:9102}\n"
        "  trusted_peers: [10.0.0.7]\n"
    )
    assert settings.listeners() == {
        "nginx": Listener("127.0.0.1", 9100),
        "envoy_http": Listener("::1", 9101),
        "envoy_grpc": Listener("0.0.0.0", 9102),
    }
    assert settings.envoy_http_path_prefix == "/authz"
    assert settings.trusted_peers == (ipaddress.ip_network("10.0.0.7/32"),)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("{nginx: {}}", "adapters.nginx.listen: expected '<host>:<port>'"),
        ("{nginx: {listen: 9100}}", "adapters.nginx.listen: expected a non-empty"),
        ("{nginx: {listen: 'x:99999'}}", "adapters.nginx.listen: expected '<host>"),
        ("{nginx: {listen: 'x:\u00b2'}}", "adapters.nginx.listen: expected '<host>"),
        ("{envoy: {listen: 'a:1'}}", "adapters.envoy: expected one of"),
        ("{nginx: {listen: 'a:1', path_prefix: /x}}", "adapters.nginx.path_prefix"),
        (
            "{envoy_http: {listen: 'a:1', path_prefix: authz}}",
            "adapters.envoy_http.path_prefix: expected a path prefix",
        ),
        (
            "{nginx: {listen: 'a:1'}, envoy_http: {listen: 'a:1'}}",
            "adapters.envoy_http.listen: expected an address other than nginx's",
        ),
        ("{nginx: {listen: 'a:1'}, trusted_peers: []}", "at least one address"),
        ("{nginx: {listen: 'a:1'}, trusted_peers: [nowhere]}", "an IP address"),
    ],
)
def test_section_errors_say_where(section: str, message: str) -> None:
    with pytest.raises(PolicyError) as error:
        adapters(f"adapters: {section}\n")
    assert message in str(error.value)
    assert str(error.value).startswith("p.yaml: ")


def test_upstream_is_still_required_by_default() -> None:
    with pytest.raises(PolicyError, match="upstream"):
        parse_policy("mode: block\n", "p.yaml")


def _decision(action: Action, status: int) -> Decision:
    return Decision(action, status, reasons=("test",))


# (decision, nginx status, Envoy HTTP status)
STATUSES = [
    (ALLOW, 200, 200),
    (_decision(Action.ALERT, 200), 200, 200),
    (_decision(Action.BLOCK, 401), 401, 401),
    (_decision(Action.BLOCK, 403), 403, 403),
    (_decision(Action.BLOCK, 404), 403, 404),
    (_decision(Action.THROTTLE, 429), 403, 429),
    (_decision(Action.CHALLENGE, 429), 403, 429),
    # 5xx: nginx and Envoy would take it for the service failing.
    (_decision(Action.BLOCK, 500), 403, 403),
    (_decision(Action.BLOCK, 503), 403, 403),
]


@pytest.mark.parametrize(("decision", "nginx", "envoy"), STATUSES)
def test_status_each_proxy_understands(
    decision: Decision, nginx: int, envoy: int
) -> None:
    result = verdict(decision, "00112233aabbccdd")
    assert nginx_status(result) == nginx
    assert envoy_http_status(result) == envoy
    assert result.allowed is not decision.action.stops
    marks = dict(result.marks())
    assert marks["X-Vaultgate-Status"] == str(decision.status)
    assert marks["X-Vaultgate-Incident"] == "00112233aabbccdd"


def test_refusal_verdict_carries_the_rendered_problem() -> None:
    result = verdict(_decision(Action.THROTTLE, 429), "00112233aabbccdd")
    assert b'"incident_id":"00112233aabbccdd"' in result.body
    assert ("Content-Type", "application/problem+json") in result.headers


REFUSED = Refusal(429, (("Retry-After", "3"),), b"{}")


def test_denial_is_taken_once() -> None:
    cache = DenialCache()
    cache.put("a" * 16, REFUSED, now=100.0)
    assert cache.take("a" * 16, now=100.5) == REFUSED
    assert cache.take("a" * 16, now=100.6) is None


def test_denial_is_forgotten_after_keep_seconds() -> None:
    cache = DenialCache()
    cache.put("b" * 16, REFUSED, now=100.0)
    assert cache.take("b" * 16, now=100.0 + KEEP_SECONDS) is None
    assert len(cache) == 0


def test_denials_at_and_over_the_limit() -> None:
    cache = DenialCache()
    for n in range(MAX_KEPT):
        cache.put(f"{n:016x}", REFUSED, now=1.0)
    assert len(cache) == MAX_KEPT
    cache.put("f" * 16, REFUSED, now=1.0)
    assert len(cache) == MAX_KEPT
    assert cache.take(f"{0:016x}", now=1.0) is None  # the oldest went first
    assert cache.take(f"{1:016x}", now=1.0) == REFUSED


@pytest.mark.parametrize(
    ("target", "prefix", "original"),
    [
        ("/authz/accounts?x=1", "/authz", "/accounts?x=1"),
        ("/authz", "/authz", "/"),
        ("/authz?x=1", "/authz", "/?x=1"),
        ("/authzed/x", "/authz", None),
        ("/other", "/authz", None),
        ("/any/path", "", "/any/path"),
    ],
)
def test_envoy_path_prefix(target: str, prefix: str, original: str | None) -> None:
    assert _strip_prefix(target, prefix) == original


BASE = [
    ("X-Original-Method", "GET"),
    ("X-Original-URI", "/a?b=1"),
    ("X-Real-IP", "198.51.100.3"),
]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ([("X-Original-URI", "/a"), ("X-Real-IP", "1.2.3.4")], "original-method"),
        ([("X-Original-Method", "CONNECT"), *BASE[1:]], "original-method"),
        ([BASE[0], ("X-Original-URI", "http://x/a"), BASE[2]], "original-uri"),
        ([BASE[0], ("X-Original-URI", "/a#frag"), BASE[2]], "original-uri"),
        ([*BASE[:2], ("X-Real-IP", "not-an-ip")], "client-address"),
        (BASE[:2], "client-address"),
        ([*BASE, ("X-Original-URI", "/other")], "repeated-x-original-uri"),
        ([*BASE, ("X-Original-Content-Length", "12a")], "original-content-length"),
        # A digit to str.isdigit() but not to int(): this raised once.
        ([*BASE, ("X-Original-Content-Length", "\u00b2")], "original-content-length"),
    ],
)
def test_nginx_report_that_cannot_be_believed(
    fields: list[tuple[str, str]], reason: str
) -> None:
    assert original_request(fields, "127.0.0.1", lambda a: False) == reason


def test_nginx_report_rebuilds_the_original_request() -> None:
    fields = [
        *BASE,
        ("X-Original-Content-Length", "18"),
        ("Host", "api.bank.example"),
        ("Connection", "close"),
        ("X-Forwarded-For", "203.0.113.9"),
    ]
    request = original_request(fields, "127.0.0.1", lambda a: False)
    assert not isinstance(request, str)
    assert (request.method, request.target) == ("GET", "/a?b=1")
    assert request.client_ip == "198.51.100.3"
    assert request.body_length == 18
    names = [name.lower() for name, _ in request.headers]
    # The control and framing fields are gone; the original length is back.
    assert names == ["host", "x-forwarded-for", "content-length"]


def test_nginx_behind_a_trusted_balancer_reads_its_chain() -> None:
    fields = [*BASE[:2], ("X-Real-IP", "10.0.0.5"), ("X-Forwarded-For", "203.0.113.9")]
    balancer = ipaddress.ip_network("10.0.0.0/8")
    request = original_request(
        fields, "127.0.0.1", lambda a: ipaddress.ip_address(a) in balancer
    )
    assert not isinstance(request, str)
    assert request.client_ip == "203.0.113.9"
