"""Plain-socket HTTP clients for proxy tests: exact bytes in, parsed out."""

from __future__ import annotations

import http.client
import json
import socket
import time
from dataclasses import dataclass
from typing import Any

TIMEOUT = 10.0


@dataclass
class Answer:
    """A response as a client received it."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [v for n, v in self.headers if n.lower() == name.lower()]
        return ", ".join(values) if values else None

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    """One request on a new connection, through http.client."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return Answer(response.status, response.getheaders(), response.read())
    finally:
        conn.close()


def exchange(port: int, data: bytes, timeout: float = TIMEOUT) -> bytes:
    """Send raw bytes, then read until the server closes (or ``timeout``)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        return read_until_close(sock, timeout)


def read_until_close(sock: socket.socket, timeout: float = TIMEOUT) -> bytes:
    """Everything the server sends until it closes; raises on timeout."""
    sock.settimeout(timeout)
    parts = []
    while True:
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            break
        if not data:
            break
        parts.append(data)
    return b"".join(parts)


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closed ``sock`` within ``seconds`` (reading all)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            if not sock.recv(65536):
                return True
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True
    return False


def parse(raw: bytes) -> list[Answer]:
    """Every response in ``raw`` (Content-Length, chunked or to the end)."""
    answers = []
    while raw:
        head, sep, rest = raw.partition(b"\r\n\r\n")
        if not sep:
            raise AssertionError(f"incomplete response: {raw[:200]!r}")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = [(n, v.strip()) for n, _, v in (x.partition(":") for x in lines[1:])]
        answer = Answer(status, headers, b"")
        if status < 200:
            raw = rest
            continue
        raw = _body(answer, rest)
        answers.append(answer)
    return answers


def _body(answer: Answer, rest: bytes) -> bytes:
    if answer.status in (204, 304):
        return rest  # never a body (RFC 9110 6.4.1); HEAD answers are not parsed here
    length = answer.header("content-length")
    if answer.header("transfer-encoding") == "chunked":
        parts = []
        while True:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line, 16)
            if size == 0:
                _, _, rest = rest.partition(b"\r\n")
                answer.body = b"".join(parts)
                return rest
            parts.append(rest[:size])
            rest = rest[size + 2 :]
    if length is not None:
        answer.body = rest[: int(length)]
        return rest[int(length) :]
    answer.body = rest
    return b""


def one(raw: bytes) -> Answer:
    """The single response in ``raw``."""
    answers = parse(raw)
    assert len(answers) == 1, answers
    return answers[0]
