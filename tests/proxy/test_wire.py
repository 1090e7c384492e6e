"""Wire rules (pure functions): what is refused, with which status."""

from __future__ import annotations

import pytest

from vaultgate.errors import ProtocolError
from vaultgate.proxy import wire


@pytest.mark.parametrize(
    ("method", "url", "status"),
    [
        (b"GET", b"/a?b=c", None),
        (b"OPTIONS", b"*", None),
        (b"GET", b"*", 400),
        (b"GET", b"http://x/a", 400),
        (b"GET", b"x/a", 400),
        (b"GET", b"/a#frag", 400),
    ],
)
def test_check_target(method: bytes, url: bytes, status: int | None):
    if status is None:
        wire.check_target(method, url)
    else:
        with pytest.raises(ProtocolError) as caught:
            wire.check_target(method, url)
        assert caught.value.status == status


@pytest.mark.parametrize(
    ("value", "count", "version", "ok"),
    [
        (b"chunked", 1, "1.1", True),
        (b"Chunked", 1, "1.1", True),  # coding names are case-insensitive
        (b"gzip, chunked", 1, "1.1", False),
        (b"chunked", 2, "1.1", False),
        (b"chunked", 1, "1.0", False),
        (b"identity", 1, "1.1", False),
    ],
)
def test_check_coding(value: bytes, count: int, version: str, ok: bool):
    if ok:
        wire.check_coding(value, count, version)
    else:
        with pytest.raises(ProtocolError) as caught:
            wire.check_coding(value, count, version)
        assert caught.value.status == 400


@pytest.mark.parametrize(
    ("version", "ok"), [("1.1", True), ("1.0", True), ("0.9", False), ("2.0", False)]
)
def test_check_version(version: str, ok: bool):
    if ok:
        wire.check_version(version)
    else:
        with pytest.raises(ProtocolError, match="505"):
            wire.check_version(version)


@pytest.mark.parametrize(
    ("method", "ok"),
    [(b"PATCH", True), (b"TRACE", True), (b"PROPFIND", False), (b"CONNECT", False)],
)
def test_check_method(method: bytes, ok: bool):
    if ok:
        wire.check_method(method)
    else:
        with pytest.raises(ProtocolError, match="501"):
            wire.check_method(method)


def test_connection_fields_name_only_fields():
    assert wire.connection_fields("close, X-Secret , keep-alive,,Upgrade") == {
        "x-secret"
    }


@pytest.mark.parametrize(
    ("status", "reason", "line"),
    [
        (200, b"", b"HTTP/1.1 200 OK\r\n"),
        (599, b"", b"HTTP/1.1 599 Status\r\n"),
        (404, b"Nope", b"HTTP/1.1 404 Nope\r\n"),
    ],
)
def test_status_line(status: int, reason: bytes, line: bytes):
    assert wire.status_line(status, reason) == line


def test_field_lines_refuse_line_breaks():
    assert wire.field_lines([("A", "b")]) == [b"A: b\r\n"]
    with pytest.raises(ValueError, match="line break"):
        wire.field_lines([("Set-Cookie", "a\r\nX-Injected: 1")])


@pytest.mark.parametrize(
    ("status", "head", "body"),
    [
        (200, False, True),
        (200, True, False),
        (204, False, False),
        (304, False, False),
        (101, False, False),
    ],
)
def test_has_body(status: int, head: bool, body: bool):
    assert wire.has_body(status, head) is body
