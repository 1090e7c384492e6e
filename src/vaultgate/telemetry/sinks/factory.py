"""Building a sink from its settings, secrets read from the environment.

Secrets are named in the policy (``token_env: HEC_TOKEN``) and read here,
once, when the audit log is built; their values are never logged and no
error message carries them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from vaultgate.errors import PolicyError
from vaultgate.telemetry.settings import (
    FileOptions,
    HecOptions,
    SinkSettings,
    SyslogOptions,
    WebhookOptions,
)
from vaultgate.telemetry.sinks.base import Sink
from vaultgate.telemetry.sinks.hec import HecSink
from vaultgate.telemetry.sinks.local import FileSink, StdoutSink
from vaultgate.telemetry.sinks.syslog import SyslogSink
from vaultgate.telemetry.sinks.webhook import WebhookSink


def build_sink(settings: SinkSettings) -> Sink:
    """The sink ``settings`` describe; PolicyError if a secret is missing."""
    options = settings.options
    if isinstance(options, FileOptions):
        return FileSink(settings.name, options, settings.where)
    if isinstance(options, HecOptions):
        token = secret(options.token_env, settings, "token_env")
        return HecSink(settings.name, options, settings.delivery, token)
    if isinstance(options, SyslogOptions):
        return SyslogSink(settings.name, options, settings.delivery)
    if isinstance(options, WebhookOptions):
        token = (
            secret(options.token_env, settings, "token_env")
            if options.token_env
            else ""
        )
        headers = _secret_headers(options.header_env, settings)
        return WebhookSink(settings.name, options, settings.delivery, token, headers)
    return StdoutSink(settings.name)


def secret(variable: str, settings: SinkSettings, key: str) -> str:
    """The value of environment ``variable``; PolicyError when unset or empty."""
    value = os.environ.get(variable, "")
    if not value:
        path = f"{settings.kind}.{key}"
        expected = f"environment variable {variable} to be set (it holds a secret)"
        raise PolicyError(settings.where, path, expected)
    return value


def _secret_headers(names: Mapping[str, str], settings: SinkSettings) -> dict[str, str]:
    return {
        header: secret(env, settings, "header_env") for header, env in names.items()
    }
