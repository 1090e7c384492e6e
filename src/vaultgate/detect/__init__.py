"""Payload inspection: decoding, the multi-pattern matcher and detectors.

Pure code: no asyncio, no sockets, no clock.  See ``base`` for the contract
a detector module fulfils and ``engine`` for the matcher that runs rules.
"""

from __future__ import annotations

import importlib

# Every module that declares rules (``register_rules``) or request-level
# checks (``engine.register_request_check``).  One line per attack family;
# engineers adding a family add its module here.  Order does not matter.
DETECTOR_MODULES: tuple[str, ...] = (
    "vaultgate.detect.sqli",
    "vaultgate.detect.xss",
    "vaultgate.detect.cmdi",
    "vaultgate.detect.traversal",
    "vaultgate.detect.rfi",
    "vaultgate.detect.ssrf",
    "vaultgate.detect.php",
    "vaultgate.detect.xxe",
    "vaultgate.detect.ssti",
    "vaultgate.detect.ldap",
    "vaultgate.detect.nosql",
    "vaultgate.detect.java",
    "vaultgate.detect.generic",
    "vaultgate.detect.crlf",
    "vaultgate.detect.mailinj",
    "vaultgate.detect.ssi",
    "vaultgate.detect.shellshock",
    "vaultgate.detect.scanner",
    "vaultgate.detect.session",
    "vaultgate.detect.upload",
    "vaultgate.detect.protocol",
    "vaultgate.detect.introspection",
)

_loaded = False


def load_detectors() -> None:
    """Import every detector module once, filling the rule registry."""
    global _loaded
    if _loaded:
        return
    for name in DETECTOR_MODULES:
        importlib.import_module(name)
    _loaded = True
