"""A generic HTTPS JSON webhook: NDJSON or a JSON array per batch.

The two shapes log pipelines commonly accept over HTTP (Datadog's logs
intake and Panther's HTTP source take a JSON array; Elastic's and Vector's
HTTP inputs take NDJSON).  Secrets go in headers read from the
environment: a bearer token (``token_env``) and any others
(``header_env: {DD-API-KEY: DD_API_KEY}``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from vaultgate.telemetry.record import Record
from vaultgate.telemetry.settings import Delivery, WebhookOptions
from vaultgate.telemetry.sinks.http import HttpSink


class WebhookSink(HttpSink):
    """POSTs batches of events as NDJSON or a JSON array."""

    kind = "webhook"

    def __init__(
        self,
        name: str,
        options: WebhookOptions,
        delivery: Delivery,
        token: str,
        secret_headers: Mapping[str, str],
    ) -> None:
        super().__init__(name, options.url, delivery.timeout, options.tls)
        self.gzip = options.gzip
        self._array = options.format == "json_array"
        kind = "application/json" if self._array else "application/x-ndjson"
        self.headers = {**options.headers, **secret_headers, "Content-Type": kind}
        if token:
            self.headers["Authorization"] = "Bearer " + token

    def body(self, records: Sequence[Record]) -> bytes:
        if self._array:
            return b"[" + b",".join(r.line for r in records) + b"]"
        return b"".join(r.line + b"\n" for r in records)
