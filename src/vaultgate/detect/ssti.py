"""Server-side template injection: Jinja, Twig, FreeMarker, Velocity, ERB ...

How this works: a probe evaluates arithmetic inside template delimiters
(``{{7*7}}``, ``${7*7}``, ``#{7*7}``, ``<%= 7*7 %>``) and an exploit
walks from a template object to the interpreter (``__class__.__mro__``,
``freemarker.template.utility.Execute``, ``T(java.lang.Runtime)``).  A
plain placeholder such as ``{{name}}`` or ``${amount}`` is not a finding:
notification templates use them.
"""

from __future__ import annotations

from vaultgate.detect.base import Rule, register_rules

_OPEN = r"(?:\{\{|\$\{|#\{|\*\{|@\{|<%=?|\{%|\{#|\[\[|@\()"
_SCORE = 5
RULES = (
    Rule(
        "ssti.arithmetic",
        "ssti",
        _OPEN + r"\s*[-+]?\d+\s*[-+*/%]\s*[-+]?\d+\s*(?:\}|%>|%\}|\]\]|\))",
        _SCORE,
        description="arithmetic inside template delimiters, the classic probe",
    ),
    Rule(
        "ssti.python_gadget",
        "ssti",
        r"__(?:class|mro|subclasses|globals|builtins|init|base|bases|import"
        r"|getattribute|dict|code|func_globals)__|\.mro\(\s*\)"
        r"|\blipsum\s*\.|\bcycler\s*\.|\bjoiner\s*\.|\|\s*attr\s*\("
        r"|\brequest\.application\b|\bconfig\.(?:items|from_\w+)\s*\(",
        _SCORE,
        description="a Jinja/Python sandbox-escape attribute chain",
    ),
    Rule(
        "ssti.java_gadget",
        "ssti",
        r"freemarker\.template\.utility\.(?:execute|objectconstructor|jythonruntime)"
        r"|<#assign\b|\?new\s*\(|\?api\.|#set\s*\(\s*\$|\$class\.inline"
        r"|\bT\s*\(\s*java\.|\.getclass\s*\(\s*\)\s*\.forname\s*\("
        r"|\bnew\s+java\.|__\$\{.*\}__",
        _SCORE,
        description="a FreeMarker/Velocity/Thymeleaf/SpEL gadget",
    ),
    Rule(
        "ssti.statement",
        "ssti",
        r"\{%\s*-?\s*(?:if|for|set|import|include|extends|macro|raw|block|with"
        r"|print|load|debug|call|filter)\b",
        _SCORE,
        description="a Jinja/Twig/Django statement block",
    ),
    Rule(
        "ssti.twig_gadget",
        "ssti",
        r"_self\.env\.|registerundefinedfiltercallback|getfilter\s*\("
        r"|\{\{\s*_self\b|\{php\}|\{system\s*\(|\{\{\s*#with\b|\{\{\s*constructor\b",
        _SCORE,
        description="a Twig/Smarty/Handlebars escape",
    ),
    Rule(
        "ssti.scriptlet",
        "ssti",
        r"<%[=@!#]?\s*(?:system|exec|eval|require|import|`|response\.|request\.|"
        r"runtime|process|new\s|out\.print|if\s|for\s|end)",
        _SCORE,
        description="an ERB/JSP/ASP scriptlet",
    ),
    Rule(
        "ssti.expression",
        "ssti",
        r"(?:\{\{|\$\{|#\{)[\w\s.'\"|:-]{0,60}[(\[][^}]{0,40}\}",
        4,
        paranoia=2,
        description="a call or index inside template delimiters",
    ),
)

register_rules(*RULES)
