"""Client reputation: allow and deny lists, Tor exits, threat feeds, bans, scores.

How this works: the ``reputation`` section compiles every list (inline
networks and files) into an ``IPSet`` when the policy loads, so a reload
re-reads the files.  Per request, in the reputation phase, the client's
address is looked up in this order: allow list (which wins over everything
below), bans in the state store, deny list, then the Tor and feed lists
with their own action; a client whose threat score crossed the challenge
threshold is flagged for the challenge guard.  Once a token has named the
principal, a second guard checks the principal's bans the same way.  Every
decision feeds the running threat score (``guards.clients``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from vaultgate.core.exchange import Exchange
from vaultgate.core.ipset import (
    IPSet,
    ListFormatError,
    Network,
    parse_address,
    parse_feed,
)
from vaultgate.core.model import Action, Decision, Finding, Phase
from vaultgate.core.policy import Policy, Route, Section, register_section
from vaultgate.core.schema import Node
from vaultgate.guards.base import Guard, Services, register_guard
from vaultgate.guards.clients import (
    ALLOWED,
    CHALLENGE,
    ScoreSettings,
    best_effort,
    challenge_key,
    ip_subject,
    principal_subject,
    raise_score,
)
from vaultgate.state.base import Store

# A list's action: refuse, allow but make the audit event an alert, or
# only label the request (other guards, token drift among them, read it).
_ACTIONS = frozenset({"block", "alert", "label"})
# Where the labels of the request's client are kept for later phases.
LABELS = "reputation.labels"
# Labels remembered by client address: a client sends request after
# request, and parsing its address and testing every list costs
# microseconds each time.  The lists are fixed while a policy is loaded
# (a reload builds a new guard); emptied when full, so a spread of
# addresses only refills it.
MAX_KNOWN_ADDRESSES = 4096


@dataclass(frozen=True, slots=True)
class ListRule:
    """One compiled list: its label, what a hit does, and its networks."""

    label: str
    action: str
    networks: IPSet


@dataclass(frozen=True, slots=True)
class ReputationSettings:
    allow: IPSet = field(default_factory=lambda: IPSet(()))
    lists: tuple[ListRule, ...] = ()
    score: ScoreSettings = field(default_factory=ScoreSettings)

    def labels(self, address: str) -> frozenset[str]:
        """Labels of every list holding ``address`` (``allow``, ``tor`` ...)."""
        parsed = parse_address(address)
        if parsed is None:
            return frozenset()
        found = {rule.label for rule in self.lists if parsed in rule.networks}
        if parsed in self.allow:
            found.add("allow")
        return frozenset(found)


def reputation_of(policy: Policy, address: str) -> frozenset[str]:
    """The list labels of ``address`` under ``policy`` (pure lookup)."""
    settings = policy.settings.get("reputation")
    if not isinstance(settings, ReputationSettings):
        return frozenset()
    return settings.labels(address)


# -- policy section ------------------------------------------------------------

_KEYS = frozenset({"allow", "deny", "tor", "feeds", "score"})
_SCORE_KEYS = frozenset({"half_life", "challenge", "block", "ban", "ban_for", "points"})
_POINT_KEYS = frozenset({"finding", "blocked", "client_error"})


def _parse(node: Node) -> ReputationSettings:
    fields = node.mapping(_KEYS)
    base = os.path.dirname(node.source) if os.path.isfile(node.source) else ""
    lists: list[ListRule] = []
    if "deny" in fields:
        lists.append(ListRule("deny", "block", _networks(fields["deny"], base)))
    if "tor" in fields:
        lists.append(_named_list(fields["tor"], base, "tor", "alert"))
    for item in fields["feeds"].seq() if "feeds" in fields else []:
        lists.append(_named_list(item, base, None, "block"))
    allow = _networks(fields["allow"], base) if "allow" in fields else IPSet(())
    score = _score(fields["score"]) if "score" in fields else ScoreSettings()
    return ReputationSettings(allow, tuple(lists), score)


def _networks(node: Node, base: str) -> IPSet:
    """An inline list of networks and ``{file: path}`` entries."""
    networks: list[Network] = []
    for item in node.seq(allow_scalar=True):
        if isinstance(item.value, dict):
            path = item.mapping({"file"}).get("file")
            if path is None:
                raise item.error("an address, a CIDR or {file: path}", False)
            networks.extend(_read_list(path, base))
        else:
            networks.extend(item.networks())
    return IPSet(networks)


def _named_list(node: Node, base: str, label: str | None, action: str) -> ListRule:
    fields = node.mapping({"name", "file", "action"})
    if label is None:
        if "name" not in fields:
            raise node.child("name", None).error("a feed name", False)
        label = "feed:" + fields["name"].text()
    if "file" not in fields:
        raise node.child("file", None).error("a list file path", False)
    if "action" in fields:
        action = fields["action"].text(_ACTIONS)
    return ListRule(label, action, IPSet(_read_list(fields["file"], base)))


def _read_list(node: Node, base: str) -> list[Network]:
    path = os.path.join(base, node.text())
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise node.error(f"a readable list file ({exc.strerror})") from None
    try:
        return parse_feed(text)
    except ListFormatError as exc:
        raise node.error(f"a list of addresses, {exc}", False) from None


def _score(node: Node) -> ScoreSettings:
    fields = node.mapping(_SCORE_KEYS)
    values: dict[str, Any] = {}
    for key in ("half_life", "ban_for"):
        if key in fields:
            values[key] = fields[key].duration()
    for key in ("challenge", "block", "ban"):
        if key in fields:
            values[key] = fields[key].number(0.001, 1e9)
    points = fields["points"].mapping(_POINT_KEYS) if "points" in fields else {}
    for key, child in points.items():
        values[key] = child.number(0.0, 1e6)
    settings = ScoreSettings(**values)
    if not settings.challenge <= settings.block <= settings.ban:
        raise node.error("challenge <= block <= ban", show_value=False)
    if settings.half_life <= 0:
        raise fields["half_life"].error("a half-life above zero")
    return settings


register_section(Section("reputation", _parse))


# -- guards -----------------------------------------------------------------


def _refuse(reason: str) -> Decision:
    return Decision(Action.BLOCK, 403, 0, (reason,))


class ReputationGuard(Guard):
    """Lists, bans and challenge flags of the client's address."""

    name = "reputation"
    phase = Phase.REPUTATION

    def __init__(self, settings: ReputationSettings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self._known: dict[str, frozenset[str]] = {}

    def labels(self, address: str) -> frozenset[str]:
        """``settings.labels(address)``, remembered."""
        labels = self._known.get(address)
        if labels is None:
            labels = self.settings.labels(address)
            if len(self._known) >= MAX_KNOWN_ADDRESSES:
                self._known.clear()
            self._known[address] = labels
        return labels

    async def check(self, ex: Exchange) -> Decision | None:
        labels = self.labels(ex.request.client_ip)
        ex.scratch[LABELS] = labels
        if labels:
            ex.tags["client.reputation"] = sorted(labels)
        if "allow" in labels:
            ex.scratch[ALLOWED] = True
            return None
        subject = ip_subject(ex.request.client_ip)
        reason = await self.store.banned([subject], ex.now)
        if reason is not None:
            ex.tags["ban.reason"] = reason
            return _refuse("reputation.banned")
        decision = self._lists(ex, labels)
        if decision is None and await self.store.get(challenge_key(subject)):
            ex.scratch.setdefault(CHALLENGE, "reputation")
        return decision

    def _lists(self, ex: Exchange, labels: frozenset[str]) -> Decision | None:
        alert = None
        for rule in self.settings.lists:
            if rule.label not in labels:
                continue
            if rule.action == "block":
                return _refuse("reputation." + rule.label)
            if rule.action == "alert":
                ex.add(Finding("reputation", "reputation." + rule.label, 0))
                alert = Decision(Action.ALERT, 200, 0, ("reputation." + rule.label,))
        return alert

    async def on_decision(self, ex: Exchange, decision: Decision) -> None:
        # Requests refused for their reputation earn nothing more: a banned
        # client hammering the door must not extend its own ban forever.
        if any(r.startswith("reputation.") for r in decision.reasons):
            return
        score = self.settings.score
        points = ex.score * score.finding
        if decision.action.stops:
            points += score.blocked
        if points > 0:
            await raise_score(ex, self.store, points, "findings")

    async def on_response(
        self, ex: Exchange, status: int, headers: list[tuple[str, str]]
    ) -> None:
        # Storms of 4xx answers are how scanners and enumerators look.
        if 400 <= status < 500:
            points = self.settings.score.client_error
            raising = raise_score(ex, self.store, points, "client_errors")
            await best_effort(ex, "reputation", raising)


class PrincipalBanGuard(Guard):
    """Bans of the principal, once a token named it."""

    # "bans" sorts before "bola": a banned principal is refused before its
    # object ids are looked at.
    name = "bans"
    phase = Phase.AUTHZ

    def __init__(self, store: Store) -> None:
        self.store = store

    async def check(self, ex: Exchange) -> Decision | None:
        if ex.principal is None or ex.scratch.get(ALLOWED):
            return None
        subject = principal_subject(ex.principal.id)
        reason = await self.store.banned([subject], ex.now)
        if reason is not None:
            ex.tags["ban.reason"] = reason
            return _refuse("reputation.banned")
        return None


@register_guard("reputation", Phase.REPUTATION)
def _factory(policy: Policy, route: Route, services: Services) -> Guard | None:
    return ReputationGuard(policy.settings["reputation"], services.store)


@register_guard("bans", Phase.AUTHZ)
def _principal_factory(
    policy: Policy, route: Route, services: Services
) -> Guard | None:
    return PrincipalBanGuard(services.store)
