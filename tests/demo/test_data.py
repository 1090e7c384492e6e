"""The demo bank's seed data and its check-digit helpers."""

from __future__ import annotations

import pytest

from vaultgate.demo.data import (
    ACCOUNTS,
    PAYEES,
    TRANSACTIONS,
    USERS,
    accounts_of,
    iban,
    iban_valid,
    luhn_valid,
)


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("4111111111111111", True),  # the classic test card
        ("4111111111111112", False),
        ("79927398713", True),  # the worked example of the Luhn article
        ("79927398710", False),
        ("4111-1111-1111-1111", False),  # digits only
    ],
)
def test_luhn(number: str, valid: bool) -> None:
    assert luhn_valid(number) is valid


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("GB82 WEST 1234 5698 7654 32", True),  # ECBS's published example
        ("DE89370400440532013000", True),
        ("GB83WEST12345698765432", False),
        ("GB82WEST1234569876543", False),
        ("12WEST12345698765432", False),
        ("", False),
    ],
)
def test_iban_check(text: str, valid: bool) -> None:
    assert iban_valid(text) is valid


def test_iban_builds_the_right_check_digits() -> None:
    assert iban("GB", "WEST12345698765432") == "GB82WEST12345698765432"


def test_every_seeded_number_passes_its_check() -> None:
    for account in ACCOUNTS.values():
        assert luhn_valid(account.card_number), account.id
        assert iban_valid(account.iban), account.id
    assert all(iban_valid(payee.iban) for payee in PAYEES)


def test_account_ids_are_sequential_and_owned() -> None:
    assert sorted(ACCOUNTS) == list(range(1001, 1013))
    owned = [a.id for user in USERS.values() for a in accounts_of(user.customer)]
    assert sorted(owned) == list(range(1001, 1010))  # 1010-1012: no login


def test_transactions_are_newest_first_and_in_the_accounts_currency() -> None:
    for account_id, history in TRANSACTIONS.items():
        stamps = [tx.booked_at for tx in history]
        assert stamps == sorted(stamps, reverse=True)
        assert {tx.currency for tx in history} == {ACCOUNTS[account_id].currency}


def test_seed_data_is_the_same_on_every_run() -> None:
    # Fixed seeds: tests elsewhere may name balances and transaction ids.
    assert str(ACCOUNTS[1001].balance) == "2508.96"
    assert TRANSACTIONS[1001][0].id == "tx-1001-0001"
