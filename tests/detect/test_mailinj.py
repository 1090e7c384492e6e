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
    # A value that opens with a break and one POP3 or IMAP command line.
    "\r\nRETR 123",
    "\r\nlist 3",
    "\r\nTOP 1 2",
    "\r\nAPOP mrose c4c9334bac560ecc979e58001b3e22fb",
    "\r\na001 authenticate PLAIN\r\n",
    "\r\na001 uid store 231:233\r\n",
    "\r\na002 copy 2:4 MEETING",
    '\r\nA1 list "INBOX/" "*"',
    "\r\nd store 2 +FLAGS (\\Deleted)",
    "\nA1 select INBOX",
    "\r\nA1 QUIT",
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
    "\nList 3 items to buy",
    '\nWe list "good" things',
    "\nI copy 2 files today",
    "\nI store 2 boxes",
    "\nWe fetch 2 bags",
    '\nWe select "premium" plan',
    "\nTop 10 payees",
    "Groceries\nlist 3",
    "RETR 123 is the ticket number",
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
