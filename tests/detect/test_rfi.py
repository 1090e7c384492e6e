"""Remote file inclusion."""

from __future__ import annotations

import pytest

from tests.detect.family_cases import benign_values, families

MUST_FIRE = [
    "http://203.0.113.7/shell.txt?",
    "https://attacker.example/x.php??",
    "ftp://files.example.net/a?",
    "http://66.240.183.75/crash.php",
    "https://[2001:db8::29c8]/gecko.php",
    "http://2001:db8:701::29c8/gecko.php",
    "ftp://1.1.1.1",
    "file?",
    # A host written as one number, with any number of slashes.
    "http:123456789",
    "http:/2852039166",
    "https://3232235777/pay.php",
    "http://0x7f000001/",
]

MUST_NOT_FIRE = [
    "https://www.example.com/",
    "https://partner.example/callback?status=ok",
    "https://example.com/faq#what-is-a-payee?",
    "http is an acronym?",
    "Is https secure?",
    "https://example.com/orders/12345678",
    "Order 12345678 shipped",
    "tel:12345678",
    "http:/example.com/",
]


@pytest.mark.parametrize("payload", MUST_FIRE)
def test_remote_include_fires(payload: str) -> None:
    assert "rfi" in families(payload, "query", "src")


@pytest.mark.parametrize("payload", MUST_NOT_FIRE + benign_values())
def test_ordinary_urls_pass(payload: str) -> None:
    assert "rfi" not in families(payload, "json", "$.website")
