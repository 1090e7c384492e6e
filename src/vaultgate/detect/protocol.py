"""Protocol anomalies: request-level checks that are not value patterns.

``check_request(request, settings)`` is a pure function the inspection
guard calls once per request, after the HTTP parser accepted it and before
the values are scanned.  It looks at the request as a whole: the method,
the HTTP version, the request target, the Host header, headers that appear
twice or that honest clients never send, the Content-Type against the body
(a JSON media type with a body that is not JSON, a multipart body without a
boundary), Range abuse, bytes that percent-encoding must not produce
(NUL, overlong UTF-8, ``%uXXXX``), and multipart part headers.  The engine
runs it through ``register_request_check`` with the default settings at the
route's paranoia level.

It returns findings, never raises on malformed input, and reads only what
the request already holds (the buffered body prefix when the body is
larger).  Every limit is a field of ``ProtocolSettings``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from vaultgate.core.model import Finding
from vaultgate.core.request import Request
from vaultgate.detect import multipart
from vaultgate.detect.engine import register_request_check

_DEFAULT_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
)
_DEFAULT_CHARSETS = frozenset(
    {"utf-8", "utf8", "us-ascii", "ascii", "iso-8859-1", "iso-8859-15", "latin1"}
    | {"windows-1252"}
)


@dataclass(frozen=True, slots=True)
class ProtocolSettings:
    """What a request may look like; every limit says why it is what it is."""

    # WebDAV, TRACE (cross-site tracing) and CONNECT have no place in front
    # of a JSON API; a route that needs another method lists it.
    allowed_methods: frozenset[str] = _DEFAULT_METHODS
    allowed_versions: frozenset[str] = frozenset({"1.0", "1.1", "2", "2.0"})
    # None: any media type.  DESIGN.md: an unusual type is not an attack by
    # itself, only a route's declared allow-list makes it an anomaly.
    allowed_content_types: frozenset[str] | None = None
    # Charsets a body may declare; UTF-7 and EBCDIC hide markup from filters.
    allowed_charsets: frozenset[str] = _DEFAULT_CHARSETS
    # Browsers ask for one range, download managers a handful; dozens of
    # overlapping ranges are the Apache "Range" denial of service.
    max_ranges: int = 5
    # 100 characters: longer query or form parameter names are overflow
    # probes; generated clients stay far below.
    max_arg_name_length: int = 100
    # 255 query and form parameters, as CRS: more is parameter pollution.
    max_args: int = 255
    # Accept-Encoding lists a few codings; 100 characters is twice a
    # browser's list, past it the header is a fuzzing payload.
    max_accept_encoding_length: int = 100
    # Paranoia 2 adds the checks honest clients trip now and then.
    paranoia: int = 1


# Headers that only attacks send in a request to an API: "Proxy" is the
# httpoxy vector, "X-Middleware-Subrequest" bypasses Next.js middleware,
# "Request-Range" is the obsolete twin of Range used in the Apache DoS,
# "Lock-Token" and "If" are WebDAV, a request has no Content-Range.
_RESTRICTED_HEADERS = frozenset(
    {"proxy", "x-middleware-subrequest", "request-range", "lock-token", "if"}
    | {"content-range", "x-original-url", "x-rewrite-url"}
)
_OVERRIDE_HEADERS = frozenset(
    {"x-http-method-override", "x-http-method", "x-method-override"}
)
# Methods a "_method" parameter may name for a framework to obey it (Rails,
# Laravel, Symfony); other values are not overrides and are ignored.
_HTTP_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"}
    | {"CONNECT", "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK"}
    | {"UNLOCK", "SEARCH"}
)
# What an HTML form tunnels through "_method" in its body: a browser form
# can only GET or POST, so frameworks read these from a POSTed field.
_FORM_OVERRIDES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Fetch-metadata and client-hint booleans are RFC 8941 Booleans that the
# browser itself writes ("?0" or "?1"); anything else was forged.
_BOOLEAN_HEADERS = ("sec-fetch-user", "sec-ch-ua-mobile")
_BOOLEANS = frozenset({"?0", "?1"})
# Openwave's header that tells some servers the charset of a form body:
# "ibm500" there turns the body into EBCDIC that filters read as noise.
_BODY_CHARSET_HEADER = "x-up-devcap-post-charset"
# Headers that must appear once (RFC 9110 5.3: only list-valued fields
# may repeat); a second Content-Length or Host is a smuggling attempt.
_SINGLE_HEADERS = (
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "authorization",
)
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_METHOD = re.compile(r"^[A-Z][A-Z_-]{0,19}$")
_MEDIA_TYPE = re.compile(
    r"^\s*"
    + _TOKEN
    + r"/"
    + _TOKEN
    + r"\s*(?:;\s*(?:"
    + _TOKEN
    # Values a little wider than RFC 9110 tokens: mail libraries send
    # unquoted boundaries such as ----=_Part_0_1.2, which parsers accept.
    + r"\s*=\s*(?:[^;\"\s]+|\"[^\"\\]*\")\s*)?)*$"
)
_PARAM = re.compile(r";\s*(" + _TOKEN + r")\s*=\s*(\"[^\"]*\"|[^;\s]*)")
# Content-Type values most API traffic sends, known to be well formed.
# Each maps to its media type, so the fast path need not parse the header.
_JSON = "application/json"
_FORM = "application/x-www-form-urlencoded"
_COMMON_TYPES = {
    _JSON: _JSON,
    _JSON + "; charset=utf-8": _JSON,
    _JSON + ";charset=utf-8": _JSON,
    _JSON + "; charset=UTF-8": _JSON,
    _JSON + ";charset=UTF-8": _JSON,
    _FORM: _FORM,
    _FORM + "; charset=utf-8": _FORM,
    _FORM + "; charset=UTF-8": _FORM,
}
# RFC 9110 5.6.6 allows no whitespace around a parameter's "="; parsers
# differ on whether "boundary= x" starts with the space, so a filter and the
# application can split the body into different parts.
_SPACED_BOUNDARY = re.compile(r"boundary\s*=\s|boundary\s+=", re.IGNORECASE)
_RANGE = re.compile(r"^\s*bytes\s*=\s*(.*)$", re.IGNORECASE)
_RANGE_SPEC = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")
_BAD_PERCENT = re.compile(r"%(?![0-9a-fA-F]{2})")
# A lead byte with a continuation byte that encodes a character in more
# bytes than UTF-8 allows (%c0%af is "/"); a lone %C1 is latin-1 "Á".
_CONTINUATION = r"%[89ab][0-9a-f]"
_OVERLONG = re.compile(
    r"%c[01]"
    + _CONTINUATION
    + r"|%e0%[89][0-9a-f]"
    + _CONTINUATION
    + r"|%f0%8[0-9a-f]"
    + _CONTINUATION * 2,
    re.IGNORECASE,
)
_UNICODE_PERCENT = re.compile(r"%u[0-9a-fA-F]{4}")
_JS_ESCAPE = re.compile(r"\\u[0-9a-fA-F]{4}")
# Any of the anomalies _encoding tells apart; no match means none of them.
_ANY_ENCODING_ANOMALY = re.compile(
    r"%(?![0-9a-fA-F]{2})|%0[0-8bcefBCEF]|%1[0-9a-fA-F]|%7[fF]|%[cC][01]|%[eE]0"
    r"|%[fF]0|%[uU][0-9a-fA-F]{4}|\\u[0-9a-fA-F]{4}|%5[cC]u[0-9a-fA-F]{4}"
)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_CONTROL_BYTES = bytes([*range(0x09), *range(0x0A, 0x20), 0x7F])  # the same
# A percent-encoded control character other than tab, CR and LF (those are
# crlf's): no text a client sends spells one; log and parser evasion does.
_SPELLED_CONTROL = re.compile(r"%(?:0[0-8bcef]|1[0-9a-f]|7f)", re.IGNORECASE)
# Control bytes sent raw in a form body, which must be percent-encoded
# (a trailing CR or LF from a sloppy client is left alone).
_RAW_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NOT_TOKEN = re.compile(r"[^!#$%&'*+.^_`|~0-9A-Za-z-]")
_LEGACY_COOKIE = re.compile(r"(?:^|[;,])\s*\$(?:version|path|domain|port)\s*=", re.I)


def check_request(request: Request, settings: ProtocolSettings) -> list[Finding]:
    """Every protocol anomaly of ``request`` under ``settings``, as findings.

    Scores: 5 for what only an attack or a broken client produces (a
    request-line or framing violation, a smuggling-prone duplicate, an
    encoding that exists to evade), 3 for what sloppy honest clients do now
    and then, 2 for notices.
    """
    if _plainly_clean(request, settings):
        return []
    found: list[Finding] = []
    for check in _CHECKS:
        found.extend(check(request, settings))
    return found


# Header names any of the checks below looks at; a request without them
# (and clean in the other ways _plainly_clean tests) has nothing to report.
_WATCHED_HEADERS = frozenset({"range", "transfer-encoding", _BODY_CHARSET_HEADER})
_GET_LIKE = frozenset({"GET", "HEAD"})


def _plain_body(request: Request) -> bool:
    """No body, or a well-formed JSON or form body of a common type."""
    content_type = request.header("content-type")
    if not request.body and content_type is None:
        return True
    if (
        content_type not in _COMMON_TYPES
        or request.method in _GET_LIKE
        or request.body_truncated
    ):
        return False
    if _COMMON_TYPES[content_type] == _JSON:
        return request.json() is not None or request.body.strip() == b"null"
    raw = request.body.decode("latin-1")
    if "_method" in raw or _RAW_CONTROL.search(raw):
        return False
    return not ("%" in raw or "\\" in raw) or not _ANY_ENCODING_ANOMALY.search(raw)


def _plainly_clean(request: Request, settings: ProtocolSettings) -> bool:
    """A cheap test that no check below can fire: True only if surely clean.

    Each condition is the negation of what some check looks for, tested
    with string operations rather than regexes; anything unusual falls
    through to the full checks, so this may say "maybe", never hide one.
    """
    target = request.target
    if (
        request.method not in settings.allowed_methods
        or request.version not in settings.allowed_versions
        or not target.startswith("/")
        or "#" in target
        or "\\" in target
        or " " in target
        or "_method" in target
        or not target.isprintable()
        or ("%" in target and _ANY_ENCODING_ANOMALY.search(target))
        or settings.allowed_content_types is not None
        or not _plain_body(request)
    ):
        return False
    index = request.header_index()
    host = index.get("host") or ""
    accept = index.get("accept")
    # One pass splits names from values; the control bytes are deleted in C
    # and the result compared, twice as fast as a regex over the values.
    pairs = request.headers
    names, values_ = zip(*pairs, strict=True) if pairs else ((), ())
    values = "".join(values_)
    encoded = values.encode("utf-8", "surrogatepass")
    return not (
        not _plain_names(names)
        or encoded.translate(None, _CONTROL_BYTES) != encoded
        or ("%" in values and _SPELLED_CONTROL.search(values))
        or "$" in (index.get("cookie") or "")
        or index.get("sec-fetch-user", "?1") not in _BOOLEANS
        or index.get("sec-ch-ua-mobile", "?0") not in _BOOLEANS
        or not host.strip()
        or not (index.get("content-length") or "0").strip().isdigit()
        or "," in (index.get("connection") or "")
        or (accept is not None and (not accept.strip() or "charset" in accept.lower()))
        or not (index.get("user-agent") or "x").strip()
        or len(index.get("accept-encoding") or "") > settings.max_accept_encoding_length
        or not _plain_arguments(request, index, settings)
    )


def _plain_arguments(
    request: Request, index: dict[str, str], settings: ProtocolSettings
) -> bool:
    """No more query and form parameters, nor longer names, than allowed.

    A text of n characters holds at most n parameters and no name longer
    than n, so short targets and form bodies need no counting.
    """
    form = _COMMON_TYPES.get(index.get("content-type") or "") == _FORM
    length = len(request.target) + (len(request.body) if form else 0)
    if length <= min(settings.max_args, settings.max_arg_name_length):
        return True
    names = [name for name, _ in request.args]
    if form:
        names += [name for name, _ in request.form()]
    limit = settings.max_arg_name_length
    return len(names) <= settings.max_args and all(len(n) <= limit for n in names)


_WATCHED = _RESTRICTED_HEADERS | _OVERRIDE_HEADERS | _WATCHED_HEADERS
# Verdicts on header name lists: clients send the same few lists again and
# again.  Bounded, emptied when full, so odd lists cannot grow it.
_NAMES_SEEN: dict[tuple[str, ...], bool] = {}
MAX_NAME_LISTS = 1024


def _plain_names(names: tuple[str, ...]) -> bool:
    """No repeated name, none a check watches, every one a token."""
    known = _NAMES_SEEN.get(names)
    if known is None:
        lowered = {name.lower() for name in names}
        known = not (
            len(lowered) < len(names)
            or not lowered.isdisjoint(_WATCHED)
            or _NOT_TOKEN.search("".join(names))
        )
        if len(_NAMES_SEEN) >= MAX_NAME_LISTS:
            _NAMES_SEEN.clear()
        _NAMES_SEEN[names] = known
    return known


def _finding(rule: str, score: int, location: str, snippet: str = "") -> Finding:
    return Finding("protocol", "protocol." + rule, score, location, snippet[:64])


def _request_line(request: Request, settings: ProtocolSettings) -> list[Finding]:
    found = []
    if not _METHOD.match(request.method):
        found.append(_finding("method_syntax", 5, "method", request.method))
    elif request.method not in settings.allowed_methods:
        found.append(_finding("method_not_allowed", 5, "method", request.method))
    if request.version not in settings.allowed_versions:
        found.append(_finding("http_version", 5, "version", request.version))
    target = request.target
    if not target.startswith("/") and not (
        target == "*" and request.method == "OPTIONS"
    ):
        found.append(_finding("target_form", 5, "target", target))
    if "#" in target:
        found.append(_finding("fragment", 5, "target", target))
    if "\\" in request.path or _CONTROL.search(target) or " " in target:
        found.append(_finding("target_chars", 5, "target", target))
    return found


def _host(request: Request, settings: ProtocolSettings) -> list[Finding]:
    host = request.header("host")
    if host is None:
        # RFC 9112 3.2: a 1.1 request without Host is malformed, but the
        # parser already answers that; adapters (ext_authz, replay of HAR
        # files) build requests without one, so this is only a notice.
        return [_finding("missing_host", 2, "header:host")]
    if not host.strip():
        return [_finding("empty_host", 2, "header:host")]
    # A numeric Host is not reported: load balancers and health checks use
    # addresses, and a notice on every such request only adds noise that
    # sums with other findings.
    return []


def _headers(request: Request, settings: ProtocolSettings) -> list[Finding]:
    headers = request.headers
    found = []
    # One search over all names and one over all values: the common clean
    # request never enters the per-header loop.
    names = "".join(name for name, _ in headers)
    values = "".join(value for _, value in headers)
    if _NOT_TOKEN.search(names) or _CONTROL.search(values):
        for name, value in headers:
            if _CONTROL.search(value) or _NOT_TOKEN.search(name) or not name:
                where = "header:" + name.lower()
                found.append(_finding("header_chars", 5, where, value))
    if "%" in values and _SPELLED_CONTROL.search(values):
        found.extend(_spelled_controls(headers))
    lowered = [name.lower() for name, _ in headers]
    for key in _RESTRICTED_HEADERS.intersection(lowered):
        found.append(_finding("restricted_header", 5, "header:" + key))
    for key in _OVERRIDE_HEADERS.intersection(lowered):
        found.append(_finding("method_override", 3, "header:" + key))
    if len(set(lowered)) < len(lowered):
        for key in _SINGLE_HEADERS:
            if lowered.count(key) > 1:
                found.append(_finding("duplicate_header", 5, "header:" + key))
    return found + _header_values(request, settings)


def _spelled_controls(headers: list[tuple[str, str]]) -> list[Finding]:
    """A percent-encoded NUL or control character in a header value.

    The value decoder drops a NUL, so the payload rules never see it; a
    Referer or cookie that spells one is a probe of how the application
    terminates strings.
    """
    found = []
    for name, value in headers:
        match = _SPELLED_CONTROL.search(value)
        if match:
            rule = "nul_byte" if match.group() == "%00" else "control_char"
            found.append(_finding(rule, 5, "header:" + name.lower(), value))
    return found


def _header_values(request: Request, settings: ProtocolSettings) -> list[Finding]:
    found = _browser_fields(request, settings)
    connection = request.header("connection") or ""
    if "," in connection:
        tokens = [t.strip().lower() for t in connection.split(",")]
        if len(tokens) != len(set(tokens)) or {"close", "keep-alive"} <= set(tokens):
            found.append(_finding("connection", 5, "header:connection", connection))
    for name in ("user-agent", "accept"):
        value = request.header(name)
        if value is not None and not value.strip():
            found.append(
                _finding("empty_" + name.replace("-", "_"), 2, "header:" + name)
            )
    encoding = request.header("accept-encoding") or ""
    if len(encoding) > settings.max_accept_encoding_length:
        found.append(_finding("accept_encoding", 5, "header:accept-encoding", encoding))
    accept = request.header("accept") or ""
    if "charset" not in accept.lower():
        return found
    for key, charset in _PARAM.findall(accept.replace(",", ";")):
        if key.lower() != "charset":
            continue
        if charset.strip('"').lower() not in settings.allowed_charsets:
            found.append(_finding("accept_charset", 5, "header:accept", accept))
            break
    return found


def _browser_fields(request: Request, settings: ProtocolSettings) -> list[Finding]:
    """Fields a browser writes itself, and the legacy cookie attributes."""
    found = []
    for name in _BOOLEAN_HEADERS:
        value = request.header(name)
        if value is not None and value.strip() not in _BOOLEANS:
            found.append(_finding("fetch_metadata", 5, "header:" + name, value))
    # RFC 2965's "$Version" makes Java and Python cookie parsers read a
    # quoted value across ";", so one cookie swallows (and leaks) the next
    # ones, HttpOnly session included; RFC 6265 clients never send it.
    cookie = request.header("cookie") or ""
    if "$" in cookie and _LEGACY_COOKIE.search(cookie):
        found.append(_finding("legacy_cookie", 5, "header:cookie", cookie))
    charset = request.header(_BODY_CHARSET_HEADER)
    if charset is not None and charset.strip().lower() not in settings.allowed_charsets:
        found.append(_finding("charset", 5, "header:" + _BODY_CHARSET_HEADER, charset))
    return found


def _framing(request: Request, settings: ProtocolSettings) -> list[Finding]:
    found = []
    length = request.header("content-length")
    if length is not None and not length.strip().isdigit():
        found.append(_finding("content_length", 5, "header:content-length", length))
    chunked = request.header("transfer-encoding") is not None
    has_body = request.body_length > 0 or chunked
    if request.method in ("GET", "HEAD") and has_body:
        found.append(_finding("body_on_get", 5, "body"))
    # A body without Content-Type is not reported: honest scripts post JSON
    # that way, and the body is still inspected as raw text.
    return found


def _content_type(request: Request, settings: ProtocolSettings) -> list[Finding]:
    header = request.header("content-type")
    if header is None:
        return []
    where = "header:content-type"
    if header in _COMMON_TYPES and settings.allowed_content_types is None:
        return _body_matches_type(request, request.content_type)
    if not _MEDIA_TYPE.match(header) or "%{" in header or "${" in header:
        return [_finding("content_type_syntax", 5, where, header)]
    found = []
    media = request.content_type
    allowed = settings.allowed_content_types
    if allowed is not None and media not in allowed:
        found.append(_finding("content_type_not_allowed", 5, where, media))
    params = [(k.lower(), v.strip('"').lower()) for k, v in _PARAM.findall(header)]
    charsets = [v for k, v in params if k == "charset"]
    if len(charsets) > 1 or any(c not in settings.allowed_charsets for c in charsets):
        found.append(_finding("charset", 5, where, header))
    boundary = [v for k, v in params if k == "boundary"]
    if media.startswith("multipart/"):
        spaced = _SPACED_BOUNDARY.search(header) is not None
        if not boundary or not multipart.valid_boundary(boundary[0]) or spaced:
            found.append(_finding("multipart_boundary", 5, where, header))
    elif boundary:
        found.append(_finding("boundary_mismatch", 5, where, header))
    return found + _body_matches_type(request, media)


def _body_matches_type(request: Request, media: str) -> list[Finding]:
    if not request.body or request.body_truncated:
        return []
    is_json = media == "application/json" or media.endswith("+json")
    # request.json() is None for a body of "null" too, which is valid JSON.
    if is_json and request.json() is None and request.body.strip() != b"null":
        return [_finding("json_invalid", 5, "body", media)]
    is_xml = media in ("application/xml", "text/xml") or media.endswith("+xml")
    if is_xml and not request.body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return [_finding("xml_invalid", 5, "body", media)]
    return []


def _range(request: Request, settings: ProtocolSettings) -> list[Finding]:
    value = request.header("range")
    if value is None:
        return []
    match = _RANGE.match(value)
    specs = match.group(1).split(",") if match else []
    if not match or len(specs) > settings.max_ranges:
        return [_finding("range", 5, "header:range", value)]
    for spec in specs:
        bounds = _RANGE_SPEC.match(spec)
        if spec.strip() and bounds is None:
            return [_finding("range", 5, "header:range", value)]
        if bounds and bounds[1] and bounds[2] and int(bounds[1]) > int(bounds[2]):
            return [_finding("range", 5, "header:range", value)]
    return []


def _encoding(request: Request, settings: ProtocolSettings) -> list[Finding]:
    """Percent-encoding that only evasion produces, in the target and form body."""
    found = []
    sources = [("target", request.target)]
    if request.content_type == "application/x-www-form-urlencoded":
        body = request.body.decode("latin-1")
        sources.append(("body", body))
        if _RAW_CONTROL.search(body):
            found.append(_finding("control_char", 5, "body", body))
    for where, raw in sources:
        if _ANY_ENCODING_ANOMALY.search(raw) is None:
            continue  # the common case: one search, nothing to tell apart
        lowered = raw.lower()
        if "%00" in lowered:
            found.append(_finding("nul_byte", 5, where, raw))
        elif _SPELLED_CONTROL.search(raw):
            found.append(_finding("control_char", 5, where, raw))
        if _OVERLONG.search(raw):
            found.append(_finding("overlong_utf8", 5, where, raw))
        if _UNICODE_PERCENT.search(raw):
            found.append(_finding("percent_u", 5, where, raw))
        if _BAD_PERCENT.search(raw):
            found.append(_finding("bad_percent", 3, where, raw))
        if _JS_ESCAPE.search(raw.replace("%5C", "\\").replace("%5c", "\\")):
            found.append(_finding("unicode_escape", 5, where, raw))
    return found


def _arguments(request: Request, settings: ProtocolSettings) -> list[Finding]:
    names = [name for name, _ in request.args] + [name for name, _ in request.form()]
    found = []
    if len(names) > settings.max_args:
        found.append(_finding("too_many_args", 5, "args", str(len(names))))
    for name in names:
        if len(name) > settings.max_arg_name_length:
            found.append(_finding("arg_name_length", 5, "args", name))
            break
    return found + _method_parameter(request, settings)


def _method_parameter(request: Request, settings: ProtocolSettings) -> list[Finding]:
    """A "_method" parameter that turns the request into another method.

    Frameworks obey it so that HTML forms can PUT and DELETE; such a form
    POSTs it in its body.  In the query string, on a GET, or naming a
    method no form tunnels (TRACE, PROPFIND), it is someone making a link
    or a cross-site POST act as another method, past any per-method rule
    in front of the application.  A form's own field waits for paranoia 2.
    """
    query = [v for n, v in request.args if n == "_method"]
    form = [v for n, v in request.form() if n == "_method"]
    found = []
    for where, value in [("query", v) for v in query] + [("form", v) for v in form]:
        method = value.strip().upper()
        forged = (
            where == "query"
            or request.method in _GET_LIKE
            or method not in _FORM_OVERRIDES
        )
        if method in _HTTP_METHODS and forged:
            found.append(_finding("method_override", 5, where + ":_method", value))
        elif settings.paranoia >= 2:
            found.append(_finding("method_override", 4, where + ":_method", value))
    return found


def _multipart(request: Request, settings: ProtocolSettings) -> list[Finding]:
    if not request.content_type.startswith("multipart/"):
        return []
    return [
        _finding(rule, 5, "multipart", detail)
        for rule, detail in multipart.anomalies(request, settings.allowed_charsets)
    ]


_CHECKS = (
    _request_line,
    _host,
    _headers,
    _framing,
    _content_type,
    _range,
    _encoding,
    _arguments,
    _multipart,
)


# Routes without settings of their own share one frozen default settings
# object per paranoia level, built once.
_DEFAULTS = {level: ProtocolSettings(paranoia=level) for level in range(1, 5)}


def _registered(request: Request, paranoia: int) -> list[Finding]:
    return check_request(request, _DEFAULTS.get(paranoia) or ProtocolSettings())


def _configured(
    settings: ProtocolSettings, paranoia: int
) -> Callable[[Request, int], list[Finding]]:
    """The check bound to a route's settings (``inspection.protocol``)."""
    bound = replace(settings, paranoia=paranoia)

    def check(request: Request, _paranoia: int) -> list[Finding]:
        return check_request(request, bound)

    return check


register_request_check("protocol", _registered, configure=_configured)
