"""GraphQL limits: what a client sees for deep, wide, aliased or batched queries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.guards.pipeline import Pipeline

POLICY = """
upstream: http://127.0.0.1:9
graphql: {max_depth: 4, max_fields: 12, max_aliases: 2, max_batch: 2}
routes:
  - path: /graphql
    graphql: true
  - path: /graphql-open
    graphql: {introspection: true, max_depth: 6}
  - path: /other
"""

SMALL = "{ me { name accounts { id balance } } }"
DEEP = "{ a { b { c { d { e } } } } }"
WIDE = "{ " + " ".join(f"f{i}" for i in range(13)) + " }"
ALIASED = "{ x: otp(code: 1) y: otp(code: 2) z: otp(code: 3) }"
INTROSPECT = "{ __schema { types { name } } }"
# A fragment used under itself: the spec forbids it; servers may loop.
CYCLE = "query { ...A } fragment A on Q { a { ...B } } fragment B on Q { b { ...A } }"
# Fragments multiply: 2 uses of a fragment of 7 fields is 14 fields.
FRAGMENTS = "{ a { ...F } b { ...F } } fragment F on T { f1 f2 f3 f4 f5 f6 f7 }"

CASES = [
    ("small", SMALL, None),
    ("deep", DEEP, "graphql.depth"),
    ("wide", WIDE, "graphql.fields"),
    ("aliased", ALIASED, "graphql.aliases"),
    ("introspection", INTROSPECT, "graphql.introspection"),
    ("fragment-cycle", CYCLE, "graphql.fragment_cycle"),
    ("fragments-expanded", FRAGMENTS, "graphql.fields"),
    ("does-not-parse", "{ me { ", None),
]


def _post(query: object) -> tuple[str, list[tuple[str, str]], bytes]:
    body = json.dumps(query).encode()
    return "POST", [("Content-Type", "application/json")], body


@pytest.mark.parametrize(("name", "query", "reason"), CASES)
async def test_post_queries(
    tmp_path: Path, name: str, query: str, reason: str | None
) -> None:
    pipe = Pipeline(tmp_path, POLICY)
    method, headers, body = _post({"query": query})
    decision, _ = await pipe.send("/graphql", method, headers=headers, body=body)
    if reason is None:
        assert not decision.action.stops, decision
    else:
        assert decision.status == 403 and decision.reasons == (reason,)


async def test_get_query_is_judged_too(tmp_path: Path) -> None:
    pipe = Pipeline(tmp_path, POLICY)
    decision, _ = await pipe.send(
        "/graphql?query=%7B+a+%7B+b+%7B+c+%7B+d+%7B+e+%7D+%7D+%7D+%7D+%7D"
    )
    assert decision.reasons == ("graphql.depth",)


async def test_batches_over_the_limit_are_refused(tmp_path: Path) -> None:
    pipe = Pipeline(tmp_path, POLICY)
    method, headers, body = _post([{"query": SMALL}] * 2)
    ok, _ = await pipe.send("/graphql", method, headers=headers, body=body)
    assert not ok.action.stops
    method, headers, body = _post([{"query": SMALL}] * 3)
    refused, _ = await pipe.send("/graphql", method, headers=headers, body=body)
    assert refused.reasons == ("graphql.batch",)


async def test_route_settings_override_and_other_routes_are_untouched(
    tmp_path: Path,
) -> None:
    pipe = Pipeline(tmp_path, POLICY)
    method, headers, body = _post({"query": INTROSPECT})
    opened, _ = await pipe.send("/graphql-open", method, headers=headers, body=body)
    assert not opened.action.stops
    method, headers, body = _post({"query": DEEP})
    other, _ = await pipe.send("/other", method, headers=headers, body=body)
    assert "graphql.depth" not in other.reasons


async def test_introspection_is_refused_on_routes_without_graphql_limits(
    tmp_path: Path,
) -> None:
    # Payload inspection reads the query there: the same answer, for the
    # same reason, as on a route whose limits forbid it.
    pipe = Pipeline(tmp_path, POLICY)
    method, headers, body = _post({"query": INTROSPECT})
    refused, _ = await pipe.send("/other", method, headers=headers, body=body)
    assert refused.status == 403 and "graphql.introspection" in refused.reasons


def test_a_bad_limit_is_refused_at_load(tmp_path: Path) -> None:
    from vaultgate.errors import PolicyError

    with pytest.raises(PolicyError, match=r"graphql.max_depth: expected an integer"):
        Pipeline(tmp_path, "upstream: http://x\ngraphql: {max_depth: deep}\n")
