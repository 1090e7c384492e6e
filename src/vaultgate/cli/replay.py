"""``vaultgate replay``: run recorded traffic through a policy, offline.

How this works: every input file is read as raw HTTP/1.x requests (one or
many per file), a HAR capture, or vaultgate audit JSON lines, whichever it
looks like.  Each request goes through the real pipeline (an ``Engine``
with an in-memory store and no network) with the clock set to the time the
request was recorded, when the input says it, so that rate limits see the
traffic as it came.  The report says what would have been blocked and why,
by route and by rule; a monitor-mode route reports what block mode would
have done.  Audit events carry only the method and the path (vaultgate
never logs payloads), so replaying them exercises routing, rate limits and
path checks, not payload inspection.

Exit status: 0, or 2 when the policy or an input cannot be read.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import datetime as dt
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson

from vaultgate.core.model import Action, Decision
from vaultgate.core.policy import Policy, load_policy
from vaultgate.core.rawhttp import ParseFailure, parse_requests
from vaultgate.core.request import Request
from vaultgate.engine import Engine
from vaultgate.errors import PolicyError
from vaultgate.guards import load_all
from vaultgate.state.memory import MemoryStore
from vaultgate.telemetry.audit import AuditLog, AuditSettings

# Blocked and alerted requests listed in the text report (all in --json).
SHOWN_REQUESTS = 50
# The progress line is redrawn at most this often (seconds).
PROGRESS_EVERY = 0.5
_DEFAULT_IP = "127.0.0.1"


@dataclass(slots=True)
class Recorded:
    """One request read from an input, with where it came from."""

    source: str
    request: Request | None
    failure: str = ""
    when: float | None = None  # recorded time, seconds since the epoch


@dataclass(slots=True)
class Outcome:
    source: str
    method: str
    target: str
    route: str
    action: str
    status: int
    score: int
    reasons: tuple[str, ...]
    mode: str


@dataclass(slots=True)
class Report:
    outcomes: list[Outcome] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    notes: set[str] = field(default_factory=set)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policy", required=True, help="the policy file (YAML)")
    parser.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="raw HTTP, HAR or audit files"
    )
    parser.add_argument("--json", action="store_true", help="print a JSON report")
    parser.add_argument(
        "--client-ip",
        default=_DEFAULT_IP,
        help="client address of requests whose input does not record one",
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress line on stderr"
    )


def run(args: argparse.Namespace) -> int:
    """Replay the inputs; print the report."""
    load_all()
    try:
        policy = load_policy(args.policy)
        recorded = [item for path in args.inputs for item in read_input(path, args)]
    except (PolicyError, OSError, ValueError) as exc:
        print(f"vaultgate replay: {exc}", file=sys.stderr)
        return 2
    progress = not args.no_progress and sys.stderr.isatty()
    report = asyncio.run(replay(policy, recorded, progress))
    if any(item.source.endswith(":audit") for item in recorded):
        report.notes.add(_AUDIT_NOTE)
    if args.json:
        sys.stdout.write(orjson.dumps(as_json(report)).decode() + "\n")
    else:
        print(as_text(report))
    return 0


_AUDIT_NOTE = (
    "audit events record only the method and path: payload inspection "
    "had nothing to look at for those requests"
)


# -- inputs -------------------------------------------------------------------------


def read_input(path: str, args: argparse.Namespace) -> Iterator[Recorded]:
    """The requests of one input file, whatever its format."""
    with open(path, "rb") as handle:
        data = handle.read()
    start = data.lstrip()[:1]
    if start == b"{" and b'"log"' in data[:4096] and b'"entries"' in data:
        return _har(path, data, args.client_ip)
    if start == b"{":
        return _audit(path, data)
    return _raw(path, data, args.client_ip)


def _raw(path: str, data: bytes, client_ip: str) -> Iterator[Recorded]:
    for index, item in enumerate(parse_requests(data, client_ip)):
        source = f"{path}#{index + 1}"
        if isinstance(item, ParseFailure):
            yield Recorded(source, None, f"unparseable HTTP: {item.reason}")
        else:
            yield Recorded(source, item)


def _har(path: str, data: bytes, client_ip: str) -> Iterator[Recorded]:
    """HAR 1.2 entries (``log.entries[].request``)."""
    document = orjson.loads(data)
    for index, entry in enumerate(document["log"]["entries"]):
        source = f"{path}#{index + 1}"
        try:
            request = _har_request(entry["request"], client_ip)
        except (KeyError, TypeError, ValueError) as exc:
            yield Recorded(source, None, f"unreadable HAR entry: {exc!r}")
            continue
        yield Recorded(source, request, when=_iso_time(entry.get("startedDateTime")))


def _har_request(item: dict[str, Any], client_ip: str) -> Request:
    url = urlsplit(item["url"])
    target = (url.path or "/") + (f"?{url.query}" if url.query else "")
    headers = [(h["name"], h["value"]) for h in item.get("headers", [])]
    if url.netloc and not any(name.lower() == "host" for name, _ in headers):
        headers.insert(0, ("Host", url.netloc))
    body = _har_body(item.get("postData"))
    version = str(item.get("httpVersion", "HTTP/1.1")).upper().removeprefix("HTTP/")
    return Request(
        method=str(item["method"]).upper(),
        target=target,
        headers=[h for h in headers if not h[0].startswith(":")],  # HTTP/2 pseudo
        client_ip=client_ip,
        peer_ip=client_ip,
        version=version if version in ("1.0", "1.1") else "1.1",
        body=body,
        body_length=len(body),
    )


def _har_body(post: dict[str, Any] | None) -> bytes:
    if not post:
        return b""
    text = post.get("text") or ""
    if post.get("encoding") == "base64":
        return base64.b64decode(text)
    return str(text).encode("utf-8", "surrogatepass")


def _audit(path: str, data: bytes) -> Iterator[Recorded]:
    """vaultgate audit events: method, path, client and time only."""
    for number, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        source = f"{path}:{number}:audit"
        try:
            event = orjson.loads(line)
            request = Request(
                method=event["http"]["request"]["method"],
                target=event["url"]["path"],
                headers=[("Host", "replay")],
                client_ip=event.get("client", {}).get("ip", _DEFAULT_IP),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            yield Recorded(source, None, f"unreadable audit event: {exc!r}")
            continue
        yield Recorded(source, request, when=_iso_time(event.get("@timestamp")))


def _iso_time(text: object) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


# -- the replay ----------------------------------------------------------------------


class _Clock:
    """The engine's clock: the recorded time of the request being replayed."""

    def __init__(self) -> None:
        self.now: float | None = None

    def __call__(self) -> float:
        return self.now if self.now is not None else time.time()


async def replay(policy: Policy, recorded: list[Recorded], progress: bool) -> Report:
    """Decide every recorded request with the real pipeline."""
    clock = _Clock()
    engine = Engine(policy, MemoryStore(), AuditLog(AuditSettings("/dev/null")), clock)
    report = Report()
    started = shown = time.monotonic()
    for count, item in enumerate(recorded, 1):
        if item.request is None:
            report.failures.append((item.source, item.failure))
        else:
            clock.now = item.when
            report.outcomes.append(await _decide(engine, item))
        if progress and time.monotonic() - shown >= PROGRESS_EVERY:
            shown = time.monotonic()
            _progress(count, len(recorded), shown - started)
    if progress:
        _progress(len(recorded), len(recorded), time.monotonic() - started)
        print(file=sys.stderr)
    await engine.close()
    return report


async def _decide(engine: Engine, item: Recorded) -> Outcome:
    assert item.request is not None
    ex = engine.begin(item.request)
    await engine.decide(ex)
    # ex.decision is what the policy decided; in monitor mode the request
    # went on, but the report says what block mode would have done.
    decision: Decision = ex.decision or Decision(Action.ALLOW)
    return Outcome(
        source=item.source,
        method=item.request.method,
        target=item.request.target,
        route=ex.route.path,
        action=decision.action.value,
        status=decision.status,
        score=ex.score,
        reasons=decision.reasons,
        mode=ex.route.mode.value,
    )


def _progress(done: int, total: int, elapsed: float) -> None:
    rate = done / elapsed if elapsed > 0 else 0.0
    print(f"\rreplay: {done}/{total} requests ({rate:.0f}/s)", end="", file=sys.stderr)


# -- the report ----------------------------------------------------------------------

_STOPPING = {a.value for a in Action if a.stops}


def _tally(report: Report) -> dict[str, Any]:
    by_route: dict[str, collections.Counter[str]] = collections.defaultdict(
        collections.Counter
    )
    by_rule: collections.Counter[str] = collections.Counter()
    actions: collections.Counter[str] = collections.Counter()
    for outcome in report.outcomes:
        actions[outcome.action] += 1
        by_route[outcome.route]["requests"] += 1
        by_route[outcome.route][outcome.action] += 1
        if outcome.action in _STOPPING:
            by_rule.update(outcome.reasons)
    return {"actions": actions, "by_route": by_route, "by_rule": by_rule}


def as_json(report: Report) -> dict[str, Any]:
    """The report as a JSON-ready document."""
    tally = _tally(report)
    flagged = [o for o in report.outcomes if o.action != "allow"]
    return {
        "requests": len(report.outcomes) + len(report.failures),
        "decided": len(report.outcomes),
        "unparseable": len(report.failures),
        "actions": dict(tally["actions"]),
        "by_route": {route: dict(c) for route, c in sorted(tally["by_route"].items())},
        "by_rule": dict(tally["by_rule"].most_common()),
        "flagged": [_outcome_doc(o) for o in flagged],
        "failures": [{"source": s, "reason": r} for s, r in report.failures],
        "notes": sorted(report.notes),
    }


def _outcome_doc(outcome: Outcome) -> dict[str, Any]:
    return {
        "source": outcome.source,
        "method": outcome.method,
        "target": outcome.target[:512],
        "route": outcome.route,
        "action": outcome.action,
        "status": outcome.status,
        "score": outcome.score,
        "reasons": list(outcome.reasons),
        "mode": outcome.mode,
    }


def as_text(report: Report) -> str:
    """The report for a terminal."""
    tally = _tally(report)
    actions = tally["actions"]
    blocked = sum(actions[a] for a in _STOPPING)
    lines = [
        f"requests: {len(report.outcomes) + len(report.failures)}"
        f"  would block: {blocked}  alert: {actions['alert']}"
        f"  allow: {actions['allow']}  unparseable: {len(report.failures)}",
        "",
        "by route (requests, would block):",
    ]
    for route, counts in sorted(tally["by_route"].items()):
        stopped = sum(counts[a] for a in _STOPPING)
        lines.append(f"  {route:40} {counts['requests']:8} {stopped:8}")
    lines += ["", "by rule (blocked requests it contributed to):"]
    lines += [f"  {rule:40} {n:8}" for rule, n in tally["by_rule"].most_common()]
    lines += ["", "blocked or alerted:"] + _flagged_lines(report)
    lines += [f"note: {note}" for note in sorted(report.notes)]
    return "\n".join(lines)


def _flagged_lines(report: Report) -> list[str]:
    flagged = [o for o in report.outcomes if o.action != "allow"]
    lines = [
        f"  {o.action.upper():9} {o.method} {o.target[:80]}  route={o.route}"
        f"{' (monitor)' if o.mode == 'monitor' else ''}"
        f" score={o.score} reasons={','.join(o.reasons)}  ({o.source})"
        for o in flagged[:SHOWN_REQUESTS]
    ]
    if len(flagged) > SHOWN_REQUESTS:
        lines.append(f"  ... {len(flagged) - SHOWN_REQUESTS} more (see --json)")
    lines += [f"  UNPARSED  {source}: {reason}" for source, reason in report.failures]
    return lines or ["  (none)"]
