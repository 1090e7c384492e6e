"""Parameter names and JSON keys of a request, for name-borne attacks.

How this works: the value extractor skips names that are plain identifiers
(``page``, ``items[]``), since nothing in them executes.  A few attacks
are carried by exactly such names: prototype pollution (``__proto__``,
``constructor[prototype]``), Spring class-loader access
(``class.module.classLoader...``), Java class names or serialized objects
bound as parameters.  Families declare those patterns with
``register_name_rule``; ``check_names`` (a request-level check) runs them.

Fast path, and its guarantee: the patterns are compiled into one Hyperscan
database, scanned over the query, form and cookie names and the raw JSON
body (or its decoded keys when the body uses ``\\u`` escapes).  A name a
pattern matches is in one of those texts, so no hit there means no finding;
only on a hit are the names listed and each checked on its own.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import hyperscan

from vaultgate import hsdb
from vaultgate.core.model import Finding
from vaultgate.core.request import Request
from vaultgate.detect.engine import register_request_check

# JSON keys visited per request, and how deep: the same order of bounds as
# the value extractor's, so a check here never costs more than a scan.
MAX_NAMES = 4096
MAX_DEPTH = 32


@dataclass(frozen=True, slots=True)
class NameRule:
    """A pattern that, found in a parameter name or JSON key, is a finding."""

    id: str
    family: str
    pattern: str
    score: int = 5
    caseless: bool = True


_ASCII_ESCAPE = re.compile(rb"\\u00[2-7][0-9a-fA-F]")
_RULES: list[NameRule] = []
# One entry, set once: (database, [(rule, regex)]); read without the lock.
_COMPILED: dict[str, tuple[Any, list[tuple[NameRule, re.Pattern[str]]]]] = {}
_LOCK = threading.Lock()


def register_name_rule(rule: NameRule) -> None:
    """Add a name rule; call at import time, before the first request."""
    if any(known.id == rule.id for known in _RULES):
        raise ValueError(f"name rule {rule.id!r} registered twice")
    _RULES.append(rule)
    _COMPILED.clear()


def request_names(request: Request) -> list[tuple[str, str]]:
    """(kind, name) for each query, form and cookie name and JSON key."""
    names = [("query-name", name) for name, _ in request.args]
    names += [("form-name", name) for name, _ in request.form()]
    names += [("cookie-name", name) for name, _ in request.cookies]
    document = request.json()
    if isinstance(document, dict | list):
        _keys(document, MAX_DEPTH, names)
    return names[:MAX_NAMES]


def _keys(node: Any, depth: int, out: list[tuple[str, str]]) -> None:
    if depth < 0 or len(out) >= MAX_NAMES:
        return
    children = node.values() if isinstance(node, dict) else node
    if isinstance(node, dict):
        out.extend(("json-key", key) for key in node if isinstance(key, str))
    for child in children:
        if isinstance(child, dict | list):
            _keys(child, depth - 1, out)


def _database() -> tuple[Any, list[tuple[NameRule, re.Pattern[str]]]]:
    """The compiled name rules, built when a policy loads (``prepare``)."""
    compiled = _COMPILED.get("both")
    if compiled is not None:
        return compiled
    with _LOCK:
        if not _COMPILED:
            flags = hyperscan.HS_FLAG_DOTALL | hyperscan.HS_FLAG_SINGLEMATCH
            database = hsdb.build(
                [rule.pattern.encode() for rule in _RULES],
                [
                    flags | (hyperscan.HS_FLAG_CASELESS if rule.caseless else 0)
                    for rule in _RULES
                ],
                list(range(len(_RULES))),
            )
            rules = [
                (rule, re.compile(rule.pattern, re.IGNORECASE if rule.caseless else 0))
                for rule in _RULES
            ]
            _COMPILED["both"] = (database, rules)
        return _COMPILED["both"]


def _texts(request: Request) -> list[bytes]:
    """Every text a name could be in: names, and the JSON body."""
    names = [name for name, _ in request.args]
    if request.body:
        names += [name for name, _ in request.form()]
    names += [name for name, _ in request.cookies]
    texts = ["\n".join(names).encode("utf-8", "surrogatepass")]
    document = request.json()
    if isinstance(document, dict | list):
        texts.append(request.body)
        if _ASCII_ESCAPE.search(request.body):
            # Serializers escape only control and non-ASCII characters; an
            # escaped letter hides a key from the raw scan, so decode keys.
            keys: list[tuple[str, str]] = []
            _keys(document, MAX_DEPTH, keys)
            texts.append("\n".join(k for _, k in keys).encode("utf-8", "surrogatepass"))
    return texts


def _on_match(rule: int, start: int, end: int, flags: int, found: list[int]) -> bool:
    found.append(rule)
    return True  # one hit is enough: stop scanning


def _hit(text: bytes, database: Any) -> bool:
    # One module-level handler and a list as its context: no closure is
    # built per request.
    found: list[int] = []
    with contextlib.suppress(hyperscan.ScanTerminated):
        database.scan(text, match_event_handler=_on_match, context=found)
    return bool(found)


def check_names(request: Request, paranoia: int) -> Iterable[Finding]:
    """Findings for the name rules, one per rule and name at most."""
    if not _RULES:
        return []
    database, rules = _database()
    if not _hit(b"\n".join(_texts(request)), database):
        return []
    findings = []
    for kind, name in request_names(request):
        for rule, pattern in rules:
            if pattern.search(name):
                where = f"{kind}:{name[:64]}"
                findings.append(
                    Finding(rule.family, rule.id, rule.score, where, name[:64])
                )
    return findings


register_request_check("names", check_names, prepare=_database)
