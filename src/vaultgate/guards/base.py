"""What a guard is, and the registry that builds them from a policy.

A guard is configured once per route when the policy loads (its factory
reads the route's settings and returns ``None`` when it has nothing to do
there) and runs per request in its phase.  ``check`` returns ``None`` to let
the request go on, having perhaps added findings, or a stopping ``Decision``.
Guards that must see the answer implement ``on_response`` (status and
headers) and, if ``wants_body`` says so, ``filter_body``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from vaultgate.core.exchange import Exchange
from vaultgate.core.model import Decision, Phase
from vaultgate.core.policy import Policy, Route
from vaultgate.state.base import Store


class Guard:
    """A check that runs in one phase of the pipeline."""

    name: ClassVar[str] = ""
    phase: ClassVar[Phase] = Phase.PAYLOAD

    async def check(self, ex: Exchange) -> Decision | None:
        """Inspect the request; return a stopping decision or None."""
        return None

    async def on_response(
        self, ex: Exchange, status: int, headers: list[tuple[str, str]]
    ) -> None:
        """See the response head (count failures, 404 storms ...)."""

    def wants_body(
        self, ex: Exchange, status: int, headers: list[tuple[str, str]]
    ) -> bool:
        """Whether the response body must be buffered for ``filter_body``."""
        return False

    def refuse_unread(
        self, ex: Exchange, status: int, headers: list[tuple[str, str]]
    ) -> tuple[int, bytes] | None:
        """The answer to send instead of a body this guard wanted but the
        proxy could not hold (over its buffer limit), or None to relay it
        unread.  Rewrites ``headers`` in place like ``filter_body``."""
        return None

    async def filter_body(
        self, ex: Exchange, status: int, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, bytes]:
        """Return the (possibly rewritten) status and body of a response.

        A guard that rewrites the body may also rewrite ``headers`` in place
        (Content-Type of a replacement, a dropped Content-Encoding or ETag);
        the proxy sends the list as it stands and fixes Content-Length.
        """
        return status, body

    async def on_decision(self, ex: Exchange, decision: Decision) -> None:
        """See the pipeline's decision, before monitor mode relaxes it."""


@dataclass(frozen=True, slots=True)
class Services:
    """What a guard factory may keep: the store and a clock for refreshes."""

    store: Store
    clock: Callable[[], float]


GuardFactory = Callable[[Policy, Route, Services], Guard | None]

_FACTORIES: dict[str, tuple[Phase, GuardFactory]] = {}


def register_guard(name: str, phase: Phase) -> Callable[[GuardFactory], GuardFactory]:
    """Decorator registering a guard factory; a duplicate name is an error."""

    def add(factory: GuardFactory) -> GuardFactory:
        if name in _FACTORIES:
            raise ValueError(f"guard {name!r} registered twice")
        _FACTORIES[name] = (phase, factory)
        return factory

    return add


def build_guards(policy: Policy, route: Route, services: Services) -> tuple[Guard, ...]:
    """Every guard that applies to ``route``, in phase order."""
    built = []
    for name, (phase, factory) in _FACTORIES.items():
        guard = factory(policy, route, services)
        if guard is not None:
            built.append((phase, name, guard))
    built.sort(key=lambda item: (item[0], item[1]))
    return tuple(guard for _, _, guard in built)
