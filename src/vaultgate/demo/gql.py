"""The demo bank's GraphQL endpoint: schema, resolvers and the HTTP mapping.

The schema mirrors the REST API (``me``, ``account(id)``, ``transactions``
and a ``transfer`` mutation) and shares its weaknesses: ``account(id)``
returns any account with every internal field, and owners link back to
their accounts, so a query can nest as deep as its author likes.  The demo
sets no depth, alias or batch limits (that is vaultgate's job); it only
caps the work of one request, so that a deep query cannot freeze the event
loop that every other test request waits on.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import orjson
from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLFormattedError,
    GraphQLResolveInfo,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    build_schema,
    execute_sync,
    parse,
    validate,
)

from vaultgate.demo.bank import Bank, account_document, transaction_document
from vaultgate.demo.data import ACCOUNTS
from vaultgate.demo.http import Request

# Fields resolved per HTTP request: a 10-level query over a few accounts
# stays far below it; a query that fans out exponentially stops here.
MAX_RESOLVED_FIELDS = 20_000
MAX_TOKENS = 20_000  # lexical tokens in one document
MAX_CACHED_DOCUMENTS = 256  # parsed and validated queries kept

SDL = """
type Query {
  me: User!
  account(id: ID!): Account
  transactions(accountId: ID!, first: Int = 10): [Transaction!]!
}

type Mutation {
  transfer(fromAccount: ID!, toIban: String!, amount: String!,
           currency: String!, memo: String, idempotencyKey: String): Payment!
}

type User {
  id: ID!
  username: String!
  name: String!
  roles: [String!]!
  accounts: [Account!]!
}

type Owner {
  customerId: ID!
  name: String!
  email: String!
  phone: String!
  accounts: [Account!]!
}

type Account {
  id: ID!
  type: String!
  currency: String!
  balance: String!
  status: String!
  opened: String!
  iban: String!
  cardNumber: String
  cardExpiry: String
  nationalId: String
  internalRiskScore: Float
  kycNotes: String
  owner: Owner!
  transactions(first: Int = 10): [Transaction!]!
}

type Counterparty {
  name: String!
  iban: String!
}

type Transaction {
  id: ID!
  accountId: ID!
  bookedAt: String!
  amount: String!
  currency: String!
  counterparty: Counterparty!
  memo: String!
  category: String!
}

type Payment {
  id: ID!
  status: String!
  fromAccount: ID!
  toIban: String!
  amount: String!
  currency: String!
  memo: String
  createdAt: String!
}
"""


@dataclass(frozen=True, slots=True)
class Operation:
    """One GraphQL request: the query, its variables and the HTTP method."""

    method: str
    query: str
    variables: dict[str, Any] | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class BadOperation:
    """A request that is not a GraphQL operation, with the status to answer."""

    status: int
    message: str


@dataclass(slots=True)
class _Context:
    bank: Bank
    claims: dict[str, Any]
    now: float
    resolved: int = field(default=0)

    def charge(self) -> None:
        self.resolved += 1
        if self.resolved > MAX_RESOLVED_FIELDS:
            raise GraphQLError("query too expensive for the demo bank")


Info = GraphQLResolveInfo[_Context]
Errors = list[GraphQLFormattedError]


def build() -> GraphQLSchema:
    """The schema with the demo's resolvers attached."""
    schema = build_schema(SDL)
    query, mutation = schema.query_type, schema.mutation_type
    assert query is not None and mutation is not None
    query.fields["me"].resolve = _me
    query.fields["account"].resolve = _account
    query.fields["transactions"].resolve = _transactions
    mutation.fields["transfer"].resolve = _transfer
    _object_field(schema, "Account", "transactions").resolve = _account_transactions
    _object_field(schema, "Owner", "accounts").resolve = _owner_accounts
    return schema


def _object_field(schema: GraphQLSchema, type_name: str, field_name: str) -> Any:
    kind = schema.get_type(type_name)
    return getattr(kind, "fields")[field_name]  # noqa: B009 - a GraphQLObjectType


# -- the HTTP side ---------------------------------------------------------------


def read_operation(request: Request) -> Operation | list[Operation] | BadOperation:
    """The operation(s) a GET or POST request carries (GraphQL over HTTP)."""
    if request.method == "GET":
        return _from_query_string(request)
    media = request.header("content-type").split(";")[0].strip().lower()
    if media == "application/graphql":
        return Operation("POST", request.body.decode("utf-8", "replace"))
    try:
        payload = orjson.loads(request.body)
    except orjson.JSONDecodeError:
        return BadOperation(400, "the body is not valid JSON")
    if isinstance(payload, list):
        ops = [_from_json(item) for item in payload]
        bad = [op for op in ops if isinstance(op, BadOperation)]
        return bad[0] if bad else [op for op in ops if isinstance(op, Operation)]
    return _from_json(payload)


def _from_query_string(request: Request) -> Operation | BadOperation:
    args = dict(parse_qsl(request.query, keep_blank_values=True, errors="replace"))
    query = args.get("query")
    if not query:
        return BadOperation(400, "a 'query' parameter is required")
    variables: Any = None
    if args.get("variables"):
        try:
            variables = orjson.loads(args["variables"])
        except orjson.JSONDecodeError:
            return BadOperation(400, "'variables' is not valid JSON")
    return _checked("GET", query, variables, args.get("operationName"))


def _from_json(payload: Any) -> Operation | BadOperation:
    if not isinstance(payload, dict):
        return BadOperation(400, "expected a JSON object with a 'query'")
    return _checked(
        "POST",
        payload.get("query"),
        payload.get("variables"),
        payload.get("operationName"),
    )


def _checked(
    method: str, query: Any, variables: Any, name: Any
) -> Operation | BadOperation:
    if not isinstance(query, str) or not query:
        return BadOperation(400, "'query' must be a non-empty string")
    if variables is not None and not isinstance(variables, dict):
        return BadOperation(400, "'variables' must be an object")
    if name is not None and not isinstance(name, str):
        return BadOperation(400, "'operationName' must be a string")
    return Operation(method, query, variables, name or None)


def run(
    schema: GraphQLSchema,
    operation: Operation | list[Operation],
    bank: Bank,
    claims: dict[str, Any],
    now: float,
) -> tuple[int, Any]:
    """Execute; the HTTP status and the JSON document to answer with."""
    context = _Context(bank, claims, now)
    if isinstance(operation, list):
        return 200, [_execute(schema, op, context)[1] for op in operation]
    return _execute(schema, operation, context)


def _execute(
    schema: GraphQLSchema, operation: Operation, context: _Context
) -> tuple[int, dict[str, Any]]:
    prepared = _prepare(schema, operation.query)
    if isinstance(prepared, list):
        return 400, {"errors": prepared}
    if operation.method == "GET" and _is_mutation(prepared, operation.name):
        return 405, {"errors": [{"message": "mutations must be sent with POST"}]}
    result = execute_sync(
        schema,
        prepared,
        context_value=context,
        variable_values=operation.variables,
        operation_name=operation.name,
        field_resolver=_resolve_field,
    )
    document: dict[str, Any] = {"data": result.data}
    if result.errors:
        document["errors"] = [error.formatted for error in result.errors]
    return 200, document


@functools.lru_cache(maxsize=MAX_CACHED_DOCUMENTS)
def _prepare(
    schema: GraphQLSchema, query: str
) -> DocumentNode | list[GraphQLFormattedError]:
    # Parsing and validating cost more than executing a small query.
    try:
        document = parse(query, max_tokens=MAX_TOKENS)
    except GraphQLError as error:
        return [error.formatted]
    except RecursionError:
        return [{"message": "the document is nested too deeply to parse"}]
    errors = validate(schema, document)
    return [error.formatted for error in errors] if errors else document


def _is_mutation(document: DocumentNode, name: str | None) -> bool:
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode) and (
            name is None or (definition.name and definition.name.value == name)
        ):
            return definition.operation is OperationType.MUTATION
    return False


# -- resolvers --------------------------------------------------------------------

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


@functools.cache
def _snake(name: str) -> str:
    return _CAMEL.sub("_", name).lower()


def _resolve_field(source: Any, info: Info, **args: Any) -> Any:
    info.context.charge()
    if isinstance(source, dict):
        return source.get(_snake(info.field_name))
    return None


def _me(_: Any, info: Info) -> dict[str, Any]:
    context = info.context
    context.charge()
    claims = context.claims
    return {
        "id": claims.get("sub"),
        "username": claims.get("preferred_username", ""),
        "name": claims.get("name", ""),
        "roles": claims.get("roles", []),
        "accounts": [account_document(a) for a in context.bank.accounts_for(claims)],
    }


def _account(_: Any, info: Info, id: str) -> dict[str, Any] | None:
    # BOLA ON PURPOSE, as in REST: the caller's accounts are not consulted.
    info.context.charge()
    account = info.context.bank.account(id)
    return account_document(account) if account else None


def _transactions(
    _: Any,
    info: Info,
    accountId: str,
    first: int,  # noqa: N803
) -> list[dict[str, Any]]:
    info.context.charge()
    found = info.context.bank.transactions(accountId, max(0, min(first, 100)))
    if found is None:
        raise GraphQLError(f"account {accountId[:20]!r} not found")
    return [transaction_document(tx) for tx in found]


def _account_transactions(
    source: dict[str, Any], info: Info, first: int
) -> list[dict[str, Any]]:
    return _transactions(None, info, str(source["id"]), first)


def _owner_accounts(source: dict[str, Any], info: Info) -> list[Any]:
    info.context.charge()
    owner = source["customer_id"]
    held = [a for a in ACCOUNTS.values() if a.owner.customer_id == owner]
    return [account_document(a) for a in held]


def _transfer(_: Any, info: Info, **args: Any) -> dict[str, Any]:
    context = info.context
    context.charge()
    order = {
        "from_account": args["fromAccount"],
        "to_iban": args["toIban"],
        "amount": args["amount"],
        "currency": args["currency"],
        "memo": args.get("memo") or "",
    }
    key = args.get("idempotencyKey")
    status, document = context.bank.pay(context.claims, order, key, context.now)
    if status != 201:
        raise GraphQLError(document["detail"], extensions={"code": document["error"]})
    return document
