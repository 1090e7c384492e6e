"""National identity numbers by country: a pattern and a check for each.

How this works: every country entry pairs a candidate pattern (the number's
printed shape, with the separators people use) with a validator.  Where
the format has a check digit or letter (ES DNI/NIE, FR NIR, DE Steuer-ID,
IT codice fiscale) the validator computes it, so a random number of the
right shape passes only by a one-in-23-to-97 chance.  Formats without one
(US SSN, UK NINO) are held to the issuer's published allocation rules and
to their printed separators, never to a bare run of digits.  Each format
also has a ``gate``: a Hyperscan pattern without look-arounds that every
candidate contains, which ``core.masking`` uses to skip text quickly.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class IdFormat:
    """One country's national id: where it may be, and how it is checked."""

    country: str
    name: str
    pattern: re.Pattern[str]
    valid: Callable[[re.Match[str]], bool]
    gate: bytes  # contained in every candidate; no look-arounds
    reach: int  # the longest text ``gate`` matches


# -- US: Social Security Number ---------------------------------------------

# Printed with dashes (or spaces) only: nine bare digits are too often
# something else (a phone number without its area code, an order id).
_SSN = re.compile(r"(?<![\w-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\w-]|[.,]\d)", re.ASCII)


def _ssn_valid(match: re.Match[str]) -> bool:
    # SSA rules: area 000, 666 and 900-999 are never issued; group 00 and
    # serial 0000 neither.
    area, group, serial = match.group(1), match.group(3), match.group(4)
    if area in ("000", "666") or area[0] == "9":
        return False
    return group != "00" and serial != "0000"


# -- UK: National Insurance number ------------------------------------------

_NINO = re.compile(
    r"(?<![A-Za-z0-9])"
    r"([A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]) ?(\d{2}) ?(\d{2}) ?(\d{2}) ?([A-D])"
    r"(?![A-Za-z0-9])",
    re.ASCII,
)
# HMRC never allocates these prefixes (some are administrative, some would
# read as country codes).
_NINO_BANNED = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})


def _nino_valid(match: re.Match[str]) -> bool:
    return match.group(1) not in _NINO_BANNED


# -- ES: DNI and NIE -----------------------------------------------------------

_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
_DNI = re.compile(
    r"(?<![A-Za-z0-9])([XYZ]-?)?(\d{7,8})-?([A-Z])(?![A-Za-z0-9])", re.ASCII
)


def _dni_valid(match: re.Match[str]) -> bool:
    prefix, digits, letter = match.group(1), match.group(2), match.group(3)
    if prefix:
        # NIE: X, Y, Z stand for 0, 1, 2 in front of seven digits.
        if len(digits) != 7:
            return False
        digits = str("XYZ".index(prefix[0])) + digits
    elif len(digits) != 8:
        return False
    return _DNI_LETTERS[int(digits) % 23] == letter


# -- FR: NIR (numéro de sécurité sociale) ----------------------------------

_NIR = re.compile(
    r"(?<![\w.+])([1-478]) ?(\d{2}) ?(0[1-9]|1[0-2]|[2-9]\d) ?(\d{2}|2[AB]) ?"
    r"(\d{3}) ?(\d{3}) ?(\d{2})(?!\w|[.,]\d)",
    re.ASCII,
)


def _nir_valid(match: re.Match[str]) -> bool:
    sex, year, month, dept, town, order, key = match.groups()
    # Corsica's departments 2A and 2B count as 19 and 18 in the key.
    dept = {"2A": "19", "2B": "18"}.get(dept, dept)
    body = int(sex + year + month + dept + town + order)
    return 97 - body % 97 == int(key)


# -- DE: Steuerliche Identifikationsnummer ---------------------------------

_STEUER_ID = re.compile(r"(?<![\w.+])([1-9]\d{10})(?!\w|[.,]\d)", re.ASCII)


def _steuer_id_valid(match: re.Match[str]) -> bool:
    digits = match.group(1)
    # In the first ten digits exactly one digit repeats (twice or three
    # times), every other appears at most once.
    counts = [digits[:10].count(d) for d in set(digits[:10])]
    repeated = [c for c in counts if c > 1]
    if len(repeated) != 1 or repeated[0] > 3:
        return False
    return _iso7064_mod11_10(digits[:10]) == int(digits[10])


def _iso7064_mod11_10(digits: str) -> int:
    product = 10
    for ch in digits:
        total = (int(ch) + product) % 10 or 10
        product = (2 * total) % 11
    check = 11 - product
    return 0 if check == 10 else check


# -- IT: codice fiscale --------------------------------------------------------

_CF = re.compile(
    r"(?<![A-Za-z0-9])([A-Z]{6}\d{2}[ABCDEHLMPRST][0-7]\d[A-Z]\d{3})([A-Z])"
    r"(?![A-Za-z0-9])",
    re.ASCII,
)
# The check letter weighs characters in odd positions (1st, 3rd ...) by
# this table and those in even positions by their plain value.
# Digits weigh as the letter of the same rank (0 as A, 1 as B ...).
_CF_ODD_LETTERS: tuple[int, ...] = (1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18)
_CF_ODD_LETTERS += (20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23)
_CF_ODD = {chr(65 + i): v for i, v in enumerate(_CF_ODD_LETTERS)}
_CF_ODD.update({str(i): _CF_ODD_LETTERS[i] for i in range(10)})


def _cf_value_even(ch: str) -> int:
    return int(ch) if ch.isdigit() else ord(ch) - 65


def _cf_valid(match: re.Match[str]) -> bool:
    body, check = match.group(1), match.group(2)
    total = sum(
        _CF_ODD[ch] if i % 2 == 0 else _cf_value_even(ch) for i, ch in enumerate(body)
    )
    return chr(65 + total % 26) == check


FORMATS: dict[str, tuple[IdFormat, ...]] = {
    "US": (IdFormat("US", "ssn", _SSN, _ssn_valid, rb"\d{3}[- ]\d{2}[- ]\d{4}", 11),),
    "GB": (
        IdFormat(
            "GB",
            "nino",
            _NINO,
            _nino_valid,
            rb"[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]",
            13,
        ),
    ),
    "ES": (IdFormat("ES", "dni", _DNI, _dni_valid, rb"\d{7}-?[A-Z]", 9),),
    "FR": (
        IdFormat(
            "FR",
            "nir",
            _NIR,
            _nir_valid,
            rb"\d ?\d{2} ?\d{2} ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}",
            21,
        ),
    ),
    "DE": (IdFormat("DE", "steuer_id", _STEUER_ID, _steuer_id_valid, rb"\d{11}", 11),),
    "IT": (
        IdFormat(
            "IT",
            "codice_fiscale",
            _CF,
            _cf_valid,
            rb"[A-Z]{6}\d{2}[A-Z]\d{2}[A-Z]\d{3}[A-Z]",
            16,
        ),
    ),
}
# DE is left out by default: its id is eleven bare digits, so only the
# check digit tells it from other numbers; enable it where Germans are.
DEFAULT_COUNTRIES = ("US", "GB", "ES", "FR", "IT")


def formats_for(countries: tuple[str, ...]) -> tuple[IdFormat, ...]:
    """The id formats of ``countries``; an unknown code raises ValueError."""
    out: list[IdFormat] = []
    for code in countries:
        if code not in FORMATS:
            known = ", ".join(sorted(FORMATS))
            raise ValueError(f"a country code among {known}")
        out.extend(FORMATS[code])
    return tuple(out)
