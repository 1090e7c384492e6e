"""Payload inspection: the ``inspection`` policy section and its guard.

How this works: at policy load each route gets an ``Inspector`` for its
paranoia level and exclusions (routes with the same rule set share one
compiled database).  Per request the guard extracts the values
(``detect.extract``), decodes them (``detect.normalize``), scans them and
runs the request-level checks, and adds every finding to the exchange (and
the values to ``ex.scratch`` for later guards).  It never decides: the
scoring guard turns the findings, and an incomplete inspection, into the
decision.

Policy keys (top level and per route; a route's ``exclude`` adds to the
top-level list, its ``headers`` add to the top-level ones)::

    inspection:
      enabled: true          # false: no payload inspection on this route
      paranoia: 1            # 1-4: how eager the rules are
      headers: [origin]      # inspected besides User-Agent, Referer, X-*
      limits: {json_depth: 32, values: 4096, multipart_parts: 64,
               xml_elements: 4096, decode_rounds: 3}
      exclude:
        - {rule: sqli.tautology, args: ["json:$.memo"]}
        - {rule: xss}        # a family, everywhere
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from vaultgate.core.exchange import Exchange
from vaultgate.core.model import Decision, Phase
from vaultgate.core.policy import Policy, Route, Section, register_section
from vaultgate.core.request import Request
from vaultgate.core.schema import Node
from vaultgate.detect import load_detectors
from vaultgate.detect.base import all_rules
from vaultgate.detect.engine import (
    Exclusion,
    Inspector,
    location_pattern_error,
    request_checks,
)
from vaultgate.detect.extract import Extraction, Limits, extract
from vaultgate.detect.normalize import MAX_DECODE_ROUNDS, expand_all
from vaultgate.detect.protocol import ProtocolSettings
from vaultgate.guards.base import Guard, Services, register_guard

# Paranoia levels, as in the OWASP CRS: 1 is tuned for no false positives
# on ordinary API traffic, 4 flags anything that looks odd.
MAX_PARANOIA = 4
# Decoding rounds a policy may ask for; more than 5 nests no real encoder.
MAX_DECODE_ROUNDS_ALLOWED = 5
# Where the guard leaves the request's values for later guards (the learned
# model reads them instead of extracting the request a second time).
SCRATCH_VALUES = "inspection.values"  # decoded forms, as scanned
SCRATCH_RAW = "inspection.raw"  # as extracted, before decoding
# Finding ids emitted outside the rule registry (by extraction itself).
_EXTRA_IDS = frozenset({"xxe.doctype"})


@dataclass(frozen=True, slots=True)
class InspectionSettings:
    """One route's effective inspection settings."""

    enabled: bool = True
    paranoia: int = 1
    decode_rounds: int = MAX_DECODE_ROUNDS
    limits: Limits = field(default_factory=Limits)
    exclusions: tuple[Exclusion, ...] = ()
    # None: the protocol check's defaults (no media-type allow-list).
    protocol: ProtocolSettings | None = None


_KEYS = frozenset({"enabled", "paranoia", "headers", "limits", "exclude", "protocol"})
_PROTOCOL_INTEGERS = {
    "max_args": ("max_args", 1, 100_000),
    "max_arg_name_length": ("max_arg_name_length", 1, 10_000),
    "max_ranges": ("max_ranges", 1, 1_000),
}
_PROTOCOL_KEYS = frozenset({"content_types", "charsets"} | set(_PROTOCOL_INTEGERS))
# type/subtype, each an RFC 9110 token, lower case once read.
_MEDIA_TYPE_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9a-z-]+/[!#$%&'*+.^_`|~0-9a-z-]+")
_CHARSET_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9a-z-]+")
_LIMIT_KEYS = {
    "json_depth": ("json_depth", 1, 1000),
    "values": ("values", 1, 1_000_000),
    "multipart_parts": ("parts", 1, 10_000),
    "xml_elements": ("xml_elements", 1, 1_000_000),
}


def _parse(node: Node, base: InspectionSettings | None = None) -> InspectionSettings:
    """Read an ``inspection`` mapping over ``base`` (the defaults at top level)."""
    load_detectors()
    settings = base or InspectionSettings()
    fields = node.mapping(_KEYS)
    if "enabled" in fields:
        settings = replace(settings, enabled=fields["enabled"].flag())
    if "paranoia" in fields:
        level = fields["paranoia"].integer(1, MAX_PARANOIA)
        settings = replace(settings, paranoia=level)
    if "headers" in fields:
        names = {n.text().lower() for n in fields["headers"].seq(allow_scalar=True)}
        limits = replace(settings.limits, headers=settings.limits.headers | names)
        settings = replace(settings, limits=limits)
    if "limits" in fields:
        settings = _limits(fields["limits"], settings)
    if "exclude" in fields:
        added = tuple(_exclusion(item) for item in fields["exclude"].seq())
        settings = replace(settings, exclusions=settings.exclusions + added)
    if "protocol" in fields:
        settings = _protocol(fields["protocol"], settings)
    return settings


def _protocol(node: Node, settings: InspectionSettings) -> InspectionSettings:
    """``protocol``: what requests on the route may look like."""
    fields = node.mapping(_PROTOCOL_KEYS)
    values: dict[str, Any] = {}
    if "content_types" in fields:
        values["allowed_content_types"] = _names(
            fields["content_types"], _MEDIA_TYPE_NAME, "media type", "application/json"
        )
    if "charsets" in fields:
        values["allowed_charsets"] = _names(
            fields["charsets"], _CHARSET_NAME, "charset name", "utf-8"
        )
    for key, (attribute, low, high) in _PROTOCOL_INTEGERS.items():
        if key in fields:
            values[attribute] = fields[key].integer(low, high)
    current = settings.protocol or ProtocolSettings()
    return replace(settings, protocol=replace(current, **values))


def _names(
    node: Node, shape: re.Pattern[str], noun: str, example: str
) -> frozenset[str]:
    names = set()
    for item in node.seq(allow_scalar=True):
        name = item.text().strip().lower()
        if not shape.fullmatch(name):
            raise item.error(f"a {noun} such as {example}")
        names.add(name)
    if not names:
        raise node.error(f"at least one {noun}")
    return frozenset(names)


def _limits(node: Node, settings: InspectionSettings) -> InspectionSettings:
    fields = node.mapping(set(_LIMIT_KEYS) | {"decode_rounds"})
    values: dict[str, Any] = {}
    for key, child in fields.items():
        if key == "decode_rounds":
            rounds = child.integer(1, MAX_DECODE_ROUNDS_ALLOWED)
            settings = replace(settings, decode_rounds=rounds)
            continue
        attribute, low, high = _LIMIT_KEYS[key]
        values[attribute] = child.integer(low, high)
    return replace(settings, limits=replace(settings.limits, **values))


def _exclusion(node: Node) -> Exclusion:
    fields = node.mapping({"rule", "args"})
    if "rule" not in fields:
        raise node.error("a mapping with 'rule' (a rule id or a family)", False)
    target = fields["rule"].text()
    if not _known_target(target):
        raise fields["rule"].error("a rule id or family that exists")
    args = []
    for item in fields["args"].seq(allow_scalar=True) if "args" in fields else []:
        problem = location_pattern_error(item.text())
        if problem is not None:
            raise item.error(problem)
        args.append(item.text())
    return Exclusion(target, tuple(args))


def _known_target(target: str) -> bool:
    rules = all_rules()
    families = {rule.family for rule in rules.values()} | set(request_checks())
    families |= {rule_id.split(".", 1)[0] for rule_id in _EXTRA_IDS}
    if target in rules or target in families or target in _EXTRA_IDS:
        return True
    # Request-level checks name their findings "<family>.<what>".
    return target.split(".", 1)[0] in set(request_checks())


register_section(Section("inspection", _parse, _parse))


class InspectionGuard(Guard):
    """Adds the findings of payload inspection to the exchange."""

    name = "inspection"
    phase = Phase.PAYLOAD

    def __init__(
        self, settings: InspectionSettings, methods: frozenset[str] | None = None
    ) -> None:
        self.settings = settings
        protocol = settings.protocol
        if methods is not None:
            # The route's allowed_methods refuse the rest with 405 first; the
            # methods they allow are not protocol anomalies here.
            protocol = replace(protocol or ProtocolSettings(), allowed_methods=methods)
        checks = {"protocol": protocol} if protocol is not None else None
        self.inspector = Inspector(
            all_rules().values(), settings.paranoia, settings.exclusions, checks
        )

    async def check(self, ex: Exchange) -> Decision | None:
        inspect(ex.request, self.settings, self.inspector, ex)
        return None


def inspect(
    request: Request,
    settings: InspectionSettings,
    inspector: Inspector,
    ex: Exchange | None = None,
) -> Extraction:
    """Extract, decode and scan ``request``; record the findings on ``ex``."""
    extraction = extract(request, settings.limits)
    values = expand_all(extraction.values, settings.decode_rounds)
    findings = [f for f in extraction.findings if not inspector.excluded(f)]
    findings += inspector.scan(values)
    findings += inspector.check_request(request)
    extraction.findings = findings
    if ex is not None:
        # Shared with the learned models (guards.learned), which run next.
        ex.scratch["inspection.values"] = values
        ex.scratch["inspection.raw"] = extraction.values
        for finding in findings:
            ex.add(finding)
        if extraction.incomplete and not ex.inspection_incomplete:
            ex.inspection_incomplete = extraction.incomplete
    return extraction


@register_guard("inspection", Phase.PAYLOAD)
def _factory(policy: Policy, route: Route, services: Services) -> Guard | None:
    settings: InspectionSettings = route.settings["inspection"]
    if not settings.enabled:
        return None
    graphql = route.settings.get("graphql")
    if getattr(graphql, "enabled", False) and getattr(graphql, "introspection", False):
        # The route's GraphQL limits let introspection through: so does
        # payload inspection.
        allowed = Exclusion("graphql.introspection", ())
        settings = replace(settings, exclusions=(*settings.exclusions, allowed))
    return InspectionGuard(settings, route.settings.get("allowed_methods"))
