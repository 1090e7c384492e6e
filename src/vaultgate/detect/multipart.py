"""Multipart part headers: the checks of RFC 7578 that parsers disagree on.

How this works: a WAF and the application must cut a multipart body the
same way, or a field hidden from one reaches the other.  Attackers exploit
the differences: a control byte or a space inside a part's header name, a
per-part charset such as UTF-7, a ``_charset_`` field, a deprecated
``Content-Transfer-Encoding``, quotes and semicolons inside a field name.
``anomalies`` reads only the part headers of the buffered body and reports
each such difference; the field values are left to the value extractor.
"""

from __future__ import annotations

import re

from vaultgate.core.request import Request

# RFC 2046 5.1.1: 1 to 70 characters, from this set, not ending in a space.
_BOUNDARY = re.compile(r"^[0-9A-Za-z'()+_,./:=? -]{0,69}[0-9A-Za-z'()+_,./:=?-]$")
_HEADER_LINE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+:")
_PARAM = re.compile(r"\b(name|filename)\*?\s*=\s*(\"(?:[^\"\\]|\\.)*\"|[^;\s]*)", re.I)
_CHARSET = re.compile(r"charset\s*=\s*\"?([^\";\s]+)", re.IGNORECASE)
_BOUNDARY_PARAM = re.compile(r"boundary\s*=\s*(\"[^\"]*\"|[^;\s]+)", re.IGNORECASE)
# Field and file names never need these; parsers split or unescape on them.
_NAME_BREAKERS = re.compile(r"[;\"\\=]|&(?:amp;|#\d+;|#x)")
# Parts read per request: a body of thousands of tiny parts is an attack
# of its own, and the value extractor caps the work it does on them.
_MAX_PARTS = 1000


def valid_boundary(boundary: str) -> bool:
    """Whether a boundary parameter is well formed (RFC 2046 5.1.1)."""
    return _BOUNDARY.match(boundary.strip('"')) is not None


def _split(request: Request) -> list[tuple[list[str], bytes]]:
    """The header lines and the content of each part of the buffered body."""
    match = _BOUNDARY_PARAM.search(request.header("content-type") or "")
    if match is None:
        return []
    delimiter = b"--" + match.group(1).strip('"').encode("latin-1")
    parts = []
    for chunk in request.body.split(delimiter)[1:_MAX_PARTS]:
        if chunk.startswith(b"--"):
            break
        head, *rest = re.split(rb"\r?\n\r?\n", chunk.lstrip(b"\r\n"), maxsplit=1)
        parts.append((head.decode("latin-1").splitlines(), rest[0] if rest else b""))
    return parts


def _parts(request: Request) -> list[list[str]]:
    """The header lines of each part of the buffered body."""
    return [lines for lines, _ in _split(request)]


def _part_anomalies(lines: list[str], allowed: frozenset[str]) -> list[tuple[str, str]]:
    found = []
    for line in lines:
        if not line.strip():
            continue
        lowered = line.lower()
        if not _HEADER_LINE.match(line):
            found.append(("multipart_header", line))
        elif lowered.startswith("content-transfer-encoding"):
            found.append(("multipart_transfer_encoding", line))
        elif lowered.startswith("content-type"):
            charset = _CHARSET.search(line)
            if charset and charset.group(1).lower() not in allowed:
                found.append(("multipart_charset", line))
        elif lowered.startswith("content-disposition"):
            for _, value in _PARAM.findall(line):
                if _NAME_BREAKERS.search(_unquote(value)):
                    found.append(("multipart_name", line))
    return found


def files(request: Request) -> list[tuple[str, str]]:
    """(field name, file name) of each file part of the buffered body."""
    return [(field, name) for field, name, _ in file_parts(request)]


def file_parts(request: Request) -> list[tuple[str, str, bytes]]:
    """(field name, file name, content) of each file part of the buffered
    body; the content of the last part may be cut at the inspection limit."""
    found = []
    for lines, content in _split(request):
        for line in lines:
            if not line.lower().startswith("content-disposition"):
                continue
            params = {k.lower(): _unquote(v) for k, v in _PARAM.findall(line)}
            if "filename" in params:
                found.append((params.get("name", ""), params["filename"], content))
    return found


def _unquote(value: str) -> str:
    return value[1:-1] if value[:1] == '"' and value[-1:] == '"' else value


def _charset_field(request: Request, allowed: frozenset[str]) -> list[tuple[str, str]]:
    """A ``_charset_`` field (RFC 7578 4.6) naming a charset we do not allow."""
    match = re.search(
        rb'name="?_charset_"?[^\n]*\r?\n(?:[^\n]*\r?\n)*?\r?\n([^\r\n]*)', request.body
    )
    if match is None:
        return []
    charset = match.group(1).decode("latin-1").strip().lower()
    return [] if charset in allowed else [("multipart_charset", charset)]


def anomalies(
    request: Request, allowed_charsets: frozenset[str]
) -> list[tuple[str, str]]:
    """(rule, detail) for each part-header anomaly in the buffered body."""
    found = []
    for lines in _parts(request):
        found.extend(_part_anomalies(lines, allowed_charsets))
    return found + _charset_field(request, allowed_charsets)
