"""Mail header and mail protocol command injection."""

from __future__ import annotations

import pytest

from tests.detect.family_cases import benign_values, families

MUST_FIRE = [
    "me@example.com\nBcc: everyone@victim.example",
    "hello\r\ncc: boss@victim.example",
    "x\nTo: attacker@evil.example",
    "\r\nRCPT TO: test@evil.example\r\n",
    "\nMAIL FROM: a@evil.example",
    "\r\nQUIT\r\n",
    "DQpRVUlUDQo",  # the same, in 11 characters of Base64
    "\r\nDATA\r\n",
    "\r\nV100 CAPABILITY\r\nV101 FETCH 4791",
    "subject\nContent-Type: multipart/mixed; boundary=x",
]

MUST_NOT_FIRE = [
    "To: John Smith\nRe: invoice for March",
    "Please send it to me\nthanks",
    "I want to\nquit the gym plan",
    "Data attached below\n1,2,3",
    "cc: the finance team",
    # A multi-line memo that names an address on its own line.
    "Please send the receipt\nTo: accounts@acme.example",
    "Thanks for lunch\ncc: jane@example.org",
]


@pytest.mark.parametrize("payload", MUST_FIRE)
def test_mail_injection_fires(payload: str) -> None:
    assert "mailinj" in families(payload, "form", "comment")


def test_a_header_line_in_a_memo_waits_for_paranoia_2() -> None:
    memo = "Please send the receipt\nBcc: accounts@acme.example"
    assert "mailinj" not in families(memo, "form", "comment")
    assert "mailinj" in families(memo, "form", "comment", paranoia=2)


@pytest.mark.parametrize("payload", MUST_NOT_FIRE + benign_values())
def test_letters_pass(payload: str) -> None:
    assert "mailinj" not in families(payload, "form", "comment")
