"""Splunk HTTP Event Collector: batched, gzipped, acknowledged if asked.

Each event is wrapped in HEC's envelope (``time``, ``host``, ``source``,
``sourcetype``, ``index``, ``event``) and a batch is the envelopes one
after another in one POST, as HEC accepts them.  Every request names a
channel (``X-Splunk-Request-Channel``).  With ``ack: true`` a batch only
counts as delivered once the indexer acknowledges its ``ackId``; a batch
not acknowledged within ``ack_timeout`` is sent again, so a SIEM may see
it twice (deduplicate on ``event.id``).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from collections.abc import Sequence

import orjson

from vaultgate.telemetry.record import Record
from vaultgate.telemetry.settings import Delivery, HecOptions
from vaultgate.telemetry.sinks.base import SinkError
from vaultgate.telemetry.sinks.http import HttpSink

log = logging.getLogger("vaultgate.audit")

EVENT_PATH = "/services/collector/event"
_NO_ACK = "ack is on in the policy but the HEC token does not acknowledge"
# HEC answers 400 with these codes when the channel is missing or unknown:
# a configuration matter an operator fixes, so the batch is kept.
_CHANNEL_CODES = frozenset({10, 11})


class HecSink(HttpSink):
    """Delivers batches to a Splunk HTTP Event Collector."""

    kind = "splunk_hec"

    def __init__(
        self, name: str, options: HecOptions, delivery: Delivery, token: str
    ) -> None:
        super().__init__(name, options.url, delivery.timeout, options.tls)
        if self.path in ("", "/"):
            self.path = EVENT_PATH
        self.gzip = options.gzip
        self._options = options
        channel = options.channel or str(uuid.uuid4())
        self.headers = {
            "Authorization": "Splunk " + token,
            "Content-Type": "application/json",
            "X-Splunk-Request-Channel": channel,
        }
        envelope: dict[str, str] = {
            "host": socket.gethostname(),
            "source": options.source,
            "sourcetype": options.sourcetype,
        }
        if options.index:
            envelope["index"] = options.index
        self._envelope = orjson.dumps(envelope)[1:-1]  # the fields, no braces
        base = self.path.removesuffix("/event").removesuffix("/raw").rstrip("/")
        self._ack_path = base + "/ack"
        self._warned = False

    def body(self, records: Sequence[Record]) -> bytes:
        fields = self._envelope
        return b"".join(
            b'{"time":%.3f,%s,"event":%s}' % (r.ts, fields, r.line) for r in records
        )

    def refusal(self, status: int, answer: bytes) -> SinkError:
        error = super().refusal(status, answer)
        if status == 400 and _code(answer) in _CHANNEL_CODES:
            error.retryable = True
        return error

    async def accepted(self, status: int, answer: bytes, size: int) -> None:
        if not self._options.ack:
            return
        ack_id = _ack_id(answer)
        if ack_id is None:
            # The token has indexer acknowledgement off: the batch was taken,
            # and resending it would only duplicate it.
            if not self._warned:
                log.warning("audit.hec_no_ack sink=%s detail=%s", self.name, _NO_ACK)
                self._warned = True
            return
        await self._await_ack(ack_id)

    async def _await_ack(self, ack_id: int) -> None:
        """Poll until the indexer acknowledges ``ack_id``, or time out."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._options.ack_timeout
        query = orjson.dumps({"acks": [ack_id]})
        while loop.time() < deadline:
            await asyncio.sleep(self._options.ack_poll)
            status, answer = await self.post(self._ack_path, query, compress=False)
            if status != 200:
                raise self.refusal(status, answer)
            if _acknowledged(answer, ack_id):
                return
        timeout = self._options.ack_timeout
        raise SinkError(self.name, f"ackId {ack_id} not acknowledged in {timeout}s")


def _code(answer: bytes) -> int | None:
    try:
        code = orjson.loads(answer).get("code")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return code if isinstance(code, int) else None


def _ack_id(answer: bytes) -> int | None:
    try:
        value = orjson.loads(answer).get("ackId")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return value if isinstance(value, int) else None


def _acknowledged(answer: bytes, ack_id: int) -> bool:
    try:
        acks = orjson.loads(answer).get("acks", {})
    except (orjson.JSONDecodeError, AttributeError):
        return False
    return isinstance(acks, dict) and acks.get(str(ack_id)) is True
