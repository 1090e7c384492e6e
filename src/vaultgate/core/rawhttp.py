"""Raw HTTP/1.x request bytes to ``Request`` values, for replay and tests.

How this works: a file may hold many requests one after another (captured
traffic, the CSIC data set), separated by blank lines, each possibly with
``Connection: close``.  A fresh ``httptools`` parser reads each message:
first its head (up to the blank line), then exactly ``Content-Length``
body bytes, or line by line for a chunked body until the parser reports the
message complete.  That way each message's end is known without a second
HTTP parser.  A message the parser refuses is reported as a
``ParseFailure`` (the proxy would answer 400) and reading resumes after
its head.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import httptools

from vaultgate.core.request import Request

# The most a replayed body keeps, like the proxy's default inspection
# buffer (server.inspect_body_bytes); the rest only counts in body_length.
DEFAULT_MAX_BODY = 128 * 1024
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_BLANK = re.compile(rb"[\r\n]*")
_ABSOLUTE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*")


@dataclass(frozen=True, slots=True)
class ParseFailure:
    """A message the HTTP parser refused; ``offset`` is where it started."""

    offset: int
    reason: str


@dataclass(slots=True)
class _Message:
    url: bytearray = field(default_factory=bytearray)
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    method: str = ""
    version: str = "1.1"
    headers_done: bool = False
    complete: bool = False


class _Callbacks:
    """The httptools callbacks, filling one ``_Message``."""

    def __init__(self) -> None:
        self.message = _Message()
        self.parser = httptools.HttpRequestParser(self)

    def on_url(self, url: bytes) -> None:
        self.message.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.message.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        self.message.headers_done = True
        self.message.method = self.parser.get_method().decode("ascii")
        self.message.version = self.parser.get_http_version()

    def on_body(self, body: bytes) -> None:
        self.message.body += body

    def on_message_complete(self) -> None:
        self.message.complete = True


def parse_requests(
    data: bytes, client_ip: str = "127.0.0.1", max_body: int = DEFAULT_MAX_BODY
) -> Iterator[Request | ParseFailure]:
    """Every request in ``data``, in order, or a failure for each refused one."""
    pos = 0
    while True:
        blank = _BLANK.match(data, pos)
        pos = blank.end() if blank else pos
        if pos >= len(data):
            return
        head = _HEAD_END.search(data, pos)
        head_end = head.end() if head else len(data)
        try:
            message, end = _read(data, pos, head_end)
        except (httptools.HttpParserError, ValueError) as exc:
            yield ParseFailure(pos, str(exc) or type(exc).__name__)
            pos = head_end
            continue
        yield _request(message, client_ip, max_body)
        pos = end


def parse_request(
    data: bytes, client_ip: str = "127.0.0.1", max_body: int = DEFAULT_MAX_BODY
) -> Request | ParseFailure:
    """The first request in ``data`` (or why it was refused)."""
    for item in parse_requests(data, client_ip, max_body):
        return item
    return ParseFailure(0, "no request")


def _read(data: bytes, start: int, head_end: int) -> tuple[_Message, int]:
    """Parse the message at ``start``; return it and where the next begins."""
    callbacks = _Callbacks()
    message = callbacks.message
    try:
        callbacks.parser.feed_data(data[start:head_end])
        if not message.headers_done:
            raise ValueError("the request head is incomplete")
        if message.complete:
            return message, head_end
        length = _content_length(message.headers)
        if length is not None:
            callbacks.parser.feed_data(data[head_end : head_end + length])
            if not message.complete:
                raise ValueError("the body is shorter than Content-Length")
            return message, head_end + length
        return message, _read_chunked(callbacks, data, head_end)
    except httptools.HttpParserUpgrade:
        # CONNECT or Upgrade: the rest of the connection is not HTTP.
        return message, len(data)


def _read_chunked(callbacks: _Callbacks, data: bytes, pos: int) -> int:
    """Feed a chunked body line by line until the message is complete."""
    while pos < len(data):
        end = data.find(b"\n", pos)
        end = len(data) if end < 0 else end + 1
        callbacks.parser.feed_data(data[pos:end])
        pos = end
        if callbacks.message.complete:
            return pos
    raise ValueError("the chunked body has no last chunk")


def _content_length(headers: list[tuple[str, str]]) -> int | None:
    if any(n.lower() == "transfer-encoding" for n, _ in headers):
        return None
    for name, value in headers:
        if name.lower() == "content-length":
            return int(value.strip())
    return None


def _request(message: _Message, client_ip: str, max_body: int) -> Request:
    target = message.url.decode("latin-1")
    absolute = _ABSOLUTE.match(target)
    if absolute is not None:
        # An absolute-form target (proxy style) is routed by its path.
        target = target[absolute.end() :] or "/"
    body = bytes(message.body)
    return Request(
        method=message.method,
        target=target,
        headers=message.headers,
        client_ip=client_ip,
        peer_ip=client_ip,
        version=message.version,
        body=body[:max_body],
        body_length=len(body),
        body_truncated=len(body) > max_body,
    )
