"""Server-side request forgery: URLs to this host, private networks, metadata."""

from __future__ import annotations

import ipaddress
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.detect.family_cases import benign_values, families
from vaultgate.detect.ssrf import is_internal_host

MUST_FIRE = [
    "unix:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA|http://attacker.example/",
    "http://169.254.169.254/latest/meta-data/iam/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://127.0.0.1:8080/admin",
    "http://localhost/server-status",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://0.0.0.0:22/",
    "http://0/",
    "http://10.1.2.3/internal",
    "http://172.16.5.4/",
    "http://192.168.0.1/router",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0177.0.0.1/",
    "http://127.1/",
    "http://0xA9.0xFE.0xA9.0xFE/",
    "http://7147006462/",
    "http://①②⑦.⓪.⓪.①/",
    "http://169。254。169。254/",
    "http://user@127.0.0.1/",
    "http://google.com:80 &@127.88.23.245:22/",
    "http://127.0.0.1.nip.io/",
    "https://db.internal/query",
    "gopher://127.0.0.1:6379/_SET%20x",
    "dict://127.0.0.1:11211/stat",
    "ldap://203.0.113.5/o=x",
    "jar:http://attacker.example/a.jar!/",
    "localhost:8080/admin",
    "kubernetes.default.svc.cluster.local/",
    "host.docker.internal/",
    # One slash after the scheme, which lenient parsers accept.
    "http:/2852039166",
    "http:/127.1/admin",
]

MUST_NOT_FIRE = [
    "unix: a family of operating systems | see https://example.org/",
    "socket=unix:/run/app.sock",
    "https://api.partner.example/webhooks",
    "http://8.8.8.8/",
    "https://93.184.216.34/callback",
    "https://localhost.example.com/pay",
    "10.0.0.5",
    "192.168.1.10",
    "localhost",
    "Call 127.0.0.1 support? no",
]


@pytest.mark.parametrize("payload", MUST_FIRE)
def test_internal_targets_fire(payload: str) -> None:
    assert "ssrf" in families(payload, "json", "$.callback_url")


@pytest.mark.parametrize("payload", MUST_NOT_FIRE + benign_values())
def test_public_targets_pass(payload: str) -> None:
    assert "ssrf" not in families(payload, "json", "$.callback_url")


_octet = st.integers(0, 255)


@given(st.tuples(_octet, _octet, _octet, _octet), st.sampled_from(["d", "x", "o"]))
def test_numeric_hosts_read_as_inet_aton_reads_them(
    octets: tuple[int, int, int, int], style: str
) -> None:
    # The same address, spelled in decimal, hex or octal parts, is judged
    # the same as its dotted-decimal form; and inet_aton agrees on which it is.
    spell = {"d": str, "x": hex, "o": lambda n: "0" + oct(n)[2:]}[style]
    host = ".".join(spell(n) for n in octets)
    dotted = ".".join(map(str, octets))
    assert ipaddress.IPv4Address(socket.inet_aton(host)) == ipaddress.IPv4Address(
        dotted
    )
    expected = ipaddress.IPv4Address(dotted)
    internal = (
        expected.is_private
        or expected.is_loopback
        or expected.is_link_local
        or expected.is_unspecified
        or expected.is_reserved
    )
    assert is_internal_host(host) is internal
