"""The demo bank's behaviour, without HTTP: logins, accounts, payments, tickets.

The REST handlers and the GraphQL resolvers both call into ``Bank``, so the
two interfaces share one set of rules and one set of deliberate weaknesses.
A refused operation is a ``Refusal`` value carrying the HTTP status, never
403: the detection evaluator counts 403 as "blocked by the proxy", so the
bank says 401, 404 or 422 instead.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from vaultgate.demo.data import (
    ACCOUNTS,
    PAYEES,
    TRANSACTIONS,
    USERS,
    Account,
    Payee,
    Transaction,
    User,
    iban_valid,
)

# Payments, idempotency records and tickets live in memory; past these
# counts the oldest are forgotten, so a long evaluation run cannot grow the
# demo without bound.
MAX_PAYMENTS = 100_000
MAX_IDEMPOTENCY_KEYS = 100_000
MAX_TICKETS = 10_000
MAX_MEMO_CHARS = 140  # SEPA remittance information is 140 characters
MAX_SUBJECT_CHARS = 200
MAX_MESSAGE_CHARS = 10_000
MAX_SEARCH_RESULTS = 20
CURRENCIES = frozenset({"GBP", "EUR", "USD"})

_SORTED = orjson.OPT_SORT_KEYS

# Compared against when the username is unknown, so that a wrong username
# costs the same time as a wrong password.
_DUMMY_PASSWORD = b"not-a-real-password-0"


@dataclass(frozen=True, slots=True)
class Refusal:
    """An operation the bank refuses, with the status to answer."""

    status: int
    error: str
    detail: str


@dataclass(frozen=True, slots=True)
class Payment:
    id: str
    owner: str  # the ``sub`` that made it
    from_account: int
    to_iban: str
    amount: Decimal
    currency: str
    memo: str
    status: str
    created_at: str


def is_support(claims: dict[str, Any]) -> bool:
    """Whether the token's roles include the support role."""
    roles = claims.get("roles")
    return isinstance(roles, list) and "support" in roles


def owned_ids(claims: dict[str, Any]) -> set[int]:
    """The account ids the token says the caller holds."""
    listed = claims.get("accounts")
    if not isinstance(listed, list):
        return set()
    return {i for i in listed if isinstance(i, int) and i in ACCOUNTS}


def account_document(account: Account) -> dict[str, Any]:
    """Everything the bank knows about an account: far too much, on purpose."""
    owner = account.owner
    return {
        "id": account.id,
        "type": account.kind,
        "currency": account.currency,
        "balance": str(account.balance),
        "status": account.status,
        "opened": account.opened,
        "iban": account.iban,
        "card_number": account.card_number,
        "card_expiry": account.card_expiry,
        "national_id": owner.national_id,
        "internal_risk_score": account.internal_risk_score,
        "kyc_notes": account.kyc_notes,
        "owner": {
            "customer_id": owner.customer_id,
            "name": owner.name,
            "email": owner.email,
            "phone": owner.phone,
        },
    }


def account_summary(account: Account) -> dict[str, Any]:
    """The fields of an account a statement list shows."""
    return {
        "id": account.id,
        "type": account.kind,
        "currency": account.currency,
        "balance": str(account.balance),
        "iban": account.iban,
        "status": account.status,
    }


def transaction_document(tx: Transaction) -> dict[str, Any]:
    return {
        "id": tx.id,
        "account_id": tx.account_id,
        "booked_at": tx.booked_at,
        "amount": str(tx.amount),
        "currency": tx.currency,
        "counterparty": {"name": tx.counterparty, "iban": tx.counterparty_iban},
        "memo": tx.memo,
        "category": tx.category,
    }


def payment_document(payment: Payment) -> dict[str, Any]:
    return {
        "id": payment.id,
        "status": payment.status,
        "from_account": payment.from_account,
        "to_iban": payment.to_iban,
        "amount": str(payment.amount),
        "currency": payment.currency,
        "memo": payment.memo,
        "created_at": payment.created_at,
    }


class Bank:
    """The demo bank's state and rules."""

    def __init__(self) -> None:
        self._payments: OrderedDict[str, Payment] = OrderedDict()
        self._idempotency: OrderedDict[tuple[str, str], tuple[bytes, Any]] = (
            OrderedDict()
        )
        self._tickets: OrderedDict[str, dict[str, str]] = OrderedDict()

    # -- logins and reads --------------------------------------------------

    def authenticate(self, username: str, password: str) -> User | None:
        """The user whose password this is, compared in constant time."""
        user = USERS.get(username)
        expected = user.password.encode() if user else _DUMMY_PASSWORD
        matches = hmac.compare_digest(expected, password.encode("utf-8", "replace"))
        return user if matches and user else None

    def accounts_for(self, claims: dict[str, Any]) -> list[Account]:
        """The caller's accounts; support staff see every account."""
        if is_support(claims):
            return list(ACCOUNTS.values())
        return [ACCOUNTS[i] for i in sorted(owned_ids(claims))]

    def account(self, account_id: str) -> Account | None:
        """Any account by id.

        BOLA ON PURPOSE: the caller's token is not consulted, so any logged-in
        user reads any account by changing the id (docs/demo.md).
        """
        number = _account_number(account_id)
        return ACCOUNTS.get(number) if number is not None else None

    def transactions(self, account_id: str, first: int) -> list[Transaction] | None:
        """The latest ``first`` transactions of any account (BOLA, as above)."""
        account = self.account(account_id)
        if account is None:
            return None
        return list(TRANSACTIONS[account.id][:first])

    def search_payees(self, query: str) -> list[Payee]:
        """Payees whose name contains ``query``, case-insensitively."""
        needle = query.casefold()
        found = [p for p in PAYEES if needle in p.name.casefold()]
        return found[:MAX_SEARCH_RESULTS]

    # -- payments -----------------------------------------------------------

    def pay(
        self, claims: dict[str, Any], order: Any, key: str | None, now: float
    ) -> tuple[int, dict[str, Any]]:
        """Make a payment; the same idempotency key and order give the same answer."""
        if key is None:
            return self._pay_once(claims, order, now)
        scope = (str(claims.get("sub")), key)
        digest = hashlib.sha256(orjson.dumps(order, option=_SORTED)).digest()
        earlier = self._idempotency.get(scope)
        if earlier is not None:
            if not hmac.compare_digest(earlier[0], digest):
                return 422, _error(
                    "idempotency_key_reused",
                    "this Idempotency-Key was used with a different request",
                )
            answer: tuple[int, dict[str, Any]] = earlier[1]
            return answer
        answer = self._pay_once(claims, order, now)
        _remember(self._idempotency, scope, (digest, answer), MAX_IDEMPOTENCY_KEYS)
        return answer

    def _pay_once(
        self, claims: dict[str, Any], order: Any, now: float
    ) -> tuple[int, dict[str, Any]]:
        checked = self._check_order(claims, order)
        if isinstance(checked, Refusal):
            return checked.status, _error(checked.error, checked.detail)
        payment = Payment(
            id="pay_" + secrets.token_hex(8),
            owner=str(claims.get("sub")),
            created_at=_iso(now),
            status="pending",
            **checked,
        )
        _remember(self._payments, payment.id, payment, MAX_PAYMENTS)
        return 201, payment_document(payment)

    def _check_order(
        self, claims: dict[str, Any], order: Any
    ) -> dict[str, Any] | Refusal:
        if not isinstance(order, dict):
            return Refusal(400, "invalid_request", "the body must be a JSON object")
        # Payments, unlike reads, do check ownership: the demo's weakness
        # is in reading, and a free-for-all transfer would hide it.
        account = self.account(str(order.get("from_account", "")))
        if account is None or account.id not in owned_ids(claims):
            return Refusal(422, "invalid_payment", "from_account is not your account")
        fields = _order_fields(order)
        if isinstance(fields, Refusal):
            return fields
        if fields["currency"] != account.currency:
            return Refusal(422, "invalid_payment", "currency differs from account's")
        if fields["amount"] > account.balance:
            return Refusal(422, "insufficient_funds", "amount exceeds the balance")
        return {"from_account": account.id, **fields}

    def payment(self, claims: dict[str, Any], payment_id: str) -> Payment | None:
        """A payment the caller made (support staff see all), or None."""
        payment = self._payments.get(payment_id)
        if payment is None:
            return None
        if payment.owner != claims.get("sub") and not is_support(claims):
            return None
        return payment

    # -- support --------------------------------------------------------------

    def open_ticket(
        self, claims: dict[str, Any] | None, form: Any, now: float
    ) -> tuple[int, dict[str, Any]]:
        """Record a support ticket of free text."""
        if not isinstance(form, dict):
            return 400, _error("invalid_request", "the body must be a JSON object")
        subject, message = form.get("subject"), form.get("message")
        if not isinstance(subject, str) or not 0 < len(subject) <= MAX_SUBJECT_CHARS:
            return 422, _error("invalid_ticket", "subject: 1 to 200 characters")
        if not isinstance(message, str) or not 0 < len(message) <= MAX_MESSAGE_CHARS:
            return 422, _error("invalid_ticket", "message: 1 to 10000 characters")
        ticket = {
            "id": "tkt_" + secrets.token_hex(6),
            "status": "open",
            "subject": subject,
            "created_at": _iso(now),
            "opened_by": str(claims.get("sub")) if claims else "anonymous",
        }
        _remember(self._tickets, ticket["id"], ticket, MAX_TICKETS)
        return 201, ticket


def _order_fields(order: dict[str, Any]) -> dict[str, Any] | Refusal:
    to_iban, currency = order.get("to_iban"), order.get("currency")
    memo = order.get("memo", "")
    if not isinstance(to_iban, str) or not iban_valid(to_iban):
        return Refusal(422, "invalid_payment", "to_iban is not a valid IBAN")
    if currency not in CURRENCIES:
        return Refusal(422, "invalid_payment", "currency must be GBP, EUR or USD")
    if not isinstance(memo, str) or len(memo) > MAX_MEMO_CHARS:
        return Refusal(422, "invalid_payment", "memo: at most 140 characters")
    amount = _amount(order.get("amount"))
    if amount is None:
        return Refusal(
            422, "invalid_payment", "amount: a positive sum, at most 2 decimals"
        )
    compact = to_iban.replace(" ", "").upper()
    return {"to_iban": compact, "amount": amount, "currency": currency, "memo": memo}


def _amount(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    exponent = amount.as_tuple().exponent
    if not isinstance(exponent, int) or exponent < -2 or amount <= 0:
        return None  # not finite, finer than a cent, or not positive
    return amount if amount < Decimal(10) ** 9 else None


def _account_number(text: str) -> int | None:
    if not (text.isascii() and text.isdigit()) or len(text) > 12:
        return None
    return int(text)


def _remember(store: OrderedDict[Any, Any], key: Any, value: Any, limit: int) -> None:
    store[key] = value
    while len(store) > limit:
        store.popitem(last=False)


def _error(error: str, detail: str) -> dict[str, Any]:
    return {"error": error, "detail": detail}


def _iso(now: float) -> str:
    return datetime.fromtimestamp(now, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
