"""CRLF injection: header injection, response splitting, request splitting.

How this works: a value that reaches a response header (a redirect target,
a language cookie) and carries CR or LF can add headers or a whole second
response.  Ordinary multi-line text (a memo, an address) also has line
breaks, so a break counts only when a header field that changes what a
client or cache does follows it (``Set-Cookie:``, ``Location:``), or an
HTTP start line, or when it sits where no line break belongs: in a URL
path, a parameter name or a header value.  The "Unicode CRLF" characters
U+560A and U+560D, whose low bytes are LF and CR, count as breaks.
"""

from __future__ import annotations

from vaultgate.detect.base import Rule, register_rules

# U+560A and U+560D are written as characters, outside any class, so the
# pattern means the same whether or not Hyperscan runs in UTF-8 mode.
_UNICODE_BREAK = "(?:\u560a|\u560d)"
_BREAK = r"(?:[\r\n]|%0[ad]|\\r|\\n|" + _UNICODE_BREAK + ")"
_HEADERS = (
    r"set-cookie|set-cookie2|location|refresh|content-(?:length|type|disposition"
    r"|encoding|security-policy|location)|transfer-encoding|host|cookie"
    r"|x-forwarded-(?:for|host|proto)|x-real-ip|access-control-allow-[\w-]+"
    r"|remote-addr|x-xss-protection|cache-control|connection|link"
    r"|strict-transport-security|www-authenticate|authorization|upgrade"
    r"|x-frame-options|x-content-type-options|referrer-policy|x-[\w-]+"
)
_METHODS = r"get|post|head|put|delete|options|trace|connect|patch"
_METHODS_UPPER = _METHODS.upper()
_SCORE = 5
RULES = (
    Rule(
        "crlf.header_injection",
        "crlf",
        _BREAK + r"+\s*(?:" + _HEADERS + r")\s*:",
        _SCORE,
        description="a line break followed by a response header field",
    ),
    Rule(
        "crlf.response_splitting",
        "crlf",
        _BREAK
        + r"+\s*http/\d(?:\.\d)?\s+\d{3}\b|"
        + _BREAK
        + r"{2,}\s*<(?:html|body|script)",
        _SCORE,
        description="a line break followed by a second response",
    ),
    Rule(
        "crlf.request_splitting",
        "crlf",
        r"(?:^|"
        + _BREAK
        + r"|\s)(?:"
        + _METHODS_UPPER
        + r")\s+\S+\s+HTTP/\d(?:\.\d)?\b"
        # A request line glued to text ("barGET / HTTP/1.1") counts when a
        # header field follows it: a whole smuggled request.
        + r"|(?:"
        + _METHODS_UPPER
        + r")\s+\S+\s+HTTP/\d\.\d\r?\n[\w-]+:",
        _SCORE,
        caseless=False,
        description="an HTTP request line inside a value",
    ),
    Rule(
        "crlf.request_splitting_lower",
        "crlf",
        _BREAK + r"\s*(?:" + _METHODS + r")\s+\S+\s+http/\d",
        _SCORE,
        description="a line break followed by a request line",
    ),
    Rule(
        "crlf.header_text",
        "crlf",
        r"set-cookie2?\s*:\s*[\w.$-]+\s*=",
        _SCORE,
        description="a Set-Cookie header written into a value (its breaks lost)",
    ),
    Rule(
        "crlf.break_in_name",
        "crlf",
        r"[\r\n]",
        _SCORE,
        kinds=frozenset({"path", "query-name", "form-name", "cookie-name", "json-key"}),
        description="a line break in a URL path or a parameter name",
    ),
    Rule(
        "crlf.parameter_injection",
        "crlf",
        r"[\r\n][\w.\[\]-]+=",
        _SCORE,
        kinds=frozenset({"query"}),
        description="a line break in a query value followed by another parameter",
    ),
    Rule(
        "crlf.break_in_header",
        "crlf",
        r"[\r\n]|%0[ad]|%00",
        _SCORE,
        kinds=frozenset({"header", "cookie"}),
        description="a line break or NUL spelled inside a header value",
    ),
    Rule(
        "crlf.unicode_break",
        "crlf",
        _UNICODE_BREAK + r"\s*[\w-]+\s*:",
        _SCORE,
        description="a Unicode character that some servers cut to CR or LF",
    ),
)

register_rules(*RULES)
