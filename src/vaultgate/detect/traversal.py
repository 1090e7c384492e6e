"""Path traversal and local file inclusion.

How this works: three kinds of evidence.  Dot-dot segments that climb out
of a directory (``../../``, ``..\\``, ``..;/``, and their hex and
percent spellings, which ``confirm`` folds back before counting); names of
files an attacker reads first (``/etc/passwd``, ``win.ini``,
``/proc/self/environ``, ``.aws/credentials``); and, in the URL path only,
requests for hidden files and backup copies (``/.git/config``,
``index.php.bak``), which an API never serves.
"""

from __future__ import annotations

import re

from vaultgate.detect.base import Rule, register_rules

# Files worth reading, as absolute paths: a wildcard path is expanded
# against these (see cmdi.glob_path), so keep them concrete.
SENSITIVE_PATHS = (
    "/etc/passwd",
    "/etc/shadow",
    "/etc/group",
    "/etc/hosts",
    "/etc/master.passwd",
    "/etc/sudoers",
    "/etc/subuid",
    "/etc/issue",
    "/etc/crontab",
    "/etc/hostname",
    "/proc/self/environ",
    "/proc/self/cmdline",
    "/root/.ssh/id_rsa",
    "/root/.bash_history",
)

_SEP = r"[/\\]+"
# What may stand before a file reference: start, a separator, a quote ...
_LEAD = r"(?:^|[/\\\s=:'\"(,;|&`>]|\.\.)"
_FILES = (
    r"etc" + _SEP + r"(?:passwd|shadow|master\.passwd|group|gshadow|sudoers"
    r"|subuid|subgid|hosts|issue|crontab|hostname|resolv\.conf|os-release|motd"
    r"|fstab|profile|environment|security|ssh|mysql|httpd|apache2?|nginx|php\d?"
    r"|letsencrypt|ssl|pam\.d|cron\.d|init\.d|kubernetes|docker)\b"
    r"|proc" + _SEP + r"(?:self|\d+|version|net|sys|cpuinfo|meminfo|interrupts"
    r"|mounts|cmdline|environ|kcore|sched_debug)\b"
    r"|sys" + _SEP + r"(?:class|kernel|devices|firmware|power)\b"
    r"|var" + _SEP + r"(?:log|run/secrets|lib/(?:php|mysql|docker)|mail"
    r"|spool/cron)\b"
    r"|(?:root|home" + _SEP + r"[\w.-]+)" + _SEP + r"\."
    r"|(?:win|system|boot)\.ini\b|ntuser\.dat\b|autoexec\.bat\b"
    r"|windows" + _SEP + r"(?:system32|repair|panther|debug|win\.ini)"
    r"|inetpub" + _SEP + r"|web\.config\b|applicationhost\.config\b"
    r"|\.(?:htaccess|htpasswd|bash_history|zsh_history|mysql_history|psql_history"
    r"|git-credentials|pgpass|netrc|npmrc|boto|s3cfg|dockercfg)\b"
    r"|\.(?:ssh|aws|gnupg|kube|docker|azure|gcloud|git|svn|hg)"
    + _SEP
    + r"|id_(?:rsa|dsa|ecdsa|ed25519)\b|authorized_keys\b|wp-config\.php\b"
    r"|\.env(?:\.\w+)?$|\.ds_store\b"
)

_FOLD = (
    ("%2e", "."),
    ("0x2e", "."),
    ("%c0%ae", "."),
    ("%u002e", "."),
    ("%2f", "/"),
    ("0x2f", "/"),
    ("%c0%af", "/"),
    ("%5c", "\\"),
    ("0x5c", "\\"),
    ("%00", ""),
    ("\x00", ""),
)
_DOTDOT = re.compile(r"(?:^|[/\\;])\.{2,3}(?:;[^/\\]*)?(?=[/\\]|$)")
_SENSITIVE = re.compile(_LEAD + r"(?:" + _FILES + r")", re.IGNORECASE)


def _fold(text: str) -> str:
    """Spell encoded dots and slashes plainly, and drop NUL bytes."""
    text = text.lower()
    for spelled, plain in _FOLD:
        text = text.replace(spelled, plain)
    return text


def climbs(text: str) -> bool:
    """Two dot-dot segments, one at the start, or one before a secret file."""
    text = _fold(text)
    found = _DOTDOT.findall(text)
    if len(found) >= 2:
        return True
    if found and text.lstrip().startswith(("..", "/..", "\\..")):
        return True
    return bool(found) and _SENSITIVE.search(text) is not None


def _climbs_once(text: str) -> bool:
    return bool(_DOTDOT.findall(_fold(text)))


# Hidden segments that are not probes: RFC 8615's /.well-known/ and the
# prefix vaultgate reserves for its own endpoints (the NGINX adapter's
# /.vaultgate/refusal).
_OPEN_HIDDEN = frozenset({"well-known", "vaultgate"})


def _not_well_known(text: str) -> bool:
    """A hidden path segment other than /.well-known/ and /.vaultgate/."""
    for match in re.finditer(r"(?:^|/)\.([\w-]+)", text):
        if match.group(1).lower() not in _OPEN_HIDDEN:
            return True
    return False


_DOTS = r"(?:\.|%2e|0x2e|%c0%ae|%u002e)"
_SLASH = r"(?:[/\\;]|%2f|%5c|0x2f|0x5c|%c0%af|$)"
_SCORE = 5
RULES = (
    Rule(
        "traversal.dotdot",
        "traversal",
        r"(?:^|[/\\;=]|%2f|%5c|0x2f|0x5c)" + _DOTS + r"{2,3}" + _SLASH,
        _SCORE,
        confirm=climbs,
        description="dot-dot segments that climb out of a directory",
    ),
    Rule(
        "traversal.dotdot_once",
        "traversal",
        r"[/\\]\.\.[/\\]",
        4,
        paranoia=2,
        confirm=_climbs_once,
        description="one dot-dot segment inside a value",
    ),
    Rule(
        "traversal.sensitive_file",
        "traversal",
        _LEAD + r"(?:" + _FILES + r")",
        _SCORE,
        description="a system or secret file an attacker reads first",
    ),
    Rule(
        "traversal.file_scheme",
        "traversal",
        r"\bfile:(?:/|\\\\)",
        _SCORE,
        description="a file: URL",
    ),
    Rule(
        "traversal.unc_path",
        "traversal",
        r"(?:^|[\s'\"=])\\\\[\w.:$\[\]-]+\\[\w$.-]+",
        _SCORE,
        description="a Windows UNC path to a network share",
    ),
    Rule(
        "traversal.hidden_path",
        "traversal",
        r"(?:^|/)\.[\w-]",
        _SCORE,
        kinds=frozenset({"path"}),
        confirm=_not_well_known,
        description="a hidden file or directory in the URL path (/.git, /.env)",
    ),
    Rule(
        "traversal.backup_path",
        "traversal",
        r"\.(?:bak|old|orig|save|swp|swo|inc|sql|sqlite3?|db|rdb|mdb|dump|p12|pfx"
        r"|jks|keystore|log|ini|conf|cfg|config|java)(?:/|$)|~(?:/|$)"
        r"|(?:backup|dump|database|htdocs|wwwroot|www)[\w.-]*"
        r"\.(?:zip|tar|tgz|gz|rar|7z)(?:/|$)"
        # Vite's dev server: /@fs/ serves any file, /@id/ any module.
        r"|(?:^|/)@(?:fs|id)/",
        _SCORE,
        kinds=frozenset({"path"}),
        description="a backup copy, database, log or config file in the URL path",
    ),
    Rule(
        "traversal.key_path",
        "traversal",
        r"\.(?:pem|key|crt|tmp|class|bk|copy)(?:/|$)",
        4,
        paranoia=2,
        kinds=frozenset({"path"}),
        description="a key, certificate or temporary file in the URL path",
    ),
)

register_rules(*RULES)
