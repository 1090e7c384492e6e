"""One authorization check through the engine, whatever adapter asked.

Each adapter turns what its caller sent into the original ``Request`` and
hands it to ``check``: the engine routes it, runs the route's guards as
the inline proxy would, and writes the audit event, tagged with the
adapter's name.  A call the adapter cannot believe (an untrusted peer, a
missing original target) is refused by ``refuse``, audited as the inline
proxy audits a message it refuses before it is a request.
Both return a ``Verdict``; neither raises on a refusal.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from time import perf_counter_ns, time

from vaultgate.adapters.verdict import Verdict, verdict
from vaultgate.core.model import Action, Decision
from vaultgate.core.request import Request
from vaultgate.engine import Engine
from vaultgate.proxy.forwarded import client_address, parse_address
from vaultgate.proxy.replies import INTERNAL_ERROR
from vaultgate.telemetry.audit import Timings

log = logging.getLogger("vaultgate.adapters")

ADAPTER_TAG = "adapter"
# What the client is told when the proxy's call could not be believed;
# the audit event keeps the exact reason for the operator.
_REFUSED_DETAIL = "The request could not be checked and was refused."


async def check(engine: Engine, request: Request, adapter: str) -> Verdict:
    """Run the pipeline on ``request``; audit it and return the verdict."""
    started = perf_counter_ns()
    ex = engine.begin(request)
    ex.tags[ADAPTER_TAG] = adapter
    try:
        decision = await engine.decide(ex)
    except Exception:
        log.exception(
            "adapter.check_failed adapter=%s incident=%s", adapter, ex.incident_id
        )
        decision = ex.decision = INTERNAL_ERROR
    result = verdict(decision, ex.incident_id)
    spent = (perf_counter_ns() - started) // 1000
    timings = Timings(
        inspection_us=spent,
        total_us=spent,
        bytes_in=len(request.target) + len(request.body),
        bytes_out=len(result.body),
    )
    engine.finish(ex, result.status, timings)
    return result


def broken(adapter: str) -> Verdict:
    """The verdict when an adapter itself failed: refused, never let through.

    Called from the adapter's one catch-all, with the exception being
    handled; a failure must not read as "service down" to a proxy that
    may be set to fail open.
    """
    incident_id = os.urandom(8).hex()
    log.exception("adapter.failed adapter=%s incident=%s", adapter, incident_id)
    return verdict(INTERNAL_ERROR, incident_id)


def refusal(reason: str) -> Decision:
    """The decision refusing a call whose original request is not believed."""
    return Decision(
        Action.BLOCK, 403, reasons=(f"adapter:{reason}",), detail=_REFUSED_DETAIL
    )


def refuse(
    engine: Engine,
    adapter: str,
    peer_ip: str,
    request_line: tuple[str, str],
    decision: Decision,
) -> Verdict:
    """Refuse a call before the pipeline (see ``refusal``); audit it."""
    method, target = request_line
    incident_id = os.urandom(8).hex()
    reason = ",".join(decision.reasons)
    log.warning(
        "adapter.refused adapter=%s peer=%s reason=%s incident=%s",
        adapter,
        peer_ip,
        reason,
        incident_id,
    )
    result = verdict(decision, incident_id)
    try:
        engine.audit.record_refusal(
            time(), incident_id, peer_ip, method, target, result.status, reason
        )
    except Exception:  # a failure in the audit never changes an answer
        log.exception("audit.failed incident=%s", incident_id)
    return result


def original_client(
    reported: str,
    xff: str | None,
    forwarded: str | None,
    trusted: Callable[[str], bool],
) -> str | None:
    """The client's address from the proxy's report; None if it is no address.

    When the reported address is itself a trusted proxy (a load balancer in
    front of nginx or Envoy), its forwarding chain names the client, read
    exactly as the inline proxy reads it.
    """
    address = parse_address(reported)
    if address is None:
        return None
    text = str(address)
    if not trusted(text):
        return text
    return client_address(text, xff, forwarded, trusted)
