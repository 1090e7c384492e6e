"""Extraction: every value of a request that an attacker controls.

How this works.  ``extract`` walks a ``Request`` once and returns the raw
``Value``s to decode and scan: the path and its unusual segments, query
argument names and values, cookies, the selected headers, and the body by
its media type (JSON, form, multipart, XML, GraphQL, or the raw text of
any other type).  Each walk has a named bound; when one stops it, the
extraction says which (``incomplete``) and the policy decides, so a payload
hidden past a limit is never silently passed.

Names that are plain identifiers (``page``, ``account_id``, ``items[]``)
are not inspected: nothing in them can execute.  An XML body with a DOCTYPE
or ENTITY declaration is not parsed at all (no entity is ever resolved) and
is itself a finding, ``xxe.doctype``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import graphql

from vaultgate.core.model import Finding
from vaultgate.core.request import Request, form_decode
from vaultgate.detect.base import Value
from vaultgate.detect.engine import mask_cards
from vaultgate.detect.introspection import INTROSPECTION_FIELDS
from vaultgate.detect.normalize import MIN_SHORT_BASE64_CHARS, not_base64

# 32 levels: ten more than the deepest legitimate payment document we know
# of; deeper nesting is a parser-exhaustion attempt more often than data.
MAX_JSON_DEPTH = 32
# Values inspected per request: a 128 KiB body of short fields gives a few
# thousand; past it, scanning cost grows without adding coverage.
MAX_VALUES = 4096
# Multipart parts per request: uploads carry a few files and fields.
MAX_PARTS = 64
# XML elements per document (text and attributes of each are values).
MAX_XML_ELEMENTS = 4096
# Tokens of a GraphQL document parsed for its arguments: ten times a large
# real query; past it the text is inspected unparsed.
MAX_GRAPHQL_TOKENS = 10_000
# A file part's content is inspected only when it is text and this short:
# larger text files are documents, not form fields.
MAX_TEXT_PART = 64 * 1024

# Standard headers whose values vary in benign traffic and are read by the
# HTTP stack, not the application: protocol rules check them, not payload
# rules.  Every other header (custom ones such as "Test:" or "Remote-IP"
# included) is inspected.  Cookie is inspected as cookies, Authorization
# belongs to the token guards, and browsers set the Sec-* values.
SKIPPED_HEADERS = frozenset(
    {"accept", "accept-language", "accept-encoding", "accept-charset", "host"}
    | {"content-length", "connection", "cache-control", "pragma", "cookie"}
    | {"content-type", "content-encoding", "transfer-encoding", "te", "trailer"}
    | {"keep-alive", "proxy-connection", "upgrade", "expect", "date", "dnt"}
    | {"authorization", "proxy-authorization", "upgrade-insecure-requests"}
    | {"if-match", "if-none-match", "if-modified-since", "if-unmodified-since"}
    | {"if-range", "range", "accept-ranges", "content-range", "priority"}
    | {"traceparent", "tracestate", "content-md5"}
)
# Letters, digits, "_" and "-", not starting with "_" ("__proto__"): nothing
# in such a name can execute, so it is not inspected.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9\-][A-Za-z0-9_\-]{0,63}")
_PLAIN_SEGMENT = re.compile(r"[A-Za-z0-9_.~\-]*")
_PLAIN_PATH = re.compile(r"[A-Za-z0-9_.~/\-]*")  # every segment plain
_DOCTYPE = re.compile(rb"<!\s*(?:doctype|entity)", re.I)
_JSON_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-www")
# tuple.__new__ directly: the named tuple's own __new__ is a Python call that
# doubles the cost of each of the dozens of values a request yields.
_new = tuple.__new__


@dataclass(frozen=True, slots=True)
class Limits:
    """The bounds of one extraction (see the module constants for why)."""

    json_depth: int = MAX_JSON_DEPTH
    values: int = MAX_VALUES
    parts: int = MAX_PARTS
    xml_elements: int = MAX_XML_ELEMENTS
    headers: frozenset[str] = frozenset()  # inspected in addition


@dataclass(slots=True)
class Extraction:
    """The values of a request, findings made while parsing, and what stopped."""

    values: list[Value] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    incomplete: str = ""  # the name of the limit that stopped extraction

    def add(self, kind: str, name: str, text: str, limits: Limits) -> bool:
        """Keep a value; False (and ``incomplete``) once the count is reached."""
        if len(self.values) >= limits.values:
            self.incomplete = self.incomplete or "values"
            return False
        if text:
            self.values.append(_new(Value, (kind, name, text)))
        return True

    def stop(self, limit: str) -> None:
        self.incomplete = self.incomplete or limit


def extract(request: Request, limits: Limits = Limits()) -> Extraction:
    """Every value of ``request`` worth inspecting, within ``limits``."""
    out = Extraction()
    path = request.path
    _path(path, out, limits)
    if len(path) < len(request.target):  # there is a query
        args = request.args
        if path.endswith("/graphql"):
            args = _graphql_args(args, out, limits)
        _pairs(args, "query", out, limits)
        _whole(request.query, "query", out, limits)
    if _headers(request.headers, out, limits):
        _pairs(request.cookies, "cookie", out, limits)
    if request.body:
        _body(request, out, limits)
    if request.body_truncated:
        out.stop("body-size")
    return out


def _path(path: str, out: Extraction, limits: Limits) -> None:
    out.add("path", "", path, limits)
    # One look at the whole path: then no segment needs its own.
    plain = _PLAIN_PATH.fullmatch(path) is not None
    for index, segment in enumerate(path.split("/")[1:], 1):
        # A plain segment is seen in the whole path, unless it may be
        # Base64, which is decoded per value.
        if plain:
            if len(segment) < MIN_SHORT_BASE64_CHARS or not_base64(segment):
                continue
        elif _PLAIN_SEGMENT.fullmatch(segment) and not_base64(segment):
            continue
        out.add("path", str(index), segment, limits)


def _pairs(
    pairs: list[tuple[str, str]], kind: str, out: Extraction, limits: Limits
) -> None:
    for name, value in pairs:
        # A name with no value ("?INFORMATION_SCHEMA") is all the payload.
        if not value or not _PLAIN_NAME.fullmatch(name):
            out.add(kind + "-name", name, name, limits)
            before, sep, after = name.partition("=")
            if sep and not value:
                # "pay%3DAND+1%3D1": an encoded "=" hid the value in the name.
                out.add(kind, before, after, limits)
        if not out.add(kind, name, value, limits):
            return


def _whole(encoded: str, kind: str, out: Extraction, limits: Limits) -> None:
    """The whole query (or form body) decoded, when it has several fields.

    A payload with a literal "&" is split into several fields by the
    parser; the application may still join them, and the whole string
    shows it as the attacker wrote it.
    """
    if "&" in encoded and _CLEAN_FIELDS.fullmatch(encoded) is None:
        out.add(kind, "*", form_decode(encoded), limits)


# Fields that all read ``name=value`` with plain names: nothing was cut.
_CLEAN_FIELD = r"[A-Za-z0-9\-][A-Za-z0-9_\-]{0,63}=[^&]*"
_CLEAN_FIELDS = re.compile(_CLEAN_FIELD + "(?:&" + _CLEAN_FIELD + ")*")


def _graphql_args(
    args: list[tuple[str, str]], out: Extraction, limits: Limits
) -> list[tuple[str, str]]:
    """GraphQL over GET: the ``query`` argument is parsed, not scanned as text."""
    rest = []
    for name, value in args:
        if name == "query":
            _graphql_text(value, "query", out, limits)
        else:
            rest.append((name, value))
    return rest


def _headers(headers: list[tuple[str, str]], out: Extraction, limits: Limits) -> bool:
    """Add the inspected headers; whether the request has a Cookie header."""
    cookies = False
    extra = limits.headers
    for name, value in headers:
        key = name.lower()
        if key in SKIPPED_HEADERS or key.startswith("sec-"):
            cookies = cookies or key == "cookie"
            if key not in extra:
                continue
        out.add("header", key, value, limits)
    return cookies


# -- bodies ---------------------------------------------------------------------


def _body(request: Request, out: Extraction, limits: Limits) -> None:
    encoding = (request.header("content-encoding") or "identity").lower()
    if encoding != "identity":
        # A compressed body is opaque to us; inflating it here would let a
        # small request cost megabytes (a "zip bomb").
        out.stop("content-encoding")
        return
    media = request.content_type
    if media == "application/json" or media.endswith("+json"):
        _json_body(request, out, limits)
    elif media == "application/x-www-form-urlencoded":
        _pairs(request.form(), "form", out, limits)
        _whole(_text(request.body), "form", out, limits)
    elif media == "multipart/form-data":
        _multipart(request, out, limits)
    elif media in ("application/xml", "text/xml") or media.endswith("+xml"):
        _xml(request.body, out, limits)
    elif media == "application/graphql":
        _graphql_text(_text(request.body), "$", out, limits)
    else:
        out.add("body", media, _text(request.body), limits)


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _json_body(request: Request, out: Extraction, limits: Limits) -> None:
    document = request.json()
    if document is None and not request.body_truncated:
        # Invalid JSON: an attack need not be well-formed to work on a
        # lenient parser, so the text is inspected as it is.
        out.add("body", "json", _text(request.body), limits)
        return
    if _graphql_document(document):
        _graphql_request(document, out, limits)
        return
    walk_json(document, out, limits)


def walk_json(document: Any, out: Extraction, limits: Limits) -> None:
    """Every key and string leaf of ``document``, depth-first, within limits."""
    # The root container counts as the first level; the values already
    # taken (path, query, headers) count towards the same limit.
    stopped = _walk(document, "$", limits.json_depth - 1, out.values, limits.values)
    if stopped:
        out.stop(stopped)


def _walk(node: Any, path: str, depth: int, values: list[Value], most: int) -> str:
    """Append the values under ``node`` while ``values`` holds fewer than
    ``most``; the limit that stopped it, or ""."""
    if depth < 0:
        return "json-depth"
    if isinstance(node, dict):
        items: Any = node.items()
        keyed = True
    elif isinstance(node, list):
        items = enumerate(node)
        keyed = False
    else:
        return ""
    append = values.append
    for key, child in items:
        if len(values) >= most:
            return "values"
        # orjson builds exact dicts, lists and strings: type() is enough.
        kind = type(child)
        leaf = kind is str
        if keyed and not (key.isidentifier() and key[0] != "_"):
            append(_new(Value, ("json-key", path, key)))
            child_path = f"{path}['{key}']"
        elif not leaf and kind is not dict and kind is not list:
            continue  # a number, a boolean or null: nothing to inspect
        elif keyed:
            child_path = f"{path}.{key}"
        else:
            child_path = f"{path}[{key}]"
        if leaf:
            append(_new(Value, ("json", child_path, child)))
        elif kind is dict or kind is list:
            stopped = _walk(child, child_path, depth - 1, values, most)
            if stopped:
                return stopped
    return ""


# -- multipart --------------------------------------------------------------------

_BOUNDARY = re.compile(r'boundary=(?:"([^"]+)"|([^;\s]+))', re.I)
_DISPOSITION_PARAM = re.compile(r'\b(name|filename)\*?=(?:"((?:[^"\\]|\\.)*)"|([^;]*))')


def _multipart(request: Request, out: Extraction, limits: Limits) -> None:
    match = _BOUNDARY.search(request.header("content-type") or "")
    if match is None:
        out.add("body", "multipart", _text(request.body), limits)
        return
    boundary = (match.group(1) or match.group(2)).encode("latin-1", "replace")
    for count, part in enumerate(_parts(request.body, boundary)):
        if count >= limits.parts:
            out.stop("multipart-parts")
            return
        if not _part(part, out, limits):
            return


def _parts(body: bytes, boundary: bytes) -> Iterator[bytes]:
    """The raw parts between ``--boundary`` lines (RFC 7578, RFC 2046 5.1)."""
    delimiter = b"--" + boundary
    chunks = body.split(delimiter)
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            return  # the close delimiter
        yield chunk[2:] if chunk.startswith(b"\r\n") else chunk.lstrip(b"\n")


def _part(part: bytes, out: Extraction, limits: Limits) -> bool:
    head, sep, content = part.partition(b"\r\n\r\n")
    if not sep:
        head, sep, content = part.partition(b"\n\n")
    if content.endswith(b"\r\n"):
        content = content[:-2]
    headers = _text(head).lower()
    params = {m.group(1): m.group(2) or m.group(3) or "" for m in _params(head)}
    name = params.get("name", "")
    if not _PLAIN_NAME.fullmatch(name or "x"):
        out.add("form-name", name, name, limits)
    if "filename" in params:
        out.add("filename", name, params["filename"], limits)
        if not _texty(headers) or len(content) > MAX_TEXT_PART:
            return True
    return out.add("multipart", name, _text(content), limits)


def _params(head: bytes) -> Iterator[re.Match[str]]:
    for line in _text(head).split("\n"):
        if line.lower().startswith("content-disposition:"):
            yield from _DISPOSITION_PARAM.finditer(line)


def _texty(headers: str) -> bool:
    """A file part declared as text (or undeclared, which browsers send)."""
    at = headers.find("content-type:")
    if at < 0:
        return True
    media = headers[at + 13 :].split("\n", 1)[0].strip()
    return media.startswith(_TEXT_TYPES)


# -- XML --------------------------------------------------------------------------

# A DOCTYPE/ENTITY snippet in the finding shows this much of the body.
_DOCTYPE_SNIPPET = 96


def _xml(body: bytes, out: Extraction, limits: Limits) -> None:
    declared = _DOCTYPE.search(body)
    if declared is not None:
        start = declared.start()
        snippet = mask_cards(_text(body[start : start + _DOCTYPE_SNIPPET]))
        out.findings.append(
            Finding("xxe", "xxe.doctype", 5, "xml:", snippet, confidence=1.0)
        )
        # Never parsed: the raw text is still scanned for what it carries.
        out.add("body", "xml", _text(body), limits)
        return
    try:
        root = ElementTree.fromstring(body)
    except (ElementTree.ParseError, ValueError, LookupError):
        # Malformed, or an encoding expat refuses (UTF-7, multi-byte): the
        # text is inspected as it is.
        out.add("body", "xml", _text(body), limits)
        return
    _xml_values(root, out, limits)


def _xml_values(root: ElementTree.Element, out: Extraction, limits: Limits) -> None:
    for count, element in enumerate(root.iter()):
        if count >= limits.xml_elements:
            out.stop("xml-elements")
            return
        tag = _local(element.tag)
        for key, value in element.attrib.items():
            out.add("xml", f"{tag}@{_local(key)}", value, limits)
        for text in (element.text, element.tail):
            if text and text.strip() and not out.add("xml", tag, text, limits):
                return


def _local(tag: str) -> str:
    """``{namespace}name`` without the namespace."""
    return tag.rsplit("}", 1)[-1]


# -- GraphQL -----------------------------------------------------------------------


def _graphql_document(document: Any) -> bool:
    """A GraphQL-over-HTTP request (or a batch of them)."""
    if isinstance(document, list):
        return bool(document) and all(_graphql_document(d) for d in document)
    return isinstance(document, dict) and isinstance(document.get("query"), str)


def _graphql_request(document: Any, out: Extraction, limits: Limits) -> None:
    requests = document if isinstance(document, list) else [document]
    for index, item in enumerate(requests):
        prefix = f"$[{index}]" if isinstance(document, list) else "$"
        _graphql_text(item["query"], prefix + ".query", out, limits)
        rest = {k: v for k, v in item.items() if k != "query"}
        walk_json(rest, out, limits)


def _graphql_text(query: str, name: str, out: Extraction, limits: Limits) -> None:
    """Inline argument values of a GraphQL document, or its text if invalid."""
    try:
        document = graphql.parse(query, no_location=True, max_tokens=MAX_GRAPHQL_TOKENS)
    except graphql.GraphQLError:
        # Not GraphQL (or cut short): inspect the text as it is.
        out.add("graphql", name, query, limits)
        return
    collector = _Arguments()
    graphql.visit(document, collector)
    if collector.introspection:
        finding = Finding(
            "graphql",
            "graphql.introspection",
            5,
            "graphql:" + name,
            collector.introspection,
            confidence=1.0,
        )
        out.findings.append(finding)
    for argument, text in collector.values:
        if not out.add("graphql", argument, text, limits):
            return


class _Arguments(graphql.Visitor):
    """Collects ``(argument name, literal value)`` from a GraphQL document."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []
        self.values: list[tuple[str, str]] = []
        self.introspection = ""  # the first introspection field asked for

    def enter_field(self, node: graphql.FieldNode, *_: object) -> None:
        if not self.introspection and node.name.value in INTROSPECTION_FIELDS:
            self.introspection = node.name.value

    def enter_argument(self, node: graphql.ArgumentNode, *_: object) -> None:
        self.names.append(node.name.value)

    def leave_argument(self, node: graphql.ArgumentNode, *_: object) -> None:
        self.names.pop()

    def enter_object_field(self, node: graphql.ObjectFieldNode, *_: object) -> None:
        self.names.append(node.name.value)

    def leave_object_field(self, node: graphql.ObjectFieldNode, *_: object) -> None:
        self.names.pop()

    def enter_string_value(self, node: graphql.StringValueNode, *_: object) -> None:
        self._add(node.value)

    def enter_enum_value(self, node: graphql.EnumValueNode, *_: object) -> None:
        self._add(node.value)

    def _add(self, text: str) -> None:
        self.values.append((".".join(self.names), text))
