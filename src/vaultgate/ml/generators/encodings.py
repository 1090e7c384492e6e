"""Encodings and evasions an attacker wraps a payload in, and their mix.

Each function takes the payload and a ``random.Random`` and returns the
text as the client would send it.  ``evade`` picks a realistic chain: most
payloads go out plain or URL-encoded once, fewer twice, some with case
games, SQL comments for spaces, HTML or JavaScript escapes, Base64, or
fullwidth characters.  The model is trained on what extraction and the
decoder (``detect.normalize``) make of these, like the proxy sees them.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Callable
from urllib.parse import quote

Encoder = Callable[[str, random.Random], str]


def plain(text: str, rng: random.Random) -> str:
    return text


def url_once(text: str, rng: random.Random) -> str:
    return quote(text, safe=rng.choice(("", "/", "=&", "()")))


def url_twice(text: str, rng: random.Random) -> str:
    return quote(quote(text, safe=""), safe="")


def url_partial(text: str, rng: random.Random) -> str:
    """Only the characters a filter looks for, percent-encoded."""
    special = set("'\"<>()=;|&`$%{}[]/\\ \n\r")
    return "".join(
        f"%{ord(c):02X}" if c in special and c.isascii() else c for c in text
    )


def unicode_percent(text: str, rng: random.Random) -> str:
    """IIS-style ``%uXXXX`` for the special characters."""
    return "".join(f"%u{ord(c):04X}" if c in "'\"<>()/;" else c for c in text)


def random_case(text: str, rng: random.Random) -> str:
    return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in text)


def sql_comments(text: str, rng: random.Random) -> str:
    return text.replace(" ", rng.choice(("/**/", "/*x*/", "/*!*/", "%09", "\t")))


def odd_spaces(text: str, rng: random.Random) -> str:
    return text.replace(" ", rng.choice(("\t", "\n", "+", "%0a", "%0b", "  ")))


def html_entities(text: str, rng: random.Random) -> str:
    hexa = rng.random() < 0.5
    out = []
    for char in text:
        if char in "<>\"'()=:;/" or rng.random() < 0.1:
            out.append(f"&#x{ord(char):x};" if hexa else f"&#{ord(char)};")
        else:
            out.append(char)
    return "".join(out)


def js_escapes(text: str, rng: random.Random) -> str:
    form = rng.choice(("\\u{:04x}", "\\x{:02x}"))
    return "".join(form.format(ord(c)) if c in "<>\"'()" else c for c in text)


def base64_whole(text: str, rng: random.Random) -> str:
    encoded = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return encoded.rstrip("=") if rng.random() < 0.3 else encoded


def fullwidth(text: str, rng: random.Random) -> str:
    """Fullwidth forms of ASCII punctuation (NFKC folds them back)."""
    return "".join(chr(ord(c) + 0xFEE0) if c in "<>'\"()" else c for c in text)


def nul_padding(text: str, rng: random.Random) -> str:
    at = rng.randrange(len(text) + 1)
    return text[:at] + "%00" + text[at:]


# (encoder, weight): plain and single URL encoding dominate real traffic.
EVASIONS: tuple[tuple[Encoder, int], ...] = (
    (plain, 30),
    (url_once, 14),
    (url_twice, 5),
    (url_partial, 6),
    (unicode_percent, 2),
    (random_case, 8),
    (sql_comments, 4),
    (odd_spaces, 5),
    (html_entities, 4),
    (js_escapes, 3),
    (base64_whole, 4),
    (fullwidth, 2),
    (nul_padding, 2),
)
_ENCODERS = [encoder for encoder, _ in EVASIONS]
_WEIGHTS = [weight for _, weight in EVASIONS]
# Case and spacing games come before the transport encodings.
_FIRST = frozenset({random_case, sql_comments, odd_spaces, fullwidth})


def evade(text: str, rng: random.Random) -> str:
    """The payload under one or two evasions, in a plausible order."""
    chain = rng.choices(_ENCODERS, _WEIGHTS, k=1 if rng.random() < 0.75 else 2)
    chain.sort(key=lambda encoder: encoder not in _FIRST)
    for encoder in chain:
        text = encoder(text, rng)
    return text
