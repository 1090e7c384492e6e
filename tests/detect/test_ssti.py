"""Server-side template injection."""

from __future__ import annotations

import pytest

from tests.detect.family_cases import benign_values, families

MUST_FIRE = [
    "{{7*7}}",
    "{{1337*1338}}",
    "${7*7}",
    "#{7*7}",
    "aaaa'+#{16*8787}+'bbb",
    "<%= 7*7 %>",
    "*{7*7}",
    "{{''.__class__.__mro__[1].__subclasses__()}}",
    "{{config.items()}}",
    "{{lipsum.__globals__['os'].popen('id').read()}}",
    "{{ request.application.__globals__ }}",
    '<#assign ex = "freemarker.template.utility.Execute"?new()>${ ex("id")}',
    "#set($x = $class.inline)",
    "${T(java.lang.Runtime).getRuntime().exec('id')}",
    "{% import os %}{{ os.system('id') }}",
    "{% for x in range(10) %}x{% endfor %}",
    "{{_self.env.registerUndefinedFilterCallback('exec')}}",
    "<% system('id') %>",
    "<% if True %>49<% endif %>",
]

MUST_NOT_FIRE = [
    "{{first_name}} has sent you money",
    "Hello ${firstName}",
    "Dear {{ customer.name }}, your balance is {{ balance }}",
    "Ratio 7*7 = 49",
    "50% {discount}",
    "#{hashtag} campaign",
]


@pytest.mark.parametrize("payload", MUST_FIRE)
def test_template_injection_fires(payload: str) -> None:
    assert "ssti" in families(payload)


@pytest.mark.parametrize("payload", MUST_NOT_FIRE + benign_values())
def test_placeholders_pass(payload: str) -> None:
    assert "ssti" not in families(payload)
