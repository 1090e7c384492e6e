"""The request model, built once per request by the proxy or by replay.

The proxy fills in what the wire gave (method, target, headers, the buffered
part of the body); everything derived from it (lower-cased header index,
query arguments, cookies) is computed on first use and cached, so a guard
that never asks for cookies costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_to_bytes

import orjson

_NOT_PARSED: Any = object()


@dataclass(slots=True)
class TLSInfo:
    """What the TLS layer knew about the client, when we terminated TLS."""

    version: str = ""
    cipher: str = ""
    sni: str = ""
    ja4: str = ""
    client_cert_sha256: bytes = b""  # DER digest, for RFC 8705 binding


@dataclass(slots=True)
class Request:
    """An HTTP request as vaultgate sees it."""

    method: str
    target: str  # the request-target exactly as received
    headers: list[tuple[str, str]]  # original names and order, latin-1 text
    client_ip: str
    peer_ip: str = ""
    version: str = "1.1"
    scheme: str = "http"
    body: bytes = b""  # the buffered part, up to the inspection limit
    body_length: int = 0  # the whole body's length (may exceed len(body))
    body_truncated: bool = False  # True when body is only a prefix
    tls: TLSInfo | None = None
    _index: dict[str, str] | None = field(default=None, repr=False)
    _args: list[tuple[str, str]] | None = field(default=None, repr=False)
    _cookies: list[tuple[str, str]] | None = field(default=None, repr=False)
    _json: Any = field(default=_NOT_PARSED, repr=False)
    _form: list[tuple[str, str]] | None = field(default=None, repr=False)
    _media_type: str | None = field(default=None, repr=False)
    # Split from target on first use; not init fields, so that
    # dataclasses.replace() with a new target never copies a stale split.
    _path: str | None = field(default=None, init=False, repr=False)
    _query: str | None = field(default=None, init=False, repr=False)

    @property
    def path(self) -> str:
        """The raw (still percent-encoded) path, without the query."""
        if self._path is None:
            self._path = self.target.partition("?")[0]
        return self._path

    @property
    def query(self) -> str:
        """The raw query string, without the ``?``."""
        if self._query is None:
            self._query = self.target.partition("?")[2]
        return self._query

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (lower case), repeated ones joined."""
        if self._index is None:
            self._index = _index_headers(self.headers)
        return self._index.get(name)

    def header_index(self) -> dict[str, str]:
        """Every header by lower-case name, repeated ones joined; do not modify."""
        if self._index is None:
            self._index = _index_headers(self.headers)
        return self._index

    @property
    def content_type(self) -> str:
        """The media type, lower case, without parameters."""
        if self._media_type is None:
            value = self.header("content-type") or ""
            self._media_type = value.split(";", 1)[0].strip().lower()
        return self._media_type

    @property
    def args(self) -> list[tuple[str, str]]:
        """Query arguments, percent- and ``+``-decoded once."""
        if self._args is None:
            self._args = parse_pairs(self.query, "&")
        return self._args

    @property
    def cookies(self) -> list[tuple[str, str]]:
        """Cookie name/value pairs from every Cookie header."""
        if self._cookies is None:
            raw = self.header("cookie") or ""
            self._cookies = [
                (name.strip(), value.strip())
                for name, _, value in (p.partition("=") for p in raw.split(";"))
                if name.strip()
            ]
        return self._cookies

    def json(self) -> Any:
        """The body parsed as JSON, or None (not JSON, invalid or truncated).

        Parsed at most once per request, whoever asks first.
        """
        if self._json is _NOT_PARSED:
            self._json = None
            if self.body and not self.body_truncated and _is_json(self.content_type):
                try:
                    self._json = orjson.loads(self.body)
                except orjson.JSONDecodeError:
                    self._json = None
        return self._json

    def form(self) -> list[tuple[str, str]]:
        """The body's fields when it is ``application/x-www-form-urlencoded``."""
        if self._form is None:
            self._form = []
            if self.content_type == "application/x-www-form-urlencoded":
                self._form = parse_pairs(self.body.decode("latin-1"), "&")
        return self._form


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


def _index_headers(headers: list[tuple[str, str]]) -> dict[str, str]:
    index: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        if key in index:
            # RFC 9110 5.3: repeated fields combine with a comma, except
            # Cookie, whose pairs are separated by "; " (RFC 6265 5.4).
            sep = "; " if key == "cookie" else ", "
            index[key] = index[key] + sep + value
        else:
            index[key] = value
    return index


def parse_pairs(text: str, sep: str) -> list[tuple[str, str]]:
    """Split ``a=1&b=2`` into decoded pairs; invalid UTF-8 becomes latin-1."""
    pairs = []
    for part in text.split(sep):
        if not part:
            continue
        name, _, value = part.partition("=")
        pairs.append((form_decode(name), form_decode(value)))
    return pairs


def form_decode(text: str) -> str:
    """Decode one form/query component: ``+`` is space, then percent-escapes."""
    if "%" not in text and "+" not in text:
        return text
    raw = unquote_to_bytes(text.replace("+", " "))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        # Legacy clients send ISO-8859-1 escapes (CSIC's shop does); that
        # is not an attack by itself, so keep the characters.
        return raw.decode("latin-1")
