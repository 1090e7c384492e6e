"""Response filtering: excessive data exposure, data-leak masking, leaky errors.

How this works: the ``response`` section says, per route and per role,
which JSON fields a caller may see (``deny_fields`` / ``allow_fields``),
which are masked whole (``mask_fields``) and which kinds of sensitive value
are masked wherever they appear (``mask``: card numbers, IBANs, national
ids, secrets).  The proxy buffers the bodies ``wants_body`` asks for; the
filter decodes gzip or deflate up to ``max_body``, replaces error pages that
leak stack traces, SQL errors or server paths by a generic problem (status
kept), applies the caller's view of the fields, masks, counts records and
bytes for the ``exfiltration`` limits, and re-encodes only when something
changed.  What cannot be inspected (too large, unknown encoding, broken
JSON where field rules apply) is refused with 502 unless ``on_oversize``
is ``pass``.  In monitor mode the filter records what it would change and
forwards the answer untouched.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace
from typing import Any

import orjson

from vaultgate.core.exchange import Exchange
from vaultgate.core.fieldfilter import (
    FieldSet,
    allow,
    allow_trie,
    deny,
    field_set,
    mask_fields,
    mask_values,
)
from vaultgate.core.leaks import leak_kind
from vaultgate.core.masking import DEFAULT_RESPONSE_KINDS, Masker, expand_kinds
from vaultgate.core.model import Mode, Phase
from vaultgate.core.nationalid import DEFAULT_COUNTRIES, formats_for
from vaultgate.core.policy import Policy, Route, Section, register_section
from vaultgate.core.respond import PROBLEM_TYPE, problem
from vaultgate.core.schema import Node
from vaultgate.guards.base import Guard, Services, register_guard
from vaultgate.guards.exfiltration import (
    ExfilSettings,
    account_bytes,
    enforce,
    judge_records,
)
from vaultgate.state.base import Store

# 1 MiB: a large page of account records; parsing and masking it costs a
# few milliseconds, and more than this per answer is not worth buffering.
DEFAULT_MAX_BODY = 1024 * 1024
_RULE_KEYS = ("deny_fields", "allow_fields", "mask", "mask_fields")
_KEYS = frozenset(
    {*_RULE_KEYS, "roles", "national_ids", "max_body", "on_oversize"}
    | {"scrub_errors", "text"}
)
_SCRUB = frozenset({"5xx", "all", "off"})


@dataclass(frozen=True, slots=True)
class Rules:
    """Field rules and masking kinds, as written in the policy."""

    deny_fields: tuple[str, ...] = ()
    allow_fields: tuple[str, ...] | None = None  # None: no allow list
    mask: tuple[str, ...] = DEFAULT_RESPONSE_KINDS
    mask_fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ResponseSettings:
    rules: Rules = Rules()
    roles: tuple[tuple[str, Rules], ...] = ()  # policy order is priority
    national_ids: tuple[str, ...] = DEFAULT_COUNTRIES
    max_body: int = DEFAULT_MAX_BODY
    on_oversize: str = "block"  # or "pass"
    scrub_errors: str = "5xx"  # which answers lose leaky error pages
    text: bool = True  # also mask text/*, XML and CSV bodies


# -- policy section ---------------------------------------------------------------


def _parse(node: Node, base: ResponseSettings | None = None) -> ResponseSettings:
    base = base or ResponseSettings()
    fields = node.mapping(_KEYS)
    values: dict[str, Any] = {"rules": _rules(fields, base.rules)}
    if "roles" in fields:
        values["roles"] = tuple(
            (role, _rules(child.mapping(frozenset(_RULE_KEYS)), values["rules"]))
            for role, child in fields["roles"].items()
        )
    if "national_ids" in fields:
        values["national_ids"] = _countries(fields["national_ids"])
    if "max_body" in fields:
        values["max_body"] = fields["max_body"].size()
    if "on_oversize" in fields:
        values["on_oversize"] = fields["on_oversize"].text(frozenset({"block", "pass"}))
    if "scrub_errors" in fields:
        values["scrub_errors"] = fields["scrub_errors"].text(_SCRUB)
    if "text" in fields:
        values["text"] = fields["text"].flag()
    return replace(base, **values)


def _rules(fields: dict[str, Node], base: Rules) -> Rules:
    values: dict[str, Any] = {}
    for key in ("deny_fields", "allow_fields", "mask_fields"):
        if key in fields:
            values[key] = _field_list(fields[key])
    if "mask" in fields:
        names = tuple(n.text() for n in fields["mask"].seq(allow_scalar=True))
        try:
            values["mask"] = expand_kinds(names)
        except ValueError as exc:
            raise fields["mask"].error(str(exc)) from None
    return replace(base, **values)


def _field_list(node: Node) -> tuple[str, ...]:
    items = tuple(item.text() for item in node.seq(allow_scalar=True))
    for i, item in enumerate(items):
        try:
            field_set([item])
        except ValueError as exc:
            raise node.child(i, item).error(str(exc)) from None
    return items


def _countries(node: Node) -> tuple[str, ...]:
    codes = tuple(c.text().upper() for c in node.seq(allow_scalar=True))
    try:
        formats_for(codes)
    except ValueError as exc:
        raise node.error(str(exc)) from None
    return codes


register_section(Section("response", _parse, _parse))


# -- compiled views ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class View:
    """What one audience of a route sees: field rules and a masker."""

    deny: FieldSet
    allow_names: frozenset[str] | None
    allow_trie: dict[Any, Any] | None
    mask_fields: FieldSet
    masker: Masker | None

    @property
    def shapes_fields(self) -> bool:
        return bool(self.deny or self.allow_names is not None or self.mask_fields)


def compile_view(rules: Rules, countries: tuple[str, ...]) -> View:
    """Compile the rules of one audience, once per policy load."""
    names: frozenset[str] | None = None
    trie = None
    if rules.allow_fields is not None:
        allowed = field_set(rules.allow_fields)
        names, trie = allowed.names, allow_trie(allowed.paths)
    return View(
        deny=field_set(rules.deny_fields),
        allow_names=names,
        allow_trie=trie,
        mask_fields=field_set(rules.mask_fields),
        masker=Masker(rules.mask, countries) if rules.mask else None,
    )


# -- the guard ----------------------------------------------------------------------

_NO_BODY_STATUSES = frozenset({204, 205, 304})
# Headers that describe the bytes as the upstream sent them; wrong once
# the body is rewritten.
_STALE_HEADERS = frozenset({"content-encoding", "etag", "content-md5", "digest"})
_STALE_HEADERS |= {"content-digest", "repr-digest"}
_LEAK_DETAIL = "The service failed to answer this request."
_UNINSPECTABLE_DETAIL = "The upstream answer could not be checked and was withheld."
_REFUSED_DETAIL = "The request was refused by the API gateway's security policy."


class ResponseFilter(Guard):
    """Filters, masks and scrubs one route's answers; counts exfiltration."""

    name = "response"
    phase = Phase.SCORING  # runs on the answer; the phase only orders it

    def __init__(
        self,
        settings: ResponseSettings,
        exfil: ExfilSettings,
        store: Store,
    ) -> None:
        self.settings = settings
        self.exfil = exfil
        self.store = store
        countries = settings.national_ids
        self.base = compile_view(settings.rules, countries)
        self.roles = tuple((r, compile_view(v, countries)) for r, v in settings.roles)

    def view(self, ex: Exchange) -> View:
        """The view of the caller: its first role the policy names, or the base."""
        if ex.principal is not None and self.roles:
            for role, view in self.roles:
                if role in ex.principal.roles:
                    return view
        return self.base

    def wants_body(
        self, ex: Exchange, status: int, headers: list[tuple[str, str]]
    ) -> bool:
        if ex.request.method == "HEAD" or status < 200 or status in _NO_BODY_STATUSES:
            return False
        inspects = self._inspects(ex, status, headers)
        length = _content_length(headers) or 0
        # Too large: refused unread in filter_body, or (pass) not buffered.
        if inspects and length > self.settings.max_body and self._passes_oversize:
            ex.tags["response.incomplete"] = "too-large-or-encoded"
            return False
        return inspects

    @property
    def _passes_oversize(self) -> bool:
        return self.settings.on_oversize == "pass"

    def _inspects(
        self, ex: Exchange, status: int, headers: list[tuple[str, str]]
    ) -> bool:
        media = _media_type(headers)
        if self._scrubs(status) and (_is_text(media) or _is_json(media) or not media):
            return True
        if self.exfil.max_bytes and _content_length(headers) is None:
            return True
        view = self.view(ex)
        if _is_json(media):
            return bool(view.masker or view.shapes_fields or self.exfil.max_records)
        return _is_text(media) and view.masker is not None and self.settings.text

    def _scrubs(self, status: int) -> bool:
        mode = self.settings.scrub_errors
        return mode == "all" or (mode == "5xx" and status >= 500)

    async def on_response(
        self, ex: Exchange, status: int, headers: list[tuple[str, str]]
    ) -> None:
        # Bytes of answers the filter does not buffer are known from their
        # Content-Length; buffered ones are counted in filter_body.
        if not self.exfil.max_bytes or not 200 <= status < 300:
            return
        if self.wants_body(ex, status, headers):
            return
        reason = await account_bytes(
            ex, self.store, self.exfil, _content_length(headers) or 0
        )
        if reason:
            await enforce(ex, self.store, self.exfil, reason)

    async def filter_body(
        self, ex: Exchange, status: int, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, bytes]:
        answer = (status, body)
        coding = _header(headers, "content-encoding")
        plain = _decode(body, coding, self.settings.max_body)
        if plain is None:
            return self._uninspectable(ex, answer, headers)
        if self._scrubs(status):
            kind = leak_kind(plain.decode("utf-8", "replace"))
            if kind is not None:
                ex.tags["response.leak"] = kind
                return self._replace(ex, answer, status, headers, _LEAK_DETAIL)
        out, refuse = await self._rewrite(ex, status, _media_type(headers), plain)
        if refuse is not None:
            detail = _UNINSPECTABLE_DETAIL if refuse == 502 else _REFUSED_DETAIL
            return self._replace(ex, answer, refuse, headers, detail)
        if 200 <= status < 300:
            size = len(out if out is not None else body)
            reason = await account_bytes(ex, self.store, self.exfil, size)
            if reason and await enforce(ex, self.store, self.exfil, reason):
                return self._replace(ex, answer, 403, headers)
        if out is None or ex.route.mode is not Mode.BLOCK:
            return answer
        _drop_stale(headers, None)
        return status, out

    async def _rewrite(
        self, ex: Exchange, status: int, media: str, plain: bytes
    ) -> tuple[bytes | None, int | None]:
        """(new body or None when unchanged, status to refuse with or None)."""
        view = self.view(ex)
        if not plain.strip():
            return None, None
        if _is_json(media):
            if self._left_alone(view, status, plain):
                return None, None
            try:
                document = orjson.loads(plain)
            except orjson.JSONDecodeError:
                if view.shapes_fields and 200 <= status < 300:
                    ex.tags["response.incomplete"] = "invalid-json"
                    return None, 502 if self.settings.on_oversize == "block" else None
                return self._mask_text(ex, view, plain), None
            if 200 <= status < 300:
                reason = judge_records(ex, self.exfil, document)
                if reason and await enforce(ex, self.store, self.exfil, reason):
                    return None, 403
            return self._filter_json(ex, view, status, document), None
        if _is_text(media) and self.settings.text:
            return self._mask_text(ex, view, plain), None
        return None, None

    def _left_alone(self, view: View, status: int, plain: bytes) -> bool:
        """Whether parsing and walking this JSON answer would change nothing.

        True when no field rule or record count applies and the masker's
        gates find nothing in the raw text.  Without a backslash, every
        string of the document is a substring of that text and every integer
        its digits, so a gate that matches none of the text matches none of
        them: the common small answer skips the parse and the walk.
        """
        if 200 <= status < 300 and (view.shapes_fields or self.exfil.max_records):
            return False
        if view.masker is None:
            return True
        if b"\\" in plain:
            return False
        return not view.masker.may_find(plain.decode("utf-8", "surrogateescape"))

    def _filter_json(
        self, ex: Exchange, view: View, status: int, document: Any
    ) -> bytes | None:
        changed = 0
        if 200 <= status < 300 and view.shapes_fields:
            changed += deny(document, view.deny)
            if view.allow_names is not None:
                document, dropped = allow(document, view.allow_names, view.allow_trie)
                changed += dropped
            masked_fields = mask_fields(document, view.mask_fields)
            changed += masked_fields
            if changed:
                ex.tags["response.fields"] = changed
        if view.masker is not None:
            document, masked = mask_values(document, view.masker)
            if masked:
                ex.tags["response.masked"] = masked
                changed += masked
        return orjson.dumps(document) if changed else None

    def _mask_text(self, ex: Exchange, view: View, plain: bytes) -> bytes | None:
        if view.masker is None:
            return None
        text = plain.decode("utf-8", "surrogateescape")
        spans = view.masker.spans(text)
        if not spans:
            return None
        ex.tags["response.masked"] = len(spans)
        return view.masker.mask(text).encode("utf-8", "surrogateescape")

    def refuse_unread(
        self, ex: Exchange, status: int, headers: list[tuple[str, str]]
    ) -> tuple[int, bytes] | None:
        refused = self._uninspectable(ex, (status, b""), headers)
        return None if refused[0] == status else refused

    def _uninspectable(
        self, ex: Exchange, answer: tuple[int, bytes], headers: list[tuple[str, str]]
    ) -> tuple[int, bytes]:
        ex.tags["response.incomplete"] = "too-large-or-encoded"
        if self.settings.on_oversize == "pass":
            return answer
        return self._replace(ex, answer, 502, headers, _UNINSPECTABLE_DETAIL)

    def _replace(
        self,
        ex: Exchange,
        answer: tuple[int, bytes],
        status: int,
        headers: list[tuple[str, str]],
        detail: str = _REFUSED_DETAIL,
    ) -> tuple[int, bytes]:
        """A problem document with ``status`` instead of the upstream's answer.

        In monitor mode the upstream's answer goes out; the tags say what
        would have replaced it.
        """
        ex.tags["response.replaced"] = status
        if ex.route.mode is not Mode.BLOCK:
            return answer
        _drop_stale(headers, PROBLEM_TYPE)
        return status, problem(status, detail, ex.incident_id)


def _header(headers: list[tuple[str, str]], name: str) -> str:
    for key, value in headers:
        if key.lower() == name:
            return value
    return ""


def _content_length(headers: list[tuple[str, str]]) -> int | None:
    value = _header(headers, "content-length").strip()
    return int(value) if value.isdigit() else None


def _media_type(headers: list[tuple[str, str]]) -> str:
    return _header(headers, "content-type").split(";", 1)[0].strip().lower()


def _is_json(media: str) -> bool:
    return media == "application/json" or media.endswith("+json")


def _is_text(media: str) -> bool:
    return media.startswith("text/") or media.endswith(("/xml", "+xml", "/csv"))


def _decode(body: bytes, encoding: str, limit: int) -> bytes | None:
    """The body without its content coding; None if too large or unknown."""
    coding = encoding.strip().lower()
    if coding in ("", "identity"):
        return body if len(body) <= limit else None
    if coding in ("gzip", "x-gzip"):
        return _inflate(body, zlib.MAX_WBITS | 16, limit)
    if coding == "deflate":
        # RFC 9110 8.4.1.2 says zlib-wrapped; some servers send it raw.
        return _inflate(body, zlib.MAX_WBITS, limit) or _inflate(
            body, -zlib.MAX_WBITS, limit
        )
    return None


def _inflate(body: bytes, wbits: int, limit: int) -> bytes | None:
    # Bounded output: a small compressed bomb must not expand past limit.
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error:
        return None
    if len(out) > limit or inflater.unconsumed_tail:
        return None
    return out


def _drop_stale(headers: list[tuple[str, str]], content_type: str | None) -> None:
    kept = [(k, v) for k, v in headers if k.lower() not in _STALE_HEADERS]
    if content_type is not None:
        kept = [(k, v) for k, v in kept if k.lower() != "content-type"]
        kept.append(("Content-Type", content_type))
    headers[:] = kept


@register_guard("response", Phase.SCORING)
def _factory(policy: Policy, route: Route, services: Services) -> Guard | None:
    settings: ResponseSettings = route.settings["response"]
    exfil: ExfilSettings = route.settings["exfiltration"]
    return ResponseFilter(settings, exfil, services.store)
