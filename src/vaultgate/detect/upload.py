"""Dangerous uploads: file names that a server would execute or obey.

How this works: a web shell is uploaded under a name the server runs
(``shell.php``, ``cmd.jsp``, ``a.phtml``) or that reconfigures it
(``.htaccess``, ``web.config``, ``.user.ini``), or named like a PHP session
file so that an include() elsewhere loads it; a name with ``../`` writes
outside the upload directory.  File names arrive as the ``filename`` of a
multipart part, or in upload headers of JavaScript uploaders
(``X-File-Name``, ``X_Filename``).  Trailing dots and spaces, which Windows
strips, do not hide the extension.

The content of an uploaded file is read too, whatever its declared type:
a web shell hidden in an image's metadata (a JPEG whose EXIF comment holds
``<?php``) is the classic way past an extension allow-list, and an include
elsewhere runs it.  Only long, distinctive openings of server-side code
count (``<?php``, JSP and ASP.NET page directives and scriptlet tags, a
server-side ``<script runat=server>``, classic ASP's ``<%eval``), so that
the random bytes of compressed images and PDFs cannot spell one.

This is a request-level check, not value rules: URL paths and e-mail
addresses end in ``.jsp`` or ``.pl`` all day, and a Hyperscan pattern
cannot tell a file name from them, so every request would pay for a
confirmation.  Only multipart requests and upload headers are read here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from vaultgate.core.model import Finding
from vaultgate.core.request import Request
from vaultgate.detect import multipart
from vaultgate.detect.engine import register_request_check

# Header names of upload helpers, with "_" and "." read as "-".
UPLOAD_HEADERS = frozenset({"x-filename", "x-file-name", "x-upload-filename"})
_TAIL = r"[.\s]*$"
# (rule id, paranoia, pattern) checked against every uploaded file name.
CHECKS = tuple(
    (rule_id, paranoia, re.compile(pattern, re.IGNORECASE))
    for rule_id, paranoia, pattern in (
        (
            "upload.php",
            1,
            r"\.\s*(?:php\d*|phtml|pht|phpt|phar|phps|inc|hphp|ctp|module)" + _TAIL,
        ),
        ("upload.jsp", 1, r"\.\s*(?:jsp[xf]?|jspa|jsw|jsv|jhtml)" + _TAIL),
        ("upload.asp", 1, r"\.\s*(?:aspx?|ashx|asmx|asa|cer|cdx|shtml|cgi)" + _TAIL),
        (
            "upload.config",
            1,
            r"(?:^|[/\\])(?:\.htaccess|\.htpasswd|web\.config|\.user\.ini|php\.ini"
            r"|wp-config[\w.-]*|settings\.\s*php|config\.ya?ml|\.env|\.boto"
            r"|\.bashrc|\.profile|authorized_keys|crontab)\s*$",
        ),
        ("upload.php_session", 1, r"(?:^|[/\\])sess_[\w,-]{20,}"),
        ("traversal.filename", 1, r"(?:^|[/\\])\.\.(?:[/\\]|$)|^(?:[a-z]:)?[/\\]"),
        ("upload.php_double_extension", 2, r"\.\s*(?:php\d*|phtml|pht|phar)\s*\."),
    )
)
_SCORE = 5
# Server-side code in an uploaded file, read as bytes; 5 or more fixed
# bytes each, which random binary content holds about once in a terabyte.
SERVER_CODE = re.compile(
    rb"<\?php\b|<%@\s*page\b|<jsp:(?:scriptlet|expression|declaration)\b"
    rb"|<script\b[^>]{0,64}\brunat\s*=\s*[\"']?server\b"
    rb"|<%\s*(?:eval|execute)\s*\(?\s*request\b",
    re.IGNORECASE,
)


def _upload_header(name: str) -> bool:
    return name.lower().replace("_", "-").replace(".", "-") in UPLOAD_HEADERS


def _uploads(request: Request) -> list[tuple[str, str, bytes]]:
    """(location, file name, content) of each multipart file and of a body
    named by an upload header."""
    uploads = [
        ("header:" + name.lower(), value, request.body)
        for name, value in request.headers
        if _upload_header(name)
    ]
    if request.content_type.startswith("multipart/"):
        uploads += [
            ("filename:" + field, file, content)
            for field, file, content in multipart.file_parts(request)
        ]
    return uploads


def check_uploads(request: Request, paranoia: int) -> Iterable[Finding]:
    """A finding per uploaded file name a server would run or obey."""
    # Every upload header name holds "file" once lower-cased; the index
    # keys are the lower-cased names, joined in C without a generator.
    if not request.content_type.startswith("multipart/") and (
        "file" not in "\n".join(request.header_index())
    ):
        return  # no file part and no upload header: the common case
    for location, name, content in _uploads(request):
        for rule_id, level, pattern in CHECKS:
            if level <= paranoia and pattern.search(name):
                family = rule_id.split(".", 1)[0]
                yield Finding(family, rule_id, _SCORE, location, name[:64])
        code = SERVER_CODE.search(content)
        if code is not None:
            snippet = code.group().decode("latin-1")[:64]
            yield Finding("upload", "upload.server_code", _SCORE, location, snippet)


register_request_check("upload", check_uploads)
