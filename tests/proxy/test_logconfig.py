"""Log output: the same event name and keys as text and as JSON."""

from __future__ import annotations

import json
import logging

from vaultgate.proxy.logconfig import JsonFormatter


def record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord(
        "vaultgate.proxy", logging.ERROR, "f.py", 1, msg, args, None
    )


def test_json_takes_keys_from_the_format_and_values_from_the_arguments():
    text = JsonFormatter().format(
        record(
            "policy.reload_refused source=%s error=%s count=%d",
            "p.yaml",
            "p.yaml: upstream: expected a URL, got 'a b=c'",
            3,
        )
    )
    doc = json.loads(text)
    assert doc["event"] == "policy.reload_refused"
    assert doc["error"] == "p.yaml: upstream: expected a URL, got 'a b=c'"
    assert doc["count"] == 3
    assert doc["level"] == "error" and doc["logger"] == "vaultgate.proxy"


def test_json_falls_back_to_the_message_when_fields_do_not_line_up():
    doc = json.loads(JsonFormatter().format(record("odd message %s %s", "a", "b")))
    assert doc == doc | {"event": "odd", "message": "odd message a b"}
