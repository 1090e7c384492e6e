"""Any request the HTTP parser accepts gets a decision from the default policy.

A guard or detector that raises turns a request into a 500 without a
verdict: a customer who types an unlucky memo is refused, and the audit log
has no reason.  Hypothesis composes requests to the demo's routes from odd
headers, broken bodies, attacks and honest texts cut short anywhere (as a
query value and as a JSON memo), parses them as the proxy does, and runs
them through the engine with the policy ``vaultgate demo`` writes.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from vaultgate.cli.demo import write_policy
from vaultgate.core.policy import load_policy
from vaultgate.core.rawhttp import ParseFailure, parse_request
from vaultgate.demo.data import USERS
from vaultgate.demo.tokens import TokenIssuer, public_jwk, write_jwks
from vaultgate.engine import Engine
from vaultgate.guards import load_all
from vaultgate.state.memory import MemoryStore
from vaultgate.telemetry.audit import AuditLog, Timings

# (method, target): routes of the demo policy, with and without tokens.
ENDPOINTS = [
    ("GET", "/accounts/1001"),
    ("GET", "/accounts/1007/transactions?page=2&limit=50"),
    ("POST", "/payments"),
    ("POST", "/login"),
    ("POST", "/graphql"),
    ("GET", "/search"),
    ("GET", "/accounts/Benapr%E9s?ciudad=Marug%E1n"),  # Latin-1, not UTF-8
    ("POST", "/support/ticket"),
    ("DELETE", "/accounts/%2e%2e/1001"),
    ("PUT", "/.env"),
    ("OPTIONS", "/accounts/1001?__proto__[x]=1&a[$ne]=1"),
]
HEADERS = [
    b"Range: bytes=0-1,2-3,-5",
    b"Range: bytes=x",
    b"Cookie: $Version=1; a=b",
    b"Cookie: =;;=",
    b"Cookie: session=\xff\xfe",
    b"Authorization: Bearer x.y.z",
    b"Authorization: Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.",
    b"Authorization: Basic !!!",
    b"X-Forwarded-For: 1.2.3.4, ::1, garbage",
    b'Forwarded: for="[::1]"',
    b"Host: 999.1.1.1:99999",
    b"Accept-Charset: utf-7",
    b"Content-Encoding: gzip",
    b"Accept: ",
    b"Sec-Fetch-User: ?2",
    b"DPoP: a.b.c",
    b"X-HTTP-Method-Override: DELETE",
    b"Idempotency-Key: \x01",
    b"User-Agent: sqlmap/1.0",
    b"Origin: null",
    b"Referer: http://[::1",
    b"Accept-Encoding: " + b"gzip," * 100,
]
CONTENT_TYPES = [
    b"application/json; charset=utf-16",
    b"application/xml",
    b"multipart/form-data; boundary=xYz",
    b"multipart/form-data",
    b"application/x-www-form-urlencoded",
    b"application/graphql",
    b"text/plain",
]
# Attacks and honest texts, each sent whole or cut short anywhere.
TEXTS = [
    "update t set a=1 where id=1",
    "insert into savings values (1)",
    "' union select null,table_name from information_schema.tables--",
    "1' or '1'='1' -- O'Reilly",
    "<svg/onload=alert(1)>&#x3C;script&#x3E;",
    "${jndi:ldap://127.0.0.1/a} {{7*7}} $(id) ../../etc/passwd",
    'query{__schema{types{name}}} {account(id: "1007") {id}}',
    "<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><x>&e;</x>",
    '{"$where": "sleep(100)"} [$ne]=1 __proto__[a]',
    "Rent for March; select a payee later - drop-off at 5 or 6",
]
texts = st.sampled_from(TEXTS).flatmap(
    lambda whole: st.integers(0, len(whole)).map(lambda cut: whole[:cut])
)
# Bodies other than a JSON memo: broken, binary, or of another kind.
RAW_BODIES = [
    b'{"a":',
    b'{"account_id": [1, 2], "amount": {"$gt": 0}, "to": null, "n": 1e999}',
    b'--xYz\r\nContent-Disposition: form-data; name="f"; filename="a.php"\r\n\r\n'
    b"<?php system($_GET[1]); ?>\r\n--xYz--\r\n",
    b"username=alice&password=p%40ss&memo=1'%20or%20'1'%3D'1",
    b'\xff\xfe{\x00"\x00a\x00',
]
requests = st.tuples(
    st.sampled_from(ENDPOINTS),
    texts,
    st.lists(st.sampled_from(HEADERS), max_size=3),
    st.one_of(st.none(), st.sampled_from(CONTENT_TYPES)),
    st.one_of(st.none(), st.sampled_from(RAW_BODIES), st.binary(max_size=120)),
    st.booleans(),  # with a valid token of alice's, so the payload guards run
)
# Each request from its own address: bans and rate limits, which react to
# who sends, would otherwise stop the later examples before inspection.
_ADDRESSES = (f"198.51.{n >> 8 & 255}.{n & 255}" for n in itertools.count(1))


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Engine, TokenIssuer]:
    load_all()
    directory: Path = tmp_path_factory.mktemp("demo")
    key = ec.generate_private_key(ec.SECP256R1())
    write_jwks({"keys": [public_jwk(key)]}, str(directory / "jwks.json"))
    audit = str(directory / "audit.jsonl")
    args = argparse.Namespace(
        port=8181, api_port=9191, workers=1, dir=None, audit=audit
    )
    policy = load_policy(str(write_policy(directory, args)))
    engine = Engine(policy, MemoryStore(), AuditLog(policy.settings["audit"]))
    return engine, TokenIssuer(key)


def _raw(
    endpoint: tuple[str, str],
    text: str,
    headers: list[bytes],
    media: bytes | None,
    raw_body: bytes | None,
) -> bytes:
    method, target = endpoint
    target += ("&" if "?" in target else "?") + "q=" + quote(text, safe="")
    if raw_body is None:
        memo = {"from_account": 1001, "amount": "5", "currency": "EUR", "memo": text}
        body = json.dumps(memo).encode()
    else:
        body = raw_body
    lines = [f"{method} {target} HTTP/1.1".encode(), b"Host: api.bank.example"]
    lines += headers
    lines.append(b"Content-Type: " + (media or b"application/json"))
    lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


@settings(
    max_examples=600,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(requests)
# Once raised inside the SQL check: a memo ending in a cut-short UPDATE.
@example((("POST", "/payments"), "update t set", [], None, None, True))
@example((("GET", "/search"), "update t set", [], None, None, False))
# Once lost its audit event: bytes that are not UTF-8 in the path.
@example((("GET", "/accounts/Benapr%E9s?ciudad=Marug%E1n"), "", [], None, None, True))
def test_every_parsed_request_gets_a_decision_and_its_audit_event(
    caplog: pytest.LogCaptureFixture,
    gate: tuple[Engine, TokenIssuer],
    parts: tuple[tuple[str, str], str, list[bytes], bytes | None, bytes | None, bool],
) -> None:
    engine, issuer = gate
    endpoint, text, headers, media, raw_body, signed = parts
    if signed:
        token = issuer.issue(USERS["alice"], int(time.time()))
        headers = [*headers, b"Authorization: Bearer " + token.encode()]
    request = parse_request(
        _raw(endpoint, text, headers, media, raw_body), next(_ADDRESSES)
    )
    if isinstance(request, ParseFailure):
        assert request.reason  # refused by the parser, with its reason
        return
    caplog.clear()
    ex = engine.begin(request)
    decision = asyncio.run(engine.decide(ex))
    # An answer of the policy's own: forwarded, or refused with a 4xx
    # (challenges and bans included), never a failure of vaultgate.
    assert decision.status < 500 or not decision.action.stops, decision
    # And its audit event is written (a failure there is logged, not raised).
    engine.finish(ex, decision.status, Timings())
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
