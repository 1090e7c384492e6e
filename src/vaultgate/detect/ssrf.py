"""Server-side request forgery: URLs that point the server at itself.

How this works: the patterns find URL-like values whose host is a number,
an IPv6 literal or an internal name; ``confirm`` reads the host the way
permissive URL parsers and ``inet_aton`` do (``2130706433``,
``0x7f.1``, ``0177.0.0.1``, ``127.1``, ``[::ffff:7f00:1]``, hex that
overflows 32 bits) and fires when it lands on a loopback, private,
link-local or unspecified address.  Cloud metadata endpoints and schemes
that only SSRF uses (``gopher://``, ``dict://``) fire on sight.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata

from vaultgate.detect.base import Rule, register_rules
from vaultgate.detect.shell import words

_URL_HOST = re.compile(
    r"(?:[a-z][\w+.-]*:)?(?://|\\\\|(?<=:)/?(?=[\d\[]))(?:[^/?#@\s\\]*@)?"
    r"(\[[^\]\s]*\]|[^/?#:\s\\]+)",
    re.IGNORECASE,
)
# Names that resolve to the host itself or to a private network.
_INTERNAL_SUFFIXES = (".internal", ".local", ".localdomain", ".localhost")
_INTERNAL_NAMES = words(
    "localhost localhost4 localhost6 ip6-localhost ip6-loopback ipv6-localhost "
    "localtest.me lvh.me vcap.me"
)
# Wildcard DNS services that answer with the address spelled in the name.
_ECHO_DNS = (".nip.io", ".xip.io", ".sslip.io", ".traefik.me")
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
_AFTER_AT = re.compile(r"@(\[[^\]\s]*\]|[\w.-]+)")
_PART = re.compile(r"^(?:0x[0-9a-f]*|0[0-7]*|[1-9]\d*)$", re.IGNORECASE)


def _number(part: str) -> int:
    if part.lower().startswith("0x"):
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        return int(part, 8)
    return int(part)


def _inet_aton(host: str) -> ipaddress.IPv4Address | None:
    """The address a permissive resolver makes of ``host``, if numeric."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or not all(_PART.match(p) for p in parts):
        return None
    values = [_number(p) for p in parts]
    # Each leading part is one byte; the last fills the remaining bytes.
    # Oversized values are cut to their low bits, as several parsers do.
    address = 0
    for value in values[:-1]:
        address = (address << 8) | (value & 0xFF)
    tail_bits = 8 * (5 - len(parts))
    address = (address << tail_bits) | (values[-1] & ((1 << tail_bits) - 1))
    return ipaddress.IPv4Address(address & 0xFFFFFFFF)


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    host = host.strip("[]").lower()
    if ":" in host:
        try:
            found = ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            return None
        return found.ipv4_mapped or found
    return _inet_aton(host)


def is_internal_host(host: str) -> bool:
    """Whether ``host`` names this machine, a private network or a metadata IP."""
    name = host.strip("[]").rstrip(".").lower()
    if name in _INTERNAL_NAMES or name.endswith(_INTERNAL_SUFFIXES):
        return True
    for suffix in _ECHO_DNS:
        if name.endswith(suffix):
            name = re.sub(r"^(?:.*?[.-])?((?:\d+[.-]){3}\d+).*$", r"\1", name)
            name = name.replace("-", ".")
    address = _address(name)
    if address is None:
        return False
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_unspecified
        or address.is_reserved
    )


def _hosts(text: str) -> list[str]:
    """Every host a lenient parser might take from the URLs in ``text``."""
    # Circled digits and full-width dots resolve to ASCII in many resolvers.
    text = unicodedata.normalize("NFKC", text)
    text = text.translate(_DOTS).replace("\\", "")
    hosts = [m.group(1) for m in _URL_HOST.finditer(text)]
    # "http://a.com &@127.0.0.1/": parsers disagree on which '@' ends the
    # user-info, so every host after an '@' counts.
    hosts += _AFTER_AT.findall(text)
    return hosts


def _points_inside(text: str) -> bool:
    return any(is_internal_host(host) for host in _hosts(text))


_SCORE = 5
# Headers a browser fills with the page's own origin, internal on an
# intranet or in development: the application does not fetch them.
_OWN_SITE = frozenset({"origin", "referer"})
RULES = (
    Rule(
        "ssrf.metadata",
        "ssrf",
        r"169\.254\.169\.254|\bmetadata\.google\.internal\b|\bmetadata\.azure\.com\b"
        r"|\bmetadata\.packet\.net\b|\b100\.100\.100\.200\b|\b192\.0\.0\.192\b"
        r"|fd00:ec2::254|\binstance-data\b|/latest/(?:meta-data|user-data|api/token)"
        r"|/computemetadata/v1|/metadata/(?:v1|instance|identity)\b",
        _SCORE,
        description="a cloud instance-metadata endpoint",
    ),
    Rule(
        "ssrf.internal_url",
        "ssrf",
        r"(?:[a-z][\w+.-]*:)?(?://|\\\\)(?:[^/?#@\s]*@)?(?:\d|\[|0x|localhost"
        r"|ip6-|ipv6-|[\w.-]*\.(?:internal|local|localdomain|localhost|nip\.io"
        r"|xip\.io|sslip\.io|localtest\.me|lvh\.me)\b)|\bhttps?:/?[\d\[]"
        r"|://[^\x00-\x7f]|://[^/?#\s]*\\|://[^/?#]*@[^/?#]*[\s@]"
        r"|://[^/?#@\s]*\s+[^/?#@]*@",
        _SCORE,
        skip_headers=_OWN_SITE,
        confirm=_points_inside,
        description="a URL to a loopback, private or link-local address",
    ),
    Rule(
        "ssrf.internal_host",
        "ssrf",
        r"(?:^|[\s=@])(?:localhost[46]?(?:\.localdomain[46]?)?|ip6-(?:localhost"
        r"|loopback)|ipv6-localhost)(?::\d+)?/|\b(?:host|gateway|kubernetes)"
        r"\.docker\.internal\b|\bhost\.containers\.internal\b"
        r"|(?:^|[\s=@])(?:[\w.-]+\.)?(?:localtest\.me|lvh\.me|vcap\.me"
        r"|svc\.cluster\.local)(?::\d+)?/",
        _SCORE,
        skip_headers=_OWN_SITE,
        description="a scheme-less URL to localhost or a container host",
    ),
    Rule(
        "ssrf.scheme",
        "ssrf",
        r"\b(?:gopher|dict|tftp|ldaps?|netdoc|rmi|iiop|jnlp|local_file)://"
        r"|\bjar:(?:https?|file|ftp):",
        _SCORE,
        description="a URL scheme used to reach non-HTTP services (gopher://)",
    ),
    Rule(
        "ssrf.unix_socket",
        "ssrf",
        # Apache mod_proxy (CVE-2021-40438): "unix:<long path>|http://host/"
        # makes the proxy send the request wherever the URL after "|" says.
        r"\bunix:[^|\s\x00]*\|\s*[a-z][\w+.-]*://",
        _SCORE,
        description="a UNIX-socket proxy URL that redirects the backend request",
    ),
    Rule(
        "ssrf.url_confusion",
        "ssrf",
        r"://[^/?#\s]*(?:%2f|%5c|\\)[^/?#\s]*@|://[^/?#\s@]+@[^/?#\s]*@",
        3,
        paranoia=2,
        description="a URL whose host is hidden behind user-info tricks",
    ),
)

register_rules(*RULES)
