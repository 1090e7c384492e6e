"""``vaultgate replay``: recorded traffic through a policy, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from vaultgate.cli import main

# The console script installed next to the interpreter running the tests.
VAULTGATE = str(Path(sys.executable).parent / "vaultgate")

# The learned model is off: these tests are about replay, and the rule
# engine's verdicts on these requests are fixed by tests/detect.
POLICY = """
upstream: http://127.0.0.1:9
audit: {file: /dev/null}
model: {enabled: false}
routes:
  - path: /search
  - path: /payments
    methods: [POST]
    mode: monitor
"""

RAW = (
    b"GET /search?q=%27+union+select+password+from+users-- HTTP/1.1\r\nHost: a\r\n\r\n"
    b"GET /search?q=O%27Reilly HTTP/1.1\r\nHost: a\r\n\r\n"
    b"POST /payments HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
    b"Content-Length: 25\r\n\r\n"
    b'{"memo":"<svg/onload=1>"}'
    b"BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n"
)

HAR = {
    "log": {
        "version": "1.2",
        "entries": [
            {
                "startedDateTime": "2024-05-01T10:00:00.000Z",
                "request": {
                    "method": "POST",
                    "url": "https://api.bank.example/payments",
                    "httpVersion": "HTTP/2",
                    "headers": [
                        {"name": ":authority", "value": "api.bank.example"},
                        {"name": "content-type", "value": "application/json"},
                    ],
                    "postData": {
                        "mimeType": "application/json",
                        "text": '{"memo": "rent; select a payee"}',
                    },
                },
            },
            {
                "startedDateTime": "2024-05-01T10:00:01.000Z",
                "request": {
                    "method": "GET",
                    "url": "https://api.bank.example/search?q="
                    "%3Cscript%3Ealert(1)%3C/script%3E",
                    "httpVersion": "HTTP/1.1",
                    "headers": [],
                },
            },
        ],
    }
}

AUDIT = [
    {
        "@timestamp": "2024-05-01T10:00:00.000Z",
        "http": {"request": {"method": "GET"}},
        "url": {"path": "/search"},
        "client": {"ip": "198.51.100.9"},
    },
]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    paths = {
        "policy": tmp_path / "policy.yaml",
        "raw": tmp_path / "capture.http",
        "har": tmp_path / "session.har",
        "audit": tmp_path / "audit.jsonl",
    }
    paths["policy"].write_text(POLICY)
    paths["raw"].write_bytes(RAW)
    paths["har"].write_text(json.dumps(HAR))
    paths["audit"].write_text("\n".join(json.dumps(e) for e in AUDIT) + "\n")
    return {name: str(path) for name, path in paths.items()}


def replay_json(
    files: dict[str, str], *inputs: str, capsys: pytest.CaptureFixture[str]
) -> dict[str, Any]:
    assert main(["replay", "--policy", files["policy"], "--json", *inputs]) == 0
    return json.loads(capsys.readouterr().out)


def test_raw_http_file_with_many_requests(
    files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    report = replay_json(files, files["raw"], capsys=capsys)
    assert (report["requests"], report["decided"], report["unparseable"]) == (4, 3, 1)
    assert report["by_route"]["/search"] == {"requests": 2, "block": 1, "allow": 1}
    flagged = {item["target"]: item for item in report["flagged"]}
    union = flagged["/search?q=%27+union+select+password+from+users--"]
    assert "sqli.union" in union["reasons"]
    # Monitor mode forwards, but the report says what block mode would do.
    assert flagged["/payments"]["mode"] == "monitor"
    assert flagged["/payments"]["action"] == "block"
    assert "xss.handler" in flagged["/payments"]["reasons"]
    assert report["failures"][0]["source"].endswith("capture.http#4")


def test_har_capture(files: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    report = replay_json(files, files["har"], capsys=capsys)
    assert report["decided"] == 2
    [flagged] = report["flagged"]
    assert flagged["target"] == "/search?q=%3Cscript%3Ealert(1)%3C/script%3E"
    assert "xss.script" in flagged["reasons"]
    assert report["by_route"]["/payments"] == {"requests": 1, "allow": 1}


def test_audit_lines_replay_method_and_path_and_say_so(
    files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    report = replay_json(files, files["audit"], capsys=capsys)
    assert report["by_route"] == {"/search": {"requests": 1, "allow": 1}}
    assert any("only the method and path" in note for note in report["notes"])


def test_text_report_by_route_and_rule(
    files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["replay", "--policy", files["policy"], files["raw"], files["har"]]) == 0
    )
    out = capsys.readouterr().out
    assert out.startswith("requests: 6  would block: 3")
    assert "by rule" in out and "sqli.union" in out
    assert "(monitor)" in out
    assert "UNPARSED" in out


def test_a_bad_policy_or_input_exits_2(
    files: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("upstream: http://127.0.0.1:9\ninspection: {paranoia: 7}\n")
    assert main(["replay", "--policy", str(bad), files["raw"]]) == 2
    assert "inspection.paranoia" in capsys.readouterr().err
    assert main(["replay", "--policy", files["policy"], str(tmp_path / "none")]) == 2


def test_the_installed_command(files: dict[str, str]) -> None:
    done = subprocess.run(
        [VAULTGATE, "replay", "--policy", files["policy"], "--json", files["raw"]],
        capture_output=True,
        check=True,
        timeout=120,
    )
    assert json.loads(done.stdout)["actions"] == {"block": 2, "allow": 1}
