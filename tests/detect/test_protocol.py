"""Protocol anomalies: request-level checks on whole requests as sent on the wire."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.detect.family_cases import request_findings, request_rules
from vaultgate.core.rawhttp import ParseFailure, parse_request
from vaultgate.core.request import Request
from vaultgate.detect import protocol
from vaultgate.detect.protocol import ProtocolSettings, check_request

HOST = b"Host: api.bank.example\r\n"


def req(
    method: bytes = b"GET",
    target: bytes = b"/v1/accounts",
    headers: bytes = b"",
    body: bytes = b"",
    version: bytes = b"1.1",
) -> bytes:
    head = method + b" " + target + b" HTTP/" + version + b"\r\n" + HOST + headers
    if body:
        head += b"Content-Length: %d\r\n" % len(body)
    return head + b"\r\n" + body


def form(body: bytes, ctype: bytes = b"application/x-www-form-urlencoded") -> bytes:
    return req(b"POST", b"/v1/payees", b"Content-Type: " + ctype + b"\r\n", body)


DISPOSITION = b'Content-Disposition: form-data; name="a"'


def multipart(part_head: bytes, content: bytes = b"value") -> bytes:
    body = b"--XyZ\r\n" + part_head + b"\r\n\r\n" + content + b"\r\n--XyZ--\r\n"
    return form(body, b"multipart/form-data; boundary=XyZ")


ANOMALIES = [
    (req(b"TRACE"), "protocol.method_not_allowed"),
    (req(b"PROPFIND"), "protocol.method_not_allowed"),
    (req(target=b"/v1/accounts#frag"), "protocol.fragment"),
    (req(headers=b"Host: other.example\r\n"), "protocol.duplicate_header"),
    (req(headers=b"Connection: keep-alive, close\r\n"), "protocol.connection"),
    (req(headers=b"Range: bytes=0-1,2-3,4-5,6-7,8-9,10-11\r\n"), "protocol.range"),
    (req(headers=b"Range: bytes=5-0\r\n"), "protocol.range"),
    (req(headers=b"Request-Range: bytes=0-1023\r\n"), "protocol.restricted_header"),
    (
        req(headers=b"Proxy: http://attacker.example:8080\r\n"),
        "protocol.restricted_header",
    ),
    (req(headers=b"Accept: text/html;charset=CP1026\r\n"), "protocol.accept_charset"),
    (
        req(headers=b"Accept-Encoding: " + b"A," * 80 + b"\r\n"),
        "protocol.accept_encoding",
    ),
    (
        req(b"GET", body=b"hi=test", headers=b"Content-Type: text/plain\r\n"),
        "protocol.body_on_get",
    ),
    (form(b"{not json", b"application/json"), "protocol.json_invalid"),
    (form(b"plain words", b"application/xml"), "protocol.xml_invalid"),
    (form(b"a=1", b"multipart/form-data"), "protocol.multipart_boundary"),
    (
        form(b"a=1", b'application/x-www-form-urlencoded; boundary="application/json"'),
        "protocol.boundary_mismatch",
    ),
    (
        form(b"a=1", b"application/x-www-form-urlencoded; charset=utf-7"),
        "protocol.charset",
    ),
    (form(b"a=1", b"text/plain; charset=utf-8; charset=utf-7"), "protocol.charset"),
    (
        form(b"a=1", b"%{(#nike='multipart/form-data').(#dm=@ognl)}"),
        "protocol.content_type_syntax",
    ),
    (req(target=b"/v1/a?f=x%00.jpg"), "protocol.nul_byte"),
    (req(target=b"/v1/a?f=..%c0%af..%c0%afetc"), "protocol.overlong_utf8"),
    (req(target=b"/v1/a?f=%uff0e%uff0e"), "protocol.percent_u"),
    (form(b"note=%5Cu0061lert"), "protocol.unicode_escape"),
    (
        req(target=b"/v1/a?" + b"&".join(b"p%d=1" % i for i in range(300))),
        "protocol.too_many_args",
    ),
    (req(target=b"/v1/a?" + b"n" * 150 + b"=1"), "protocol.arg_name_length"),
    # Pinned: the fast path counted query parameters only, so a form body
    # with an overlong name or too many fields passed unreported.
    (form(b"n" * 150 + b"=1"), "protocol.arg_name_length"),
    (form(b"&".join(b"p%d=1" % i for i in range(300))), "protocol.too_many_args"),
    (
        multipart(DISPOSITION + b"\r\nContent-Type: text/plain; charset=utf-7"),
        "protocol.multipart_charset",
    ),
    (
        multipart(b'Content- Disposition: form-data; name="a"'),
        "protocol.multipart_header",
    ),
    (
        multipart(b'Content-Disposition: form-data; name="a"; filename="x;y.txt"'),
        "protocol.multipart_name",
    ),
    (
        multipart(DISPOSITION + b"\r\nContent-Transfer-Encoding: base64"),
        "protocol.multipart_transfer_encoding",
    ),
    (
        multipart(b'Content-Disposition: form-data; name="_charset_"', b"utf-7"),
        "protocol.multipart_charset",
    ),
    (
        form(b"a=1", b"multipart/form-data; boundary=  XyZ"),
        "protocol.multipart_boundary",
    ),
    (
        form(b"a=1", b"multipart/form-data; boundary =XyZ"),
        "protocol.multipart_boundary",
    ),
    (req(target=b"/v1/a?memo=rent%03"), "protocol.control_char"),
    (req(target=b"/v1/a?memo=rent%127"), "protocol.control_char"),
    (req(target=b"/v1/a?memo=%1b[31mred"), "protocol.control_char"),
    (form(b"memo=rent%7f"), "protocol.control_char"),
    (form(b"test=\xac\xed\x00\x05"), "protocol.control_char"),
    (req(headers=b"Referer: https://shop.example/%00\r\n"), "protocol.nul_byte"),
    (req(headers=b"Cookie: hi%13=bye\r\n"), "protocol.control_char"),
    (req(headers=b"X-Note: ansi%1b[2J\r\n"), "protocol.control_char"),
    (req(headers=b"Sec-Fetch-User: foo\r\n"), "protocol.fetch_metadata"),
    (req(headers=b"Sec-CH-UA-Mobile: ?2\r\n"), "protocol.fetch_metadata"),
    (
        req(headers=b'Cookie: $Version=1; session="deadbeef; sid=s3cr3t"\r\n'),
        "protocol.legacy_cookie",
    ),
    (req(headers=b"Cookie: a=1, $Path=/\r\n"), "protocol.legacy_cookie"),
    (
        req(
            b"POST",
            b"/v1/payees",
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"X-Up-Devcap-Post-Charset: ibm500\r\n",
            b"%89%95=%A7",
        ),
        "protocol.charset",
    ),
]

BROWSER = (
    b"User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/122.0.0.0\r\n"
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    b"Accept-Encoding: gzip, deflate, br, zstd\r\nAccept-Language: es-ES,es;q=0.9\r\n"
    b"Accept-Charset: utf-8, utf-8;q=0.5, *;q=0.5\r\nConnection: keep-alive\r\n"
)
ORDINARY = [
    req(headers=BROWSER),
    req(b"HEAD"),
    req(b"DELETE", b"/v1/payees/12"),
    req(b"OPTIONS", b"/v1/payees", b"Origin: https://app.bank.example\r\n"),
    req(version=b"1.0"),
    req(headers=b"Range: bytes=0-1023\r\n"),
    req(target=b"/tienda1/publico/anadir.jsp?nombre=Jam%F3n+Ib%E9rico&precio=85"),
    req(target=b"/v1/search?q=caf%C3%A9&page=2"),
    form(b'{"amount": 100, "memo": "Rent"}', b"application/json; charset=utf-8"),
    form(b"null", b"application/json"),
    form(b"--=_Part_0_1.2--\r\n", b"multipart/mixed; boundary=----=_Part_0_1.2"),
    form(b"nombre=Mar%EDa&apellidos=L%F3pez+Garc%EDa&pwd=och*avero"),
    form(b"<Document><Amt>1</Amt></Document>", b"application/xml"),
    form(b"\x08\x96\x01", b"application/x-protobuf"),
    form(b'{"csp-report": {}}', b"application/csp-report"),
    form(b"a plain text note", b"text/plain"),
    # Tabs, CR and LF are crlf's to judge; a trailing newline is sloppiness.
    form(b"memo=Rent%09March%0D%0Aline+two\n"),
    req(headers=b"Sec-Fetch-User: ?1\r\nSec-CH-UA-Mobile: ?0\r\n"),
    req(headers=b"Cookie: theme=dark; cart=%7B%22n%22%3A2%7D; price=$12\r\n"),
    req(headers=b"Referer: https://shop.example/search?q=caf%C3%A9%20%2B%201\r\n"),
    req(target=b"/v1/search?q=50%25+off&size=100%2F3"),
    form(b"--XyZ--\r\n", b'multipart/form-data; boundary=" spaced inside"'),
    multipart(
        b'Content-Disposition: form-data; name="file"; filename="receipt.pdf"'
        b"\r\nContent-Type: application/pdf",
        b"%PDF-1.4",
    ),
]


@pytest.mark.parametrize(("raw", "rule"), ANOMALIES)
def test_anomalies_fire(raw: bytes, rule: str) -> None:
    assert rule in request_rules(raw)


@pytest.mark.parametrize("raw", ORDINARY)
def test_ordinary_requests_raise_nothing_above_a_notice(raw: bytes) -> None:
    found = request_findings(raw)
    assert [f.rule_id for f in found if f.family == "protocol" and f.score > 2] == []


def test_a_route_allow_list_makes_other_media_types_anomalies() -> None:
    request = parse_request(form(b"\x08\x96", b"application/x-protobuf"), "192.0.2.1")
    assert not isinstance(request, ParseFailure)
    strict = ProtocolSettings(allowed_content_types=frozenset({"application/json"}))
    rules = {f.rule_id for f in check_request(request, strict)}
    assert rules == {"protocol.content_type_not_allowed"}
    assert check_request(request, ProtocolSettings()) == []


# A form's own "_method" field (what Rails and Laravel forms POST) waits
# for paranoia 2; a query "_method", one on a GET, or one naming a method no
# form tunnels makes a link or a cross-site POST act as another method.
FORM_OVERRIDES = [
    form(b"_method=DELETE&id=123"),
    form(b"_method=put&name=Jos%C3%A9"),
    form(b"_method=post&authenticity_token=abc"),
]
FORGED_OVERRIDES = [
    req(b"POST", b"/v1/payees?_method=DELETE"),
    req(b"POST", b"/v1/payees?id=7&_method=%44%45%4C%45%54%45&confirm=true"),
    req(b"GET", b"/v1/transfer?amount=1000&_method=POST"),
    req(b"POST", b"/v1/files?_method=PROPFIND"),
    form(b"_method=TRACE"),
    req(
        b"GET",
        b"/v1/payees",
        b"Content-Type: application/x-www-form-urlencoded\r\n",
        b"_method=PUT",
    ),
]
NOT_OVERRIDES = [
    req(b"POST", b"/v1/payees?_method=UNSUBSCRIBE"),
    req(b"POST", b"/v1/payees?_method=12345"),
    req(b"POST", b"/v1/payees?http_method=DELETE"),
    req(b"GET", b"/v1/payees?sort=_methodology"),
]


@pytest.mark.parametrize("raw", FORM_OVERRIDES)
def test_a_form_method_field_waits_for_paranoia_2(raw: bytes) -> None:
    assert "protocol.method_override" not in request_rules(raw)
    assert "protocol.method_override" in request_rules(raw, paranoia=2)


@pytest.mark.parametrize("raw", FORGED_OVERRIDES)
def test_a_forged_method_override_fires(raw: bytes) -> None:
    assert "protocol.method_override" in request_rules(raw)


@pytest.mark.parametrize("raw", NOT_OVERRIDES)
def test_a_parameter_that_names_no_method_is_not_an_override(raw: bytes) -> None:
    assert "protocol.method_override" not in request_rules(raw)


# -- the fast path may only say "certainly clean" -------------------------------

_HEADER_POOL = [
    ("Host", "api.bank.example"),
    ("Host", ""),
    ("Host", "127.0.0.1"),
    ("User-Agent", "okhttp/4.12.0"),
    ("User-Agent", " "),
    ("Accept", "application/json"),
    ("Accept", "text/html;charset=CP1026"),
    ("Accept-Encoding", "gzip"),
    ("Accept-Encoding", "x," * 60),
    ("Connection", "keep-alive, close"),
    ("Range", "bytes=5-0"),
    ("Proxy", "http://x"),
    ("X-HTTP-Method-Override", "DELETE"),
    ("Content-Length", "12x"),
    ("Transfer-Encoding", "chunked"),
    ("X-Note", "tab\there"),
    ("X-Note", "bell\x07"),
    ("X-Note", "spelled%07"),
    ("Referer", "https://a.example/%00"),
    ("Cookie", "$Version=1; a=b"),
    ("Cookie", "price=$12"),
    ("Sec-Fetch-User", "foo"),
    ("Sec-CH-UA-Mobile", "?0"),
    ("X-Up-Devcap-Post-Charset", "ibm500"),
    ("Bad Name", "x"),
]
_CONTENT_TYPES = [
    None,
    "application/json",
    "application/json; charset=utf-8",
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=utf-7",
    "multipart/form-data",
    "text/plain",
]


@settings(max_examples=500, deadline=None)
@given(
    method=st.sampled_from(["GET", "HEAD", "POST", "PUT", "TRACE", "get"]),
    target=st.lists(
        st.sampled_from(
            [*"/aZ09?&=.", "#", "\\", " ", "%", "%u0061", "%00", "%c0%af", "\x01"]
            + ["%1b", "_method=", "PUT", "TRACE"]
        ),
        max_size=12,
    ).map(lambda parts: "/" + "".join(parts)),
    headers=st.lists(st.sampled_from(_HEADER_POOL), max_size=2),
    content_type=st.sampled_from(_CONTENT_TYPES),
    body=st.sampled_from(
        [b"", b'{"a": 1}', b"{bad", b"a=1&b=%1G", b"null", b"_method=TRACE", b"a=\x01"]
        + [b"n" * 120 + b"=1", b"&".join([b"p=1"] * 300)]
    ),
    version=st.sampled_from(["1.1", "1.0", "0.9"]),
)
def test_the_fast_path_never_hides_a_finding(
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    content_type: str | None,
    body: bytes,
    version: str,
) -> None:
    # A valid Host first, so that most examples reach the fast path.
    fields = [("Host", "api.bank.example"), *headers]
    if content_type is not None:
        fields.append(("Content-Type", content_type))
    request = Request(method, target, fields, "192.0.2.1", version=version)
    request.body, request.body_length = body, len(body)
    settings_ = ProtocolSettings()
    if protocol._plainly_clean(request, settings_):
        full = [f for check in protocol._CHECKS for f in check(request, settings_)]
        assert full == []
