"""The engine: one policy's compiled plans, run for each request.

How this works: when a policy loads, the engine builds a ``Plan`` per route
(its guards, in phase order) and keeps them in an immutable table; a reload
builds a new table and swaps it in one assignment, so a request in flight
finishes with the plans it started with.  Per request, ``begin`` routes it,
``decide`` runs the guards until one stops it, and ``finish`` writes the
audit event.  Monitor mode decides exactly as block mode, records the
decision, and forwards.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from vaultgate.core.exchange import Exchange
from vaultgate.core.model import ALLOW, Action, Decision, Mode
from vaultgate.core.paths import normalize_path
from vaultgate.core.policy import Policy, Route, RouteMatch
from vaultgate.core.request import Request
from vaultgate.errors import StateError
from vaultgate.guards import load_all
from vaultgate.guards.base import Guard, Services, build_guards
from vaultgate.state import health
from vaultgate.state.base import Store
from vaultgate.state.settings import state_failed
from vaultgate.telemetry.audit import AuditLog, Timings

log = logging.getLogger("vaultgate.proxy")

# Routing decisions remembered (a dict, emptied when full): enough for an
# API's hot paths, bounded so that a scan of random paths costs a refill.
MAX_ROUTED = 4096
# Only paths up to this long are remembered, so the table stays near a
# megabyte whatever the paths; longer ones are routed each time.
MAX_ROUTED_PATH = 256
# Incident ids drawn from the kernel per batch: one getrandom call for this
# many requests, not one per request.
IDS_PER_DRAW = 256
security_log = logging.getLogger("vaultgate.security")


@dataclass(frozen=True, slots=True)
class Plan:
    route: Route
    guards: tuple[Guard, ...]
    response_guards: tuple[Guard, ...]
    # Guards that learn from every decision (running client scores).
    decision_guards: tuple[Guard, ...] = ()


class Engine:
    """Runs the pipeline of the current policy."""

    def __init__(
        self,
        policy: Policy,
        store: Store,
        audit: AuditLog,
        clock: Callable[[], float] = time.time,
    ) -> None:
        load_all()
        self.store = store
        self.audit = audit
        self.clock = clock
        self.policy = policy
        self._plans = self._compile(policy)
        # Routing by (method, normalised path), remembered: API clients ask
        # for the same paths again and again.  Read-only matches are shared.
        self._routed: dict[tuple[str, str], RouteMatch] = {}

    def _compile(self, policy: Policy) -> dict[int, Plan]:
        services = Services(self.store, self.clock)
        plans = {}
        for route in (*policy.routes, policy.default_route):
            # A route in mode off runs no guard: building its guards (the
            # inspection databases ...) would only slow loading down.
            off = route.mode is Mode.OFF
            guards = () if off else build_guards(policy, route, services)
            responders = tuple(g for g in guards if _overrides_response(g))
            learners = tuple(g for g in guards if _overrides_decision(g))
            plans[route.index] = Plan(route, guards, responders, learners)
        return plans

    def reload(self, policy: Policy) -> None:
        """Swap in a new policy; requests in flight keep the old plans."""
        plans = self._compile(policy)
        self.policy, self._plans, self._routed = policy, plans, {}

    def begin(self, request: Request) -> Exchange:
        """Route a request and open its exchange."""
        policy, routed = self.policy, self._routed
        path = normalize_path(request.path)
        key = (request.method, path)
        match = routed.get(key)
        if match is None:
            match = policy.match(request.method, path)
            if len(path) <= MAX_ROUTED_PATH:
                if len(routed) >= MAX_ROUTED:
                    routed.clear()
                routed[key] = match
        return Exchange(
            request,
            policy,
            match.route,
            match.params,
            self.clock(),
            _incident_ids.take(),
            path,
        )

    async def decide(self, ex: Exchange) -> Decision:
        """Run the route's guards; the decision to enforce (monitor: ALLOW)."""
        route = ex.route
        if route.mode is Mode.OFF:
            ex.decision = ALLOW
            return ALLOW
        plan = self._plans[route.index]
        decision = await self._run(plan, ex)
        ex.decision = decision
        for guard in plan.decision_guards:
            try:
                await guard.on_decision(ex, decision)
            except StateError as exc:
                health.report(guard.name, route.path, "skipped", exc)
        if route.mode is Mode.MONITOR and decision.action.stops:
            return ALLOW
        return decision

    async def _run(self, plan: Plan, ex: Exchange) -> Decision:
        alert: Decision | None = None
        for guard in plan.guards:
            try:
                decision = await guard.check(ex)
            except StateError as exc:
                # One boundary for every guard: the route's on_state_error.
                decision = state_failed(ex, guard.name, exc)
            if decision is None:
                continue
            if decision.action.stops:
                return decision
            alert = decision
        return alert or ALLOW

    def response_guards(self, ex: Exchange) -> tuple[Guard, ...]:
        """The guards that want to see this exchange's response."""
        if ex.route.mode is Mode.OFF:
            return ()
        plan = self._plans.get(ex.route.index)
        return plan.response_guards if plan else ()

    def finish(self, ex: Exchange, status: int, timings: Timings) -> None:
        """Write the audit event; a failure here never changes a verdict."""
        try:
            self.audit.record(ex, status, timings)
        except Exception:
            log.exception("audit.failed incident=%s", ex.incident_id)

    async def close(self) -> None:
        await self.store.close()
        await self.audit.aclose()  # delivers what is queued, spools the rest


class _IncidentIds:
    """Unguessable 16-hex-digit ids, sliced from one random draw per batch."""

    __slots__ = ("_hex", "_next")

    def __init__(self) -> None:
        self._hex = ""
        self._next = 0

    def take(self) -> str:
        start = self._next
        if start >= len(self._hex):
            self._hex = os.urandom(8 * IDS_PER_DRAW).hex()
            start = 0
        self._next = start + 16
        return self._hex[start : start + 16]

    def discard(self) -> None:
        """Forget the batch: a forked worker must not reuse its parent's ids."""
        self._hex, self._next = "", 0


_incident_ids = _IncidentIds()
os.register_at_fork(after_in_child=_incident_ids.discard)


def _overrides_response(guard: Guard) -> bool:
    kind = type(guard)
    return (
        kind.on_response is not Guard.on_response
        or kind.wants_body is not Guard.wants_body
    )


def _overrides_decision(guard: Guard) -> bool:
    return type(guard).on_decision is not Guard.on_decision


def enforced(decision: Decision, mode: Mode) -> bool:
    """Whether ``decision`` stops the request under ``mode``."""
    return decision.action.stops and mode is Mode.BLOCK


__all__ = ["Action", "Engine", "Plan", "enforced"]
