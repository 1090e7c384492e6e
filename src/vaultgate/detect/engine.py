"""The inspection engine: one Hyperscan database, rules confirmed on a hit.

How this works.  ``Inspector(rules, paranoia, exclusions)`` keeps the rules
enabled at ``paranoia`` (``rule.paranoia <= paranoia``) and compiles their
patterns into one Hyperscan block-mode database (pattern id = index of the
rule).  The flags are DOTALL and SINGLEMATCH (and CASELESS per rule);
anchors are rewritten so that ``^`` and ``$`` also match at the separator
between two values.  Databases are cached by their pattern set, so routes that
share a paranoia level share one database and a reload of an unchanged
policy compiles nothing.

``Inspector.scan(values)`` joins the UTF-8 text of every ``Value`` with a
NUL byte and scans the joined buffer once; the common, clean request costs
one call.  Only when something matched are the values scanned one by one
(from the first that a match ended in) to learn which rule hit which value.
For each hit the rule's ``kinds`` and ``names`` filters, the exclusions and
then its ``confirm`` check decide whether it becomes a ``Finding``.  Each
rule fires at most once per location (``"kind:name"``).

What a rule author can rely on (the API the detector modules code against):

- ``Inspector(rules: Iterable[Rule], paranoia: int,
  exclusions: Iterable[Exclusion] = ())`` compiled once, at policy load.
- ``Inspector.scan(values: Iterable[Value]) -> list[Finding]``; values are
  already decoded (``normalize.expand`` makes them from extracted values).
- ``Inspector.check_request(request) -> list[Finding]`` runs the
  request-level checks registered with ``register_request_check``
  (protocol anomalies and other checks that look at the request as a
  whole, not at one value), with the same exclusions.  A check that
  compiles something once registers a ``prepare`` function for it, which
  runs when the Inspector is built (at policy load).
- ``^`` and ``$`` match at the value's edges (not at line breaks inside
  it: there is no MULTILINE).  ``confirm`` receives the decoded text that
  matched (the whole value, not just the match).
- A ``Finding`` carries the rule's family, id and score, the location
  ``"kind:name"``, a snippet (the decoded text up to the end of the match,
  at most ``MAX_SNIPPET`` characters, digits of card-like numbers masked)
  and a confidence: 1.0 when ``confirm`` agreed, ``PATTERN_CONFIDENCE``
  for a pattern-only rule.

Guarantee of the fast path: a value that matches a pattern on its own also
makes the joined buffer match (anchors hold at the separator), so a clean
joined scan means no rule could have fired.  The joined scan may say
"maybe" for a match that spans two values; the per-value scan then finds
nothing.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import hyperscan

from vaultgate import hsdb
from vaultgate.core.model import Finding
from vaultgate.core.request import Request
from vaultgate.detect.base import KINDS, Rule, Value

# A snippet shows this many characters ending where the pattern matched:
# enough for an analyst to see the payload's shape, short enough that an
# audit event never carries a whole field (which may hold personal data).
MAX_SNIPPET = 96
# How sure a pattern-only rule is; a confirmed rule says 1.0.
PATTERN_CONFIDENCE = 0.8
# Compiled databases kept for reuse: a few paranoia levels times a few
# distinct per-route exclusion sets.  Past it the oldest is dropped.
MAX_CACHED_DATABASES = 32

_FLAGS = hyperscan.HS_FLAG_DOTALL | hyperscan.HS_FLAG_SINGLEMATCH
# Values are joined with NUL, which decoding removes from every value and
# which no rule has reason to look for (a line break would match the CRLF
# rules on every join).  Anchors are rewritten to hold at a NUL too.
SEPARATOR = "\x00"
_TEXT = itemgetter(2)  # a Value's text
_ANCHORS = {"^": "(?:^|\\x00)", "$": "(?:$|\\x00)"}
_ESCAPED_ANCHORS = {"A": "(?:\\A|\\x00)", "z": "(?:\\z|\\x00)", "Z": "(?:\\Z|\\x00)"}
# 13 to 19 digits, optionally grouped by spaces or dashes: PAN-shaped.
_CARD = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")


@dataclass(frozen=True, slots=True)
class Exclusion:
    """Silences a rule or a family, everywhere or only at some locations.

    ``target`` is a rule id (``sqli.tautology``) or a family (``sqli``).
    ``args`` are location patterns: ``kind:name`` (``json:$.memo``,
    ``query:q``, ``header:x-note``) or a bare ``name`` for any kind; ``*``
    matches any run of characters and ``[*]`` any array index.  No args:
    everywhere.
    """

    target: str
    args: tuple[str, ...] = ()


class _Exclusions:
    """Exclusions compiled to one location regex per rule or family."""

    def __init__(self, exclusions: Iterable[Exclusion]) -> None:
        self.everywhere: set[str] = set()
        patterns: dict[str, list[str]] = {}
        for exclusion in exclusions:
            if not exclusion.args:
                self.everywhere.add(exclusion.target)
                continue
            found = patterns.setdefault(exclusion.target, [])
            found.extend(_location_regex(arg) for arg in exclusion.args)
        self.at: dict[str, re.Pattern[str]] = {
            target: re.compile("|".join(found)) for target, found in patterns.items()
        }
        self.any = bool(self.everywhere or self.at)  # False: nothing to silence

    def silences_everywhere(self, rule_id: str, family: str) -> bool:
        return rule_id in self.everywhere or family in self.everywhere

    def silences(self, rule_id: str, family: str, location: str) -> bool:
        """Whether a finding of ``rule_id`` at ``location`` is excluded."""
        if self.silences_everywhere(rule_id, family):
            return True
        for target in (rule_id, family):
            pattern = self.at.get(target)
            if pattern is not None and pattern.fullmatch(location):
                return True
        return False


def _location_regex(arg: str) -> str:
    """A regex for one exclusion location pattern (see ``Exclusion``)."""
    kind, sep, name = arg.partition(":")
    if not sep or (kind not in KINDS and kind != "*"):
        kind, name = "*", arg
    kind_re = "[^:]+" if kind == "*" else re.escape(kind)
    name_re = re.escape(name).replace(r"\[\*\]", r"\[\d+\]").replace(r"\*", ".*")
    return f"(?:{kind_re}:{name_re})"


def location_pattern_error(arg: str) -> str | None:
    """Why ``arg`` is not a usable location pattern, or None when it is."""
    if not arg:
        return "a non-empty location such as json:$.memo or query:q"
    kind, sep, _ = arg.partition(":")
    if sep and kind not in KINDS and kind != "*":
        return "'<kind>:<name>' with a kind among: " + ", ".join(sorted(KINDS))
    return None


# -- request-level checks -----------------------------------------------------

# Given the request and the paranoia level, the findings it raises.
RequestCheck = Callable[[Request, int], Iterable[Finding]]

# Given a route's own settings for a check and its paranoia level, the
# check bound to them.
Configure = Callable[[Any, int], RequestCheck]

_REQUEST_CHECKS: dict[str, RequestCheck] = {}
# What a check builds once (a compiled database, tables), run when an
# Inspector is built at policy load rather than by the first request.
_PREPARE: dict[str, Callable[[], object]] = {}
_CONFIGURE: dict[str, Configure] = {}


def register_request_check(
    name: str,
    check: RequestCheck,
    prepare: Callable[[], object] | None = None,
    configure: Configure | None = None,
) -> RequestCheck:
    """Register a check of the whole request; a duplicate name is an error.

    ``prepare``, if given, builds what the check compiles once; it runs
    each time an Inspector is built (policy load), so that no request
    waits for it, and returns at once when that is already built.
    ``configure``, if given, binds the check to a route's own settings
    (``Inspector(check_settings={name: settings})``), once per route.
    """
    if name in _REQUEST_CHECKS:
        raise ValueError(f"request check {name!r} registered twice")
    _REQUEST_CHECKS[name] = check
    if prepare is not None:
        _PREPARE[name] = prepare
    if configure is not None:
        _CONFIGURE[name] = configure
    return check


def request_checks() -> dict[str, RequestCheck]:
    """Every registered request-level check by name."""
    return dict(_REQUEST_CHECKS)


# -- the compiled database ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Compiled:
    database: Any  # hyperscan.Database
    key: tuple[tuple[str, bool], ...]


_DATABASES: dict[tuple[tuple[str, bool], ...], _Compiled] = {}
_CACHE_LOCK = threading.Lock()
# Hyperscan scratch space may not be shared by two threads at once; the
# proxy scans on one event-loop thread, but replay or an adapter may not.
_SCRATCH = threading.local()


def _compile(rules: Sequence[Rule]) -> _Compiled | None:
    """The database for ``rules`` (cached by pattern set), or None if empty."""
    if not rules:
        return None
    key = tuple((rule.pattern, rule.caseless) for rule in rules)
    with _CACHE_LOCK:
        cached = _DATABASES.get(key)
        if cached is not None:
            return cached
    flags = [_FLAGS | (hyperscan.HS_FLAG_CASELESS if c else 0) for _, c in key]
    try:
        database = hsdb.build(
            [anchored(pattern).encode("utf-8") for pattern, _ in key],
            flags,
            list(range(len(key))),
        )
    except hyperscan.error as exc:
        raise ValueError(
            f"{_culprit(rules)}: pattern does not compile: {exc}"
        ) from None
    compiled = _Compiled(database, key)
    with _CACHE_LOCK:
        if len(_DATABASES) >= MAX_CACHED_DATABASES:
            del _DATABASES[next(iter(_DATABASES))]
        _DATABASES[key] = compiled
    return compiled


def _culprit(rules: Sequence[Rule]) -> str:
    """The first rule whose pattern fails on its own (for the error message)."""
    for rule in rules:
        try:
            hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK).compile(
                expressions=[anchored(rule.pattern).encode("utf-8")], flags=_FLAGS
            )
        except hyperscan.error:
            return f"rule {rule.id!r}"
    return "the rule set"


def anchored(pattern: str) -> str:
    """``pattern`` with ``^ $ \\A \\z \\Z`` also matching at a value separator."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            pair = pattern[i : i + 2]
            escaped = pair[1:]
            out.append(_ESCAPED_ANCHORS.get(escaped, pair) if not in_class else pair)
            i += 2
            continue
        if in_class:
            in_class = (
                char != "]" or pattern[i - 1] == "[" or pattern[i - 2 : i] == "[^"
            )
        elif char == "[":
            in_class = True
        elif char in _ANCHORS:
            char = _ANCHORS[char]
        out.append(char)
        i += 1
    return "".join(out)


def _scratch(compiled: _Compiled) -> Any:
    """This thread's scratch space for ``compiled``."""
    table: dict[int, tuple[_Compiled, Any]] | None = getattr(_SCRATCH, "table", None)
    if table is None:
        table = _SCRATCH.table = {}
    entry = table.get(id(compiled))
    if entry is None or entry[0] is not compiled:
        entry = (compiled, hyperscan.Scratch(compiled.database))
        table[id(compiled)] = entry
    return entry[1]


def _first_hit(rule: int, start: int, end: int, flags: int, hits: Any) -> None:
    # SINGLEMATCH: each pattern reports once per scan, its first match.
    hits[rule] = end


def validate_rules(rules: Iterable[Rule]) -> None:
    """Compile ``rules`` at every paranoia level; raise ValueError if one fails."""
    for level in range(1, 5):
        _compile([r for r in rules if r.paranoia <= level])


# -- the inspector -------------------------------------------------------------


class Inspector:
    """Finds attacks in decoded values with one compiled rule set."""

    def __init__(
        self,
        rules: Iterable[Rule],
        paranoia: int,
        exclusions: Iterable[Exclusion] = (),
        check_settings: Mapping[str, object] | None = None,
    ) -> None:
        self.paranoia = paranoia
        self._exclusions = _Exclusions(exclusions)
        # Rules an exclusion silences everywhere stay in the database (they
        # are dropped after a hit): routes that differ only in exclusions
        # then share one compiled database.
        enabled = [
            rule
            for rule in sorted(rules, key=lambda r: r.id)
            if rule.paranoia <= paranoia
        ]
        self.rules: tuple[Rule, ...] = tuple(enabled)
        self._compiled = _compile(self.rules)
        own = check_settings or {}
        self._checks = tuple(
            (name, _CONFIGURE[name](own[name], paranoia))
            if name in own and name in _CONFIGURE
            else (name, check)
            for name, check in request_checks().items()
        )
        for name, _ in self._checks:
            prepare = _PREPARE.get(name)
            if prepare is not None:
                prepare()

    def scan(self, values: Iterable[Value]) -> list[Finding]:
        """The findings of every enabled rule in ``values``."""
        compiled = self._compiled
        if compiled is None:
            return []
        items = values if type(values) is list else list(values)
        scratch = _scratch(compiled)
        hits: dict[int, int] = {}
        joined = SEPARATOR.join(map(_TEXT, items)).encode("utf-8", "surrogatepass")
        compiled.database.scan(
            joined, match_event_handler=_first_hit, context=hits, scratch=scratch
        )
        if not hits:
            return []  # the common case: one scan, nothing to confirm
        return self._confirm(items, joined, min(hits.values()), scratch)

    def _confirm(
        self, items: list[Value], joined: bytes, first_end: int, scratch: Any
    ) -> list[Finding]:
        """Find which rules hit which values, from the first match on."""
        assert self._compiled is not None
        scan = self._compiled.database.scan
        # Where each value starts in ``joined``; its bytes are sliced from
        # it, never encoded again.
        starts = _starts(items)
        findings: list[Finding] = []
        seen: set[tuple[str, str]] = set()
        index = _value_at(starts, first_end)
        while True:
            # The earliest match ends in value ``index``: scan it alone to
            # learn its rules (a match spanning two values finds nothing),
            # then scan the values after it together again.
            blob = joined[starts[index] : starts[index + 1] - 1]
            hits: dict[int, int] = {}
            scan(blob, match_event_handler=_first_hit, context=hits, scratch=scratch)
            for rule_index, offset in sorted(hits.items()):
                finding = self._finding(
                    self.rules[rule_index], items[index], blob, offset, seen
                )
                if finding is not None:
                    findings.append(finding)
            if index + 1 >= len(items):
                return findings
            rest = starts[index + 1]
            hits = {}
            scan(
                joined[rest:],
                match_event_handler=_first_hit,
                context=hits,
                scratch=scratch,
            )
            if not hits:
                return findings
            # Past the value just confirmed, whatever the match's length.
            index = max(index + 1, _value_at(starts, rest + min(hits.values())))

    def _finding(
        self,
        rule: Rule,
        value: Value,
        blob: bytes,
        end: int,
        seen: set[tuple[str, str]],
    ) -> Finding | None:
        """A finding when ``rule`` applies to ``value`` and is confirmed."""
        if rule.kinds is not None and value.kind not in rule.kinds:
            return None
        if rule.names is not None and value.name.lower() not in rule.names:
            return None
        if value.kind == "header" and value.name in rule.skip_headers:
            return None
        location = f"{value.kind}:{value.name}"
        key = (rule.id, location)
        if key in seen:
            return None
        if self._exclusions.silences(rule.id, rule.family, location):
            return None
        if rule.confirm is not None and not rule.confirm(value.text):
            return None
        seen.add(key)
        return Finding(
            family=rule.family,
            rule_id=rule.id,
            score=rule.score,
            location=location,
            snippet=snippet(blob, end),
            confidence=1.0 if rule.confirm is not None else PATTERN_CONFIDENCE,
        )

    def check_request(self, request: Request) -> list[Finding]:
        """The findings of the registered request-level checks."""
        findings: list[Finding] = []
        paranoia = self.paranoia
        for _, check in self._checks:
            found = check(request, paranoia)
            if found:  # an empty list: the common case
                findings.extend(found)
        if findings and self._exclusions.any:
            return [f for f in findings if not self.excluded(f)]
        return findings

    def excluded(self, finding: Finding) -> bool:
        """Whether this inspector's exclusions silence ``finding``."""
        ex = self._exclusions
        return ex.silences(finding.rule_id, finding.family, finding.location)


def _starts(items: list[Value]) -> list[int]:
    """Where each value starts in the joined buffer, and one past its end.

    The last entry is the buffer's length plus one, as if a separator
    followed the last value, so value ``i`` is ``starts[i]`` up to
    ``starts[i + 1] - 1``.
    """
    starts = [0]
    position = 0
    for value in items:
        text = value[2]
        size = len(text) if text.isascii() else _utf8_size(text)
        position += size + 1
        starts.append(position)
    return starts


def _utf8_size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _value_at(starts: list[int], end: int) -> int:
    """Which value of the joined buffer holds a match ending at ``end``.

    A match whose last byte is a separator (an anchor rewritten to match
    it) belongs to the value before it.
    """
    return min(bisect_left(starts, end) - 1, len(starts) - 2)


def snippet(blob: bytes, end: int) -> str:
    """The decoded text before ``end``, masked, at most ``MAX_SNIPPET`` long."""
    # Mask a little more than is kept, so a card number cut by the window's
    # edge is still masked whole (at most 19 digits and 18 separators).
    window = blob[max(0, end - MAX_SNIPPET - 40) : end]
    text = window.decode("utf-8", "replace")
    return mask_cards(text)[-MAX_SNIPPET:]


def mask_cards(text: str) -> str:
    """Replace the digits of card-like numbers, all but the last four."""
    if not _has_long_digits(text):
        return text
    return _CARD.sub(_mask_one, text)


def _has_long_digits(text: str) -> bool:
    return sum(ch.isdigit() for ch in text) >= 13


def _mask_one(match: re.Match[str]) -> str:
    digits = match.group(0)
    keep = len(digits)
    count = 0
    for i in range(len(digits) - 1, -1, -1):
        if digits[i].isdigit():
            count += 1
            if count == 4:
                keep = i
                break
    head = re.sub(r"\d", "*", digits[:keep])
    return head + digits[keep:]
