"""Dangerous uploads: files a server would execute or obey, or write elsewhere."""

from __future__ import annotations

import pytest

from tests.detect.family_cases import request_rules
from vaultgate.core.request import Request
from vaultgate.detect.upload import check_uploads


def upload(
    file_name: str,
    field: str = "file",
    content: bytes = b"DATA",
    media_type: bytes = b"application/octet-stream",
) -> bytes:
    """A browser-like multipart upload of one file."""
    body = (
        b'--B0und4ry\r\nContent-Disposition: form-data; name="'
        + field.encode()
        + b'"; filename="'
        + file_name.encode()
        + b'"\r\nContent-Type: '
        + media_type
        + b"\r\n\r\n"
        + content
        + b"\r\n--B0und4ry--\r\n"
    )
    head = (
        b"POST /v1/documents HTTP/1.1\r\nHost: api.bank.example\r\n"
        b"Content-Type: multipart/form-data; boundary=B0und4ry\r\n"
    )
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


DANGEROUS = [
    ("shell.php", "upload.php"),
    ("shell.php5", "upload.php"),
    ("a.phtml", "upload.php"),
    ("a.php....", "upload.php"),
    ("a.php. ", "upload.php"),
    ("cmd.jsp", "upload.jsp"),
    ("cmd.jspx", "upload.jsp"),
    ("x.aspx", "upload.asp"),
    (".htaccess", "upload.config"),
    ("web.config", "upload.config"),
    (".user.ini", "upload.config"),
    ("wp-config.php", "upload.php"),
    ("sess_d8ew88tqmabdcokhumchy8htqm", "upload.php_session"),
    ("../../evil.sh", "traversal.filename"),
    ("..\\1.7z", "traversal.filename"),
    ("/etc/cron.d/job", "traversal.filename"),
]
ORDINARY = [
    "statement.pdf",
    "receipt-2024-03.png",
    "invoice.php.pdf.txt",
    "passport scan.jpeg",
    "php-basics-course.pdf",
    "config.json",
    "Kontoauszug März.pdf",
    "résumé..final.docx",
]


@pytest.mark.parametrize(("name", "rule"), DANGEROUS)
def test_dangerous_file_names_fire(name: str, rule: str) -> None:
    assert rule in request_rules(upload(name))


@pytest.mark.parametrize("name", ORDINARY)
def test_ordinary_file_names_pass(name: str) -> None:
    rules = request_rules(upload(name))
    assert not {r for r in rules if r.startswith(("upload.", "traversal."))}


@pytest.mark.parametrize("header", [b"X-File-Name", b"X_Filename", b"X.Filename"])
def test_upload_headers_fire(header: bytes) -> None:
    raw = b"PUT /upload HTTP/1.1\r\nHost: h\r\n" + header + b": a.php\r\n\r\n"
    assert "upload.php" in request_rules(raw)


def test_paths_and_addresses_ending_like_scripts_pass() -> None:
    raw = (
        b"GET /shop/index.jsp?email=ola@example.pl HTTP/1.1\r\n"
        b"Host: api.bank.example\r\n\r\n"
    )
    assert not {r for r in request_rules(raw) if r.startswith("upload.")}


def test_double_extension_waits_for_paranoia_2() -> None:
    assert "upload.php_double_extension" not in request_rules(upload("a.php.jpg"))
    rules = request_rules(upload("a.php.jpg"), paranoia=2)
    assert "upload.php_double_extension" in rules


# The check returns early unless a header name holds "file" or the body is
# multipart; an upload header anywhere in the list, in any case, still fires.
@pytest.mark.parametrize(
    "headers",
    [
        [("Host", "h"), ("Accept", "*/*"), ("X-FILE-NAME", "a.php")],
        [("x_filename", "a.php"), ("Host", "h")],
        [("Host", "h"), ("X-Upload-Filename", "a.php"), ("X-Filename", "b.txt")],
    ],
)
def test_upload_header_fires_among_other_headers(
    headers: list[tuple[str, str]],
) -> None:
    request = Request("PUT", "/upload", headers, "192.0.2.1")
    assert [f.rule_id for f in check_uploads(request, 1)] == ["upload.php"]


def test_headers_without_file_give_no_upload_finding() -> None:
    headers = [("Host", "h"), ("X-Name", "a.php"), ("Fi-Le", "a.php")]
    assert list(check_uploads(Request("PUT", "/", headers, "192.0.2.1"), 2)) == []


# A JPEG's first bytes, an EXIF comment, then scan data.
JPEG_HEAD = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
JPEG_TAIL = bytes(range(256)) * 8 + b"\xff\xd9"


@pytest.mark.parametrize(
    "code",
    [
        b"<?php @eval($_POST['c']); ?>",
        b"<?PHP system($_GET['x']);",
        b'<%@ page import="java.io.*" %>'
        b'<% Runtime.getRuntime().exec(request.getParameter("c")); %>',
        b"<jsp:scriptlet>Runtime.getRuntime().exec(cmd);</jsp:scriptlet>",
        b'<%@ Page Language="C#" %><script runat="server">void Page_Load(){}</script>',
        b'<%eval request("c")%>',
    ],
)
def test_server_code_inside_an_image_fires(code: bytes) -> None:
    content = JPEG_HEAD + b"\xff\xfe\x00\x40" + code + JPEG_TAIL
    raw = upload("passport.jpg", content=content, media_type=b"image/jpeg")
    assert "upload.server_code" in request_rules(raw)


def test_server_code_in_a_raw_upload_named_by_a_header_fires() -> None:
    body = JPEG_HEAD + b"<?php passthru($_GET['c']);" + JPEG_TAIL
    raw = (
        b"PUT /v1/documents/77 HTTP/1.1\r\nHost: api.bank.example\r\n"
        b"X-File-Name: selfie.jpg\r\nContent-Type: image/jpeg\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    ) + body
    assert "upload.server_code" in request_rules(raw)


@pytest.mark.parametrize(
    ("name", "content", "media_type"),
    [
        ("passport.jpg", JPEG_HEAD + JPEG_TAIL * 4, b"image/jpeg"),
        # PDF syntax is full of '<<', '%' and '<%' by chance in streams.
        (
            "statement.pdf",
            b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\nstream\n<%\x8f<?x <% page"
            b"\nendstream\n%%EOF",
            b"application/pdf",
        ),
        (
            "notes.txt",
            b"Use <?xml version='1.0'?> and <script src=app.js>",
            b"text/plain",
        ),
        (
            "php-guide.pdf",
            b"%PDF-1.4 Chapter 3: the php keyword and <? tags",
            b"application/pdf",
        ),
    ],
)
def test_ordinary_files_pass(name: str, content: bytes, media_type: bytes) -> None:
    raw = upload(name, content=content, media_type=media_type)
    assert "upload.server_code" not in request_rules(raw)
