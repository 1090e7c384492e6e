"""A route's own protocol rules: the media types, charsets and argument
counts it accepts, and the methods its allowed_methods list lets through."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.guards.pipeline import Pipeline
from vaultgate.errors import PolicyError

POLICY = """
upstream: http://127.0.0.1:9
routes:
  - path: /payments
    inspection:
      protocol:
        content_types: [application/json, Application/JWT]
        charsets: utf-8
        max_args: 3
  - path: /diagnostics
    allowed_methods: [GET, TRACE]
  - path: /other
"""

XML = [("Content-Type", "text/xml")]
JSON_LATIN1 = [("Content-Type", "application/json; charset=iso-8859-1")]


async def test_a_media_type_outside_the_routes_list_is_refused(tmp_path: Path) -> None:
    pipe = Pipeline(tmp_path, POLICY)
    body = b"<payment><amount>10</amount></payment>"
    refused, _ = await pipe.send("/payments", "POST", headers=XML, body=body)
    assert refused.status == 403
    assert "protocol.content_type_not_allowed" in refused.reasons
    elsewhere, _ = await pipe.send("/other", "POST", headers=XML, body=body)
    assert not elsewhere.action.stops


async def test_listed_media_types_pass_in_any_letter_case(tmp_path: Path) -> None:
    pipe = Pipeline(tmp_path, POLICY)
    json_ok, _ = await pipe.send("/payments", "POST", body={"amount": "10.00"})
    jwt = [("Content-Type", "application/jwt")]
    jwt_ok, _ = await pipe.send("/payments", "POST", headers=jwt, body=b"eyJ.eyJ.sig")
    assert not json_ok.action.stops and not jwt_ok.action.stops


async def test_a_charset_outside_the_routes_list_is_refused(tmp_path: Path) -> None:
    pipe = Pipeline(tmp_path, POLICY)
    body = b'{"memo": "caf\\u00e9"}'
    refused, _ = await pipe.send("/payments", "POST", headers=JSON_LATIN1, body=body)
    assert "protocol.charset" in refused.reasons
    # The default list has ISO-8859-1 for legacy clients.
    elsewhere, _ = await pipe.send("/other", "POST", headers=JSON_LATIN1, body=body)
    assert not elsewhere.action.stops


@pytest.mark.parametrize(("count", "refused"), [(3, False), (4, True)])
async def test_argument_count_at_and_over_the_routes_limit(
    tmp_path: Path, count: int, refused: bool
) -> None:
    pipe = Pipeline(tmp_path, POLICY)
    query = "&".join(f"p{i}=1" for i in range(count))
    decision, _ = await pipe.send("/payments?" + query)
    assert ("protocol.too_many_args" in decision.reasons) is refused


async def test_methods_a_route_allows_are_no_protocol_anomaly(tmp_path: Path) -> None:
    pipe = Pipeline(tmp_path, POLICY)
    allowed, _ = await pipe.send("/diagnostics", "TRACE")
    assert not allowed.action.stops
    # TRACE stays an anomaly where the route does not list it.
    refused, _ = await pipe.send("/other", "TRACE")
    assert "protocol.method_not_allowed" in refused.reasons


@pytest.mark.parametrize(
    ("protocol", "where", "expected"),
    [
        (
            "{content_types: [json]}",
            r"routes\[0\]\.inspection\.protocol\.content_types\[0\]",
            "a media type such as application/json",
        ),
        (
            "{content_types: []}",
            r"routes\[0\]\.inspection\.protocol\.content_types",
            "at least one media type",
        ),
        (
            "{charsets: ['utf 8']}",
            r"routes\[0\]\.inspection\.protocol\.charsets\[0\]",
            "a charset name such as utf-8",
        ),
        ("{max_args: 0}", r"routes\[0\]\.inspection\.protocol\.max_args", "1"),
        ("{methods: [GET]}", r"routes\[0\]\.inspection\.protocol", "one of"),
    ],
)
def test_bad_protocol_settings_are_refused_at_load(
    tmp_path: Path, protocol: str, where: str, expected: str
) -> None:
    text = (
        "upstream: http://127.0.0.1:9\n"
        f"routes:\n  - path: /payments\n    inspection: {{protocol: {protocol}}}\n"
    )
    with pytest.raises(PolicyError, match=where) as caught:
        Pipeline(tmp_path, text)
    assert expected in str(caught.value)
