"""Client address resolution and forwarding fields (pure functions)."""

from __future__ import annotations

import ipaddress

import pytest

from vaultgate.proxy.forwarded import (
    canonical,
    client_address,
    forwarded_for,
    forwarding_fields,
    trust_test,
)

TRUSTED = trust_test(
    [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8::/32")]
)


@pytest.mark.parametrize(
    ("xff", "forwarded", "client"),
    [
        (None, None, "10.0.0.1"),  # no claim: the peer itself
        ("203.0.113.7", None, "203.0.113.7"),
        ("1.1.1.1, 203.0.113.7", None, "203.0.113.7"),  # left of it: a claim
        ("203.0.113.7, 10.2.2.2", None, "203.0.113.7"),  # trusted hops skipped
        ("10.3.3.3, 10.2.2.2", None, "10.3.3.3"),  # all trusted: the leftmost
        ("junk, 10.2.2.2", None, "10.2.2.2"),  # stop at what is no address
        ("203.0.113.7:8443", None, "203.0.113.7"),  # port removed
        ("[2001:db9::1]:443", None, "2001:db9::1"),
        ("::ffff:203.0.113.9", None, "203.0.113.9"),  # mapped IPv4
        (None, 'for=192.0.2.60;proto=https, for="[2001:db8::1]"', "192.0.2.60"),
        (None, "for=unknown", "10.0.0.1"),
        # X-Forwarded-For wins: a trusted balancer appends to it and passes
        # a client's forged Forwarded through untouched.
        ("203.0.113.7", "for=198.51.100.99", "203.0.113.7"),
    ],
)
def test_client_address(xff: str | None, forwarded: str | None, client: str):
    assert client_address("10.0.0.1", xff, forwarded, TRUSTED) == client


def test_forwarded_for_values():
    value = 'for=192.0.2.43, For="[2001:db8:cafe::17]:4711";proto=http, by=x'
    assert forwarded_for(value) == ["192.0.2.43", "[2001:db8:cafe::17]:4711"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("::ffff:127.0.0.1", "127.0.0.1"), ("2001:DB8::1", "2001:db8::1"), ("x", "x")],
)
def test_canonical(text: str, expected: str):
    assert canonical(text) == expected


def test_untrusted_peer_fields_replace_the_claims():
    assert forwarding_fields("192.0.2.1", "http") == (
        b"X-Forwarded-For: 192.0.2.1\r\nX-Forwarded-Proto: http\r\n"
        b"Forwarded: for=192.0.2.1;proto=http\r\n"
    )


def test_trusted_peer_fields_extend_the_chain():
    fields = forwarding_fields(
        "2001:db8::5", "https", "203.0.113.7", "https", "for=203.0.113.7"
    )
    assert fields == (
        b"X-Forwarded-For: 203.0.113.7, 2001:db8::5\r\nX-Forwarded-Proto: https\r\n"
        b'Forwarded: for=203.0.113.7, for="[2001:db8::5]";proto=https\r\n'
    )
