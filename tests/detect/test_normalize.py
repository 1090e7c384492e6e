"""Decoding and normalisation: the forms a value is scanned in."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vaultgate.detect.base import Value
from vaultgate.detect.normalize import (
    MAX_DECODE_ROUNDS,
    canonical,
    decode,
    expand,
    expand_all,
    fold,
    path_form,
)


def forms(text: str, kind: str = "query") -> list[str]:
    return [value.text for value in expand(Value(kind, "q", text))]


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ("%27%20or%201%3D1", "' or 1=1"),
        ("%2527", "'"),  # double encoding
        ("%252527", "'"),  # triple: the most we decode
        ("%u003cscript%u003e", "<script>"),
        ("%c0%af..%c0%ae", "/..."),  # UTF-8 overlongs
        ("%e0%80%af", "/"),
        ("&lt;svg&gt;", "<svg>"),
        ("&#x3c;&#60;&#0000060", "<<<"),
        ("\\u003cscript\\u003e", "<script>"),
        ("\\x3cscript\\x3e", "<script>"),
        ("\\u{3c}b", "<b"),
        ("a\x00b", "ab"),
        ("Jam%F3n", "Jamón"),  # ISO-8859-1 escapes of old shops
        ("%26lt%3Bb%26gt%3B", "<b>"),  # percent, then HTML
        # Named references that spell punctuation, in any letter case.
        ("ja&Tab;vascript&colon;", "ja\tvascript:"),
        ("ja&tab;vascript:", "ja\tvascript:"),
        ("v&newline;b&TAB;script&Colon;", "v\nb\tscript\u2237"),  # exact case: U+2237
        ("alert&LPAR;1&rpar;", "alert(1)"),
        ("&lt;img src&equals;x&sol;&gt;", "<img src=x/>"),
        ("ja%26tab%3Bvascript%3A", "ja\tvascript:"),  # percent, then the reference
        ("&amp;newline;", "\n"),  # the &amp; first, then the name
        ("R&D; Tab & co", "R&D; Tab & co"),
        ("&tab without a semicolon", "&tab without a semicolon"),
        ("100%", "100%"),
        ("50% off & more", "50% off & more"),
    ],
)
def test_decoding(raw: str, decoded: str) -> None:
    assert decode(raw) == decoded


def test_rounds_are_bounded() -> None:
    four = "%25252527"
    assert decode(four, MAX_DECODE_ROUNDS) == "%27"
    assert decode(four, 4) == "'"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("plain text", ["plain text"]),
        (
            "a/**/union/*!50000select*/b",
            ["a/**/union/*!50000select*/b", "a union select b"],
        ),
        ("ＳＥＬＥＣＴ＜", ["ＳＥＬＥＣＴ＜", "SELECT<"]),
        ("tab\there", ["tab\there", "tab here"]),
        ("%3Cb%3E", ["<b>"]),
        (
            "PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
            ["PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", "<script>alert(1)</script>"],
        ),
        # A "+" of Base64 sent unescaped in a query arrives as a space.
        (
            "PGltZyBzcmM9eCBvbmVycm9yPWFsZXJ0KDEpIC8 L2E",
            [
                "PGltZyBzcmM9eCBvbmVycm9yPWFsZXJ0KDEpIC8 L2E",
                "<img src=x onerror=alert(1) />/a",
            ],
        ),
        # Base64 that arrives escaped is decoded after the escapes.
        (
            "PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg%3D%3D",
            ["PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", "<script>alert(1)</script>"],
        ),
        (
            "\\u0058\\u0079QkTkRfRlVOQyQkX2Z1bmN0aW9uKCkK",
            [
                "XyQkTkRfRlVOQyQkX2Z1bmN0aW9uKCkK",
                "_$$ND_FUNC$$_function()\n",
                "_$$ND_FUNC$$_function() ",
            ],
        ),
        ("%00%00", []),  # decodes to nothing: no form to scan
        # An empty tag inside a word is also read without it.
        ("o<x>nfocus=alert<x>(1)", ["o<x>nfocus=alert<x>(1)", "onfocus=alert(1)"]),
        ("List<String> x", ["List<String> x"]),
        # Short Base64 is decoded only when all of it decodes to text.
        ("DQpRVUlUDQo", ["DQpRVUlUDQo", "\r\nQUIT\r\n", " QUIT "]),
        ("JohnSmith", ["JohnSmith"]),
        ("iPhone12", ["iPhone12"]),
        ("PHN2Zz4", ["PHN2Zz4"]),  # 7 characters: too short
        (
            "O\u2019Reilly \u00b4x\u00b4",
            ["O\u2019Reilly \u00b4x\u00b4", "O'Reilly 'x'"],
        ),
        ("deadbeefdeadbeef", ["deadbeefdeadbeef"]),  # hex id: not Base64 text
        ("DE89370400440532013000", ["DE89370400440532013000"]),  # an IBAN
    ],
)
def test_forms(raw: str, expected: list[str]) -> None:
    assert forms(raw) == expected


def test_path_values_get_a_resolved_form() -> None:
    assert forms("/a/b/../../etc//passwd", "path") == [
        "/a/b/../../etc//passwd",
        "/etc/passwd",
    ]
    assert forms("/a\\..\\..\\windows", "path")[-1] == "/windows"


def test_cookies_and_headers_decode_plus() -> None:
    assert forms("1'+or+'1'='1", "cookie") == ["1' or '1'='1"]
    assert forms("1'+or+'1'='1", "json") == ["1'+or+'1'='1"]


def test_expand_all_keeps_order_and_drops_empty_values() -> None:
    values = [
        Value("query", "a", "x"),
        Value("query", "b", ""),
        Value("query", "c", "%3C"),
    ]
    assert [(v.name, v.text) for v in expand_all(values)] == [("a", "x"), ("c", "<")]


# -- properties ---------------------------------------------------------------------

_ENCODED = st.text(
    alphabet=st.sampled_from(
        list("%&#;\\ux0123456789abcdefABCDEF+/=<>'\"*- \t\n\x00é＜")
    )
    | st.characters(),
    max_size=80,
)
_KINDS = st.sampled_from(["query", "json", "cookie", "header", "path", "body"])


@settings(max_examples=500, deadline=None)
@given(_ENCODED, _KINDS)
def test_expand_never_fails_and_gives_distinct_non_empty_forms(
    text: str, kind: str
) -> None:
    found = forms(text, kind)
    assert all(found)
    assert len(found) == len(set(found))
    assert len(found) <= 6  # decoded, canonical, path, and their Base64 pair


@settings(max_examples=300, deadline=None)
@given(_ENCODED)
def test_canonical_path_and_fold_are_idempotent(text: str) -> None:
    assert canonical(canonical(text)) == canonical(text)
    assert path_form(path_form(text)) == path_form(text)
    assert fold(fold(text)) == fold(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="%&\\\x00"), max_size=60))
def test_text_without_escapes_is_left_alone(text: str) -> None:
    assert decode(text) == text


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=st.characters(
            blacklist_characters="%&\\\x00", blacklist_categories=("Cs",)
        ),
        max_size=60,
    )
)
def test_one_round_of_percent_encoding_is_undone(text: str) -> None:
    assert decode(quote(text, safe="")) == text


# Named references in all-lower or all-upper case (neither is another
# standard name with a different meaning) decode to their character.
_REFERENCE_CHARS = {
    "tab": "\t", "newline": "\n", "colon": ":", "lpar": "(", "rpar": ")",
    "sol": "/", "grave": "`", "quot": '"', "apos": "'", "lt": "<", "gt": ">",
    "equals": "=", "semi": ";", "excl": "!", "lsqb": "[", "rcub": "}",
}  # fmt: skip
_PIECE = st.one_of(
    st.sampled_from(sorted(_REFERENCE_CHARS)).flatmap(
        lambda name: st.sampled_from([name, name.upper()])
    ),
    st.text(alphabet="ghijklmnopqrstvwyz ;#", max_size=4).map(lambda t: "=" + t),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECE, max_size=12))
def test_named_references_decode_in_any_case(pieces: list[str]) -> None:
    raw = "".join(p[1:] if p[0] == "=" else f"&{p};" for p in pieces)
    plain = "".join(
        p[1:] if p[0] == "=" else _REFERENCE_CHARS[p.lower()] for p in pieces
    )
    assert decode(raw) == plain


# The fast path of expand_all (one look at all the text, cheap Base64 tests)
# must give what expanding each value on its own gives.
_PLAINISH = st.text(
    alphabet=st.sampled_from(list("aZ09 +/=_-.,'%&\\\t\n\x00<>*é\u00a0\u2019ＡxY")),
    max_size=40,
)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(_KINDS, _PLAINISH), max_size=6))
def test_expand_all_is_expand_of_each_value(pairs: list[tuple[str, str]]) -> None:
    values = [Value(kind, str(i), text) for i, (kind, text) in enumerate(pairs)]
    one_by_one = [form for value in values for form in expand(value)]
    assert expand_all(values) == one_by_one


@pytest.mark.parametrize(
    "text",
    [
        "dW5pb24gc2VsZWN0IDEsMiwz",  # Base64 among plain values
        "PHN2Zy9vbmxvYWQ9YWxlcnQoMSk+",
        "MSB1bmlvbiBzZWxlY3QgMSwyLDMtLSA Pw==",  # a "+" that became a space
        "Anne O'Reilly",
        "2024-04-02",
        "iPhone15,2",
        "Rent for March and April",
    ],
)
def test_expand_all_decodes_base64_next_to_plain_values(text: str) -> None:
    values = [Value("json", "$.a", "plain"), Value("json", "$.b", text)]
    assert expand_all(values) == [values[0], *expand(values[1])]


@settings(max_examples=300, deadline=None)
@given(_ENCODED)
def test_canonical_leaves_only_single_spaces(text: str) -> None:
    # canonical skips its whitespace pass when it would change nothing, so
    # what it returns still has only single ASCII spaces.
    out = canonical(text)
    assert "  " not in out
    assert all(char == " " or not char.isspace() for char in out)


def test_a_decoded_lone_surrogate_does_not_stop_the_next_round() -> None:
    # Fixed bug: "/%ED%A0%80%2541" decoded to "/\ud800%41" in the first round
    # and the second round raised UnicodeEncodeError on the surrogate.
    assert decode("/%ED%A0%80%2541") == "/\ud800A"
    assert forms("%\ud800", "query") == ["%\ud800"]
