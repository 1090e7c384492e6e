"""What a sink is: somewhere a batch of encoded audit events can be sent.

A sink only knows how to deliver one batch, or say why it could not
(``SinkError``, retryable or not).  Queues, batching, retries and the
spool are the channel's (``telemetry.channel``), the same for every sink.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence

from vaultgate.errors import VaultgateError
from vaultgate.telemetry.record import Record


class SinkError(VaultgateError):
    """A delivery failed; ``retryable`` is False when resending cannot help."""

    def __init__(self, sink: str, reason: str, retryable: bool = True) -> None:
        self.sink = sink
        self.reason = reason
        self.retryable = retryable
        super().__init__(f"audit sink {sink}: {reason}")


class Sink(abc.ABC):
    """One destination of audit events."""

    kind = ""
    local = False  # writes to this machine (file, stdout): no network

    def __init__(self, name: str) -> None:
        self.name = name

    @abc.abstractmethod
    async def deliver(self, records: Sequence[Record]) -> None:
        """Send one batch, in order; raise ``SinkError`` if it was not taken.

        Returns within the sink's own timeouts: a hung peer is a failure.
        """

    def write_now(self, records: Sequence[Record]) -> bool:
        """Write without an event loop (shutdown); False if this sink cannot."""
        return False

    def close(self) -> None:  # noqa: B027 - most sinks hold nothing to close
        """Release connections and files."""

    async def aclose(self) -> None:
        """Release connections and files from the event loop."""
        self.close()
