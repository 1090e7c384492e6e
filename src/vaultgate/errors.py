"""The error family of vaultgate.

::

    VaultgateError
    ├── PolicyError        a policy file is wrong: names the file, the path
    │                      inside it and what was expected
    ├── ProtocolError      a client sent a message we refuse; carries the
    │                      HTTP status to answer with
    ├── UpstreamError      the upstream could not be reached or answered badly;
    │   │                  carries the status (502 or 504)
    │   └── UpstreamTimeout
    └── StateError         the state store (memory or Redis) failed or timed out

Blocking a request is never an exception: it is a ``Decision`` value.  These
errors are for things that went wrong, and library exceptions are translated
into them at one boundary per package.
"""

from __future__ import annotations


class VaultgateError(Exception):
    """Base class of every error vaultgate raises on purpose."""


class PolicyError(VaultgateError):
    """A policy is invalid; the message says where and what was expected."""

    def __init__(self, source: str, path: str, expected: str, got: object = None):
        self.source = source
        self.path = path
        self.expected = expected
        self.got = got
        where = f"{source}: {path}" if path else source
        message = f"{where}: expected {expected}"
        if got is not None:
            message += f", got {_short_repr(got)}"
        super().__init__(message)


class ProtocolError(VaultgateError):
    """A client message that must be refused with ``status``."""

    def __init__(self, status: int, reason: str):
        self.status = status
        self.reason = reason
        super().__init__(f"{status} {reason}")


class UpstreamError(VaultgateError):
    """The upstream failed; answered to the client as ``status``."""

    status = 502

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class UpstreamTimeout(UpstreamError):
    """The upstream did not answer within its timeout."""

    status = 504


class StateError(VaultgateError):
    """The state store failed or did not answer in time."""


def _short_repr(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
