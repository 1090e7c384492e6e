"""Raw HTTP/1.x bytes to requests: one or many per file, as replay reads them."""

from __future__ import annotations

import pytest

from vaultgate.core.rawhttp import ParseFailure, parse_request, parse_requests
from vaultgate.core.request import Request

# Two CSIC-2010-style requests: absolute-form targets, Connection: close,
# Latin-1 escapes, a form body on one line, blank lines between.
CSIC = (
    b"GET http://localhost:8080/tienda1/index.jsp?id=2 HTTP/1.1\r\n"
    b"Host: localhost:8080\r\n"
    b"Connection: close\r\n"
    b"\r\n"
    b"\r\n"
    b"POST http://localhost:8080/tienda1/anadir.jsp HTTP/1.1\r\n"
    b"Host: localhost:8080\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\n"
    b"Connection: close\r\n"
    b"Content-Length: 26\r\n"
    b"\r\n"
    b"nombre=Jam%F3n&cantidad=49\r\n"
    b"\r\n"
)


def requests(data: bytes) -> list[Request | ParseFailure]:
    return list(parse_requests(data, "198.51.100.4"))


def test_many_requests_in_one_file() -> None:
    first, second = requests(CSIC)
    assert isinstance(first, Request) and isinstance(second, Request)
    assert (first.method, first.target, first.path) == (
        "GET",
        "/tienda1/index.jsp?id=2",
        "/tienda1/index.jsp",
    )
    assert first.header("host") == "localhost:8080"
    assert (second.method, second.body) == ("POST", b"nombre=Jam%F3n&cantidad=49")
    assert second.form() == [("nombre", "Jamón"), ("cantidad", "49")]
    assert second.client_ip == "198.51.100.4"


def test_chunked_body_is_joined() -> None:
    raw = (
        b"POST /pay HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n"
        b"GET /next HTTP/1.1\r\nHost: a\r\n\r\n"
    )
    first, second = requests(raw)
    assert isinstance(first, Request) and first.body == b"abcdefg"
    assert isinstance(second, Request) and second.target == "/next"


def test_http_1_0_and_no_body() -> None:
    request = parse_request(b"GET /a HTTP/1.0\r\n\r\n")
    assert isinstance(request, Request)
    assert (request.version, request.body) == ("1.0", b"")


@pytest.mark.parametrize(
    "bad",
    [
        b"BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /a HTTP/9.9\r\nHost: a\r\n\r\n",
        b"POST /a HTTP/1.1\r\nContent-Length: 10\r\n\r\nshort",
        b"GET /a HTTP/1.1\r\nHost: a",
    ],
)
def test_refused_messages_are_reported(bad: bytes) -> None:
    assert isinstance(parse_request(bad), ParseFailure)


def test_reading_resumes_after_a_refused_message() -> None:
    raw = b"BREW /pot HTTP/1.1\r\nHost: a\r\n\r\nGET /ok HTTP/1.1\r\nHost: a\r\n\r\n"
    failure, request = requests(raw)
    assert isinstance(failure, ParseFailure) and failure.offset == 0
    assert isinstance(request, Request) and request.target == "/ok"


def test_long_bodies_are_cut_and_marked() -> None:
    raw = b"POST /a HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789"
    request = parse_request(raw, max_body=4)
    assert isinstance(request, Request)
    assert (request.body, request.body_length, request.body_truncated) == (
        b"0123",
        10,
        True,
    )


def test_empty_input_has_no_request() -> None:
    assert requests(b"\r\n\r\n") == []
    assert isinstance(parse_request(b""), ParseFailure)
