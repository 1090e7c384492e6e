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
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from vaultgate.core.nationalid import DEFAULT_COUNTRIES, IdFormat, formats_for


@dataclass(frozen=True, slots=True)
class Span:
    """A confirmed sensitive value: where it is and what replaces it."""

    start: int
    end: int
    kind: str
    replacement: str


Finder = Callable[[str], Iterator[Span]]

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


def _find_cards(text: str) -> Iterator[Span]:
    for match in _CARD.finditer(text):
        if _card_digits(match) is not None:
            yield Span(match.start(), match.end(), "card_number", _keep_last(match[0]))


def _keep_last(text: str, keep: int = 4) -> str:
    """Replace every letter or digit but the last ``keep`` with ``*``."""
    out = list(text)
    seen = 0
    for i in range(len(out) - 1, -1, -1):
        if out[i].isalnum():
            seen += 1
            if seen > keep:
                out[i] = "*"
    return "".join(out)


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


def iban_valid(text: str) -> bool:
    """Whether ``text`` (spaces allowed) is an IBAN of the right length and sum."""
    compact = text.replace(" ", "").upper()
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact.isalnum():
        return False
    if not compact[2:4].isdigit():
        return False
    moved = compact[4:] + compact[:4]
    # Letters count as 10..35 (ISO 7064 MOD 97-10).
    number = "".join(str(int(ch, 36)) for ch in moved)
    return int(number) % 97 == 1


def _find_ibans(text: str) -> Iterator[Span]:
    for match in _IBAN.finditer(text):
        candidate = match[0]
        length = IBAN_LENGTHS.get(candidate[:2])
        if length is None:
            continue
        end = _nth_alnum_end(candidate, length)
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


def _id_finder(formats: tuple[IdFormat, ...]) -> Finder:
    def find(text: str) -> Iterator[Span]:
        for fmt in formats:
            for match in fmt.pattern.finditer(text):
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
    r"|whsec_[A-Za-z0-9+/=]{24,}"  # Stripe webhook signing secret
    r"|gh[pousr]_[A-Za-z0-9]{36,251}"  # GitHub tokens
    r"|github_pat_[A-Za-z0-9_]{22,255}"  # GitHub fine-grained token
    r"|glpat-[A-Za-z0-9_\-]{20,}"  # GitLab personal token
    r"|xox[abposr]-[A-Za-z0-9\-]{10,250}"  # Slack tokens
    r"|AIza[A-Za-z0-9_\-]{35}"  # Google API key
    r"|SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}"  # SendGrid
    r")(?![A-Za-z0-9])"
)
# An AWS secret key is 40 characters of base64 with no prefix; it is only
# recognisable next to its name.
_AWS_SECRET = re.compile(
    r"(?i)aws_?secret_?(?:access_?)?key[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9/+=]{40})"
    r"(?![A-Za-z0-9/+=])"
)
_JWT = re.compile(
    r"(?<![A-Za-z0-9_\-])eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}"
    r"\.[A-Za-z0-9_\-]*"
)
_AUTH_SCHEME = re.compile(r"(?i)\b(?:bearer|basic)\s+([A-Za-z0-9\-._~+/]{8,}=*)")
_CREDENTIAL_HEADER = re.compile(
    r"(?im)^[ \t]*(?:proxy-)?(?:authorization|cookie|set-cookie|x-api-key|api-key)"
    r"[ \t]*:[ \t]*([^\r\n\x00]+)"
)
_CREDENTIAL_FIELD = re.compile(
    r"(?i)([\"']?)\b(?:password|passwd|pwd|secret|client_secret|api_?key"
    r"|access_token|refresh_token|id_token|private_key|token)\1\s*[:=]\s*"
    r"(?:\"((?:[^\"\\\x00]|\\.)*)\"|'([^'\x00]*)'|([^\s&,;}\"'\x00]+))"
)
_URL_PASSWORD = re.compile(r"(?i)\b[a-z][a-z0-9+.\-]*://[^\s/:@\x00]+:([^\s/@\x00]+)@")


def _whole(pattern: re.Pattern[str], kind: str) -> Finder:
    replacement = f"[redacted:{kind}]"

    def find(text: str) -> Iterator[Span]:
        for match in pattern.finditer(text):
            yield Span(match.start(), match.end(), kind, replacement)

    return find


def _groups(pattern: re.Pattern[str], kind: str, groups: tuple[int, ...]) -> Finder:
    """Mask only the value groups of each match (the name stays readable)."""

    def find(text: str) -> Iterator[Span]:
        for match in pattern.finditer(text):
            for group in groups:
                start, end = match.span(group)
                if end > start >= 0:
                    yield Span(start, end, kind, "[redacted]")

    return find


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
    """Masks the configured kinds of sensitive value in text."""

    def __init__(
        self,
        kinds: Iterable[str] = KINDS,
        countries: Sequence[str] = DEFAULT_COUNTRIES,
    ) -> None:
        self.kinds = expand_kinds(kinds)
        self.countries = tuple(countries)
        finders = _finders(formats_for(self.countries))
        self._finders = tuple(finders[k] for k in KINDS if k in self.kinds)

    def spans(self, text: str) -> list[Span]:
        """Every confirmed value in ``text``, in order, none overlapping."""
        found = [span for find in self._finders for span in find(text)]
        if len(found) < 2:
            return found
        # A stable sort keeps priority order among spans at one position.
        found.sort(key=lambda s: s.start)
        kept: list[Span] = []
        for span in found:
            if kept and span.start < kept[-1].end:
                continue
            kept.append(span)
        return kept

    def mask(self, text: str) -> str:
        """``text`` with every confirmed value replaced by its mask."""
        if not self._finders or not text:
            return text
        return _apply(text, self.spans(text))

    def mask_many(self, texts: Sequence[str]) -> dict[int, str]:
        """Masked versions of the texts that changed, by index.

        The texts are scanned as one string joined by NUL, which no pattern
        crosses: one regex pass per kind instead of one per text.
        """
        if not self._finders or not texts:
            return {}
        joined = "\x00".join(texts)
        if joined.count("\x00") != len(texts) - 1:
            return self._mask_each(texts)
        starts = list(_offsets(texts))
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


def _finders(formats: tuple[IdFormat, ...]) -> dict[str, Finder]:
    secrets = (_whole(_API_KEY, "api_key"), _groups(_AWS_SECRET, "api_key", (1,)))
    credentials = (
        _groups(_CREDENTIAL_HEADER, "credential", (1,)),
        _groups(_AUTH_SCHEME, "credential", (1,)),
        _groups(_CREDENTIAL_FIELD, "credential", (2, 3, 4)),
        _groups(_URL_PASSWORD, "credential", (1,)),
    )
    return {
        "private_key": _whole(_PRIVATE_KEY, "private_key"),
        "jwt": _whole(_JWT, "jwt"),
        "api_key": _chain(secrets),
        "credential": _chain(credentials),
        "iban": _find_ibans,
        "card_number": _find_cards,
        "national_id": _id_finder(formats),
    }


def _chain(finders: tuple[Finder, ...]) -> Finder:
    def find(text: str) -> Iterator[Span]:
        for finder in finders:
            yield from finder(text)

    return find


def _offsets(texts: Sequence[str]) -> Iterator[int]:
    position = 0
    for text in texts:
        yield position
        position += len(text) + 1


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


_REDACTOR = Masker()


def redact(text: str) -> str:
    """``text`` with card numbers, IBANs, national ids and secrets masked.

    What the audit log and every sink call before a value leaves the
    process; it never raises.
    """
    try:
        return _REDACTOR.mask(text)
    except Exception:  # a log line must never fail a request
        return "[redacted:unmaskable]"
