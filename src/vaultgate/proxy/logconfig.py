"""Log output: ``event.name key=value`` lines as text, or the same as JSON.

Log calls name an event and its fields in the format string
(``log.info("policy.reloaded source=%s routes=%d", path, n)``).  The JSON
formatter reads the keys from that format string and the values from the
arguments, so a value holding spaces or ``=`` never breaks a field, and the
keys are the same in both outputs.
"""

from __future__ import annotations

import functools
import logging
import re
import sys
from typing import Any

import orjson

_FIELD = re.compile(r"([A-Za-z_][\w.]*)=%[-#0 +]*\d*(?:\.\d+)?[sdifrx]")
_TEXT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def configure_logging(fmt: str = "text", level: str = "info") -> None:
    """Send the ``vaultgate`` loggers to standard error, as text or JSON."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(_TEXT))
    root = logging.getLogger("vaultgate")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, event and fields."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        doc.update(_fields(record))
        if record.exc_info:
            doc["error.stack_trace"] = self.formatException(record.exc_info)
        return orjson.dumps(doc, default=str).decode()


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    template = record.msg if isinstance(record.msg, str) else str(record.msg)
    event, keys = _parse(template)
    args = record.args if isinstance(record.args, tuple) else ()
    if len(keys) != len(args):
        return {"event": event, "message": record.getMessage()}
    fields: dict[str, Any] = {"event": event}
    for key, value in zip(keys, args, strict=True):
        plain = isinstance(value, int | float | bool | str) or value is None
        fields[key] = value if plain else str(value)
    return fields


@functools.lru_cache(maxsize=512)
def _parse(template: str) -> tuple[str, tuple[str, ...]]:
    event = template.split(" ", 1)[0]
    return event, tuple(_FIELD.findall(template))
