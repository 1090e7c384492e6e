"""Bot signals from a request's headers: what it claims against how it looks.

How this works: the User-Agent claims a browser family (Chromium, Firefox,
WebKit) and version, or names an automation tool or an HTTP library.  Real
browsers of a family send a known set of headers in a known relative
order; a script that copies a browser's User-Agent rarely copies the rest.
Each mismatch is a signal with a score; the bot guard adds them up.

What these signals cannot see: a real browser driven by automation that
hides its markers, and tools that replay a browser's exact headers.  The
header-order signal assumes the client's own order reaches vaultgate (no
proxy in front rewriting it) and an HTTP/1.x connection.  Safari's order is
not checked: it varies between versions more than the others'.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# Signal scores: 5 = decisive on its own, 2 = only together with others.
AUTOMATION = 5
LIBRARY_ON_BROWSER_ROUTE = 5
NO_USER_AGENT = 3
MISSING_HEADER = 2
CLIENT_HINTS_LIE = 4
MISSING_CLIENT_HINTS = 2
MISSING_FETCH_METADATA = 2
HEADER_ORDER = 3

# Names of tools that drive or fake a browser; lower case, searched for.
_AUTOMATION = (
    "headlesschrome",
    "phantomjs",
    "selenium",
    "webdriver",
    "puppeteer",
    "playwright",
    "slimerjs",
    "htmlunit",
)
# HTTP libraries and command-line clients: normal on an API, not on a page
# only browsers load.  Matched at the start of the lower-case User-Agent.
_LIBRARIES = (
    "python-requests",
    "python-urllib",
    "python-httpx",
    "aiohttp",
    "httpx",
    "curl/",
    "wget/",
    "go-http-client",
    "java/",
    "okhttp",
    "apache-httpclient",
    "libwww-perl",
    "scrapy",
    "node-fetch",
    "axios/",
    "undici",
    "postmanruntime",
    "httpie",
    "guzzle",
    "ruby",
)
# Headers every browser sends on every request.
_ALWAYS = ("accept", "accept-encoding", "accept-language")
# Pairs (a, b): a browser of the family sends a before b (HTTP/1.1).
# Only pairs that page scripts cannot reorder: Chromium's network stack
# appends Accept-Encoding and Accept-Language after every other header,
# while a script's own headers (Accept among them) come earlier.
_ORDER = {
    "chromium": (
        ("accept", "accept-encoding"),
        ("accept-encoding", "accept-language"),
    ),
    "firefox": (
        ("host", "user-agent"),
        ("user-agent", "accept"),
        ("accept", "accept-language"),
        ("accept-language", "accept-encoding"),
    ),
}
# First versions sending Sec-Fetch-* to secure origins (Chromium 76,
# Firefox 90, Safari 16.4) and Chromium's first sending Sec-CH-UA (89).
_FETCH_METADATA = {"chromium": 80, "firefox": 90, "webkit": 17}
_CLIENT_HINTS = 90
_VERSION = {
    "firefox": re.compile(r"firefox/(\d+)"),
    "chromium": re.compile(r"(?:chrome|chromium)/(\d+)"),
    "webkit": re.compile(r"version/(\d+)"),
}
_BRAND = re.compile(r'"([^"]*)"\s*;\s*v="(\d+)')
_CHROMIUM_BRANDS = ("chromium", "google chrome", "microsoft edge")


@dataclass(frozen=True, slots=True)
class Agent:
    """What a User-Agent claims."""

    family: str = ""  # chromium, firefox, webkit; "" when not a browser
    version: int = 0
    automation: str = ""  # the automation tool it names, if any
    library: str = ""  # the HTTP library it names, if any


def parse_agent(text: str) -> Agent:
    """Read the browser family, version, automation or library a UA names."""
    ua = text.lower()
    automation = next((name for name in _AUTOMATION if name in ua), "")
    library = next((name for name in _LIBRARIES if ua.startswith(name)), "")
    family = _family(ua) if ua.startswith("mozilla/5.0") else ""
    version = 0
    if family:
        match = _VERSION[family].search(ua)
        version = int(match.group(1)) if match else 0
    return Agent(family, version, automation, library.rstrip("/"))


def _family(ua: str) -> str:
    # iOS browsers are all WebKit underneath, whatever their name says.
    if any(token in ua for token in ("crios/", "fxios/", "edgios/")):
        return "webkit"
    if "firefox/" in ua:
        return "firefox"
    if "chrome/" in ua or "chromium/" in ua:
        return "chromium"
    if "safari/" in ua and "version/" in ua:
        return "webkit"
    return ""


@dataclass(frozen=True, slots=True)
class Signal:
    rule: str
    score: int


def signals(
    headers: Sequence[tuple[str, str]],
    agent: Agent,
    secure: bool,
    browser_only: bool,
    check_order: bool,
) -> list[Signal]:
    """Every bot signal of a request, given what its User-Agent claims."""
    names = [name.lower() for name, _ in headers]
    found = _agent_signals(names, agent, browser_only)
    if agent.family and not agent.automation:
        found += _browser_signals(headers, names, agent, secure)
        if check_order and _out_of_order(names, agent.family):
            found.append(Signal("bots.header-order", HEADER_ORDER))
    return found


def _agent_signals(names: list[str], agent: Agent, browser_only: bool) -> list[Signal]:
    if agent.automation:
        return [Signal(f"bots.automation.{agent.automation}", AUTOMATION)]
    if "user-agent" not in names:
        score = LIBRARY_ON_BROWSER_ROUTE if browser_only else NO_USER_AGENT
        return [Signal("bots.no-user-agent", score)]
    if agent.library and browser_only:
        return [Signal(f"bots.library.{agent.library}", LIBRARY_ON_BROWSER_ROUTE)]
    if browser_only and not agent.family:
        return [Signal("bots.not-a-browser", LIBRARY_ON_BROWSER_ROUTE)]
    return []


def _browser_signals(
    headers: Sequence[tuple[str, str]], names: list[str], agent: Agent, secure: bool
) -> list[Signal]:
    found = [
        Signal(f"bots.missing.{name}", MISSING_HEADER)
        for name in _ALWAYS
        if name not in names
    ]
    hints = next((v for n, v in headers if n.lower() == "sec-ch-ua"), None)
    # Only Chromium sends client hints, and with its own major version.
    if hints is not None and (
        agent.family != "chromium" or not _hints_agree(hints, agent.version)
    ):
        found.append(Signal("bots.client-hints-lie", CLIENT_HINTS_LIE))
    # Browsers send client hints and fetch metadata to HTTPS origins only.
    chromium = agent.family == "chromium" and agent.version >= _CLIENT_HINTS
    if secure and hints is None and chromium:
        found.append(Signal("bots.missing.sec-ch-ua", MISSING_CLIENT_HINTS))
    first = _FETCH_METADATA.get(agent.family, 10**6)
    if secure and agent.version >= first and "sec-fetch-mode" not in names:
        found.append(Signal("bots.missing.sec-fetch-mode", MISSING_FETCH_METADATA))
    return found


def _hints_agree(hints: str, version: int) -> bool:
    """Whether Sec-CH-UA's Chromium brand carries the UA's major version."""
    brands = [(name.lower(), int(v)) for name, v in _BRAND.findall(hints)]
    real = [v for name, v in brands if name in _CHROMIUM_BRANDS]
    return not real or version in real


def _out_of_order(names: list[str], family: str) -> bool:
    position = {name: i for i, name in reversed(list(enumerate(names)))}
    return any(
        first in position and second in position and position[first] > position[second]
        for first, second in _ORDER.get(family, ())
    )


def ja4_alpn(ja4: str) -> str:
    """The two ALPN characters of a JA4 fingerprint (``00``: none offered)."""
    head = ja4.split("_", 1)[0]
    return head[8:10] if len(head) == 10 else ""
