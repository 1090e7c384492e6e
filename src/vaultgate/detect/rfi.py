"""Remote file inclusion: a value that is a URL an include() would fetch.

How this works: an application that includes a file named by a parameter
runs whatever a remote URL returns.  Attackers give a URL to a raw IP
address, or end the URL with ``?`` so that the suffix the application
appends (``.php``) becomes a harmless query string.  Both shapes are rare in
honest traffic: a callback URL names a host and does not end in ``?``.
"""

from __future__ import annotations

from vaultgate.detect.base import Rule, register_rules

_SCHEMES = r"(?:https?|ftps?|file)"
_SCORE = 5
RULES = (
    Rule(
        "rfi.trailing_query",
        "rfi",
        r"^\s*" + _SCHEMES + r"(?::[^?#\s]*)?\?+\s*$",
        _SCORE,
        description="a URL ending in '?', which neutralises an appended suffix",
    ),
    Rule(
        "rfi.ip_url",
        "rfi",
        r"^\s*(?:https?|ftps?)://(?:[^/?#@\s]*@)?(?:\d{1,3}(?:\.\d{1,3}){3}"
        r"|\[?[0-9a-f]{0,4}:[0-9a-f:.]+\]?)(?:[:/?#]|\s*$)",
        _SCORE,
        description="a value that is a URL to a raw IP address",
    ),
    Rule(
        "rfi.numeric_host",
        "rfi",
        # A host written as one number (2852039166 is 169.254.169.254),
        # with any number of slashes: no honest link spells its host so,
        # and filters that look for dotted addresses miss it.
        r"^\s*(?:https?|ftps?):/{0,2}(?:[^/?#@\s]*@)?(?:\d{8,10}|0x[0-9a-f]{6,8}"
        r"|0[0-7]{8,11})(?:[:/?#]|\s*$)",
        _SCORE,
        description="a URL whose host is an address written as one number",
    ),
    Rule(
        "rfi.remote_script",
        "rfi",
        r"^\s*(?:https?|ftps?)://[^?#\s]+\.(?:php\d?|phtml|txt|sh|pl|py|cgi|asp"
        r"|aspx|jsp|inc|gif|jpg|png)\?",
        4,
        paranoia=2,
        description="a URL to a script or image followed by a query string",
    ),
    Rule(
        "rfi.url_in_path",
        "rfi",
        r"(?:^|/)" + _SCHEMES + r":/",
        4,
        paranoia=2,
        kinds=frozenset({"path"}),
        description="a URL embedded in the URL path",
    ),
)

register_rules(*RULES)
