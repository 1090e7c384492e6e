"""Java attacks: JNDI / Log4Shell lookups, dangerous classes, OGNL and EL,
deserialization magic and Spring class-loader access.

How this works: Log4j expands ``${...}`` lookups anywhere in a logged
string, nested ones first, so ``${${lower:j}ndi:...}`` becomes
``${jndi:...}``; ``confirm`` performs that expansion (a few rounds, no
recursion) before looking for ``jndi:``.  The other rules name things that
only an exploit carries: ``java.lang.Runtime``, commons-collections
gadget transformers, ``#_memberAccess``, the serialization stream magic
``AC ED 00 05`` (``rO0AB`` in Base64), ``class.module.classLoader``.
"""

from __future__ import annotations

import base64
import re

from vaultgate.detect.base import Rule, register_rules
from vaultgate.detect.names import NameRule, register_name_rule

_LOOKUP = re.compile(r"\$\{([^${}]*)\}")
_DEFAULT = re.compile(r"^[^:]*(?::[^:-]*)*?:-(.*)$", re.DOTALL)
# Rounds of expansion: real payloads nest two or three deep.
_MAX_ROUNDS = 8
_JNDI = re.compile(
    r"\$\{\s*jndi\s*:|\{\s*jndi\s*:|jndi\s*:\s*(?:ldaps?|rmi|dns|iiop|corba|nds|nis"
    r"|https?)\s*:",
    re.IGNORECASE,
)
_EXCEPTION = re.compile(r"(?:exception|error|throwable)\b", re.IGNORECASE)


def _expand(match: re.Match[str]) -> str:
    """What Log4j makes of one innermost lookup, for our purpose."""
    body = match.group(1)
    default = _DEFAULT.match(body)
    if default:
        return default.group(1)
    name, _, arg = body.partition(":")
    if name.strip().lower() in ("lower", "upper"):
        return arg
    if name.strip().lower() == "jndi":
        return "\x00jndi:" + arg  # keep it visible, stop further expansion
    return ""


def is_jndi(text: str) -> bool:
    """Whether ``text`` reaches a ${jndi:...} lookup once expanded."""
    if _JNDI.search(text):
        return True
    for _ in range(_MAX_ROUNDS):
        expanded = _LOOKUP.sub(_expand, text)
        if "\x00jndi:" in expanded.lower() or _JNDI.search(expanded):
            return True
        if expanded == text:
            return False
        text = expanded
    return False


def base64_forms(word: bytes) -> list[str]:
    """The Base64 text ``word`` produces at each of the three byte offsets.

    Only the characters that depend on ``word`` alone are kept, so the
    result appears inside any Base64 blob that contains ``word``.
    """
    forms = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + word).decode("ascii")
        start = (offset * 8 + 5) // 6
        end = ((offset + len(word)) * 8) // 6
        forms.append(encoded[start:end])
    return forms


# Class names of deserialization gadgets, as they appear inside serialized
# streams and as the lower-case tokens of gadget-chain generators.
_GADGET_NAMES = (
    b"InvokerTransformer",
    b"ChainedTransformer",
    b"InstantiateTransformer",
    b"ConstantTransformer",
    b"TemplatesImpl",
    b"ProcessBuilder",
    b"java.lang.Runtime",
    b"AnnotationInvocationHandler",
    b"BadAttributeValueExpException",
    b"runtime",
    b"processbuilder",
    b"clonetransformer",
    b"forclosure",
    b"instantiatefactory",
    b"instantiatetransformer",
    b"invokertransformer",
    b"prototypeclonefactory",
    b"prototypeserializationfactory",
    b"whileclosure",
)
_BASE64_GADGETS = "|".join(
    re.escape(form) for name in _GADGET_NAMES for form in base64_forms(name)
)


def _not_an_exception(text: str) -> bool:
    """A class reference that is not merely an exception name in a trace."""
    return _EXCEPTION.search(text) is None


_SCORE = 5
RULES = (
    Rule(
        "java.jndi",
        "java",
        r"\$\{.{0,200}?(?:jndi|\$\{|:-|lower:|upper:)|\{\s*jndi\s*:",
        _SCORE,
        confirm=is_jndi,
        description="a Log4j JNDI lookup, nested or obfuscated",
    ),
    Rule(
        "java.log4j_lookup",
        "java",
        r"\$\{\s*(?:env|sys|java|ctx|main|bundle|k8s|docker|web|spring|log4j"
        r"|marker|sd|event|base64|date|map|jvmrunargs)\s*:",
        _SCORE,
        description="a Log4j lookup that leaks environment or system data",
    ),
    Rule(
        "java.class",
        "java",
        r"\bjava\.(?:lang|io|nio|net|util|rmi|beans|security|sql)\.[a-z]"
        r"|\bjavax\.(?:script|naming|management|el|xml\.transform|imageio)\."
        r"|\bjava\w*\.(?:\w+\.)*(?:runtime|processbuilder)\b"
        r"|\b(?:com\.sun\.(?:org\.apache|jndi|rowset|management)|sun\.misc"
        r"|org\.apache\.(?:commons\.(?:collections|beanutils|io)|xalan|bcel"
        r"|commons\b)|org\.omg\.corba|com\.opensymphony\.xwork2|org\.codehaus"
        r"\.groovy|groovy\.lang|bsh\.interpreter|ognl\.ognl|com\.bea\.core"
        r"|org\.springframework\.(?:context|beans|expression|jndi))\b",
        _SCORE,
        confirm=_not_an_exception,
        description="a Java class used for code execution or file access",
    ),
    Rule(
        "java.gadget",
        "java",
        r"(?:invoker|chained|constant|instantiate|clone|map|predicate|closure)"
        r"transformer|forclosure|whileclosure|instantiatefactory"
        r"|prototype(?:clone|serialization)factory|templatesimpl"
        r"|badattributevalueexpexception|annotationinvocationhandler"
        r"|jdbcrowsetimpl|processbuilder|getruntime\s*\(|\.exec\s*\(\s*request",
        _SCORE,
        description="a deserialization gadget or Runtime/ProcessBuilder",
    ),
    Rule(
        "java.serialized",
        "java",
        # Both the code points and their UTF-8 bytes: the engine may scan either.
        r"rO0AB|KztAAU|Cs7QAF|\xac\xed\x00\x05|\xc2\xac\xc3\xad\x00\x05",
        _SCORE,
        caseless=False,
        description="a Java serialization stream (AC ED 00 05; rO0AB in Base64)",
    ),
    Rule(
        "java.base64_gadget",
        "java",
        _BASE64_GADGETS,
        _SCORE,
        caseless=False,
        description="a deserialization gadget class name inside Base64",
    ),
    Rule(
        "java.serialized_hex",
        "java",
        r"\baced0005[0-9a-f]{4}|%ac%ed%00%05",
        _SCORE,
        description="a hex or percent-encoded Java serialization stream",
    ),
    Rule(
        "java.ognl",
        "java",
        r"#_memberaccess|@ognl\.|#context\s*\[|%\{\s*\(\s*#|\(\s*#\w+\s*=\s*@"
        r"|@java\.lang\.\w+@|#\{\s*T\s*\(|\$\{\s*T\s*\(|\.getclass\s*\(\s*\)"
        r"\.(?:forname|getclassloader)|\bclass\.forname\s*\("
        r"|\.getmethod\s*\([^)]*\)\s*\.invoke\s*\(",
        _SCORE,
        description="OGNL or Spring EL that reaches Java classes",
    ),
    Rule(
        "java.classloader",
        "java",
        r"(?:^|[.\[])class(?:\.|\[['\"]?)(?:module|classloader|protectiondomain)"
        r"|\.classloader\.|filesystemxmlapplicationcontext"
        r"|classpathxmlapplicationcontext",
        _SCORE,
        description="Spring class-loader manipulation (Spring4Shell)",
    ),
)

register_rules(*RULES)

_BY_ID = {rule.id: rule for rule in RULES}
# The same patterns for parameter names and JSON keys, which the value
# extractor skips when they are plain identifiers (java.lang.Runtime=x).
for _rule_id in ("java.classloader", "java.class", "java.gadget"):
    register_name_rule(NameRule(_rule_id + "_name", "java", _BY_ID[_rule_id].pattern))
for _rule_id in ("java.serialized", "java.base64_gadget"):
    _pattern = _BY_ID[_rule_id].pattern
    register_name_rule(NameRule(_rule_id + "_name", "java", _pattern, caseless=False))
