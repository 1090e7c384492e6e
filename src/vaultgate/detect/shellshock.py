"""Shellshock (CVE-2014-6271): a Bash function definition in a value.

How this works: vulnerable Bash runs whatever follows a function
definition imported from the environment, and CGI servers copy headers and
parameters into the environment.  The marker is ``() {`` at the start of a
value (or after a quote), which no header or prose begins with; a function
expression in code, ``function() {``, has a name before the parenthesis.
"""

from __future__ import annotations

from vaultgate.detect.base import Rule, register_rules

RULES = (
    Rule(
        "shellshock.function",
        "shellshock",
        r"(?:^|[\s'\"=:;,])\(\s*\)\s*\{",
        5,
        description="a Bash function definition, () {",
    ),
)

register_rules(*RULES)
