"""Extraction: every attacker-controlled value of a request, within limits."""

from __future__ import annotations

import json

import pytest

from vaultgate.core.request import Request
from vaultgate.detect.extract import (
    MAX_JSON_DEPTH,
    MAX_VALUES,
    Extraction,
    Limits,
    extract,
)

UA = ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64)")


def request(
    target: str = "/",
    body: bytes = b"",
    content_type: str = "",
    headers: list[tuple[str, str]] | None = None,
    truncated: bool = False,
) -> Request:
    head = [("Host", "api.example"), *(headers or [])]
    if content_type:
        head.append(("Content-Type", content_type))
    method = "POST" if body else "GET"
    return Request(
        method,
        target,
        head,
        "192.0.2.1",
        body=body,
        body_length=len(body) * (2 if truncated else 1),
        body_truncated=truncated,
    )


def pairs(out: Extraction) -> list[tuple[str, str, str]]:
    return [(v.kind, v.name, v.text) for v in out.values]


def test_path_query_cookies_and_selected_headers() -> None:
    req = request(
        "/accounts/1001/it's%20me?page=2&q=a%27b&weird%20name=1",
        headers=[
            UA,
            ("Referer", "https://shop.example/cart"),
            ("X-Note", "hello"),
            ("Accept", "text/html"),
            ("Accept-Language", "es-ES"),
            ("Cookie", "session=abc; theme=dark"),
        ],
    )
    assert pairs(extract(req)) == [
        ("path", "", "/accounts/1001/it's%20me"),
        ("path", "3", "it's%20me"),
        ("query", "page", "2"),
        ("query", "q", "a'b"),
        ("query-name", "weird name", "weird name"),
        ("query", "weird name", "1"),
        ("query", "*", "page=2&q=a'b&weird name=1"),
        ("header", "user-agent", UA[1]),
        ("header", "referer", "https://shop.example/cart"),
        ("header", "x-note", "hello"),
        ("cookie", "session", "abc"),
        ("cookie", "theme", "dark"),
    ]


def test_policy_named_headers_are_inspected_too() -> None:
    req = request(headers=[("Origin", "https://evil.example"), ("Accept", "*/*")])
    limits = Limits(headers=frozenset({"origin", "accept"}))
    assert pairs(extract(req, limits)) == [
        ("path", "", "/"),
        ("header", "origin", "https://evil.example"),
        ("header", "accept", "*/*"),
    ]


# Every header is inspected but the standard ones the HTTP stack reads.
HEADER_CASES = [
    (("Test", "${jndi:ldap://x}"), True),
    (("Remote-IP", "127.0.0.1"), True),
    (("Origin", "https://app.example"), True),
    (("Idempotency-Key", "9f1c2a"), True),
    (("X-Request-Id", "abc"), True),
    (("Accept-Language", "en-US"), False),
    (("Content-Type", "application/json"), False),
    (("Authorization", "Bearer abc.def.ghi"), False),
    (("Cookie", "a=b"), False),
    (("Sec-Fetch-Mode", "navigate"), False),
    (("If-None-Match", 'W/"5f1"'), False),
    (("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), False),
]


@pytest.mark.parametrize(("header", "inspected"), HEADER_CASES)
def test_custom_headers_are_inspected_standard_ones_are_not(
    header: tuple[str, str], inspected: bool
) -> None:
    got = ("header", header[0].lower(), header[1]) in pairs(
        extract(request(headers=[header]))
    )
    assert got is inspected


def test_json_keys_and_leaves_at_any_depth() -> None:
    body = {
        "amount": 5,
        "memo": "rent",
        "items": [{"note": "a"}, {"note": "b", "ok": True}],
        "odd key": "x",
    }
    out = extract(
        request(body=json.dumps(body).encode(), content_type="application/json")
    )
    assert pairs(out)[1:] == [
        ("json", "$.memo", "rent"),
        ("json", "$.items[0].note", "a"),
        ("json", "$.items[1].note", "b"),
        ("json-key", "$", "odd key"),
        ("json", "$['odd key']", "x"),
    ]
    assert out.incomplete == ""


def nested(depth: int) -> bytes:
    document: object = "deep"
    for _ in range(depth):
        document = {"a": document}
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("depth", "incomplete", "seen"),
    [(MAX_JSON_DEPTH, "", True), (MAX_JSON_DEPTH + 1, "json-depth", False)],
)
def test_json_depth_at_and_over_the_limit(
    depth: int, incomplete: str, seen: bool
) -> None:
    out = extract(request(body=nested(depth), content_type="application/json"))
    assert out.incomplete == incomplete
    assert any(v.text == "deep" for v in out.values) is seen


@pytest.mark.parametrize(
    ("count", "incomplete"), [(MAX_VALUES - 2, ""), (MAX_VALUES + 10, "values")]
)
def test_many_parameters_at_and_over_the_limit(count: int, incomplete: str) -> None:
    query = "&".join(f"p{i}=v" for i in range(count))
    out = extract(request("/?" + query))
    assert out.incomplete == incomplete
    assert len(out.values) <= MAX_VALUES


@pytest.mark.parametrize(("spare", "incomplete"), [(0, ""), (1, "values")])
def test_json_leaves_fill_the_values_left_by_the_query(
    spare: int, incomplete: str
) -> None:
    target = "/transfers?from=1001&to=2002&memo=rent"
    before = len(extract(request(target)).values)
    leaves = [f"line {i}" for i in range(MAX_VALUES - before + spare)]
    body = json.dumps({"lines": leaves}).encode()
    out = extract(request(target, body=body, content_type="application/json"))
    assert out.incomplete == incomplete
    assert len(out.values) == min(MAX_VALUES, before + len(leaves))


def test_form_body() -> None:
    out = extract(
        request(
            body=b"nombre=Jam%F3n&precio=85",
            content_type="application/x-www-form-urlencoded",
        )
    )
    assert pairs(out)[1:] == [("form", "nombre", "Jamón"), ("form", "precio", "85")]


def test_multipart_fields_file_names_and_text_files() -> None:
    body = (
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="memo"\r\n\r\n'
        b"hello there\r\n"
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="doc"; filename="../../x.php"\r\n'
        b"Content-Type: text/plain\r\n\r\n"
        b"<?php system($_GET[c]); ?>\r\n"
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="img"; filename="a.png"\r\n'
        b"Content-Type: image/png\r\n\r\n"
        b"\x89PNG\r\n\x1a\n\r\n"
        b"--XyZ--\r\n"
    )
    out = extract(request(body=body, content_type="multipart/form-data; boundary=XyZ"))
    assert pairs(out)[1:] == [
        ("multipart", "memo", "hello there"),
        ("filename", "doc", "../../x.php"),
        ("multipart", "doc", "<?php system($_GET[c]); ?>"),
        ("filename", "img", "a.png"),
    ]


def test_multipart_parts_over_the_limit() -> None:
    part = b'--B\r\nContent-Disposition: form-data; name="f"\r\n\r\nv\r\n'
    body = part * 5 + b"--B--\r\n"
    out = extract(
        request(body=body, content_type="multipart/form-data; boundary=B"),
        Limits(parts=3),
    )
    assert out.incomplete == "multipart-parts"
    assert len([v for v in out.values if v.kind == "multipart"]) == 3


def test_xml_text_and_attributes() -> None:
    body = b'<?xml version="1.0"?><pay to="ACME &amp; Co"><memo>rent</memo></pay>'
    out = extract(request(body=body, content_type="application/xml"))
    assert pairs(out)[1:] == [("xml", "pay@to", "ACME & Co"), ("xml", "memo", "rent")]
    assert out.findings == []


def test_xml_doctype_is_a_finding_and_is_never_parsed() -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<r>&x;</r>"
    )
    out = extract(request(body=body, content_type="text/xml"))
    [finding] = out.findings
    assert (finding.family, finding.rule_id, finding.score) == ("xxe", "xxe.doctype", 5)
    assert "/etc/passwd" not in "".join(v.text for v in out.values if v.kind == "xml")
    assert ("body", "xml") in {(v.kind, v.name) for v in out.values}


def test_graphql_inline_arguments_and_variables() -> None:
    body = json.dumps(
        {
            "query": "query($id: ID!) { account(id: $id) { "
            'payments(memo: "it\'s rent", filter: {status: PENDING}) { id } } }',
            "variables": {"id": "1001"},
        }
    ).encode()
    out = extract(request("/graphql", body=body, content_type="application/json"))
    assert pairs(out)[1:] == [
        ("graphql", "memo", "it's rent"),
        ("graphql", "filter.status", "PENDING"),
        ("json", "$.variables.id", "1001"),
    ]


def test_graphql_text_that_does_not_parse_is_inspected_whole() -> None:
    body = json.dumps({"query": "{ a(id: \"1' or '1'='1) }"}).encode()
    out = extract(request("/graphql", body=body, content_type="application/json"))
    assert ("graphql", "$.query", "{ a(id: \"1' or '1'='1) }") in pairs(out)


def test_graphql_over_get() -> None:
    out = extract(request('/graphql?query={a(name:"x")}&op=q'))
    assert ("graphql", "name", "x") in pairs(out)


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-ndjson", "application/x-protobuf", ""]
)
def test_other_bodies_are_inspected_raw(content_type: str) -> None:
    out = extract(request(body=b"line one\nline two", content_type=content_type))
    assert pairs(out)[1:] == [("body", content_type, "line one\nline two")]
    assert out.incomplete == ""


def test_invalid_json_is_inspected_raw() -> None:
    out = extract(request(body=b'{"a": "x\' or 1=1', content_type="application/json"))
    assert pairs(out)[1:] == [("body", "json", '{"a": "x\' or 1=1')]


@pytest.mark.parametrize(
    ("headers", "truncated", "incomplete"),
    [
        ([("Content-Encoding", "gzip")], False, "content-encoding"),
        ([], True, "body-size"),
    ],
)
def test_what_cannot_be_inspected_is_marked(
    headers: list[tuple[str, str]], truncated: bool, incomplete: str
) -> None:
    req = request(
        body=b"{}",
        content_type="application/json",
        headers=headers,
        truncated=truncated,
    )
    assert extract(req).incomplete == incomplete


@pytest.mark.parametrize(
    ("target", "segments"),
    [
        ("/v1/accounts/1001/transactions", []),
        ("/v1/files/L2V0Yy9wYXNzd2Q", [("3", "L2V0Yy9wYXNzd2Q")]),  # Base64-like
        ("/v1/a%2Fb/x", [("2", "a%2Fb")]),  # an unusual character
        ("/v1/dW5pb24gc2VsZWN0/it's", [("2", "dW5pb24gc2VsZWN0"), ("3", "it's")]),
        ("/v1/2024-04-02-000001/x", [("2", "2024-04-02-000001")]),  # no case
    ],
)
def test_path_segments_inspected_on_their_own(
    target: str, segments: list[tuple[str, str]]
) -> None:
    values = pairs(extract(request(target)))
    assert values[0] == ("path", "", target)
    assert values[1:] == [("path", index, text) for index, text in segments]


def test_json_scalars_carry_nothing_but_odd_keys_do() -> None:
    body = {"n": 5, "ok": False, "none": None, "odd key": 7, "__proto__": {"a": 1}}
    out = extract(
        request(body=json.dumps(body).encode(), content_type="application/json")
    )
    assert pairs(out)[1:] == [
        ("json-key", "$", "odd key"),
        ("json-key", "$", "__proto__"),
    ]


def test_standard_headers_named_by_the_policy_are_inspected() -> None:
    req = request(
        headers=[("Sec-Fetch-Site", "cross-site"), ("Cookie", "a=b"), UA],
    )
    limits = Limits(headers=frozenset({"sec-fetch-site", "cookie"}))
    assert pairs(extract(req, limits))[1:] == [
        ("header", "sec-fetch-site", "cross-site"),
        ("header", "cookie", "a=b"),
        ("header", "user-agent", UA[1]),
        ("cookie", "a", "b"),
    ]
