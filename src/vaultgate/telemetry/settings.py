"""The ``audit`` policy section: sampling, the spool and the sinks.

How this works: every sink entry is a one-key mapping naming its kind
(``file``, ``stdout``, ``splunk_hec``, ``syslog``, ``webhook``) whose value
holds the kind's own keys and the delivery keys every sink shares (queue,
batch, retry).  Parsing only validates and records names: secrets are read
from the environment when the audit log is built, never at load.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from vaultgate.core.schema import Node

# Sink names become directory names under the spool: a strict alphabet
# keeps ``../`` and friends out of the path.
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
KINDS = ("file", "stdout", "splunk_hec", "syslog", "webhook")


@dataclass(frozen=True, slots=True)
class Delivery:
    """How one sink's events are queued, batched and retried."""

    # 10,000 events of about 1 KiB: ~10 MiB per sink, a few seconds of
    # peak traffic for one worker, enough to ride out a short hiccup
    # before the spool takes over.
    queue_size: int = 10_000
    # 500 events or 1 MiB per request: the batch size Splunk recommends
    # for HEC and well under its default 1 MB body limit with gzip.
    batch_events: int = 500
    batch_bytes: int = 1024 * 1024
    flush_interval: float = 0.5  # wait this long to fill a batch
    retry_min: float = 0.5  # first backoff after a failure
    retry_max: float = 30.0  # backoff ceiling while a sink is down
    timeout: float = 10.0  # one delivery attempt, connect to answer


@dataclass(frozen=True, slots=True)
class TLSClient:
    ca_file: str = ""  # empty: the system's trust store
    verify: bool = True


@dataclass(frozen=True, slots=True)
class FileOptions:
    path: str
    # 100 MiB x 10 files: a day of busy traffic on one disk, bounded.
    max_size: int = 100 * 1024 * 1024
    keep: int = 10
    fsync: bool = False  # fsync each batch (slow disks: leave off)


@dataclass(frozen=True, slots=True)
class StdoutOptions:
    pass


@dataclass(frozen=True, slots=True)
class HecOptions:
    url: str
    token_env: str
    index: str = ""
    source: str = "vaultgate"
    sourcetype: str = "_json"
    gzip: bool = True
    ack: bool = False  # indexer acknowledgements (needs a channel)
    channel: str = ""  # empty: a random GUID per process
    ack_timeout: float = 60.0  # resend a batch not acknowledged by then
    ack_poll: float = 0.5
    tls: TLSClient = field(default_factory=TLSClient)


@dataclass(frozen=True, slots=True)
class SyslogOptions:
    host: str
    port: int
    transport: str = "tcp"  # udp | tcp | tls
    format: str = "json"  # json | cef
    facility: int = 16  # local0
    app_name: str = "vaultgate"
    # 8 KiB: rsyslog's and syslog-ng's default maximum message; a UDP
    # datagram longer than the receiver's buffer is cut silently anyway.
    max_message: int = 8192
    tls: TLSClient = field(default_factory=TLSClient)


@dataclass(frozen=True, slots=True)
class WebhookOptions:
    url: str
    format: str = "ndjson"  # ndjson | json_array
    gzip: bool = False
    token_env: str = ""  # sent as "Authorization: Bearer <token>"
    headers: Mapping[str, str] = field(default_factory=dict)
    header_env: Mapping[str, str] = field(default_factory=dict)
    tls: TLSClient = field(default_factory=TLSClient)


SinkOptions = FileOptions | StdoutOptions | HecOptions | SyslogOptions | WebhookOptions


@dataclass(frozen=True, slots=True)
class SinkSettings:
    name: str
    kind: str
    options: SinkOptions
    delivery: Delivery
    where: str  # "policy.yaml: audit.sinks[1]", for errors raised later


@dataclass(frozen=True, slots=True)
class AuditSettings:
    """The ``audit`` section: what is recorded and where it goes.

    ``file`` is the one-sink shorthand (a path, ``-`` for standard output),
    used when ``sinks`` is None; ``sinks=()`` records metrics only.
    """

    file: str = "-"
    sinks: tuple[SinkSettings, ...] | None = None
    sample: float = 1.0  # share of allowed clean requests recorded
    spool_dir: str = "vaultgate-spool"  # relative to the working directory
    # 1 GiB per sink: hours of busy traffic while a SIEM is down.
    spool_max: int = 1024 * 1024 * 1024
    spool_fsync: bool = True  # fsync every spilled batch before forgetting it
    drain_timeout: float = 5.0  # shutdown: time to deliver what is queued
    # Detail captured for at most 100 alerting requests a second per worker
    # (a burst of 100): enough to investigate any attack, while a flood of
    # blocked requests costs the proxy and the SIEM metadata events only.
    detail_rate: tuple[int, float] = (100, 1.0)

    def sink_list(self) -> tuple[SinkSettings, ...]:
        """The sinks to build, the shorthand expanded."""
        if self.sinks is not None:
            return self.sinks
        if self.file == "-":
            return (_STDOUT,)
        options = FileOptions(self.file)
        return (SinkSettings("file", "file", options, Delivery(), "audit.file"),)


_STDOUT = SinkSettings("stdout", "stdout", StdoutOptions(), Delivery(), "audit")
_TOP_KEYS = frozenset(
    {"sinks", "file", "sample", "spool_dir", "spool_max", "spool_fsync"}
    | {"drain_timeout", "detail_rate"}
)
# Below this the spool's segments (an eighth of it) get too small to
# batch well; tests use small spools, production ones are gigabytes.
_MIN_SPOOL = 64 * 1024


def parse_audit(node: Node) -> AuditSettings:
    """Read the top-level ``audit`` section."""
    fields = node.mapping(_TOP_KEYS)
    values: dict[str, Any] = {}
    if "file" in fields and "sinks" in fields:
        raise fields["file"].error("either audit.file or audit.sinks, not both")
    if "file" in fields:
        values["file"] = fields["file"].text()
    if "sinks" in fields:
        values["sinks"] = _sinks(fields["sinks"])
    if "sample" in fields:
        values["sample"] = fields["sample"].number(0.0, 1.0)
    if "spool_dir" in fields:
        values["spool_dir"] = fields["spool_dir"].text()
    if "spool_max" in fields:
        values["spool_max"] = fields["spool_max"].size()
        if values["spool_max"] < _MIN_SPOOL:
            raise fields["spool_max"].error("a size of at least 64KiB")
    if "spool_fsync" in fields:
        values["spool_fsync"] = fields["spool_fsync"].flag()
    if "drain_timeout" in fields:
        values["drain_timeout"] = fields["drain_timeout"].duration()
    if "detail_rate" in fields:
        values["detail_rate"] = fields["detail_rate"].rate()
    return AuditSettings(**values)


def parse_audit_route(node: Node, top: AuditSettings) -> AuditSettings:
    """Read a route's ``audit`` override (only ``sample``)."""
    fields = node.mapping({"sample"})
    if "sample" not in fields:
        return top
    return replace(top, sample=fields["sample"].number(0.0, 1.0))


def _sinks(node: Node) -> tuple[SinkSettings, ...]:
    sinks = tuple(_sink(item) for item in node.seq())
    seen: set[str] = set()
    for i, sink in enumerate(sinks):
        if sink.name in seen:
            where = node.child(i, None)
            raise where.error(f"a 'name' not used by another sink ({sink.name!r})")
        seen.add(sink.name)
    return sinks


def _sink(node: Node) -> SinkSettings:
    entry = node.mapping(frozenset(KINDS))
    if len(entry) != 1:
        raise node.error("one of: " + ", ".join(KINDS), show_value=False)
    kind, body = next(iter(entry.items()))
    fields = _sink_fields(kind, body)
    options = _PARSERS[kind](fields, body)
    name = fields["name"].text() if "name" in fields else kind
    if not _NAME.match(name):
        raise fields["name"].error("a name of lower-case letters, digits, - or _")
    where = f"{node.source}: {node.path}"
    return SinkSettings(name, kind, options, _delivery(fields), where)


def _sink_fields(kind: str, body: Node) -> dict[str, Node]:
    """The sink's keys; a scalar is the kind's main key (``file: a.jsonl``)."""
    allowed = _KIND_KEYS[kind] | _DELIVERY_KEYS | {"name"}
    if isinstance(body.value, str) and kind in _SCALAR_KEY:
        return {_SCALAR_KEY[kind]: body}
    return body.mapping(allowed)


_DELIVERY_KEYS = frozenset(
    {"queue_size", "batch_events", "batch_bytes", "flush_interval"}
    | {"retry_min", "retry_max", "timeout"}
)
_SCALAR_KEY = {
    "file": "path",
    "splunk_hec": "url",
    "webhook": "url",
    "syslog": "address",
}


def _delivery(fields: dict[str, Node]) -> Delivery:
    values: dict[str, Any] = {}
    for key in ("queue_size", "batch_events"):
        if key in fields:
            values[key] = fields[key].integer(1, 1_000_000)
    if "batch_bytes" in fields:
        values["batch_bytes"] = fields["batch_bytes"].size()
    for key in ("flush_interval", "retry_min", "retry_max", "timeout"):
        if key in fields:
            values[key] = fields[key].duration()
    return Delivery(**values)


def _require(fields: dict[str, Node], key: str, body: Node) -> Node:
    if key not in fields:
        raise body.child(key, None).error("a value (this key is required)", False)
    return fields[key]


def _url(node: Node) -> str:
    url = node.text()
    if not url.startswith(("http://", "https://")):
        raise node.error("an http:// or https:// URL")
    return url


def _tls(fields: dict[str, Node]) -> TLSClient:
    ca_file = fields["ca_file"].text() if "ca_file" in fields else ""
    verify = fields["verify"].flag() if "verify" in fields else True
    return TLSClient(ca_file, verify)


def _file(fields: dict[str, Node], body: Node) -> FileOptions:
    options = FileOptions(_require(fields, "path", body).text())
    if "max_size" in fields:
        options = replace(options, max_size=fields["max_size"].size())
    if "keep" in fields:
        options = replace(options, keep=fields["keep"].integer(1, 1000))
    if "fsync" in fields:
        options = replace(options, fsync=fields["fsync"].flag())
    return options


def _stdout(fields: dict[str, Node], body: Node) -> StdoutOptions:
    return StdoutOptions()


def _hec(fields: dict[str, Node], body: Node) -> HecOptions:
    url = _url(_require(fields, "url", body))
    token_env = _require(fields, "token_env", body).text()
    values: dict[str, Any] = {"tls": _tls(fields)}
    for key in ("index", "source", "sourcetype", "channel"):
        if key in fields:
            values[key] = fields[key].text()
    for key in ("gzip", "ack"):
        if key in fields:
            values[key] = fields[key].flag()
    for key in ("ack_timeout", "ack_poll"):
        if key in fields:
            values[key] = fields[key].duration()
    return HecOptions(url, token_env, **values)


_FACILITIES = {f"local{i}": 16 + i for i in range(8)} | {
    "user": 1,
    "daemon": 3,
    "auth": 4,
    "authpriv": 10,
}


def _syslog(fields: dict[str, Node], body: Node) -> SyslogOptions:
    address = _require(fields, "address", body)
    host, sep, port = address.text().rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536 or not host:
        raise address.error("'<host>:<port>' such as 127.0.0.1:514")
    values: dict[str, Any] = {"tls": _tls(fields)}
    if "transport" in fields:
        values["transport"] = fields["transport"].text(frozenset({"udp", "tcp", "tls"}))
    if "format" in fields:
        values["format"] = fields["format"].text(frozenset({"json", "cef"}))
    if "facility" in fields:
        values["facility"] = _FACILITIES[
            fields["facility"].text(frozenset(_FACILITIES))
        ]
    if "app_name" in fields:
        values["app_name"] = fields["app_name"].text()[:48]  # RFC 5424 6.2.5
    if "max_message" in fields:
        values["max_message"] = fields["max_message"].integer(480, 65000)
    return SyslogOptions(host.strip("[]"), int(port), **values)


def _webhook(fields: dict[str, Node], body: Node) -> WebhookOptions:
    url = _url(_require(fields, "url", body))
    values: dict[str, Any] = {"tls": _tls(fields)}
    if "format" in fields:
        values["format"] = fields["format"].text(frozenset({"ndjson", "json_array"}))
    if "gzip" in fields:
        values["gzip"] = fields["gzip"].flag()
    if "token_env" in fields:
        values["token_env"] = fields["token_env"].text()
    for key in ("headers", "header_env"):
        if key in fields:
            pairs = {name: child.text() for name, child in fields[key].items()}
            values[key] = MappingProxyType(pairs)
    return WebhookOptions(url, **values)


_TLS_KEYS = frozenset({"ca_file", "verify"})
_KIND_KEYS: dict[str, frozenset[str]] = {
    "file": frozenset({"path", "max_size", "keep", "fsync"}),
    "stdout": frozenset(),
    "splunk_hec": frozenset(
        {"url", "token_env", "index", "source", "sourcetype", "gzip", "ack"}
        | {"channel", "ack_timeout", "ack_poll"}
        | _TLS_KEYS
    ),
    "syslog": frozenset(
        {"address", "transport", "format", "facility", "app_name", "max_message"}
        | _TLS_KEYS
    ),
    "webhook": frozenset(
        {"url", "format", "gzip", "token_env", "headers", "header_env"} | _TLS_KEYS
    ),
}
_PARSERS: dict[str, Callable[[dict[str, Node], Node], SinkOptions]] = {
    "file": _file,
    "stdout": _stdout,
    "splunk_hec": _hec,
    "syslog": _syslog,
    "webhook": _webhook,
}
