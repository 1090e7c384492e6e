"""Code injection for other runtimes: Node.js, prototype pollution, Python,
Ruby, Perl, ASP/VBScript, YAML deserialization, UTF-7 smuggling.

How this works: each rule names a construct that only code carries and
that an interpreter on the server would run: ``require('child_process')``,
``__proto__``, ``!!python/object``, ``Response.Write(``,
``@{[ system 'id' ]}``.  Data URIs fire unless they carry an image, which
profile-photo and cheque-scan APIs accept routinely.
"""

from __future__ import annotations

import re

from vaultgate.detect.base import Rule, register_rules
from vaultgate.detect.names import NameRule, register_name_rule

# Media types a data: URI may carry in a payment API (profile photos, KYC
# documents, statements); what they contain is not run by a browser.
# SVG is an image that runs script, so it is not among them.
_INERT_DATA = re.compile(
    r"\s*data:(?:image/(?!svg)|application/(?:pdf|octet-stream|zip|json|msword"
    r"|vnd\.)|audio/|video/|text/csv)",
    re.IGNORECASE,
)


def _not_inert(text: str) -> bool:
    return _INERT_DATA.match(text) is None


_SCORE = 5
RULES = (
    Rule(
        "generic.prototype_pollution",
        "generic",
        r"__proto__|\bconstructor['\"]?\]?\s*(?:\.|\[\s*['\"]?)\s*prototype\b",
        _SCORE,
        description="JavaScript prototype pollution (__proto__, constructor.prototype)",
    ),
    Rule(
        "generic.node_rce",
        "generic",
        r"\brequire\s*\(\s*['\"`]?(?:child_process|fs|net|vm|os|process)['\"`]?\s*\)"
        r"|child_process|process\.(?:mainmodule|binding|dlopen|env\b|kill\s*\()"
        r"|\bglobal\.process\b|constructor\.constructor|\bnew\s+function\s*\("
        r"|_\$\$nd_func\$\$_|__js_function|string\.fromcharcode\b"
        r"|\bmodule\.exports\s*=|\.(?:spawn|execsync|execfile|spawnsync)\s*\("
        r"|\b(?:process|require)\s*\[|\$\w+:(?:\w+:)?(?:constructor|prototype)\b"
        r"|\bconsole\s*(?:\.|\[\s*['\"])\s*(?:log|info|warn|error|debug|dir|table)\b"
        r"|\brequire\.main\b|\bprocess\.spawn\s*\(",
        _SCORE,
        description="Node.js code that reaches the process or the file system",
    ),
    Rule(
        "generic.js_function",
        "generic",
        r"\bfunction\s*\w*\s*\([^)]{0,40}\)\s*\{|=>\s*\{[^}]*\b(?:return|require)\b",
        _SCORE,
        description="a JavaScript function definition in a value",
    ),
    Rule(
        "generic.js_busy_loop",
        "generic",
        r"\bwhile\s*\(+\s*[!+-]*\s*(?:true|false|infinity|null|undefined|nan|this"
        r"|string|new\s+date|\d+|\"\"|''|``|\{\}|\[\])\s*\)",
        _SCORE,
        description="an endless JavaScript loop (denial of service)",
    ),
    Rule(
        "generic.data_uri",
        "generic",
        r"^\s*data:[\w.+-]+/[\w.+-]+(?:;[\w.+-]+=?[\w.+-]*)*(?:[;,]|\s*$)",
        _SCORE,
        confirm=_not_inert,
        description="a data: URI of a type a browser runs (HTML, SVG, text)",
    ),
    Rule(
        "generic.float_dos",
        "generic",
        # The doubles next to the smallest normal one that send the Java
        # (CVE-2010-4476) and PHP (CVE-2010-4645) parsers into an endless
        # loop; an amount or a measurement is never written with 17 digits.
        r"\b2\.225073858507201[12]\d*e-0*308\b"
        r"|\b0\.0*2225073858507201[12]\d*e-0*30\d\b",
        _SCORE,
        description="a float that hangs the Java or PHP number parser",
    ),
    Rule(
        "generic.yaml_tag",
        "generic",
        r"!!(?:python/(?:object|name|module|apply)|ruby/(?:object|hash|struct)"
        r"|javax?\.|java/|com\.sun\.|org\.)",
        _SCORE,
        description="a YAML tag that makes a deserializer build an object",
    ),
    Rule(
        "generic.python_code",
        "generic",
        r"\b__import__\s*\(|\bos\.(?:system|popen|exec\w*|spawn\w*)\s*\("
        r"|\bsubprocess\.(?:call|run|popen|check_output|check_call)\s*\("
        r"|\beval\s*\(\s*compile\s*\(|\bpickle\.loads\s*\(|\bimport\s+os\s*[;,]"
        r"|\bsocket\.(?:socket|gethostbyname|create_connection)\s*\(",
        _SCORE,
        description="Python that runs commands or opens sockets",
    ),
    Rule(
        "generic.ruby_code",
        "generic",
        r"\bkernel\.(?:exec|system|open|spawn|eval)\b|\bio\.popen\b|%x\(|%x\{"
        r"|\bopen3\.|\binstance_eval\b|\bclass_eval\b|\.send\s*\(\s*:(?:system|eval)",
        _SCORE,
        description="Ruby that runs commands",
    ),
    Rule(
        "generic.perl_code",
        "generic",
        r"@\{\s*\[",
        _SCORE,
        description="Perl code interpolated into a string: @{[ ... ]}",
    ),
    Rule(
        "generic.asp_code",
        "generic",
        r"\bresponse\.(?:write|binarywrite|redirect|end)\s*\(|\bserver\.(?:createobject"
        r"|scripttimeout|execute|transfer|mappath)\b|\bcreateobject\s*\(\s*[\"']"
        r"(?:wscript|scripting|msxml2|adodb|shell\.application)|\bwscript\.shell\b"
        r"|\bon\s+error\s+resume\s+next\b|\bexecute(?:global)?\s*\(\s*[\"(]"
        r"|\"\s*&\s*\"",
        _SCORE,
        description="ASP / VBScript that runs code or writes the response",
    ),
    Rule(
        "generic.utf7_markup",
        "generic",
        r"\+AD[w4]-|\+ACI-|\+ACc-",
        _SCORE,
        caseless=False,
        description="UTF-7 encoded markup (+ADw- is '<'), an encoding evasion",
    ),
    Rule(
        "generic.orm_lookup",
        "generic",
        r"__(?:startswith|istartswith|endswith|iendswith|contains|icontains|regex"
        r"|iregex|isnull|has_keys?|contained_by|gte?|lte?|in|exact|iexact|range"
        r"|search)$",
        4,
        paranoia=2,
        kinds=frozenset({"json-key", "query-name", "form-name"}),
        description="a Django-style ORM lookup in a parameter name",
    ),
)

register_rules(*RULES)
# Pollution through a parameter name or a JSON key ({"__proto__": ...}),
# which the value extractor skips when it is a plain identifier.
register_name_rule(
    NameRule("generic.prototype_pollution_name", "generic", RULES[0].pattern)
)
