"""Bot signals: real browsers' header sets raise none, scripts raise some."""

from __future__ import annotations

import pytest

from vaultgate.core.fingerprint import Agent, parse_agent, signals

CHROME_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
FIREFOX_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
SAFARI_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Safari/605.1.15"
)
CRIOS_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1"
)
HINTS = '"Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"'

CHROME_NAV = [
    ("Host", "bank.test"),
    ("Connection", "keep-alive"),
    ("sec-ch-ua", HINTS),
    ("sec-ch-ua-mobile", "?0"),
    ("sec-ch-ua-platform", '"Windows"'),
    ("Upgrade-Insecure-Requests", "1"),
    ("User-Agent", CHROME_UA),
    ("Accept", "text/html,application/xhtml+xml,*/*;q=0.8"),
    ("Sec-Fetch-Site", "none"),
    ("Sec-Fetch-Mode", "navigate"),
    ("Sec-Fetch-User", "?1"),
    ("Sec-Fetch-Dest", "document"),
    ("Accept-Encoding", "gzip, deflate, br, zstd"),
    ("Accept-Language", "en-GB,en;q=0.9"),
]
# A page script's fetch: its own Accept and Content-Type come early.
CHROME_FETCH = [
    ("Host", "bank.test"),
    ("Connection", "keep-alive"),
    ("Content-Length", "40"),
    ("sec-ch-ua", HINTS),
    ("Accept", "application/json"),
    ("Content-Type", "application/json"),
    ("sec-ch-ua-mobile", "?0"),
    ("User-Agent", CHROME_UA),
    ("sec-ch-ua-platform", '"Windows"'),
    ("Origin", "https://bank.test"),
    ("Sec-Fetch-Site", "same-origin"),
    ("Sec-Fetch-Mode", "cors"),
    ("Sec-Fetch-Dest", "empty"),
    ("Accept-Encoding", "gzip, deflate, br, zstd"),
    ("Accept-Language", "en-GB,en;q=0.9"),
]
FIREFOX_NAV = [
    ("Host", "bank.test"),
    ("User-Agent", FIREFOX_UA),
    ("Accept", "text/html,application/xhtml+xml,*/*;q=0.8"),
    ("Accept-Language", "en-US,en;q=0.5"),
    ("Accept-Encoding", "gzip, deflate, br"),
    ("Connection", "keep-alive"),
    ("Upgrade-Insecure-Requests", "1"),
    ("Sec-Fetch-Dest", "document"),
    ("Sec-Fetch-Mode", "navigate"),
    ("Sec-Fetch-Site", "none"),
    ("Sec-Fetch-User", "?1"),
]
SAFARI_NAV = [
    ("Host", "bank.test"),
    ("Accept", "text/html,application/xhtml+xml,*/*;q=0.8"),
    ("Sec-Fetch-Site", "none"),
    ("Accept-Language", "en-GB,en;q=0.9"),
    ("Sec-Fetch-Mode", "navigate"),
    ("Accept-Encoding", "gzip, deflate, br"),
    ("User-Agent", SAFARI_UA),
    ("Sec-Fetch-Dest", "document"),
    ("Connection", "keep-alive"),
]
# python-requests with a copied Chrome User-Agent.
REQUESTS_AS_CHROME = [
    ("Host", "bank.test"),
    ("User-Agent", CHROME_UA),
    ("Accept-Encoding", "gzip, deflate"),
    ("Accept", "*/*"),
    ("Connection", "keep-alive"),
]


def _rules(headers, secure=True, browser_only=False):  # type: ignore[no-untyped-def]
    ua = next((v for n, v in headers if n.lower() == "user-agent"), "")
    found = signals(headers, parse_agent(ua), secure, browser_only, True)
    return sorted(s.rule for s in found)


def _swap(headers, ua):  # type: ignore[no-untyped-def]
    return [(n, ua if n == "User-Agent" else v) for n, v in headers]


# (headers, secure, browser-only route, expected rules)
CASES = [
    # Real browsers: nothing, over HTTPS or plain HTTP.
    (CHROME_NAV, True, True, []),
    (CHROME_FETCH, True, True, []),
    (FIREFOX_NAV, True, True, []),
    (SAFARI_NAV, True, True, []),
    (_swap(SAFARI_NAV, CRIOS_UA), True, True, []),  # iOS Chrome is WebKit
    ([h for h in CHROME_NAV if not h[0].lower().startswith("sec-")], False, True, []),
    # Scripts.
    (
        REQUESTS_AS_CHROME,
        True,
        False,
        [
            "bots.header-order",
            "bots.missing.accept-language",
            "bots.missing.sec-ch-ua",
            "bots.missing.sec-fetch-mode",
        ],
    ),
    (
        REQUESTS_AS_CHROME,
        False,
        False,
        ["bots.header-order", "bots.missing.accept-language"],
    ),
    (
        _swap(CHROME_NAV, CHROME_UA.replace("Chrome/", "HeadlessChrome/")),
        True,
        False,
        ["bots.automation.headlesschrome"],
    ),
    ([("Host", "x"), ("User-Agent", "python-requests/2.31.0")], True, False, []),
    (
        [("Host", "x"), ("User-Agent", "python-requests/2.31.0")],
        True,
        True,
        ["bots.library.python-requests"],
    ),
    (
        [("Host", "x"), ("User-Agent", "curl/8.5.0"), ("Accept", "*/*")],
        True,
        True,
        ["bots.library.curl"],
    ),
    ([("Host", "x")], True, False, ["bots.no-user-agent"]),
    (
        [("Host", "x"), ("User-Agent", "BankPartnerSync/1.0")],
        True,
        True,
        ["bots.not-a-browser"],
    ),
    # Lies: client hints from a browser that never sends them, or from
    # another version than the User-Agent claims.
    ([*FIREFOX_NAV, ("sec-ch-ua", HINTS)], True, False, ["bots.client-hints-lie"]),
    (
        _swap(CHROME_NAV, CHROME_UA.replace("124.0", "131.0")),
        True,
        False,
        ["bots.client-hints-lie"],
    ),
    # A Firefox User-Agent on a Chrome-ordered header set.
    (
        _swap(CHROME_NAV, FIREFOX_UA),
        True,
        False,
        ["bots.client-hints-lie", "bots.header-order"],
    ),
]


@pytest.mark.parametrize(("headers", "secure", "browser_only", "expected"), CASES)
def test_signals(
    headers, secure: bool, browser_only: bool, expected: list[str]
) -> None:  # type: ignore[no-untyped-def]
    assert _rules(headers, secure, browser_only) == expected


# (user agent, what it claims)
AGENTS = [
    (CHROME_UA, Agent("chromium", 124)),
    (FIREFOX_UA, Agent("firefox", 125)),
    (SAFARI_UA, Agent("webkit", 17)),
    (CRIOS_UA, Agent("webkit", 0)),
    (
        "Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/124.0 Edg/124.0",
        Agent("chromium", 124),
    ),
    ("python-requests/2.31.0", Agent(library="python-requests")),
    ("Mozilla/5.0 PhantomJS/2.1.1", Agent(automation="phantomjs")),
    ("", Agent()),
]


@pytest.mark.parametrize(("ua", "agent"), AGENTS)
def test_parse_agent(ua: str, agent: Agent) -> None:
    assert parse_agent(ua) == agent
