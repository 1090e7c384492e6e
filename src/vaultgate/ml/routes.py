"""The learned route model: what normal traffic looks like, per route and parameter.

How this works.  Learning watches requests that raised no finding and
records, per route (the method set and each path segment below it) and per
parameter (query and form names, JSON leaf paths with array indices
folded to ``[*]``), the shape of the values seen: their type (int,
decimal, uuid, hex, date, email, text ...), the punctuation and character
classes they use, their length, and the distinct values themselves while
there are few (an enumeration).  Every observation carries the digest of
the client that made it, and a shape only counts once ``min_clients``
distinct clients have shown it: one client cannot teach the model a
shape, however many requests it sends (poisoning resistance).

Enforcement asks, for a request, what is far outside what was learnt:

- a parameter value with a character class, punctuation mark or type the
  parameter never showed (a narrower type passes where a broader one was
  learnt: an int where text was seen), or more than ``LENGTH_SLACK`` times
  longer than the longest value seen;
- a value outside a *closed* enumeration;
- a parameter name a *closed* route never had, a method a closed route
  never served, a path segment a *closed* directory never had.

"Closed" is Good-Turing's estimate of unseen mass: among ``n``
observations, those of items seen exactly once (``n1``) estimate the
chance that the next observation is new, ``n1 / n``; here "seen once" is
"shown by fewer than ``min_clients`` clients", the items not trusted yet.
A set is closed when it has enough observations (``MIN_OBSERVATIONS``) and
that chance is below ``OPEN_MASS``: the 12 pages of a shop are closed
after a few hundred requests, the ids of ``/accounts/{id}`` never are
(and ids are folded to ``{int}``/``{uuid}``/``{hex}`` placeholders first
in any case).

The model is a plain JSON document, so it can be kept in a file, merged
from several processes and built offline from recorded traffic.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from vaultgate.detect.base import Value

FORMAT = 1
# Distinct client digests kept per item: no threshold needs more.
MAX_CLIENTS = 16
# Distinct values kept per parameter: past this it is free text, not an
# enumeration (and a flood of new values cannot grow memory).
MAX_ENUM = 64
# Enumeration values longer than this are not kept (not enumeration-like).
MAX_ENUM_LENGTH = 64
# Distinct path children kept per directory, parameters per route.
MAX_CHILDREN = 512
MAX_PARAMS = 256
# A closed set needs this many observations, and under this share of them
# may be of items not yet trusted (the estimated chance of a surprise).
# 1 in 2,000 per parameter: measured on CSIC 2010 (learn on one half of
# the normal traffic, measure on the other), 0.002 flagged 2.6 times as
# many normal requests for 0.4 points more anomalous ones.
MIN_OBSERVATIONS = 200
OPEN_MASS = 0.0005
# A value this many times longer than the longest one seen (plus a fixed
# margin for short fields) is far outside the parameter's shape.
LENGTH_SLACK = 2.0
LENGTH_MARGIN = 16
# Parameter values longer than this are measured, never classified.
MAX_CLASSIFIED = 4096

_TYPES = (
    ("int", re.compile(r"[+-]?\d{1,19}")),
    ("decimal", re.compile(r"[+-]?\d{1,15}(?:[.,]\d{1,6})?")),
    ("uuid", re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")),
    ("hex", re.compile(r"[0-9a-fA-F]{8,}")),
    ("date", re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?")),
    ("email", re.compile(r"[^@\s]{1,64}@[A-Za-z0-9.-]{1,255}\.[A-Za-z]{2,}")),
    ("word", re.compile(r"[^\W\d_]+")),
)
_ID_SEGMENT = (
    ("{int}", re.compile(r"\d+")),
    ("{uuid}", _TYPES[2][1]),
    ("{hex}", re.compile(r"[0-9a-fA-F]{16,}")),
)
_INDEX = re.compile(r"\[\d+\]")
_PARAM_KINDS = frozenset({"query", "form", "json", "multipart"})


# Each type's broader ones: a parameter that took text takes an int too.
_BROADER = {
    "int": ("decimal", "text"),
    "decimal": ("text",),
    "uuid": ("text",),
    "hex": ("text",),
    "date": ("text",),
    "email": ("text",),
    "word": ("text",),
    "text": (),
    "empty": (),
}


def value_type(text: str) -> str:
    """The narrowest type name that fits ``text`` ("text" when none does)."""
    if not text:
        return "empty"
    for name, pattern in _TYPES:
        if pattern.fullmatch(text):
            return name
    return "text"


def classes(text: str) -> set[str]:
    """Character classes of ``text``: each punctuation mark is its own class."""
    found: set[str] = set()
    for char in set(text[:MAX_CLASSIFIED]):
        if char.isalpha():
            found.add("alpha" if char.isascii() else "letter")
        elif char.isdigit():
            found.add("digit")
        elif char == " ":
            found.add("space")
        elif char.isspace() or not char.isprintable():
            found.add("control")
        elif char.isascii():
            found.add(char)
        else:
            found.add("symbol")
    return found


def route_key(method: str, path: str) -> tuple[str, list[str]]:
    """The method and the path's segments with ids folded to placeholders."""
    segments = []
    for segment in path.split("/")[1:]:
        for placeholder, pattern in _ID_SEGMENT:
            if pattern.fullmatch(segment):
                segment = placeholder
                break
        segments.append(segment)
    return method, segments


def parameters(values: Iterable[Value]) -> Iterator[tuple[str, str]]:
    """``(name, raw text)`` of every parameter among extracted values."""
    for value in values:
        if value.kind in _PARAM_KINDS and value.name != "*":
            yield _INDEX.sub("[*]", value.name), value.text


def client_digest(client: str) -> str:
    """A short digest: the model file never holds addresses or user ids."""
    return hashlib.sha256(client.encode()).hexdigest()[:12]


# -- observed sets ----------------------------------------------------------------


@dataclass
class Counted:
    """A bounded set of observed items, each with counts and client digests."""

    limit: int
    counts: dict[str, int] = field(default_factory=dict)
    clients: dict[str, list[str]] = field(default_factory=dict)
    overflow: int = 0  # observations of items not kept (set was full)
    # closed() by min_clients, computed once per change: enforcement asks
    # the same question of an unchanging model on every request.
    verdicts: dict[int, bool] = field(default_factory=dict, repr=False)

    def add(self, item: str, client: str, count: int = 1) -> None:
        self.verdicts.clear()
        if item not in self.counts and len(self.counts) >= self.limit:
            self.overflow += count
            return
        self.counts[item] = self.counts.get(item, 0) + count
        seen = self.clients.setdefault(item, [])
        if client not in seen and len(seen) < MAX_CLIENTS:
            seen.append(client)

    def skip(self) -> None:
        """Count an observation of an item too long to keep."""
        self.overflow += 1
        self.verdicts.clear()

    def trusted(self, item: str, min_clients: int) -> bool:
        """Whether ``item`` was shown by at least ``min_clients`` clients."""
        return len(self.clients.get(item, ())) >= min_clients

    def closed(self, min_clients: int) -> bool:
        """Whether a new item would be surprising (Good-Turing, see above)."""
        verdict = self.verdicts.get(min_clients)
        if verdict is None:
            verdict = self.verdicts[min_clients] = self._closed(min_clients)
        return verdict

    def _closed(self, min_clients: int) -> bool:
        total = sum(self.counts.values()) + self.overflow
        if total < MIN_OBSERVATIONS or self.overflow:
            return False
        # Items not (yet) trusted estimate how often the next observation
        # will be surprising: Good-Turing's n1 / n, "seen once" read as
        # "shown by fewer than min_clients clients".  They are counted by
        # the clients that showed them, so one client flooding odd values
        # cannot make a set look open.
        rare: set[str] = set()
        for clients in self.clients.values():
            if len(clients) < min_clients:
                rare.update(clients)
        return len(rare) < total * OPEN_MASS

    def novel(self, item: str, min_clients: int) -> bool:
        """A closed set, and ``item`` is not among its trusted members."""
        return self.closed(min_clients) and not self.trusted(item, min_clients)

    def merge(self, other: Counted) -> None:
        for item, count in other.counts.items():
            for index, client in enumerate(other.clients.get(item, ["?"])):
                self.add(item, client, count if index == 0 else 0)
        self.overflow += other.overflow
        self.verdicts.clear()

    def dump(self) -> dict[str, Any]:
        return {
            "counts": self.counts,
            "clients": self.clients,
            "overflow": self.overflow,
        }

    @classmethod
    def load(cls, limit: int, data: dict[str, Any]) -> Counted:
        counted = cls(limit)
        counted.counts = {str(k): int(v) for k, v in data.get("counts", {}).items()}
        counted.clients = {
            str(k): [str(c) for c in v][:MAX_CLIENTS]
            for k, v in data.get("clients", {}).items()
        }
        counted.overflow = int(data.get("overflow", 0))
        return counted


@dataclass
class Param:
    """What one parameter's values looked like."""

    types: Counted = field(default_factory=lambda: Counted(16))
    classes: Counted = field(default_factory=lambda: Counted(128))
    values: Counted = field(default_factory=lambda: Counted(MAX_ENUM))
    # The longest value each client sent (the largest MAX_CLIENTS * 4 kept).
    lengths: dict[str, int] = field(default_factory=dict)

    def learn(self, text: str, client: str) -> None:
        self.types.add(value_type(text), client)
        for name in classes(text):
            self.classes.add(name, client)
        if len(text) <= MAX_ENUM_LENGTH:
            self.values.add(text, client)
        else:
            self.values.skip()
        self.longest(client, len(text))

    def longest(self, client: str, length: int) -> None:
        if length <= self.lengths.get(client, -1):
            return
        self.lengths[client] = length
        if len(self.lengths) > MAX_CLIENTS * 4:
            del self.lengths[min(self.lengths, key=self.lengths.__getitem__)]

    def max_length(self, min_clients: int) -> int:
        """A length that ``min_clients`` distinct clients reached or passed."""
        tops = sorted(self.lengths.values(), reverse=True)
        return tops[min_clients - 1] if len(tops) >= min_clients else -1

    def deviations(self, text: str, min_clients: int) -> list[str]:
        """How ``text`` is far outside this parameter's shape."""
        if self.values.closed(min_clients):
            return ["enum"] if self.values.novel(text, min_clients) else []
        found = []
        if self._novel_type(value_type(text), min_clients):
            found.append("type")
        if any(self.classes.novel(c, min_clients) for c in classes(text)):
            found.append("chars")
        if self._too_long(len(text), min_clients):
            found.append("length")
        return found

    def _novel_type(self, kind: str, min_clients: int) -> bool:
        if not self.types.novel(kind, min_clients):
            return False
        return not any(self.types.trusted(b, min_clients) for b in _BROADER[kind])

    def _too_long(self, length: int, min_clients: int) -> bool:
        longest = self.max_length(min_clients)
        if longest < 0 or sum(self.types.counts.values()) < MIN_OBSERVATIONS:
            return False
        return length > longest * LENGTH_SLACK + LENGTH_MARGIN

    def merge(self, other: Param) -> None:
        self.types.merge(other.types)
        self.classes.merge(other.classes)
        self.values.merge(other.values)
        for client, length in other.lengths.items():
            self.longest(client, length)

    def dump(self) -> dict[str, Any]:
        return {
            "types": self.types.dump(),
            "classes": self.classes.dump(),
            "values": self.values.dump(),
            "lengths": self.lengths,
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> Param:
        return cls(
            Counted.load(16, data.get("types", {})),
            Counted.load(128, data.get("classes", {})),
            Counted.load(MAX_ENUM, data.get("values", {})),
            {str(k): int(v) for k, v in data.get("lengths", {}).items()},
        )


@dataclass
class RouteShape:
    """One route: the methods it served and its parameters."""

    methods: Counted = field(default_factory=lambda: Counted(16))
    names: Counted = field(default_factory=lambda: Counted(MAX_PARAMS))
    params: dict[str, Param] = field(default_factory=dict)

    def merge(self, other: RouteShape) -> None:
        self.methods.merge(other.methods)
        self.names.merge(other.names)
        for name, param in other.params.items():
            self.params.setdefault(name, Param()).merge(param)

    def dump(self) -> dict[str, Any]:
        return {
            "methods": self.methods.dump(),
            "names": self.names.dump(),
            "params": {name: p.dump() for name, p in self.params.items()},
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> RouteShape:
        return cls(
            Counted.load(16, data.get("methods", {})),
            Counted.load(MAX_PARAMS, data.get("names", {})),
            {str(k): Param.load(v) for k, v in data.get("params", {}).items()},
        )


@dataclass(frozen=True, slots=True)
class Deviation:
    """One way a request is far outside the learnt traffic."""

    kind: str  # path, method, param, enum, type, chars, length
    where: str  # the route, or the parameter's name


# Routes and directories kept: a scanner walking random paths must not
# grow the model without bound while it learns.
MAX_ROUTES = 2048


@dataclass
class RouteModel:
    """Every learnt route and directory; JSON-serialisable."""

    routes: dict[str, RouteShape] = field(default_factory=dict)
    directories: dict[str, Counted] = field(default_factory=dict)

    def learn(
        self, method: str, path: str, params: Iterable[tuple[str, str]], client: str
    ) -> None:
        """Record one request's route and parameters as normal."""
        method, segments = route_key(method, path)
        name = "/" + "/".join(segments)
        if name not in self.routes and len(self.routes) >= MAX_ROUTES:
            return
        for depth, segment in enumerate(segments):
            directory = "/" + "/".join(segments[:depth])
            self.directories.setdefault(directory, Counted(MAX_CHILDREN)).add(
                segment, client
            )
        route = self.routes.setdefault(name, RouteShape())
        route.methods.add(method, client)
        for key, text in params:
            route.names.add(key, client)
            if key in route.params or len(route.params) < MAX_PARAMS:
                route.params.setdefault(key, Param()).learn(text, client)

    def check(
        self,
        method: str,
        path: str,
        params: Iterable[tuple[str, str]],
        min_clients: int,
    ) -> list[Deviation]:
        """What in this request is far outside the learnt traffic."""
        method, segments = route_key(method, path)
        name = "/" + "/".join(segments)
        unknown = self._unknown_directory(segments, min_clients)
        if unknown is not None:
            return [Deviation("path", unknown)]
        route = self.routes.get(name)
        if route is None:
            return []
        found = []
        if route.methods.novel(method, min_clients):
            found.append(Deviation("method", name))
        names_closed = route.names.closed(min_clients)
        for key, text in params:
            param = route.params.get(key)
            if param is None or not route.names.trusted(key, min_clients):
                if names_closed:
                    found.append(Deviation("param", key))
                continue
            found += [
                Deviation(kind, key) for kind in param.deviations(text, min_clients)
            ]
        return found

    def _unknown_directory(self, segments: list[str], min_clients: int) -> str | None:
        """The closed directory that never had the next segment, if any."""
        for depth, segment in enumerate(segments):
            directory = "/" + "/".join(segments[:depth])
            children = self.directories.get(directory)
            if children is None:
                return None  # below what was learnt: nothing to compare with
            if children.novel(segment, min_clients):
                return directory
        return None

    def merge(self, other: RouteModel) -> None:
        for name, route in other.routes.items():
            if name in self.routes or len(self.routes) < MAX_ROUTES:
                self.routes.setdefault(name, RouteShape()).merge(route)
        for directory, children in other.directories.items():
            self.directories.setdefault(directory, Counted(MAX_CHILDREN)).merge(
                children
            )

    def dump(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "routes": {name: r.dump() for name, r in self.routes.items()},
            "directories": {d: c.dump() for d, c in self.directories.items()},
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> RouteModel:
        if data.get("format") != FORMAT:
            raise ValueError(f"route model format {data.get('format')!r}, not {FORMAT}")
        return cls(
            {str(k): RouteShape.load(v) for k, v in data.get("routes", {}).items()},
            {
                str(k): Counted.load(MAX_CHILDREN, v)
                for k, v in data.get("directories", {}).items()
            },
        )
