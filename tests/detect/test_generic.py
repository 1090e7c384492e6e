"""Node.js, prototype pollution and other runtimes' code injection."""

from __future__ import annotations

import pytest

from tests.detect.family_cases import benign_values, families, request_rules
from vaultgate.detect import names
from vaultgate.detect.engine import Inspector

MUST_FIRE = [
    "2.2250738585072011e-308",
    "2.2250738585072012e-308",
    "0.00022250738585072012e-304",
    "require('child_process').exec('id')",
    "process.mainModule.require('fs')",
    "this.constructor.constructor('return process')()",
    "new Function('return 1')()",
    "_$$ND_FUNC$$_function(){require('child_process')}",
    "eval(String.fromCharCode(97,108))",
    "process['env']",
    "console.log(7*7)",
    "{'_formData':{'get':'$3:constructor:constructor'}}",
    '{"__proto__": {"isAdmin": true}}',
    "constructor.prototype.isAdmin",
    "while(true);",
    "while(!0)",
    "function() { return 1 }",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "data:text/plain",
    "data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+",
    "!!python/object/apply:os.system ['id']",
    "!!javax.script.ScriptEngineManager [!!java.net.URLClassLoader [[]]]",
    "__import__('os').system('id')",
    "subprocess.check_output(['id'])",
    "Kernel.exec('id')",
    "@{[ system 'id' ]}",
    'Response.Write("x")',
    'CreateObject("WScript.Shell")',
    "On Error Resume Next",
    "+ADw-script+AD4-alert(1)+ADw-/script+AD4-",
]

MUST_NOT_FIRE = [
    "2.225e-308",
    "2.2250738585072014e-308",
    "amount 22250738585",
    "data:image/png;base64,iVBORw0KGgo=",
    "data:application/pdf;base64,JVBERi0xLjQK",
    "data:text/csv;base64,ZGF0ZSxhbW91bnQK",
    "The process environment is stable",
    "console table for the lobby",
    "Function of the account: savings",
    "while (you wait) we process",
    "Prototype review on Friday",
    "Please write a response to the customer",
]


@pytest.mark.parametrize("payload", MUST_FIRE)
def test_code_fires(payload: str) -> None:
    assert "generic" in families(payload)


@pytest.mark.parametrize("payload", MUST_NOT_FIRE + benign_values())
def test_prose_passes(payload: str) -> None:
    assert "generic" not in families(payload)


@pytest.mark.parametrize(
    ("query", "body"),
    [
        (b"__proto__[isAdmin]=true", b""),
        (b"a[constructor][prototype][x]=1", b""),
        (b"", b'{"user": {"__proto__": {"admin": true}}}'),
    ],
)
def test_pollution_by_name_fires(query: bytes, body: bytes) -> None:
    head = b"POST /api?" + query + b" HTTP/1.1\r\nHost: api.example\r\n"
    head += b"Content-Type: application/json\r\n"
    raw = head + b"Content-Length: %d\r\n\r\n" % len(body) + body
    assert "generic.prototype_pollution_name" in request_rules(raw)


def test_the_names_database_is_built_with_the_inspector() -> None:
    # The first request must not wait ~130 ms for it to compile.
    names._COMPILED.clear()
    Inspector((), 1)
    assert "both" in names._COMPILED
