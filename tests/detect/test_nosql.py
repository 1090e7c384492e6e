"""NoSQL (MongoDB-style) injection."""

from __future__ import annotations

import pytest

from tests.detect.family_cases import benign_values, families, request_rules

MUST_FIRE = [
    ("json-key", "$.password", "$ne"),
    ("json-key", "$.user", "$where"),
    ("query-name", "user[$ne]", "user[$ne]"),
    ("form-name", "login[$regex]", "login[$regex]"),
    ("json", "$.q", "true, $where: '99 == 88'"),
    ("json", "$.q", "', $or: [ {}, { 'order':'order"),
    ("json", "$.q", '{"$gt": ""}'),
    ("json", "$.q", "db.users.find({})"),
    ("json", "$.q", "db.injection.insert({success:1});"),
    ("json", "$.q", "0;var d=new Date(); do{c = new Date();}while(c-d<10000)"),
    ("json", "$.q", "this.password.match(/^a/)"),
    # An operator in brackets in a value: a parameter name on its way into
    # a query string or form, or glued to the value.
    ("query", "mongoQ", "[$lte]asdfsd"),
    ("xml", "a/@probe", "u_id[$ne]"),
    ("json", "$.filter", "user[$regex]=^adm"),
    ("form", "q", "[ $nin ]"),
]

MUST_NOT_FIRE = [
    ("json-key", "$", "$ref"),
    ("json-key", "$", "$schema"),
    ("json-key", "$", "$id"),
    ("json", "$.memo", "$100 for the concert"),
    ("json", "$.memo", "Price in $US: 50"),
    ("json", "$.memo", "db.example.com is down"),
    # Template slots and prices in brackets.
    ("json", "$.memo", "Dear [$name], your total is [$100]"),
    ("json", "$.memo", "Field [$text] and [$type] here"),
    ("query", "q", "items[0]"),
]


@pytest.mark.parametrize(("kind", "name", "payload"), MUST_FIRE)
def test_operators_fire(kind: str, name: str, payload: str) -> None:
    assert "nosql" in families(payload, kind, name)


@pytest.mark.parametrize(("kind", "name", "payload"), MUST_NOT_FIRE)
def test_schema_keys_and_dollars_pass(kind: str, name: str, payload: str) -> None:
    assert "nosql" not in families(payload, kind, name)


@pytest.mark.parametrize("payload", benign_values())
def test_benign_values_pass(payload: str) -> None:
    assert "nosql" not in families(payload)


def test_an_operator_key_in_a_json_body_fires() -> None:
    body = b'{"username": "admin", "password": {"$ne": null}}'
    raw = (
        b"POST /login HTTP/1.1\r\nHost: api.example\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
    )
    assert "nosql.operator_key" in request_rules(raw + body)
