"""Dangerous uploads: file names that a server would execute or obey.

How this works: a web shell is uploaded under a name the server runs
(``shell.php``, ``cmd.jsp``, ``a.phtml``) or that reconfigures it
(``.htaccess``, ``web.config``, ``.user.ini``), or named like a PHP session
file so that an include() elsewhere loads it; a name with ``../`` writes
outside the upload directory.  File names arrive as the ``filename`` of a
multipart part, or in upload headers of JavaScript uploaders
(``X-File-Name``, ``X_Filename``).  Trailing dots and spaces, which Windows
strips, do not hide the extension.

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


def _upload_header(name: str) -> bool:
    return name.lower().replace("_", "-").replace(".", "-") in UPLOAD_HEADERS


def _file_names(request: Request) -> list[tuple[str, str]]:
    """(location, file name) of each multipart file and upload header."""
    names = [
        ("header:" + name.lower(), value)
        for name, value in request.headers
        if _upload_header(name)
    ]
    if request.content_type.startswith("multipart/"):
        names += [
            ("filename:" + field, file) for field, file in multipart.files(request)
        ]
    return names


def check_uploads(request: Request, paranoia: int) -> Iterable[Finding]:
    """A finding per uploaded file name a server would run or obey."""
    # Every upload header name holds "file" once lower-cased; the index
    # keys are the lower-cased names, joined in C without a generator.
    if not request.content_type.startswith("multipart/") and (
        "file" not in "\n".join(request.header_index())
    ):
        return  # no file part and no upload header: the common case
    for location, name in _file_names(request):
        for rule_id, level, pattern in CHECKS:
            if level <= paranoia and pattern.search(name):
                family = rule_id.split(".", 1)[0]
                yield Finding(family, rule_id, _SCORE, location, name[:64])


register_request_check("upload", check_uploads)
