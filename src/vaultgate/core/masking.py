"""Masking of card numbers, IBANs, national ids and secrets in text.

How this works: each kind of sensitive value has a candidate pattern,
compiled once, and a check that confirms a candidate: Luhn plus the brand's
IIN range and length for card numbers, the country's length plus mod-97 for
IBANs, the check digit or allocation rules of a national id, the issuer's
exact prefix and length for API keys.  Patterns only say "maybe"; the
checks keep order numbers, timestamps, UUIDs and phone numbers untouched.
A ``Masker`` masks the kinds it was built with (a response filter's
``mask`` list); ``redact`` masks every kind and is what logs and sinks call.

Masks keep what a human needs to recognise the value and no more: the last
four digits of a card (PCI DSS 3.4 allows them), the country and last four
characters of an IBAN, the last four of a national id.  Secrets keep
nothing.
"""

from __future__ import annotations

import bisect
import collections
import itertools
import re
import string
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import hyperscan

from vaultgate.core.nationalid import DEFAULT_COUNTRIES, IdFormat, formats_for


@dataclass(frozen=True, slots=True)
class Span:
    """A confirmed sensitive value: where it is and what replaces it."""

    start: int
    end: int
    kind: str
    replacement: str


# Confirmed spans in ``text[pos:endpos]``; look-behinds see before ``pos``.
Finder = Callable[[str, int, int], Iterator[Span]]

# -- card numbers (PAN) -------------------------------------------------------

# Either 12-19 digits in one run, or the printed groups (4-4-4-4, 4-6-5 ...)
# with one kind of separator.  Not when glued to letters, a decimal point,
# a "+" (E.164 phone numbers) or a "word-" prefix (ORD-..., UUID parts),
# and a grouped number must not continue with another group of digits.
_CARD = re.compile(
    r"(?<![\w.+])(?<!\w-)"
    r"(?:(\d{12,19})|(?<!\d[ -])(\d{4}([ -])\d{4,6}(?:\3\d{1,5}){1,3})(?!\3\d))"
    r"(?!\w|[.,]\d)",
    re.ASCII,
)
# Shapes in which card numbers are printed (group lengths).
_CARD_GROUPS = frozenset(
    {(4, 4, 4, 4), (4, 4, 4, 4, 3), (4, 4, 4, 4, 2), (4, 4, 4, 4, 1)}
    | {(4, 4, 4, 3), (4, 4, 4, 2), (4, 4, 4, 1), (4, 6, 5), (4, 6, 4)}
)
# IIN ranges of the major brands: (first digits low, high, lengths).
_BRANDS: tuple[tuple[str, tuple[tuple[int, int], ...], frozenset[int]], ...] = (
    # 13-digit Visa numbers were retired; 13 bare digits are mostly ms
    # timestamps and ids, so only 16 and 19 count.
    ("visa", ((4, 4),), frozenset({16, 19})),
    ("mastercard", ((51, 55), (2221, 2720)), frozenset({16})),
    ("amex", ((34, 34), (37, 37)), frozenset({15})),
    ("discover", ((6011, 6011), (644, 649), (65, 65)), frozenset(range(16, 20))),
    ("unionpay", ((62, 62),), frozenset(range(16, 20))),
    ("jcb", ((3528, 3589),), frozenset(range(16, 20))),
    (
        "diners",
        ((300, 305), (3095, 3095), (36, 36), (38, 39)),
        frozenset(range(14, 20)),
    ),
    (
        "maestro",
        ((5018, 5018), (5020, 5020), (5038, 5038), (5893, 5893), (6304, 6304)),
        frozenset(range(12, 20)),
    ),
    ("maestro", ((6759, 6759), (6761, 6763)), frozenset(range(12, 20))),
    ("mir", ((2200, 2204),), frozenset(range(16, 20))),
    ("rupay", ((60, 60), (81, 82), (508, 508)), frozenset({16})),
)
_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits passes the Luhn (mod 10) check."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        value = ord(ch) - 48
        total += _DOUBLED[value] if i & 1 else value
    return total % 10 == 0


def card_brand(digits: str) -> str | None:
    """The brand whose IIN range and lengths ``digits`` fits, or None."""
    for brand, ranges, lengths in _BRANDS:
        if len(digits) not in lengths:
            continue
        for low, high in ranges:
            width = len(str(low))
            if low <= int(digits[:width]) <= high:
                return brand
    return None


def is_card_number(text: str) -> bool:
    """Whether ``text`` (digits, maybe grouped) is a plausible card number."""
    match = _CARD.fullmatch(text)
    return match is not None and _card_digits(match) is not None


def _card_digits(match: re.Match[str]) -> str | None:
    plain, grouped, sep = match.group(1), match.group(2), match.group(3)
    if grouped is not None:
        shape = tuple(len(g) for g in grouped.split(sep))
        if shape not in _CARD_GROUPS:
            return None
        plain = grouped.replace(sep, "")
    # One digit repeated passes Luhn for some lengths; it is filler.
    if plain.count(plain[0]) == len(plain):
        return None
    if card_brand(plain) is None or not luhn_valid(plain):
        return None
    return plain


def _find_cards(text: str, pos: int, endpos: int) -> Iterator[Span]:
    for match in _CARD.finditer(text, pos, endpos):
        if _card_digits(match) is not None:
            yield Span(match.start(), match.end(), "card_number", _keep_last(match[0]))


_STARS = str.maketrans(dict.fromkeys(string.ascii_letters + string.digits, "*"))


def _keep_last(text: str, keep: int = 4) -> str:
    """Replace every letter or digit but the last ``keep`` with ``*``."""
    seen = 0
    for i in range(len(text) - 1, -1, -1):
        if text[i].isalnum():
            seen += 1
            if seen == keep:
                return text[:i].translate(_STARS) + text[i:]
    return text


# -- IBAN -------------------------------------------------------------------

# Country code, check digits, then the BBAN in groups of four (the printed
# form) or in one run; upper case as ISO 13616 prints it.
_IBAN = re.compile(
    r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?"
    r"(?![A-Za-z0-9])",
    re.ASCII,
)
# ISO 13616 registry: total IBAN length per country.
IBAN_LENGTHS = {
    **dict.fromkeys(("NO",), 15),
    **dict.fromkeys(("BE",), 16),
    **dict.fromkeys(("DK", "FI", "FK", "FO", "GL", "NL", "SD"), 18),
    **dict.fromkeys(("MK", "SI"), 19),
    **dict.fromkeys(("AT", "BA", "EE", "KZ", "LT", "LU", "MN", "XK"), 20),
    **dict.fromkeys(("CH", "HR", "LI", "LV"), 21),
    **dict.fromkeys(("BG", "BH", "CR", "DE", "GB", "GE", "IE", "ME", "RS"), 22),
    **dict.fromkeys(("VA",), 22),
    **dict.fromkeys(("AE", "GI", "IL", "IQ", "OM", "SO", "TL"), 23),
    **dict.fromkeys(("AD", "CZ", "ES", "MD", "PK", "RO", "SA", "SE", "SK"), 24),
    **dict.fromkeys(("TN", "VG"), 24),
    **dict.fromkeys(("LY", "PT", "ST"), 25),
    **dict.fromkeys(("IS", "TR"), 26),
    **dict.fromkeys(("BI", "DJ", "FR", "GR", "IT", "MC", "MR", "SM"), 27),
    **dict.fromkeys(("AL", "AZ", "BY", "CY", "DO", "GT", "HU", "LB", "NI"), 28),
    **dict.fromkeys(("PL", "SV"), 28),
    **dict.fromkeys(("BR", "EG", "PS", "QA", "UA"), 29),
    **dict.fromkeys(("JO", "KW", "MU", "YE"), 30),
    **dict.fromkeys(("MT", "SC"), 31),
    **dict.fromkeys(("LC",), 32),
    **dict.fromkeys(("RU",), 33),
}


# ISO 7064 MOD 97-10 reads letters as two digits: A=10 ... Z=35.
_IBAN_DIGITS = str.maketrans({chr(65 + i): str(10 + i) for i in range(26)})


def iban_valid(text: str) -> bool:
    """Whether ``text`` (spaces allowed) is an IBAN of the right length and sum."""
    compact = text.replace(" ", "").upper()
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact.isalnum():
        return False
    if not compact[2:4].isdigit() or not compact.isascii():
        return False
    moved = compact[4:] + compact[:4]
    return int(moved.translate(_IBAN_DIGITS)) % 97 == 1


def _find_ibans(text: str, pos: int, endpos: int) -> Iterator[Span]:
    for match in _IBAN.finditer(text, pos, endpos):
        candidate = match[0]
        length = IBAN_LENGTHS.get(candidate[:2])
        if length is None:
            continue
        end = length if " " not in candidate else _nth_alnum_end(candidate, length)
        # The IBAN must end where a group ends, not inside a longer word.
        if end is None or (end < len(candidate) and candidate[end] != " "):
            continue
        if iban_valid(candidate[:end]):
            masked = candidate[:2] + _keep_last(candidate[2:end])
            yield Span(match.start(), match.start() + end, "iban", masked)


def _nth_alnum_end(text: str, n: int) -> int | None:
    seen = 0
    for i, ch in enumerate(text):
        if ch != " ":
            seen += 1
            if seen == n:
                return i + 1
    return None


# -- national ids --------------------------------------------------------------


def _id_finder(fmt: IdFormat) -> Finder:
    def find(text: str, pos: int, endpos: int) -> Iterator[Span]:
        for match in fmt.pattern.finditer(text, pos, endpos):
            if fmt.valid(match):
                masked = _keep_last(match[0])
                yield Span(match.start(), match.end(), "national_id", masked)

    return find


# -- secrets ------------------------------------------------------------------

# A private key block up to its END line, or to the end of the value when
# the END line was cut off.  "\x00" separates values (see ``mask_many``).
_PRIVATE_KEY = re.compile(
    r"-----BEGIN ([A-Z0-9 ]{0,20}PRIVATE KEY(?: BLOCK)?)-----"
    r"[^\x00]*?(?:-----END \1-----|(?=\x00)|\Z)"
)
# Issuer formats with fixed prefixes and lengths, so that ordinary words
# and hex ids never match.
_API_KEY = re.compile(
    r"(?<![A-Za-z0-9_])(?:"
    r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}"  # AWS access key id
    r"|(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,247}"  # Stripe secret, restricted
    r"|whsec_[A-Za-z0-9+/=]{24,128}"  # Stripe webhook signing secret
    r"|gh[pousr]_[A-Za-z0-9]{36,251}"  # GitHub tokens
    r"|github_pat_[A-Za-z0-9_]{22,255}"  # GitHub fine-grained token
    r"|glpat-[A-Za-z0-9_\-]{20,64}"  # GitLab personal token
    r"|xox[abposr]-[A-Za-z0-9\-]{10,250}"  # Slack tokens
    r"|AIza[A-Za-z0-9_\-]{35}"  # Google API key
    r"|SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}"  # SendGrid
    r")(?![A-Za-z0-9])",
    re.ASCII,
)
_API_KEY_GATE = (
    rb"AKIA|ASIA|ABIA|ACCA|[sr]k_(?:live|test)_|whsec_|gh[pousr]_|github_pat_"
    rb"|glpat-|xox[abposr]-|AIza|SG\."
)
# An AWS secret key is 40 characters of base64 with no prefix; it is only
# recognisable next to its name.
_AWS_SECRET = re.compile(
    r"(?i)aws_?secret_?(?:access_?)?key[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9/+=]{40})"
    r"(?![A-Za-z0-9/+=])",
    re.ASCII,
)
_JWT = re.compile(
    r"(?<![A-Za-z0-9_\-])eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}"
    r"\.[A-Za-z0-9_\-]*"
)
_AUTH_SCHEME = re.compile(r"(?i)\b(?:bearer|basic)\s+([A-Za-z0-9\-._~+/]{8,}=*)")
# A header line: at the start of a line or of a value.
_CREDENTIAL_HEADER = re.compile(
    r"(?i)(?<![^\n\x00])[ \t]*(?:proxy-)?"
    r"(?:authorization|cookie|set-cookie|x-api-key|api-key)"
    r"[ \t]*:[ \t]*([^\r\n\x00]+)"
)
_CREDENTIAL_FIELD = re.compile(
    r"(?i)([\"']?)\b(?:password|passwd|pwd|secret|client_secret|api_?key"
    r"|access_token|refresh_token|id_token|private_key|token)\1\s*[:=]\s*"
    r"(?:\"((?:[^\"\\\x00]|\\.)*)\"|'([^'\x00]*)'|([^\s&,;}\"'\x00]+))"
)
_URL_PASSWORD = re.compile(
    r"(?i)\b[a-z][a-z0-9+.\-]{0,31}://[^\s/:@\x00]{1,128}:([^\s/@\x00]{1,256})@"
)


def _whole(pattern: re.Pattern[str], kind: str) -> Finder:
    replacement = f"[redacted:{kind}]"

    def find(text: str, pos: int, endpos: int) -> Iterator[Span]:
        for match in pattern.finditer(text, pos, endpos):
            yield Span(match.start(), match.end(), kind, replacement)

    return find


def _groups(pattern: re.Pattern[str], kind: str, groups: tuple[int, ...]) -> Finder:
    """Mask only the value groups of each match (the name stays readable)."""

    def find(text: str, pos: int, endpos: int) -> Iterator[Span]:
        for match in pattern.finditer(text, pos, endpos):
            for group in groups:
                start, end = match.span(group)
                if end > start >= 0:
                    yield Span(start, end, kind, "[redacted]")

    return find


# -- detectors and their gates -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Detector:
    """A finder and its gate: a Hyperscan pattern every finding contains.

    A gate match ending at ``e`` calls the finder on the region from
    ``e - reach - before`` to ``e + after``: ``reach`` is the longest text the
    gate matches, ``before`` the context the finder looks back at, ``after``
    how far the value may run past the gate (and the look-ahead after it).
    """

    kind: str
    gate: bytes
    reach: int
    before: int
    after: int
    find: Finder
    caseless: bool = False


def _detectors(formats: tuple[IdFormat, ...]) -> tuple[Detector, ...]:
    """Every detector, in priority order (see ``KINDS``)."""
    return (
        # A private key block runs to its END line: up to 64 KiB covers an
        # RSA 8192 key several times over.
        Detector(
            "private_key",
            rb"-----BEGIN ",
            11,
            0,
            65536,
            _whole(_PRIVATE_KEY, "private_key"),
        ),
        Detector("jwt", rb"eyJ[A-Za-z0-9_\-]{8}", 11, 1, 16384, _whole(_JWT, "jwt")),
        Detector("api_key", _API_KEY_GATE, 11, 1, 300, _whole(_API_KEY, "api_key")),
        Detector(
            "api_key",
            rb"aws_?secret",
            10,
            0,
            100,
            _groups(_AWS_SECRET, "api_key", (1,)),
            True,
        ),
        Detector(
            "credential",
            rb"authorization|cookie|api-key",
            13,
            40,
            8192,
            _groups(_CREDENTIAL_HEADER, "credential", (1,)),
            True,
        ),
        Detector(
            "credential",
            rb"bearer|basic",
            6,
            1,
            4096,
            _groups(_AUTH_SCHEME, "credential", (1,)),
            True,
        ),
        Detector(
            "credential",
            rb"password|passwd|pwd|secret|api_?key|token",
            8,
            16,
            4096,
            _groups(_CREDENTIAL_FIELD, "credential", (2, 3, 4)),
            True,
        ),
        Detector(
            "credential",
            rb"://",
            3,
            200,
            420,
            _groups(_URL_PASSWORD, "credential", (1,)),
            True,
        ),
        Detector("iban", rb"[A-Z]{2}\d{2} ?[A-Z0-9]{4}", 9, 1, 48, _find_ibans),
        # Every card number holds 12 digits with at most single separators.
        Detector("card_number", rb"\d(?:[ \-]?\d){11}", 23, 3, 32, _find_cards),
        *(
            Detector("national_id", fmt.gate, fmt.reach, 4, 6, _id_finder(fmt))
            for fmt in formats
        ),
    )


# -- the masker -----------------------------------------------------------------

# Kinds in priority order: where two overlap, the earlier one wins (a
# private key block may contain digit runs, a JWT may contain "AKIA").
KINDS = (
    "private_key",
    "jwt",
    "api_key",
    "credential",
    "iban",
    "card_number",
    "national_id",
)
# Names a policy may use for several kinds at once.
GROUPS = {
    "secret": ("private_key", "api_key"),
    "credentials": ("jwt", "credential"),
}
# What a response filter masks when the policy says nothing: values no
# API should ever hand out in clear.  JWTs are left alone (login answers
# carry them) and IBANs too (account details carry them).
DEFAULT_RESPONSE_KINDS = ("card_number", "private_key", "api_key")


def expand_kinds(names: Iterable[str]) -> tuple[str, ...]:
    """Kinds named directly or by group; an unknown name raises ValueError."""
    out: list[str] = []
    for name in names:
        members = GROUPS.get(name, (name,))
        for kind in members:
            if kind not in KINDS:
                known = ", ".join((*KINDS, *GROUPS))
                raise ValueError(f"one of: {known}")
            if kind not in out:
                out.append(kind)
    return tuple(out)


class Masker:
    """Masks the configured kinds of sensitive value in text.

    One Hyperscan pass over the text finds where each detector's gate
    matches; only the regions around those matches are searched with the
    detectors' exact patterns.  The gates may only say "maybe": a test
    checks that the exact patterns over the whole text find nothing more.
    """

    def __init__(
        self,
        kinds: Iterable[str] = KINDS,
        countries: Sequence[str] = DEFAULT_COUNTRIES,
    ) -> None:
        self.kinds = expand_kinds(kinds)
        self.countries = tuple(countries)
        every = _detectors(formats_for(self.countries))
        self.detectors = tuple(d for d in every if d.kind in self.kinds)
        self._gates = _gates(self.detectors) if self.detectors else None

    def spans(self, text: str) -> list[Span]:
        """Every confirmed value in ``text``, in order, none overlapping."""
        if self._gates is None or not text:
            return []
        hits = self._gates.scan(text)
        found: list[Span] = []
        for index, detector in enumerate(self.detectors):
            ends = hits.get(index)
            if ends:
                for start, end in _regions(ends, detector, len(text)):
                    found.extend(detector.find(text, start, end))
        return _resolve(found)

    def may_find(self, text: str) -> bool:
        """False only if ``spans(text)`` and ``spans`` of any part of it are
        surely empty: no gate matches anywhere in ``text``."""
        return self._gates is not None and bool(self._gates.scan(text))

    def spans_unfiltered(self, text: str) -> list[Span]:
        """``spans`` without the gates: every exact pattern over all the text."""
        found = [s for d in self.detectors for s in d.find(text, 0, len(text))]
        return _resolve(found)

    def mask(self, text: str) -> str:
        """``text`` with every confirmed value replaced by its mask."""
        return _apply(text, self.spans(text)) if text else text

    def mask_many(self, texts: Sequence[str]) -> dict[int, str]:
        """Masked versions of the texts that changed, by index.

        Each distinct text is scanned once (a page of records repeats its
        currencies, statuses and payees), and all of them as one string
        joined by NUL, which no pattern crosses: one pass, not one per text.
        """
        if self._gates is None or not texts:
            return {}
        distinct = list(dict.fromkeys(texts))
        changed = self._mask_joined(distinct)
        if not changed:
            return {}
        masked = {distinct[i]: text for i, text in changed.items()}
        return {i: masked[t] for i, t in enumerate(texts) if t in masked}

    def _mask_joined(self, texts: list[str]) -> dict[int, str]:
        joined = "\x00".join(texts)
        if joined.count("\x00") != len(texts) - 1:
            return self._mask_each(texts)
        starts = [0, *itertools.accumulate(len(t) + 1 for t in texts[:-1])]
        by_text: dict[int, list[Span]] = {}
        for span in self.spans(joined):
            index = bisect.bisect_right(starts, span.start) - 1
            base = starts[index]
            if span.end - base > len(texts[index]):
                continue  # crosses a separator: impossible by construction
            local = Span(
                span.start - base, span.end - base, span.kind, span.replacement
            )
            by_text.setdefault(index, []).append(local)
        return {i: _apply(texts[i], spans) for i, spans in by_text.items()}

    def _mask_each(self, texts: Sequence[str]) -> dict[int, str]:
        out = {}
        for i, text in enumerate(texts):
            masked = self.mask(text)
            if masked != text:
                out[i] = masked
        return out


def _regions(
    ends: list[int], detector: Detector, size: int
) -> Iterator[tuple[int, int]]:
    """Merged search regions around the gate matches ending at ``ends``."""
    back, after = detector.reach + detector.before, detector.after
    # Hyperscan reports matches in order of their end, so regions come in
    # order too and each reaches at least as far as the one before.
    start, end = ends[0] - back, ends[0] + after
    for hit in ends:
        if hit - back > end:
            yield max(0, start), min(size, end)
            start = hit - back
        end = hit + after
    yield max(0, start), min(size, end)


def _resolve(found: list[Span]) -> list[Span]:
    if len(found) < 2:
        return found
    # Earlier detectors have priority among spans starting at one place.
    order = {kind: i for i, kind in enumerate(KINDS)}
    found.sort(key=lambda s: (s.start, order[s.kind]))
    kept: list[Span] = []
    for span in found:
        if kept and span.start < kept[-1].end:
            continue
        kept.append(span)
    return kept


class _Gates:
    """The detectors' gates compiled into one Hyperscan database."""

    def __init__(self, detectors: tuple[Detector, ...]) -> None:
        self.database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        flags = [hyperscan.HS_FLAG_CASELESS if d.caseless else 0 for d in detectors]
        self.database.compile(
            expressions=[d.gate for d in detectors],
            ids=list(range(len(detectors))),
            elements=len(detectors),
            flags=flags,
        )
        self._local = threading.local()

    def scan(self, text: str) -> dict[int, list[int]]:
        """End offsets of each detector's gate matches in ``text``."""
        # Non-ASCII characters become "?": every gate is ASCII, and one
        # byte per character keeps Hyperscan's offsets the text's offsets.
        data = text.encode("ascii", "replace")
        hits: dict[int, list[int]] = collections.defaultdict(list)
        self.database.scan(
            data, match_event_handler=_record, context=hits, scratch=self._scratch()
        )
        return hits

    def _scratch(self) -> Any:
        # Scratch space may not be shared by threads (sinks redact in theirs).
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = hyperscan.Scratch(self.database)
        return scratch


def _record(index: int, start: int, end: int, flags: int, hits: Any) -> None:
    hits[index].append(end)


# Databases by their gates: every route's masker of one policy (and every
# reload) shares the compiled database of the same detectors.
_COMPILED: dict[tuple[bytes, ...], _Gates] = {}
_COMPILE_LOCK = threading.Lock()


def _gates(detectors: tuple[Detector, ...]) -> _Gates:
    key = tuple(d.gate + (b"/i" if d.caseless else b"") for d in detectors)
    with _COMPILE_LOCK:
        if key not in _COMPILED:
            _COMPILED[key] = _Gates(detectors)
        return _COMPILED[key]


def _apply(text: str, spans: list[Span]) -> str:
    if not spans:
        return text
    parts = []
    position = 0
    for span in spans:
        parts.append(text[position : span.start])
        parts.append(span.replacement)
        position = span.end
    parts.append(text[position:])
    return "".join(parts)


_REDACTOR: Masker | None = None


def redact(text: str) -> str:
    """``text`` with card numbers, IBANs, national ids and secrets masked.

    What the audit log and every sink call before a value leaves the
    process; it never raises.
    """
    global _REDACTOR
    try:
        if _REDACTOR is None:
            _REDACTOR = Masker()  # compiled on first use, not at import
        return _REDACTOR.mask(text)
    except Exception:  # a log line must never fail a request
        return "[redacted:unmaskable]"
