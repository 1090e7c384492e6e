"""Known attack tools: scanner User-Agents, scanner headers, OAST domains.

How this works: automated scanners announce themselves in the User-Agent
(``sqlmap/1.7``, ``Nikto``, ``Nuclei``) or in headers of their own
(``Acunetix-Product``, ``X-WIPP``), and out-of-band probes name a
collaborator domain (``*.oastify.com``, ``*.interact.sh``) that resolves
back to the attacker.  HTTP libraries that honest API clients use (curl,
python-requests, Go-http-client, okhttp, axios) are *not* listed: blocking
them would block integrations, not attackers.
"""

from __future__ import annotations

from vaultgate.core.model import Finding
from vaultgate.core.request import Request
from vaultgate.detect.base import Rule, register_rules
from vaultgate.detect.engine import register_request_check

_TOOLS = (
    r"sqlmap|nikto|nmap scripting engine|\bnmap\b|nessus|openvas|acunetix"
    r"|netsparker|invicti|\bw3af|zgrab|masscan|nuclei|dirbuster|gobuster"
    r"|feroxbuster|\bdirb\b|wpscan|joomscan|droopescan|havij|arachni|appscan"
    r"|webinspect|skipfish|\bzmeu\b|morfeus|paros|webshag|\bwfuzz"
    r"|fuzz faster u fool|\bffuf\b|commix|xsstrike|jaeles|whatweb|\bwhatcms"
    r"|burp\s*suite|burpcollaborator|qualys|\bnaabu\b|\bkatana\b|hydra"
    r"|\bmedusa\b|brutus|\bbbqsql|sqlninja|pangolin|metasploit|\bmsf\b"
    r"|vega/|\bzap/|owasp zap|zaproxy|crowdstrike|\bnessus|\.nasl\b|winrm client"
    r"|\bmasscan|\bzgrab|\bsf-?scanner|\bl9scan|\bcensysinspect|\bnetcraft"
    r"|\bleakix|\bexpanse\b|internet-measurement|\bhttpx - open-source"
)
# Out-of-band interaction services: a value naming one is a blind probe.
_OAST = (
    r"burpcollaborator\.net|oastify\.com|\boast\.(?:me|pro|live|site|online|fun)"
    r"|interact\.sh|interactsh|dnslog\.cn|ceye\.io|\bxss\.ht|bxss\.me"
    r"|canarytokens\.com|requestbin\.net|\.r87\.me|dnslog\.link|\beyes\.sh"
)
# Headers that only scanners send (lower-case names).
SCANNER_HEADERS = frozenset(
    {
        "acunetix-product",
        "acunetix-scanning-agreement",
        "acunetix-user-agreement",
        "x-wipp",
        "x-request-memo",
        "x-scan-memo",
        "x-requestmanager-memo",
        "x-scanner",
        "x-nessus",
        "x-arachni-scan-seed",
        "bugbounty",
        "x-bug-bounty",
    }
)
_USER_AGENTS = frozenset({"user-agent"})
_SCORE = 5
RULES = (
    Rule(
        "scanner.user_agent",
        "scanner",
        _TOOLS,
        _SCORE,
        kinds=frozenset({"header"}),
        names=_USER_AGENTS,
        description="the User-Agent of a known attack or scanning tool",
    ),
    Rule(
        "scanner.probe_path",
        "scanner",
        r"\.(?:exe|dll|htr|htw|ida|idq|nsf|printer)(?:/|$)|(?:^|/)_vti_[a-z]+",
        _SCORE,
        kinds=frozenset({"path"}),
        description="a probe for server executables or FrontPage/IIS artefacts",
    ),
    Rule(
        "scanner.oast_domain",
        "scanner",
        _OAST,
        _SCORE,
        description="an out-of-band interaction (collaborator) domain",
    ),
)


def check_headers(request: Request, paranoia: int = 1) -> list[Finding]:
    """Findings for headers that only scanning tools send."""
    # The index holds every header name in lower case: disjoint means none
    # of the loop below would match, so nearly every request stops here.
    if SCANNER_HEADERS.isdisjoint(request.header_index()):
        return []
    return [
        Finding(
            "scanner",
            "scanner.header",
            _SCORE,
            location="header:" + name.lower(),
            snippet=name[:64],
        )
        for name, _ in request.headers
        if name.lower() in SCANNER_HEADERS
    ]


register_rules(*RULES)
register_request_check("scanner", check_headers)
