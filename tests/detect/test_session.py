"""Session fixation: a session id planted through the URL or a cookie by script."""

from __future__ import annotations

import pytest

from tests.detect.family_cases import families, request_rules
from vaultgate.core.request import Request
from vaultgate.detect.session import check_session


def get(target: bytes, referer: bytes | None = None) -> bytes:
    head = b"GET " + target + b" HTTP/1.1\r\nHost: bank.example\r\n"
    if referer is not None:
        head += b"Referer: " + referer + b"\r\n"
    return head + b"\r\n"


@pytest.mark.parametrize(
    "raw",
    [
        get(b"/login?jsessionid=74B0CB414BD77D17B5680A6386EF1666"),
        get(b"/login?PHPSESSID=abc123", b"https://attacker.example/"),
        get(b"/auth?laravel_session=eyJpdiI6", b"https://evil.example/"),
        get(b"/login?sessionid=abc123", b"https://attacker.example/"),
        get(b"/login.asp?ASPSESSIONIDQQGGGNCG=GKFPMNAB"),
        # Percent-encoded names decode to the same parameter.
        get(b"/login?j%73essionid=74B0CB414BD77D17B5680A6386EF1666"),
        get(b"/login?PHP%53ESSID=abc123", b"https://attacker.example/"),
    ],
)
def test_planted_session_ids_fire(raw: bytes) -> None:
    assert "session.fixation" in request_rules(raw)


@pytest.mark.parametrize(
    "raw",
    [
        # The same site linking to itself: the application's own link.
        get(b"/login?jsessionid=74B0CB41", b"https://bank.example/start"),
        # A payment provider's redirect back with its checkout session id.
        get(b"/success?session_id=cs_test_a1B2", b"https://checkout.stripe.com/"),
        # An API client (no Referer) with a generic name.
        get(b"/v1/reports?sessionid=abc123"),
        # The session cookie itself is not a parameter.
        b"GET / HTTP/1.1\r\nHost: bank.example\r\nCookie: JSESSIONID=ABC\r\n\r\n",
    ],
)
def test_own_links_and_checkout_redirects_pass(raw: bytes) -> None:
    assert "session.fixation" not in request_rules(raw)


def test_generic_names_fire_without_referer_at_paranoia_2() -> None:
    assert "session.fixation" in request_rules(get(b"/x?sessionid=abc"), paranoia=2)


@pytest.mark.parametrize(
    "payload",
    [
        '<script>document.cookie="sessionid=1234; domain=.example.dom";</script>',
        "x.cookie=abc;expires=Thu, 01 Jan 2099 00:00:00 GMT",
        '<meta http-equiv="Set-Cookie" content="id=1">',
    ],
)
def test_cookies_set_by_script_fire(payload: str) -> None:
    assert "session" in families(payload, "query", "q")


def test_cookie_prose_passes() -> None:
    assert "session" not in families("The cookie policy expires in May")


def post(target: str, content_type: str, body: bytes) -> Request:
    headers = [("Host", "bank.example"), ("Content-Type", content_type)]
    return Request("POST", target, headers, "192.0.2.1", body=body)


FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


# Names in a body, and names only decoding reveals (escapes, the Kelvin
# sign lower-casing to "k"): a substring test on the raw body would miss
# four of these, so they pin that the body's names are read decoded.
@pytest.mark.parametrize(
    "request_",
    [
        post("/login", FORM, b"user=a&JSESSIONID=74B0CB41"),
        post("/login", FORM, b"user=a&j%73essionid=74B0CB41"),
        post("/login", JSON, b'{"user": "a", "PHPSESSID": "abc"}'),
        post("/login", JSON, b'{"user": "a", "php\\u0073essid": "abc"}'),
        post("/login", JSON, '{"shiny-to\u212aen": "abc"}'.encode()),
        post("/login?j%73essionid=74B0CB41", JSON, b'{"user": "a"}'),
        post("/login?jsessionid=74B0CB41", JSON, b'{"user": "a"}'),
    ],
)
def test_planted_session_ids_in_requests_with_a_body_fire(request_: Request) -> None:
    assert [f.rule_id for f in check_session(request_, 1)] == ["session.fixation"]


def test_bodies_without_session_names_pass() -> None:
    request = post("/login?user=a", JSON, b'{"user": "a", "pass": "b%c"}')
    assert check_session(request, 2) == []
