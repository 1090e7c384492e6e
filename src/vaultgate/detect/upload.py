"""Dangerous uploads: file names that a server would execute or obey.

How this works: a web shell is uploaded under a name the server runs
(``shell.php``, ``cmd.jsp``, ``a.phtml``) or that reconfigures it
(``.htaccess``, ``web.config``, ``.user.ini``), or named like a PHP session
file so that an include() elsewhere loads it.  File names arrive as the
``filename`` of a multipart part, or in upload headers of JavaScript
uploaders (``X-File-Name``, ``X_Filename``).  Trailing dots and spaces,
which Windows strips, do not hide the extension.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from vaultgate.core.model import Finding
from vaultgate.core.request import Request
from vaultgate.detect.base import Rule, register_rules
from vaultgate.detect.engine import register_request_check

# Header names of upload helpers, with "_" and "." read as "-".
UPLOAD_HEADERS = frozenset({"x-filename", "x-file-name", "x-upload-filename"})
_TAIL = r"[.\s]*$"
_SCORE = 5
RULES = (
    Rule(
        "upload.php",
        "upload",
        r"\.\s*(?:php\d*|phtml|pht|phpt|phar|phps|inc|hphp|ctp|module)" + _TAIL,
        _SCORE,
        kinds=frozenset({"filename"}),
        description="an uploaded file that PHP would execute",
    ),
    Rule(
        "upload.php_double_extension",
        "upload",
        r"\.\s*(?:php\d*|phtml|pht|phar)\s*\.",
        _SCORE,
        paranoia=2,
        kinds=frozenset({"filename"}),
        description="a PHP extension before another (Apache runs a.php.jpg)",
    ),
    Rule(
        "upload.jsp",
        "upload",
        r"\.\s*(?:jsp[xf]?|jspa|jsw|jsv|jhtml)" + _TAIL,
        _SCORE,
        kinds=frozenset({"filename"}),
        description="an uploaded JSP file",
    ),
    Rule(
        "upload.asp",
        "upload",
        r"\.\s*(?:aspx?|ashx|asmx|asa|cer|cdx|config|shtml|cgi|pl)" + _TAIL,
        _SCORE,
        kinds=frozenset({"filename"}),
        description="an uploaded ASP.NET, CGI or SSI file",
    ),
    Rule(
        "upload.config",
        "upload",
        r"(?:^|[/\\])(?:\.htaccess|\.htpasswd|web\.config|\.user\.ini|php\.ini"
        r"|wp-config[\w.-]*|settings\.\s*php|config\.ya?ml|\.env|\.boto|\.bashrc"
        r"|\.profile|authorized_keys|crontab)\s*$",
        _SCORE,
        kinds=frozenset({"filename"}),
        description="an upload that would replace a server configuration file",
    ),
    Rule(
        "upload.php_session",
        "upload",
        r"(?:^|[/\\])sess_[\w,-]{20,}",
        _SCORE,
        kinds=frozenset({"filename"}),
        description="an upload named like a PHP session file",
    ),
)
_BY_ID = {rule.id: rule for rule in RULES}
# The same checks for upload headers, which the value extractor may not
# select (X_Filename does not start with "x-").
_HEADER_CHECKS = tuple(
    (rule, re.compile(rule.pattern, re.IGNORECASE))
    for rule in RULES
    if rule.paranoia == 1
)


def _upload_header(name: str) -> bool:
    return name.lower().replace("_", "-").replace(".", "-") in UPLOAD_HEADERS


def check_headers(request: Request, paranoia: int) -> Iterable[Finding]:
    """Findings for upload headers that name a dangerous file."""
    for name, value in request.headers:
        if not _upload_header(name):
            continue
        for rule, pattern in _HEADER_CHECKS:
            if pattern.search(value):
                where = "header:" + name.lower()
                yield Finding("upload", rule.id, rule.score, where, value[:64])


register_rules(*RULES)
register_request_check("upload", check_headers)
