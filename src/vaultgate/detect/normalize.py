"""Decoding and normalisation: each extracted value to the forms we scan.

How this works.  ``expand`` turns one extracted value into the few
distinct texts worth scanning, cheapest first:

1. the *decoded* form: percent-escapes (``%uXXXX`` and UTF-8 overlongs such
   as ``%c0%af`` included), HTML character references (and the named ones
   that spell punctuation in any letter case, ``&TAB;`` ``&colon;``
   ``&LPar;``, see ``_LENIENT_NAMES``) and JavaScript
   ``\\uXXXX`` / ``\\u{X}`` / ``\\xXX`` escapes, repeated while they change, at
   most ``MAX_DECODE_ROUNDS`` times, then NUL bytes removed.  An attacker
   who encodes twice is decoded twice; one who encodes four times sends a
   value no application decodes either.
2. the *canonical* form, when it differs: Unicode compatibility forms
   (fullwidth ``＜`` becomes ``<``), SQL block comments replaced by a space
   (the body of a MySQL ``/*! ... */`` comment is kept: it executes), and
   every run of whitespace (tabs, line breaks, no-break spaces ...) folded
   into one space.  The decoded form is kept too: CRLF injection needs its
   line breaks.
3. for the whole path, the *path* form: backslashes as slashes, repeated
   slashes folded, dot segments removed (RFC 3986 5.2.4).
4. the *Base64* form, when the value looks like Base64 (or holds a
   ``;base64,`` data URL) and decodes to mostly printable UTF-8 text; it is
   decoded and canonicalised in turn, but never Base64-decoded again.

Case is not folded here: the matcher is caseless and the tokenizers fold
case themselves (``fold``).  Percent-escapes that are not UTF-8 (the
ISO-8859-1 ``Jam%F3n`` of old shops) decode as Latin-1: that is not an
attack by itself.  Most values are plain text and take the fast path: one
regex search, no copy.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
import unicodedata
from operator import itemgetter
from urllib.parse import unquote_to_bytes

from vaultgate.core.paths import remove_dot_segments
from vaultgate.detect.base import Value

# Three rounds: double encoding is a common evasion, triple is the most a
# real chain of proxies and frameworks decodes.  Each round is linear in
# the value's length, so the bound also bounds the cost.
MAX_DECODE_ROUNDS = 3
# Shorter Base64 texts are ordinary words and ids far more often than
# payloads (12 characters carry 9 bytes: "<svg/onload" does not fit).
MIN_BASE64_CHARS = 12
# Down to 8 characters (6 bytes: "\r\nQUIT\r\n" is 11) a value is decoded
# only when every decoded character is printable or a line break: a
# mixed-case word decodes to that by chance about once in 400.
MIN_SHORT_BASE64_CHARS = 8
# Share of printable characters a Base64 decoding needs to be inspected:
# binary data (images, keys, nonces) decodes to noise and is skipped.
MIN_PRINTABLE_SHARE = 0.9
# Past this many characters a value is not Base64-decoded: a large upload
# in Base64 is a file, which this inspection does not parse.
MAX_BASE64_CHARS = 64 * 1024

# Line breaks and spaces that are not ASCII (the canonical form folds them).
_WIDE_SPACES = "\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# Quotation marks that a database's best-fit conversion to a single-byte
# code page turns into "'" (MSSQL, MySQL with some connection charsets):
# typographic quotes, the acute accent and the modifier apostrophe.
_QUOTE_MARKS = "\u2018\u2019\u201a\u201b\u00b4\u02bc\u02b9\u2032"
_ASCII_QUOTES = str.maketrans(dict.fromkeys(_QUOTE_MARKS, "'"))
# Characters a decoding or canonical step would change (with "/*" and
# "*/"); a value without any, in NFKC form, has one form.
_WORK = re.compile("[%&\\\\\x00\t\n\r\x0b\x0c" + _WIDE_SPACES + _QUOTE_MARKS + "]")
_WORK_EXCEPT_LF = re.compile(
    "[%&\\\\\x00\t\r\x0b\x0c" + _WIDE_SPACES + _QUOTE_MARKS + "]"
)
# The ASCII characters of that class, for the substring tests of ASCII text.
_ASCII_WORK = ("%", "&", "\\", "\x00", "\t", "\r", "\x0b", "\x0c")
_TEXT = itemgetter(2)  # a Value's text
_PERCENT_U = re.compile(r"%u([0-9a-fA-F]{4})")
# UTF-8 overlong forms (RFC 3629 section 10): 2-, 3- and 4-byte encodings of
# code points that have a shorter one, e.g. C0 AF for "/".
_OVERLONG = re.compile(
    rb"[\xc0\xc1][\x80-\xbf]|\xe0[\x80-\x9f][\x80-\xbf]|\xf0[\x80-\x8f][\x80-\xbf]{2}"
)
# HTML5 named references an injection uses to hide the characters that
# build a tag, a scheme or a call ("ja&Tab;vascript&colon;", "alert&lpar;1)").
# The standard spells each in one letter case, and browsers decode only
# that one; every case is decoded here, since "ja&tab;vascript:" in a value
# is an attempt whichever decoder it is aimed at and prose never holds one
# (the exact-case name keeps its standard meaning: "&Colon;" is U+2237).  A
# few dozen names, not the 2,231 of the standard: the rest are letters and
# symbols no attack needs.
_LENIENT_NAMES = {
    "tab": "\t", "newline": "\n", "nbsp": "\xa0", "colon": ":", "semi": ";",
    "comma": ",", "period": ".", "lpar": "(", "rpar": ")", "lsqb": "[",
    "rsqb": "]", "lbrack": "[", "rbrack": "]", "lcub": "{", "rcub": "}",
    "lbrace": "{", "rbrace": "}", "sol": "/", "bsol": "\\", "grave": "`",
    "quot": '"', "apos": "'", "lt": "<", "gt": ">", "equals": "=", "excl": "!",
    "quest": "?", "num": "#", "dollar": "$", "percnt": "%", "plus": "+",
    "ast": "*", "midast": "*", "vert": "|", "verbar": "|", "lowbar": "_",
    "commat": "@", "hat": "^",
}  # fmt: skip
# Any short name: one search for a shape, not for an alternation of names
# in every case, which costs several times as much on ordinary text.
_LENIENT_REFERENCE = re.compile(r"&([A-Za-z]{2,7});")
_JS_ESCAPE = re.compile(
    r"\\u\{([0-9a-fA-F]{1,6})\}|\\u([0-9a-fA-F]{4})|\\x([0-9a-fA-F]{2})"
)
# A MySQL executable comment opener, an ordinary block comment, or a stray
# closer (the end of an executable comment).
_SQL_COMMENT = re.compile(r"/\*!\d{0,6}|/\*.*?\*/|\*/", re.S)
_SPACES = re.compile(r"\s+")
# What _SPACES would change: a space that is not " ", or two in a row.
_SPACE_WORK = re.compile(r"[^\S ]| {2}")
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}|[A-Za-z0-9_-]+={0,2}")
# An empty tag inside a word ("o<x>nfocus", "alert<x>(1)"): a filter that
# strips tags joins the word again, so the value is also read without it.
_INNER_TAG = re.compile(r"(?<=\w)<[a-z][a-z0-9]*\s*/?>(?=[\w(])", re.I)
# 8-11 characters of the alphabet ("iPhone15,2" is not Base64 text).
_SHORT_BASE64 = re.compile(r"[A-Za-z0-9+/_-]{8,11}={0,2}")
_DATA_URL = re.compile(r";base64,([A-Za-z0-9+/=_-]{8,})", re.I)


# Values that reach us still form-encoded: cookies and headers are not
# ``+``-decoded by the request model, but PHP, Java and others decode them.
_PLUS_KINDS = frozenset({"cookie", "cookie-name", "header"})


def expand(value: Value, rounds: int = MAX_DECODE_ROUNDS) -> list[Value]:
    """The distinct decoded forms of ``value`` worth scanning."""
    text = value.text
    if not text:
        return []
    if _plain(text, value.kind):
        forms = [text]
        if value.kind == "path":
            _add(forms, path_form(text))
    else:
        forms = _forms(text, value.kind, rounds)
    encoded = _base64_text(text)
    if encoded is None and forms and forms[0] is not text:
        # Base64 sent escaped ("%3D" padding, "\u0058..." in a cookie).
        encoded = _base64_text(forms[0])
    if encoded is not None:
        for form in _forms(encoded, value.kind, rounds):
            _add(forms, form)
    if len(forms) == 1 and forms[0] is text:
        return [value]
    # A value that decodes to nothing ("%00") has no form to scan.
    return [Value(value.kind, value.name, form) for form in forms]


def _plain(text: str, kind: str) -> bool:
    """True when no decoding or canonical step would change ``text``."""
    if _WORK.search(text) is not None:
        return False
    if not text.isascii() and not unicodedata.is_normalized("NFKC", text):
        return False
    if "/*" in text or "*/" in text:
        return False
    if "<" in text and _INNER_TAG.search(text) is not None:
        return False
    return "+" not in text or kind not in _PLUS_KINDS


def expand_all(values: list[Value], rounds: int = MAX_DECODE_ROUNDS) -> list[Value]:
    """Every decoded form of every value, in order."""
    if not values:
        return []
    # One look at all the text at once: when nothing in it needs decoding
    # (and no value holds a line break of its own), each value is plain and
    # only the per-kind steps and Base64 candidates remain.
    plain = _all_plain(list(map(_TEXT, values)))
    out: list[Value] = []
    append = out.append
    for value in values:
        kind, _, text = value
        if not text:
            continue
        # The cheapest tests of ``not_base64`` first, inline: this loop runs
        # for every value of every request.
        if (
            (kind != "path" or (plain and _resolved(text)))
            and (plain or _plain(text, kind))
            and ("+" not in text or kind not in _PLUS_KINDS)
            and (
                len(text) < MIN_SHORT_BASE64_CHARS
                or text.islower()
                or text.isupper()
                or (" " in text and text.count(" ") > len(text) // 24)
                or not_base64(text)
            )
        ):
            append(value)
        else:
            out.extend(expand(value, rounds))
    return out


def _all_plain(texts: list[str]) -> bool:
    """True when no decoding or canonical step would change any of ``texts``.

    Line breaks are the separator here, so a text holding one of its own
    makes the answer False; a "+" is left to the per-kind test.
    """
    joined = "\n".join(texts)
    if joined.isascii():
        # Substring tests are several times faster than the class search.
        for char in _ASCII_WORK:
            if char in joined:
                return False
    elif _WORK_EXCEPT_LF.search(joined) is not None or not unicodedata.is_normalized(
        "NFKC", joined
    ):
        return False
    return (
        joined.count("\n") == len(texts) - 1
        and "/*" not in joined
        and "*/" not in joined
        and ("<" not in joined or _INNER_TAG.search(joined) is None)
    )


def not_base64(text: str) -> bool:
    """Cheap certainty that ``text`` is not Base64 worth decoding."""
    if len(text) < MIN_SHORT_BASE64_CHARS:
        return True
    if text.isdigit() or text.islower() or text.isupper():
        return True
    if len(text) < MIN_BASE64_CHARS:
        # Both cases ("2024-04-02" has neither), then only the alphabet.
        mixed = text.lower() != text and text.upper() != text
        return not mixed or _SHORT_BASE64.fullmatch(text) is None
    return " " in text and text.count(" ") > len(text) // 24


def _forms(text: str, kind: str, rounds: int) -> list[str]:
    decoded = decode(text, rounds, plus=kind in _PLUS_KINDS)
    forms: list[str] = []
    _add(forms, decoded)
    _add(forms, canonical(decoded))
    if "<" in decoded:
        _add(forms, _INNER_TAG.sub("", forms[-1] if forms else decoded))
    if kind == "path":
        _add(forms, path_form(decoded))
    return forms


def _add(forms: list[str], form: str) -> None:
    if form and form not in forms:
        forms.append(form)


def decode(text: str, rounds: int = MAX_DECODE_ROUNDS, plus: bool = False) -> str:
    """Undo percent, HTML and JavaScript escapes, at most ``rounds`` times."""
    if plus and "+" in text:
        text = text.replace("+", " ")
    for _ in range(rounds):
        before = text
        if "%" in text:
            text = percent_decode(text)
        if "&" in text:
            text = html.unescape(text)
            if "&" in text:
                text = _lenient_references(text)
        if "\\u" in text or "\\x" in text:
            text = _JS_ESCAPE.sub(_js_char, text)
        if text == before:
            break
    return text.replace("\x00", "") if "\x00" in text else text


def _lenient_references(text: str) -> str:
    """``&TAB;``, ``&colon;`` ... left by ``html.unescape``, decoded anyway.

    Run after it, so that a name the standard spells in this case keeps its
    meaning ("&Colon;" is U+2237), and so that ordinary text, whose
    references are all standard, costs one search for "&".
    """
    if ";" not in text or _LENIENT_REFERENCE.search(text) is None:
        return text
    return _LENIENT_REFERENCE.sub(_lenient_char, text)


def _lenient_char(match: re.Match[str]) -> str:
    return _LENIENT_NAMES.get(match.group(1).lower(), match.group())


def percent_decode(text: str) -> str:
    """Decode ``%XX`` and ``%uXXXX``; overlong UTF-8 becomes its character."""
    if "%u" in text or "%U" in text:
        text = _PERCENT_U.sub(lambda m: _char(int(m.group(1), 16)), text)
    # Encoded here, not by unquote_to_bytes: a lone surrogate that an earlier
    # round decoded ("%ED%A0%80") must not make the next round fail.
    raw = unquote_to_bytes(text.encode("utf-8", "surrogatepass"))
    if not raw.isascii():
        raw = _OVERLONG.sub(_overlong, raw)
    try:
        return raw.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        # ISO-8859-1 escapes of legacy clients; every byte is a character.
        return raw.decode("latin-1")


def _overlong(match: re.Match[bytes]) -> bytes:
    data = match.group(0)
    if len(data) == 2:
        point = ((data[0] & 0x1F) << 6) | (data[1] & 0x3F)
    elif len(data) == 3:
        point = ((data[0] & 0x0F) << 12) | ((data[1] & 0x3F) << 6) | (data[2] & 0x3F)
    else:
        point = ((data[1] & 0x3F) << 12) | ((data[2] & 0x3F) << 6) | (data[3] & 0x3F)
    return _char(point).encode("utf-8", "surrogatepass")


def _js_char(match: re.Match[str]) -> str:
    digits = match.group(1) or match.group(2) or match.group(3)
    return _char(int(digits, 16))


def _char(point: int) -> str:
    return chr(point) if point <= 0x10FFFF else "\ufffd"


def canonical(text: str) -> str:
    """Compatibility forms folded, SQL comments and whitespace runs to a space."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text.translate(_ASCII_QUOTES))
    if "/*" in text or "*/" in text:
        text = _SQL_COMMENT.sub(" ", text)
    return _SPACES.sub(" ", text) if _SPACE_WORK.search(text) else text


def path_form(path: str) -> str:
    """Backslashes as slashes, repeated slashes folded, dot segments removed."""
    if _resolved(path):
        return path
    return remove_dot_segments(path.replace("\\", "/"))


def _resolved(path: str) -> bool:
    """True when ``path_form`` would leave ``path`` as it is."""
    return "\\" not in path and "//" not in path and "/." not in path


def fold(text: str) -> str:
    """The canonical form in lower case, for the tokenizers."""
    return canonical(text).lower()


def _base64_text(text: str) -> str | None:
    """The printable text a Base64-looking value (or data URL) decodes to."""
    if len(text) < MIN_SHORT_BASE64_CHARS or len(text) > MAX_BASE64_CHARS:
        return None
    if not_base64(text):
        # Ids, hex digests, IBANs, words and prose: Base64 of text mixes
        # cases and has no spaces (bar a "+" turned into one).
        return None
    if " " in text:
        # A "+" of Base64 sent unescaped in a query became a space; prose
        # has a space every few characters, Base64 a "+" every 64 or so.
        text = text.replace(" ", "+")
    if _BASE64.fullmatch(text) is None:
        match = _DATA_URL.search(text)
        if match is None:
            return None
        text = match.group(1)
    body = text.rstrip("=")
    if len(body) % 4 == 1:
        return None
    padded = body + "=" * (-len(body) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"))
    except (binascii.Error, ValueError):
        return None
    share = MIN_PRINTABLE_SHARE if len(text) >= MIN_BASE64_CHARS else 1.0
    return _printable(raw, share)


def _printable(raw: bytes, share: float) -> str | None:
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not decoded:
        return None
    good = sum(ch.isprintable() or ch in "\t\r\n" for ch in decoded)
    return decoded if good >= share * len(decoded) else None
