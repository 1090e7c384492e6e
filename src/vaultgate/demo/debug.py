"""The demo's leaking error page, for vaultgate's response filter to catch.

ON PURPOSE: ``/debug/error`` answers 500 with what a framework in debug mode
shows: a Python traceback with file paths and the failing SQL statement,
the database's error text and the value that broke it.  The traceback is a
real one, raised by a small fake database call, so it has the shape that
filters meet in the wild.
"""

from __future__ import annotations

import html
import traceback

import orjson

# The echoed value is cut: enough to show the injection, not a reflection
# channel of arbitrary size.
MAX_ECHOED_CHARS = 100


class DatabaseError(Exception):
    """What a PostgreSQL driver would raise for a broken statement."""


# Named as psycopg2's own error in the traceback, as a real leak would be.
DatabaseError.__module__ = "psycopg2"


def _run_query(statement: str) -> None:
    raise DatabaseError(
        'syntax error at or near "\'"\n'
        f"LINE 1: {statement}\n"
        "HINT:  unterminated quoted string; check the SQL statement"
    )


def _load_account(account_id: str) -> None:
    statement = (
        "SELECT id, owner_id, balance, iban FROM accounts "
        f"WHERE id = '{account_id}' AND deleted_at IS NULL"
    )
    _run_query(statement)


def _trace(value: str) -> str:
    try:
        _load_account(value[:MAX_ECHOED_CHARS])
    except DatabaseError:
        return traceback.format_exc()
    return ""


def error_page(value: str, style: str) -> tuple[bytes, str]:
    """The body and content type of the leaking 500 page."""
    trace = _trace(value)
    if style == "json":
        document = {
            "error": "internal_error",
            "exception": "psycopg2.DatabaseError",
            "trace": trace,
        }
        return orjson.dumps(document), "application/json"
    page = (
        "<!doctype html><html><head><title>500 Internal Server Error</title>"
        "</head><body><h1>Internal Server Error</h1>"
        "<p>psycopg2.DatabaseError while handling GET /accounts</p>"
        f"<pre>{html.escape(trace)}</pre>"
        "<p>demo-bank debug mode (DEBUG=True)</p></body></html>"
    )
    return page.encode("utf-8"), "text/html; charset=utf-8"
