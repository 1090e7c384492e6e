"""Proof-of-work challenges and clearances: what passes and what does not."""

from __future__ import annotations

import pytest

from vaultgate.core import pow

KEY = b"k" * 32
ME = pow.client_binding("198.51.100.7", "Firefox")
NOW = 1_800_000_000
NONCE = bytes(range(16))


def issued(difficulty: int = 8, at: int = NOW, binding: bytes = ME) -> str:
    return pow.issue(KEY, NONCE, at, difficulty, binding)


def test_a_solution_verifies_once_found() -> None:
    challenge = issued()
    counter = pow.solve(challenge, 8)
    verdict = pow.verify(KEY, challenge, counter, ME, NOW + 1, 300, 8)
    assert verdict.ok and verdict.nonce


def _tampered() -> str:
    parts = issued().split(".")
    parts[2] = "1"  # lower the difficulty after signing
    return ".".join(parts)


# (challenge, counter, binding, now, min difficulty, key) -> refusal reason
REFUSED = [
    (_tampered(), None, ME, NOW, 1, KEY, "signature"),
    (
        issued(),
        None,
        pow.client_binding("203.0.113.9", "Firefox"),
        NOW,
        8,
        KEY,
        "signature",
    ),  # another address
    (
        issued(),
        None,
        pow.client_binding("198.51.100.7", "curl"),
        NOW,
        8,
        KEY,
        "signature",
    ),  # another user agent
    (issued(), None, ME, NOW, 8, b"x" * 32, "signature"),  # another key
    (issued(), None, ME, NOW + 301, 8, KEY, "expired"),
    (issued(), None, ME, NOW - 60, 8, KEY, "expired"),  # issued in the future
    (issued(), None, ME, NOW, 12, KEY, "too-easy"),  # policy raised since
    (issued(), "0x10", ME, NOW, 8, KEY, "malformed"),
    (issued(), "9" * 21, ME, NOW, 8, KEY, "malformed"),
    ("1.2.3", "1", ME, NOW, 8, KEY, "malformed"),
    ("", "", ME, NOW, 8, KEY, "malformed"),
]


@pytest.mark.parametrize(
    ("challenge", "counter", "binding", "now", "minimum", "key", "reason"), REFUSED
)
def test_refusals_say_why(
    challenge: str,
    counter: str | None,
    binding: bytes,
    now: int,
    minimum: int,
    key: bytes,
    reason: str,
) -> None:
    if counter is None:
        counter = pow.solve(challenge, 8)
    verdict = pow.verify(key, challenge, counter, binding, now, 300, minimum)
    assert (verdict.ok, verdict.reason) == (False, reason)


def test_an_unsolved_counter_is_refused_for_its_work() -> None:
    challenge = issued(difficulty=16)
    good = int(pow.solve(challenge, 16))
    wrong = next(
        str(n)
        for n in range(good)
        if not pow.verify(KEY, challenge, str(n), ME, NOW, 300, 16).ok
    )
    assert pow.verify(KEY, challenge, wrong, ME, NOW, 300, 16).reason == "work"


# (digest, leading zero bits)
ZEROS = [
    (b"\x80" + bytes(31), 0),
    (b"\x01" + bytes(31), 7),
    (bytes(2) + b"\x10", 19),
    (bytes(32), 256),
]


@pytest.mark.parametrize(("digest", "bits"), ZEROS)
def test_leading_zero_bits(digest: bytes, bits: int) -> None:
    assert pow.leading_zero_bits(digest) == bits


# (token transformation, binding, now, valid)
CLEARANCES = [
    (lambda t: t, ME, NOW + 10, True),
    (lambda t: t, ME, NOW + 1800, False),  # expired
    (lambda t: t, pow.client_binding("203.0.113.9", "Firefox"), NOW, False),
    (lambda t: t.replace(str(NOW + 1800), str(NOW + 99999)), ME, NOW, False),
    (lambda t: issued(), ME, NOW, False),  # a challenge is not a clearance
    (lambda t: "", ME, NOW, False),
]


@pytest.mark.parametrize(("change", "binding", "now", "valid"), CLEARANCES)
def test_clearances(change, binding: bytes, now: int, valid: bool) -> None:  # type: ignore[no-untyped-def]
    token = change(pow.clearance(KEY, NOW + 1800, ME))
    assert pow.clearance_valid(KEY, token, binding, now) is valid
