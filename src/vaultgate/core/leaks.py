"""Error pages that leak internals: stack traces, SQL errors, server paths.

A framework's debug page or a raw exception message tells an attacker the
language, the libraries, the file layout and, for SQL errors, the shape of
the query being injected into.  ``leak_kind`` names what a response body
gives away, or returns None.  Each pattern is the signature a runtime or
database prints, not a word that ordinary prose or JSON would contain.
"""

from __future__ import annotations

import re

# (kind, pattern); the first that matches names the leak.
_SIGNATURES: tuple[tuple[str, str], ...] = (
    # Python
    ("stack_trace", r"Traceback \(most recent call last\)"),
    ("stack_trace", r"File \"[^\"\n]{1,300}\.py\", line \d+, in "),
    # Java / JVM
    (
        "stack_trace",
        r"(?:\n|\\n)\s*at [\w$.<>]+\([\w$]+\.(?:java|kt|scala|groovy):\d+\)",
    ),
    ("stack_trace", r"\bjava\.(?:lang|io|sql|util)\.[A-Za-z]+(?:Exception|Error)\b"),
    ("stack_trace", r"Exception in thread \"[^\"]+\""),
    # .NET
    ("stack_trace", r"(?:\n|\\n)\s*at [\w.`<>\[\]]+\(.*\) in .{1,300}:line \d+"),
    ("stack_trace", r"Server Error in '[^']*' Application"),
    ("stack_trace", r"\bSystem\.(?:[A-Z]\w+\.)*[A-Z]\w+Exception\b"),
    # PHP
    (
        "stack_trace",
        r"(?:Fatal error|Parse error|Warning|Notice)</b>?:.{1,300} on line",
    ),
    ("stack_trace", r"PHP (?:Fatal error|Parse error|Warning|Notice):"),
    ("stack_trace", r"Stack trace:\s*#0 "),
    # Node.js
    (
        "stack_trace",
        r"(?:\n|\\n)\s*at (?:[\w$.<>\[\] ]+ )?\(?(?:/|[A-Za-z]:\\|file://|node:)"
        r"[^\s()]{1,300}:\d+:\d+\)?",
    ),
    # Ruby, Go
    ("stack_trace", r"\.rb:\d+:in `"),
    ("stack_trace", r"goroutine \d+ \[running\]:"),
    # SQL errors, by database
    ("sql_error", r"\bORA-\d{5}\b"),
    ("sql_error", r"\bSQLSTATE\[?[0-9A-Z]{5}\]?"),
    ("sql_error", r"You have an error in your SQL syntax"),
    ("sql_error", r"\bmysql_(?:fetch|num_rows|query)\w*\(|MySQL server version for"),
    (
        "sql_error",
        r"\bERROR: {1,2}(?:syntax error at or near|relation \"[^\"]+\" does "
        r"not exist|column \"[^\"]+\" does not exist|unterminated quoted string)",
    ),
    ("sql_error", r"\b(?:PG::|psycopg2?\.|pq: )\w*(?:Error|error)"),
    ("sql_error", r"\bsqlite3?\.(?:Operational|Programming|Integrity)Error\b"),
    ("sql_error", r"SQLite3::\w+Exception|SQLITE_ERROR"),
    ("sql_error", r"Unclosed quotation mark after the character string"),
    ("sql_error", r"Incorrect syntax near '"),
    ("sql_error", r"Microsoft OLE DB Provider for (?:SQL Server|ODBC)"),
    ("sql_error", r"\bSQLException\b|\bsqlalchemy\.exc\.\w+"),
    # Internal paths and deployment layout
    ("internal_path", r"/(?:site|dist)-packages/"),
    ("internal_path", r"(?<![\w/])/home/[a-z_][\w.-]{0,31}/"),
    (
        "internal_path",
        r"(?<![\w/])/(?:var/www|usr/local/lib|opt/[\w.-]+/(?:lib|src|app))/",
    ),
    ("internal_path", r"/node_modules/[\w@.-]+/"),
    ("internal_path", r"\b[A-Z]:\\(?:Users|inetpub|Windows|Program Files)\\"),
    ("internal_path", r"/WEB-INF/"),
)
_KINDS = tuple(kind for kind, _ in _SIGNATURES)
_ANY = re.compile("|".join(f"({pattern})" for _, pattern in _SIGNATURES))

# A debug page puts its trace near the top; scanning past this many
# characters costs time on large bodies and finds little more.
MAX_SCANNED_CHARS = 256 * 1024


def leak_kind(text: str) -> str | None:
    """What ``text`` leaks: ``stack_trace``, ``sql_error``, ``internal_path``."""
    match = _ANY.search(text, 0, MAX_SCANNED_CHARS)
    if match is None or match.lastindex is None:
        return None
    return _KINDS[match.lastindex - 1]
