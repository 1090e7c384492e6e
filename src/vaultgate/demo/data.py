"""The demo bank's seed data: users, customers, accounts, transactions, payees.

Everything is generated from fixed seeds, so every run (and every test) sees
the same ids, balances and transactions.  Card numbers pass the Luhn check
and IBANs the mod-97 check, so that response filters looking for real-shaped
secrets have something real-shaped to find; none of them belongs to anyone.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Customer:
    """An account holder, with the personal data a bank keeps."""

    customer_id: str
    name: str
    email: str
    phone: str
    national_id: str


@dataclass(frozen=True, slots=True)
class User:
    """A login of the online bank; staff logins have no customer."""

    username: str
    password: str
    user_id: str  # the token's ``sub``
    name: str
    roles: tuple[str, ...]
    customer: Customer | None


@dataclass(frozen=True, slots=True)
class Account:
    """An account, with the internal fields the API over-shares on purpose."""

    id: int
    owner: Customer
    kind: str
    currency: str
    balance: Decimal
    iban: str
    card_number: str
    card_expiry: str
    internal_risk_score: float
    kyc_notes: str
    status: str
    opened: str


@dataclass(frozen=True, slots=True)
class Transaction:
    id: str
    account_id: int
    booked_at: str
    amount: Decimal  # negative for money going out
    currency: str
    counterparty: str
    counterparty_iban: str
    memo: str
    category: str


@dataclass(frozen=True, slots=True)
class Payee:
    name: str
    iban: str
    category: str


def luhn_digit(digits: str) -> str:
    """The check digit that makes ``digits`` + it pass the Luhn check."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = int(char) * (2 if i % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    """Whether a digit string passes the Luhn check."""
    return number.isdigit() and luhn_digit(number[:-1]) == number[-1]


def iban(country: str, bban: str) -> str:
    """An IBAN for ``bban`` with correct ISO 13616 check digits."""
    check = 98 - _mod97(bban + country + "00")
    return f"{country}{check:02d}{bban}"


def iban_valid(text: str) -> bool:
    """Whether ``text`` (spaces allowed) passes the IBAN mod-97 check."""
    compact = text.replace(" ", "").upper()
    if len(compact) < 15 or not compact.isalnum() or not compact[:2].isalpha():
        return False
    return _mod97(compact[4:] + compact[:4]) == 1


def _mod97(text: str) -> int:
    # ISO 13616: letters count as two digits, A=10 ... Z=35.
    return int("".join(str(int(char, 36)) for char in text)) % 97


CUSTOMERS = {
    "alice": Customer(
        "cus_1", "Alice Martin", "alice.martin@example.com", "+44 20 7946 0101",
        "QQ123401A",
    ),
    "bob": Customer(
        "cus_2", "Bob Okafor", "bob.okafor@example.com", "+44 20 7946 0102",
        "QQ123402B",
    ),
    "carol": Customer(
        "cus_3", "Carol Nguyen", "carol.nguyen@example.net", "+44 20 7946 0103",
        "QQ123403C",
    ),
    "harbour": Customer(
        "cus_4", "Harbour Bakery Ltd", "accounts@harbour-bakery.example",
        "+44 20 7946 0104", "QQ123404D",
    ),
    "elena": Customer(
        "cus_5", "Elena Petrova", "elena.p@example.org", "+44 20 7946 0105",
        "QQ123405A",
    ),
}  # fmt: skip

USERS = {
    "alice": User(
        "alice", "correct-horse-1", "u-10001", "Alice Martin", ("customer",),
        CUSTOMERS["alice"],
    ),
    "bob": User(
        "bob", "battery-staple-2", "u-10002", "Bob Okafor", ("customer",),
        CUSTOMERS["bob"],
    ),
    "carol": User(
        "carol", "tr0ub4dor-3", "u-10003", "Carol Nguyen", ("customer",),
        CUSTOMERS["carol"],
    ),
    "sam": User(
        "sam", "support-desk-4", "u-90001", "Sam Reyes (support)", ("support",),
        None,
    ),
}  # fmt: skip

# Account id -> owner key; ids are sequential on purpose, so that walking
# them (enumeration) can be shown and detected.
_OWNERS = {
    1001: "alice", 1002: "alice", 1003: "alice",
    1004: "bob", 1005: "bob", 1006: "bob",
    1007: "carol", 1008: "carol", 1009: "carol",
    1010: "harbour", 1011: "harbour", 1012: "elena",
}  # fmt: skip

_KINDS = ("current", "savings", "credit-card")
_KYC_NOTES = (
    "ID verified in branch; address proof on file.",
    "PEP screening clear. Source of funds: salary.",
    "Enhanced due diligence: large cash deposits in 2023, cleared.",
    "Customer disputed two card payments; no fraud found.",
)

# Merchants and people that appear as counterparties and in payee search.
# Several names contain SQL or shell words and punctuation on purpose:
# benign traffic that a naive filter would block.
_PAYEE_NAMES = (
    ("Tesco Stores", "groceries"),
    ("O'Brien & Sons Plumbing", "home"),
    ("Select Office Supplies", "business"),
    ("Union Street Dental", "health"),
    ("Drop Zone Trampoline Park", "leisure"),
    ("Café Zürich", "eating-out"),
    ("Transport for London", "transport"),
    ("Acme Payroll Services", "salary"),
    ("Greenfield Lettings", "rent"),
    ("Script & Quill Bookshop", "shopping"),
    ("Northwind Energy", "utilities"),
    ("Dr. Jane Smith <GP>", "health"),
    ("Order-By-Post Ltd", "shopping"),
    ("Kids' Club; Swimming", "leisure"),
)


def _payees() -> tuple[Payee, ...]:
    return tuple(
        Payee(name, iban("GB", f"NWBK{600000 + i:06d}{31926800 + i:08d}"), category)
        for i, (name, category) in enumerate(_PAYEE_NAMES)
    )


PAYEES = _payees()


def _account(account_id: int) -> Account:
    rng = random.Random(account_id)
    kind = _KINDS[account_id % 3]
    pan_body = "45398" + f"{account_id:010d}"
    return Account(
        id=account_id,
        owner=CUSTOMERS[_OWNERS[account_id]],
        kind=kind,
        currency="GBP" if account_id % 4 else "EUR",
        balance=Decimal(rng.randrange(5_000, 2_500_000)) / 100,
        iban=iban("GB", f"DEMO{400000 + account_id:06d}{account_id * 7919:08d}"),
        card_number=pan_body + luhn_digit(pan_body),
        card_expiry=f"{rng.randrange(1, 13):02d}/{rng.randrange(27, 31)}",
        internal_risk_score=round(rng.random(), 2),
        kyc_notes=rng.choice(_KYC_NOTES),
        status="active",
        opened=f"20{rng.randrange(12, 24)}-{rng.randrange(1, 13):02d}-15",
    )


ACCOUNTS = {account_id: _account(account_id) for account_id in _OWNERS}

# Fixed "now" of the seed data: the transactions end on this day.
_SEED_END = datetime(2025, 6, 30, 18, 0, tzinfo=UTC)
_PER_ACCOUNT = 24  # enough history for a statement page of a few KiB


def _transactions(account: Account) -> tuple[Transaction, ...]:
    rng = random.Random(account.id * 31)
    moment = _SEED_END
    items = []
    for n in range(_PER_ACCOUNT):
        moment -= timedelta(hours=rng.randrange(5, 60), minutes=rng.randrange(60))
        payee = rng.choice(PAYEES)
        cents = rng.randrange(150, 250_000 if payee.category == "salary" else 40_000)
        sign = 1 if payee.category == "salary" else -1
        items.append(
            Transaction(
                id=f"tx-{account.id}-{n + 1:04d}",
                account_id=account.id,
                booked_at=moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                amount=Decimal(sign * cents) / 100,
                currency=account.currency,
                counterparty=payee.name,
                counterparty_iban=payee.iban,
                memo=f"{payee.name} ref {rng.randrange(10**6):06d}",
                category=payee.category,
            )
        )
    return tuple(items)


TRANSACTIONS = {account.id: _transactions(account) for account in ACCOUNTS.values()}


def accounts_of(customer: Customer | None) -> list[Account]:
    """The accounts a customer holds, by id."""
    return [a for a in ACCOUNTS.values() if customer and a.owner == customer]
