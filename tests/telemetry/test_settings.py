"""The audit and admin policy sections: defaults, shorthands, and every mistake."""

from __future__ import annotations

import pytest

from vaultgate.core.policy import parse_policy
from vaultgate.errors import PolicyError
from vaultgate.guards import load_all
from vaultgate.telemetry.settings import AuditSettings, HecOptions, SyslogOptions

load_all()

BASE = "upstream: http://127.0.0.1:9000\n"


def audit(text: str) -> AuditSettings:
    settings = parse_policy(BASE + text, "p.yaml").settings["audit"]
    assert isinstance(settings, AuditSettings)
    return settings


def test_defaults_are_one_stdout_sink_and_a_spool_in_the_working_directory() -> None:
    settings = audit("")
    (sink,) = settings.sink_list()
    assert (sink.kind, sink.name) == ("stdout", "stdout")
    assert settings.spool_dir == "vaultgate-spool"
    assert settings.sample == 1.0 and settings.spool_fsync is True


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("audit: {file: /var/log/a.jsonl}\n", [("file", "file")]),
        ("audit: {file: '-'}\n", [("stdout", "stdout")]),
        ("audit: {sinks: []}\n", []),
        (
            "audit: {sinks: [{file: a.jsonl}, {syslog: '10.0.0.1:514'}]}\n",
            [("file", "file"), ("syslog", "syslog")],
        ),
        (
            "audit: {sinks: [{file: {path: a, name: local}}, {file: b}]}\n",
            [("file", "local"), ("file", "file")],
        ),
    ],
)
def test_sink_shorthands(text: str, kinds: list[tuple[str, str]]) -> None:
    assert [(s.kind, s.name) for s in audit(text).sink_list()] == kinds


def test_every_key_of_a_hec_sink_is_read() -> None:
    (sink,) = audit(
        "audit:\n  sinks:\n"
        "    - splunk_hec: {url: 'https://siem:8088', token_env: HEC, index: pay,"
        " gzip: false, ack: true, ack_timeout: 2m, batch_events: 100,"
        " flush_interval: 250ms, retry_max: 1m, verify: false}\n"
    ).sink_list()
    assert isinstance(sink.options, HecOptions)
    assert (sink.options.index, sink.options.gzip, sink.options.ack) == (
        "pay",
        False,
        True,
    )
    assert sink.options.ack_timeout == 120 and sink.options.tls.verify is False
    assert sink.delivery.batch_events == 100 and sink.delivery.flush_interval == 0.25
    assert sink.delivery.retry_max == 60


def test_syslog_facility_and_transport() -> None:
    (sink,) = audit(
        "audit: {sinks: [{syslog: {address: 'log:6514', transport: tls,"
        " facility: authpriv, format: cef}}]}\n"
    ).sink_list()
    assert isinstance(sink.options, SyslogOptions)
    assert (sink.options.host, sink.options.port) == ("log", 6514)
    assert (sink.options.facility, sink.options.format) == (10, "cef")


def test_a_route_may_override_the_sample_rate_only() -> None:
    policy = parse_policy(
        BASE + "audit: {sample: 0.1}\nroutes: [{path: /login, audit: {sample: 1}}]\n"
    )
    assert policy.routes[0].settings["audit"].sample == 1.0
    assert policy.default_route.settings["audit"].sample == 0.1


MISTAKES = [
    ("audit: {sample: 2}\n", "audit.sample: expected a number from 0.0 to 1.0"),
    (
        "audit: {spool_max: 1KiB}\n",
        "audit.spool_max: expected a size of at least 64KiB",
    ),
    (
        "audit: {file: a, sinks: []}\n",
        "audit.file: expected either audit.file or audit.sinks, not both",
    ),
    ("audit: {sinks: [{kafka: {}}]}\n", "audit.sinks[0].kafka: expected one of: file,"),
    (
        "audit: {sinks: [{file: a, stdout: {}}]}\n",
        "audit.sinks[0]: expected one of: file, stdout",
    ),
    (
        "audit: {sinks: [{splunk_hec: {url: 'http://x'}}]}\n",
        "splunk_hec.token_env: expected a value",
    ),
    (
        "audit: {sinks: [{splunk_hec: {url: 'ftp://x', token_env: T}}]}\n",
        "splunk_hec.url: expected an http:// or https:// URL",
    ),
    (
        "audit: {sinks: [{syslog: {address: 'x:514', transport: quic}}]}\n",
        "syslog.transport: expected one of: tcp, tls, udp",
    ),
    (
        "audit: {sinks: [{syslog: 'nohost'}]}\n",
        "sinks[0].syslog: expected '<host>:<port>'",
    ),
    (
        "audit: {sinks: [{webhook: {url: 'https://x', format: xml}}]}\n",
        "webhook.format: expected one of: json_array, ndjson",
    ),
    (
        "audit: {sinks: [{file: {path: a, name: ../etc}}]}\n",
        "file.name: expected a name of lower-case letters",
    ),
    (
        "audit: {sinks: [{file: a}, {file: b}]}\n",
        "audit.sinks[1]: expected a 'name' not used by another sink ('file')",
    ),
    (
        "audit: {sinks: [{file: {path: a, batch_events: 0}}]}\n",
        "file.batch_events: expected an integer from 1 to 1000000",
    ),
    (
        "routes: [{path: /a, audit: {file: x}}]\n",
        "routes[0].audit.file: expected one of: sample",
    ),
    ("admin: {listen: localhost}\n", "admin.listen: expected '<host>:<port>'"),
    (
        "admin: {color: red}\n",
        "admin.color: expected one of: enabled, listen, token_env",
    ),
    ("routes: [{path: /a, admin: {}}]\n", "routes[0].admin: expected no route-level"),
]


@pytest.mark.parametrize(("text", "message"), MISTAKES)
def test_mistakes_are_refused_with_where_and_what(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(BASE + text, "p.yaml")
    assert message in str(caught.value)
    assert str(caught.value).startswith("p.yaml: ")


@pytest.mark.parametrize(
    ("text", "enabled", "where"),
    [
        ("", False, ("127.0.0.1", 9901)),
        ("admin: {}\n", True, ("127.0.0.1", 9901)),
        ("admin: {listen: '0.0.0.0:9100', token_env: T}\n", True, ("0.0.0.0", 9100)),
        ("admin: {enabled: false}\n", False, ("127.0.0.1", 9901)),
    ],
)
def test_admin_runs_only_when_asked(
    text: str, enabled: bool, where: tuple[str, int]
) -> None:
    settings = parse_policy(BASE + text).settings["admin"]
    assert settings.enabled is enabled
    assert (settings.host, settings.port) == where
