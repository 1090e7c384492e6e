"""CRLF injection: header injection, response and request splitting."""

from __future__ import annotations

import pytest

from tests.detect.family_cases import benign_values, families

MUST_FIRE = [
    ("body", "text/plain", "barGET /a.html HTTP/1.1\r\nHost: foo.example\r\n\r\n"),
    ("query", "lang", "en%0d%0aSet-Cookie:%20session=attacker"),
    ("query", "lang", "x\r\nLocation: https://attacker.example/"),
    ("query", "lang", "%250d%250aSet-Cookie:crlf=injection"),
    ("query", "lang", "foo\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK"),
    ("query", "r", "\r\nHTTP/1.1 200 OK\r\n"),
    ("form", "var", "aaa\nGET / HTTP/1.1"),
    ("query", "arg1", "GET http://www.example.com HTTP/1.2"),
    ("path", "", "/%0d%0aSet-Cookie:crlf=injection"),
    ("query-name", "x", "parameter\r\n"),
    ("header", "x-forwarded-host", "example.com%0d%0aX-Injected: 1"),
    ("query", "x", "嘍Set-cookie:crlf=injection"),
    # The breaks stripped by a filter on the way: the header is still there.
    ("form", "login", "jsmithSet-cookie: Tamper=1041264011025374727"),
    # A break in a query value that starts another parameter.
    ("query", "q", "test\rnext=more"),
    ("query", "q", "test\nis_admin=1"),
    ("query", "q", "test\n\ruser[role]=admin"),
]

MUST_NOT_FIRE = [
    "Docs: APIGET /items HTTP/1.1 (see the guide)",
    "Line one\nLine two",
    "Dear Sir,\r\nPlease pay the invoice.\r\nRegards",
    "Note: paid in full\nRef: 123",
    "Attn: John\nAccounts payable",
    "Please get the file / http docs",
]


@pytest.mark.parametrize(("kind", "name", "payload"), MUST_FIRE)
def test_injection_fires(kind: str, name: str, payload: str) -> None:
    assert "crlf" in families(payload, kind, name)


@pytest.mark.parametrize("payload", MUST_NOT_FIRE + benign_values())
def test_multiline_prose_passes(payload: str) -> None:
    assert "crlf" not in families(payload)


# Multi-line text in a query value, and a JSON memo holding key=value lines.
@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("query", "Line one\nLine two"),
        ("query", "Flat 3\nnote = ring twice"),
        ("query", "Total: 5 EUR\n(incl. tax=19%)"),
        ("json", "Settings:\nretries=3\ntimeout=10"),
    ],
)
def test_lines_that_start_no_parameter_pass(kind: str, payload: str) -> None:
    assert "crlf" not in families(payload, kind, "q")
