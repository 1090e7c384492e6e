"""Masking: what must be masked, and the look-alikes that must stay readable."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vaultgate.core.fieldfilter import mask_values
from vaultgate.core.masking import (
    Masker,
    card_brand,
    iban_valid,
    is_card_number,
    luhn_valid,
    redact,
)

# Issuers' published test numbers: each passes Luhn and its brand's range.
CARDS = [
    ("4111111111111111", "************1111", "visa"),
    ("4012888888881881", "************1881", "visa"),
    ("5555555555554444", "************4444", "mastercard"),
    ("5105105105105100", "************5100", "mastercard"),
    ("2223003122003222", "************3222", "mastercard"),
    ("378282246310005", "***********0005", "amex"),
    ("371449635398431", "***********8431", "amex"),
    ("6011111111111117", "************1117", "discover"),
    ("6011000990139424", "************9424", "discover"),
    ("3530111333300000", "************0000", "jcb"),
    ("3566002020360505", "************0505", "jcb"),
    ("30569309025904", "**********5904", "diners"),
    ("38520000023237", "**********3237", "diners"),
    ("6200000000000005", "************0005", "unionpay"),
    ("6759649826438453", "************8453", "maestro"),
    ("2200000000000004", "************0004", "mir"),
]


@pytest.mark.parametrize(("pan", "masked", "brand"), CARDS)
def test_card_numbers_keep_only_the_last_four(
    pan: str, masked: str, brand: str
) -> None:
    assert card_brand(pan) == brand
    assert redact(pan) == masked
    assert redact(f'{{"card":"{pan}"}}') == f'{{"card":"{masked}"}}'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4111 1111 1111 1111", "**** **** **** 1111"),
        ("4111-1111-1111-1111", "****-****-****-1111"),
        ("3782 822463 10005", "**** ****** *0005"),
        ("pay with 5555555555554444 now.", "pay with ************4444 now."),
        ("/cards/4111111111111111/charges", "/cards/************1111/charges"),
        ("card=4111111111111111&cvv=1", "card=************1111&cvv=1"),
        ("4111111111111111 12/29", "************1111 12/29"),
    ],
)
def test_card_numbers_in_text(text: str, expected: str) -> None:
    assert redact(text) == expected


IBANS = [
    ("GB82 WEST 1234 5698 7654 32", "GB** **** **** **** **54 32"),
    ("GB82WEST12345698765432", "GB****************5432"),
    ("DE89 3704 0044 0532 0130 00", "DE** **** **** **** **30 00"),
    ("FR14 2004 1010 0505 0001 3M02 606", "FR** **** **** **** **** ***2 606"),
    ("NL91ABNA0417164300", "NL************4300"),
    ("ES9121000418450200051332", "ES******************1332"),
    ("CH9300762011623852957", "CH***************2957"),
    ("BE68539007547034", "BE**********7034"),
    ("NO9386011117947", "NO*********7947"),
    (
        "MT84 MALT 0110 0001 2345 MTLC AST0 01S",
        "MT** **** **** **** **** **** ***0 01S",
    ),
    ("LC55HEMM000100010012001200023015", "LC**************************3015"),
]


@pytest.mark.parametrize(("iban", "masked"), IBANS)
def test_ibans_keep_the_country_and_last_four(iban: str, masked: str) -> None:
    assert iban_valid(iban)
    assert redact(iban) == masked
    assert redact(f"to {iban} EUR 10") == f"to {masked} EUR 10"


NATIONAL_IDS = [
    ("123-45-6789", "***-**-6789"),  # US SSN
    ("AB123456C", "*****456C"),  # UK NINO
    ("AB 12 34 56 C", "** ** *4 56 C"),
    ("12345678Z", "*****678Z"),  # ES DNI, check letter Z
    ("X1234567L", "*****567L"),  # ES NIE
    ("206127511100564", "***********0564"),  # FR NIR, key 64
    ("2 06 12 75 111 005 64", "* ** ** ** *** *05 64"),
    ("RSSMRA85T10A562S", "************562S"),  # IT codice fiscale
]


@pytest.mark.parametrize(("text", "masked"), NATIONAL_IDS)
def test_national_ids_of_default_countries(text: str, masked: str) -> None:
    assert redact(text) == masked


def test_german_tax_id_only_when_configured() -> None:
    # Eleven bare digits: masked only where DE is switched on.
    assert redact("86095742719") == "86095742719"
    masker = Masker(["national_id"], countries=["DE"])
    assert masker.mask("id 86095742719") == "id *******2719"
    assert masker.mask("id 86095742718") == "id 86095742718"  # wrong check digit


def _cuts(piece: str) -> st.SearchStrategy[str]:
    """The piece whole, or with its start or end cut off."""
    return st.sampled_from([piece, piece[1:], piece[:-1], piece[2:-2]])


def _key(*parts: str) -> str:
    # Built from parts so that secret scanners do not flag the test source.
    return "".join(parts)


SECRETS = [
    (_key("AKIA", "IOSFODNN7EXAMPLE"), "[redacted:api_key]"),
    (_key("sk_", "live_", "4eC39HqLyjWDarjtT1zdp7dc"), "[redacted:api_key]"),
    (_key("rk_", "test_", "4eC39HqLyjWDarjtT1zdp7dc"), "[redacted:api_key]"),
    (_key("ghp_", "A" * 36), "[redacted:api_key]"),
    (_key("xoxb-", "123456789012-abcdefABCDEF"), "[redacted:api_key]"),
    (_key("AIza", "SyA-1234567890abcdefghijklmnopqrstu"), "[redacted:api_key]"),
    (_key("glpat-", "abcdefghij0123456789"), "[redacted:api_key]"),
    (
        _key("eyJhbGciOiJIUzI1NiJ9", ".eyJzdWIiOiIxMjM0NTY3ODkwIn0", ".sig_-value"),
        "[redacted:jwt]",
    ),
    (
        _key("-----BEGIN ", "RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7\n-----END RSA ")
        + "PRIVATE KEY-----",
        "[redacted:private_key]",
    ),
    (
        _key("-----BEGIN ", "PRIVATE KEY-----\\nMIIEvQIBADANBg\\n"),  # cut off
        "[redacted:private_key]",
    ),
]


@pytest.mark.parametrize(("secret", "masked"), SECRETS)
def test_secrets_are_removed_whole(secret: str, masked: str) -> None:
    assert redact(f"key: {secret}") == f"key: {masked}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.def-ghi_jkl", "Authorization: [redacted]"),
        ("curl -H 'Bearer 0123456789abcdef'", "curl -H 'Bearer [redacted]'"),
        (
            '{"password": "hunter2", "user": "bob"}',
            '{"password": "[redacted]", "user": "bob"}',
        ),
        ("user=bob&password=hunter2&x=1", "user=bob&password=[redacted]&x=1"),
        ("redis://app:s3cr3t@cache:6379/0", "redis://app:[redacted]@cache:6379/0"),
        (
            _key(
                "aws_secret_access_key = ", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
            ),
            "aws_secret_access_key = [redacted]",
        ),
    ],
)
def test_credentials_in_log_text(text: str, expected: str) -> None:
    assert redact(text) == expected


# Values that look like card numbers, IBANs or ids and are not: masking
# them would make logs and API answers useless.
LOOK_ALIKES = [
    "1000234567891234",  # order number: no brand starts with 1
    "ORD-4111111111111111",  # order reference built on a test PAN
    "1718900000000",  # Unix time in milliseconds
    "1718900000000000",  # ... in microseconds
    "1718900000000000000",  # ... in nanoseconds
    "20240615123045",  # compact timestamp
    "2024-06-15T12:30:45.123456Z",
    "123e4567-e89b-12d3-a456-426614174000",  # UUID
    "12345678-1234-1234-1234-123456789012",  # all-digit UUID
    "+14155552671",  # E.164 phone number
    "+44 20 7946 0958",
    "(415) 555-2671",
    "0049 1511 2345 678",
    "4111111111111112",  # Visa range, fails Luhn
    "1234567812345670",  # passes Luhn, no brand
    "0000000000000000",
    "4444444444444444",  # one digit repeated
    "0.4111111111111111",  # a decimal fraction
    "4111111111111111.5",
    "4111 1111 1111 1111 2222",  # too many groups
    "411 111 111 111 1111",  # not a card's grouping
    "9780306406157",  # ISBN-13
    "1Z999AA10123456784",  # parcel tracking number
    "192.168.100.200",
    "GB82 WEST 1234 5698 7654 33",  # IBAN with a wrong check sum
    "DE89370400440532013001",
    "XX82WEST12345698765432",  # no such country
    "QQ123456C",  # HMRC's own example NINO: QQ is never issued
    "GB123456A",  # GB prefix is never issued
    "000-12-3456",  # SSN area 000
    "666-12-3456",
    "900-12-3456",
    "123456789",  # nine bare digits: not an SSN
    "12345678A",  # DNI with the wrong letter
    "206127511100565",  # NIR with the wrong key
    "RSSMRA85T10A562A",  # codice fiscale, wrong check letter
    "AKIAIOSFODNN7EXAMPL",  # 19 characters: not an AWS key id
    "sk_live_short",
    "eyJhbGciOiJIUzI1NiJ9",  # a JWT header alone
    "The token_type is Bearer",
    "version 4.11.1111.1111",
]


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_look_alikes_stay_readable(text: str) -> None:
    assert redact(text) == text
    assert redact(f'{{"value": "{text}", "n": 1}}') == f'{{"value": "{text}", "n": 1}}'


def test_a_masker_masks_only_its_kinds() -> None:
    text = "card 4111111111111111 iban GB82WEST12345698765432 ssn 123-45-6789"
    assert Masker(["card_number"]).mask(text) == (
        "card ************1111 iban GB82WEST12345698765432 ssn 123-45-6789"
    )
    assert Masker(["iban"]).mask(text) == (
        "card 4111111111111111 iban GB****************5432 ssn 123-45-6789"
    )
    assert Masker(["secret"]).mask(text) == text


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="card_number"):
        Masker(["credit_card"])


def test_mask_many_reports_only_changed_texts() -> None:
    texts = ["alice", "4111111111111111", "ok", "GB82WEST12345698765432"]
    changed = Masker().mask_many(texts)
    assert changed == {1: "************1111", 3: "GB****************5432"}


def test_mask_many_with_nul_in_a_value() -> None:
    texts = ["a\x004111111111111111", "b"]
    assert Masker().mask_many(texts) == {0: "a\x00************1111"}


def test_helpers() -> None:
    assert luhn_valid("79927398713")
    assert not luhn_valid("79927398710")
    assert is_card_number("4111 1111 1111 1111")
    assert not is_card_number("4111 1111 1111 1112")


# Pieces of every kind of value, whole and cut, glued to digits, letters,
# separators, NULs and non-ASCII text: where they meet is what gates and
# look-arounds must agree on.
_PIECES = [
    *(pan for pan, _, _ in CARDS),
    "4111 1111 1111 1111",
    "3782 822463 10005",
    *(iban for iban, _ in IBANS),
    *(text for text, _ in NATIONAL_IDS),
    "86095742719",
    *(secret for secret, _ in SECRETS),
    "Authorization: Bearer abcdefghij",
    '"password": "pw"',
    "https://u:p@h",
    "aws_secret_access_key=" + "A" * 40,
    *LOOK_ALIKES,
]
_GLUE = st.sampled_from(["", " ", "-", "\n", "\x00", "é", "x", "7", ".", "+", ":", '"'])
_TEXT = st.lists(
    st.tuples(_GLUE, st.sampled_from(_PIECES).flatmap(_cuts)), max_size=6
).map(lambda parts: "".join(glue + piece for glue, piece in parts))


_CONTEXTS = ["", " ", "-", "\n", "\x00", "é", "x", "7", ".", "+", ":", '"', "#"]


@pytest.mark.parametrize("piece", _PIECES)
def test_gates_never_hide_a_value_in_any_context(piece: str) -> None:
    # Every piece, whole and cut, between every pair of neighbours.
    text = "\n".join(
        left + cut + right
        for cut in (piece, piece[1:], piece[:-1])
        for left in _CONTEXTS
        for right in _CONTEXTS
    )
    for masker in (Masker(), Masker(countries=["DE", "US"])):
        assert masker.spans(text) == masker.spans_unfiltered(text)


@settings(max_examples=400, deadline=None)
@given(_TEXT)
def test_gates_never_hide_a_value(text: str) -> None:
    # The Hyperscan gates may only say "maybe": the exact patterns run over
    # the whole text must find nothing the gated scan missed.
    for masker in (Masker(), Masker(countries=["DE", "US"])):
        assert masker.spans(text) == masker.spans_unfiltered(text)


_JSON_LEAVES = st.one_of(
    _TEXT,
    st.integers(-(2**63), 2**64 - 1),  # what orjson encodes
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)
_DOCUMENTS = st.recursive(
    _JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(["n", "pan", "card", "memo", "é"]), inner)
    ),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(_DOCUMENTS)
def test_a_json_text_no_gate_matches_has_nothing_to_mask(document: object) -> None:
    # The response filter skips parsing an answer whose raw text, free of
    # backslashes, no gate matches: masking its values must change nothing.
    raw = orjson.dumps(document).decode()
    for masker in (Masker(), Masker(countries=["DE", "US"])):
        if "\\" in raw or masker.may_find(raw):
            continue
        assert mask_values(orjson.loads(raw), masker)[1] == 0, raw


@settings(max_examples=300, deadline=None)
@given(st.lists(_TEXT, max_size=6))
def test_joined_scan_equals_one_scan_per_text(texts: list[str]) -> None:
    masker = Masker()
    expected = {i: masker.mask(t) for i, t in enumerate(texts) if masker.mask(t) != t}
    assert masker.mask_many(texts) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_redact_never_raises_and_keeps_unmatched_text(text: str) -> None:
    out = redact(text)
    assert isinstance(out, str)
    if not any(ch.isdigit() for ch in text) and "-----" not in text:
        # Without digits only secrets could match, and they have markers.
        assert out == text or "[redacted" in out
