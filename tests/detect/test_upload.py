"""Dangerous uploads: files a server would execute or obey."""

from __future__ import annotations

import pytest

from tests.detect.family_cases import families, request_rules

DANGEROUS = [
    "shell.php",
    "shell.php5",
    "a.phtml",
    "a.php....",
    "a.php. ",
    "cmd.jsp",
    "cmd.jspx",
    "x.aspx",
    ".htaccess",
    "web.config",
    ".user.ini",
    "wp-config.php",
    "sess_d8ew88tqmabdcokhumchy8htqm",
]
ORDINARY = [
    "statement.pdf",
    "receipt-2024-03.png",
    "invoice.php.pdf.txt",
    "passport scan.jpeg",
    "php-basics-course.pdf",
    "config.json",
]


@pytest.mark.parametrize("name", DANGEROUS)
def test_dangerous_file_names_fire(name: str) -> None:
    assert "upload" in families(name, "filename", "file")


@pytest.mark.parametrize("name", ORDINARY)
def test_ordinary_file_names_pass(name: str) -> None:
    assert "upload" not in families(name, "filename", "file")


@pytest.mark.parametrize("header", [b"X-File-Name", b"X_Filename", b"X.Filename"])
def test_upload_headers_fire(header: bytes) -> None:
    raw = b"PUT /upload HTTP/1.1\r\nHost: h\r\n" + header + b": a.php\r\n\r\n"
    assert "upload.php" in request_rules(raw)


def test_double_extension_waits_for_paranoia_2() -> None:
    assert "upload" not in families("photo.php.jpg", "filename", "file")
    assert "upload" in families("photo.php.jpg", "filename", "file", paranoia=2)
