"""GraphQL introspection: the schema asked for, in every way a query arrives."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from tests.detect.family_cases import benign_values, request_rules, rule_ids

RULE = "graphql.introspection"


def post(body: bytes, content_type: bytes = b"application/json") -> bytes:
    return (
        b"POST /graphql HTTP/1.1\r\nHost: api.bank.example\r\n"
        b"Content-Type: " + content_type + b"\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


def get(query: str) -> bytes:
    return (
        b"GET /graphql?query=" + query.encode() + b" HTTP/1.1\r\n"
        b"Host: api.bank.example\r\n\r\n"
    )


SCHEMA = "query IntrospectionQuery { __schema { queryType { name } types { name } } }"
ONE_TYPE = '{ __type(name: "Account") { fields { name type { name } } } }'


@pytest.mark.parametrize(
    "raw",
    [
        post(json.dumps({"query": SCHEMA}).encode()),
        post(json.dumps({"query": ONE_TYPE}).encode()),
        post(json.dumps([{"query": "{ me { id } }"}, {"query": SCHEMA}]).encode()),
        post(SCHEMA.encode(), b"application/graphql"),
        get(quote(SCHEMA)),
        # Not GraphQL at all: a JSON document in ?query=, encoded twice, is
        # read as text after decoding.
        get(quote(quote(json.dumps({"query": "{__schema {types {name}}}"})))),
        post(
            b"query=" + quote(ONE_TYPE).encode(), b"application/x-www-form-urlencoded"
        ),
    ],
)
def test_introspection_fires(raw: bytes) -> None:
    assert RULE in request_rules(raw)


@pytest.mark.parametrize(
    "raw",
    [
        # Apollo adds __typename to every selection: ordinary traffic.
        post(
            json.dumps(
                {"query": "{ me { __typename id accounts { __typename iban } } }"}
            ).encode()
        ),
        post(
            json.dumps({"query": 'query { account(id: "__schema") { id } }'}).encode()
        ),
        post(
            json.dumps(
                {"$schema": "https://json-schema.org/draft/2020-12/schema"}
            ).encode()
        ),
        get(quote("{ payments(first: 10) { id amount } }")),
    ],
)
def test_ordinary_queries_pass(raw: bytes) -> None:
    assert RULE not in request_rules(raw)


@pytest.mark.parametrize(
    "text",
    [
        "The __schema field lists every type",
        "obj.__type__(value)",
        "Use __typename to tell the types apart",
    ],
)
def test_prose_about_introspection_passes(text: str) -> None:
    assert RULE not in rule_ids(text)


def test_benign_payment_values_pass() -> None:
    for value in benign_values():
        assert RULE not in rule_ids(value), value
