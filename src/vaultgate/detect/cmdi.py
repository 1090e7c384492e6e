"""OS command injection: Unix shell and Windows cmd / PowerShell.

How this works: the Hyperscan patterns only find a command name after a
shell separator (or at the start of a value), an evasion trick, a Windows
batch construct or a PowerShell cmdlet; ``confirm`` then reads the value
with the small shell reader in ``shell`` and fires only when a command sits
where a shell would run it.  Prose such as "cat food | dog food" or "ls 300
lexus" passes.  At paranoia 2-4 the ``EAGER_RULES`` accept less context: a
command with an option or a path, a value that opens with a command, a
bare command name.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase

from vaultgate.detect.base import Rule, register_rules
from vaultgate.detect.shell import (
    BARE,
    BIN_DIRS,
    COMMANDS,
    DISTINCTIVE,
    INSTALL,
    INSTALLERS,
    PLAIN,
    SYSTEM_DIRS,
    command_with_arguments,
    opens_with_command,
    shell_score,
    split_by_quotes,
    words,
)
from vaultgate.detect.traversal import SENSITIVE_PATHS


def _alternation(names: frozenset[str]) -> str:
    # Longest first so alternation prefers whole names; ties by text, so the
    # pattern (and the compiled-database cache key) is the same every run.
    escaped = (re.escape(n) for n in names)
    return "|".join(sorted(escaped, key=lambda n: (-len(n), n)))


_NAMES = _alternation(COMMANDS)
_RARE_NAMES = _alternation(DISTINCTIVE | BARE)
_WORD_NAMES = _alternation(PLAIN)
# A command position: the value's start, or after a separator or opener.
_POSITION = r"(?:^|[;|&`\n\r({]|\$\()\s*[\\'\"(@]*"
# The prefilter of cmdi.unix.  Prose puts ordinary words after "; " and
# "& " all the time ("Dinner; drinks", "a heroine; more than that"), and
# every hit costs a confirmation, so a plain command word is a candidate
# only with a shell-like argument after it, at the end of the value, in a
# substitution, or when the value opens with a separator.
_UNIX = (
    _POSITION + r"(?:/?(?:usr/)?(?:local/)?s?bin/)?(?:" + _RARE_NAMES + r")\b"
    r"|" + _POSITION + r"(?:" + _WORD_NAMES + r")(?:[\s+]+[\\'\"]*[-/~$<>.|&;`]"
    r"|\s*[;|&`)]|\s*$)"
    r"|(?:^\s*[;|]|`|\$\()\s*[\\'\"(]*(?:" + _WORD_NAMES + r")\b"
    r"|" + _POSITION + r"(?:" + _WORD_NAMES + r")[\s+]+(?:" + _RARE_NAMES + r")\b"
    r"|" + _POSITION + r"ping\s+\d"
    r"|"
    + _POSITION
    + r"(?:"
    + _alternation(INSTALLERS)
    + r")[\s+]+(?:"
    + _alternation(INSTALL)
    + r")\b"
)

# The targets a glob in a path is worth expanding against: secret files,
# programs, and the system directories themselves ("/[e]tc").
_GLOB_TARGETS = (
    tuple(SENSITIVE_PATHS)
    + tuple(directory + name for directory in BIN_DIRS for name in COMMANDS)
    + tuple(directory.rstrip("/") for directory in SYSTEM_DIRS)
)
# A bracket class of nothing but wildcards ("/[?]tc/pa[*]swd") reads as the
# wildcard: it is how a payload hides "?" from a filter that looks for it.
_WILDCARD_CLASS = re.compile(r"\[([?*])\1*\]")
_GLOB_TOKEN = re.compile(r"/[\w.?*\[\]!/-]*[?*\[][\w.?*\[\]!/-]*")
_OPERAND = r"(?:\"[^\"]*\"|\S+)"
_IF_BATCH = re.compile(
    r"\bif\s*(?:/i\s+)?(?:not\s+)?(?:(?:exist|defined)\s+\S+\s+(\(|[\w@.]+)"
    r"|errorlevel\s+\d|cmdextversion\s+\d|" + _OPERAND + r"\s*==\s*\S"
    r"|" + _OPERAND + r"\s+(?:equ|neq|lss|leq|gtr|geq)\s+\S)",
    re.IGNORECASE,
)
_BATCH_WORDS = words("goto echo set call cmd exit pause shift setlocal")
_BRACE_WORD = re.compile(r"([\w./-]*)\{([^{}\s]*,[^{}\s]*)\}([\w./-]*)")
_FORK_BOMB = re.compile(r"([\w.:]+)\s*\(\s*\)\s*\{[^}]*?\1\s*(?:\(\s*\))?\s*[|&]")
_ASSIGNED = re.compile(r"(?:^|[;&|\s])[a-z_]\w*=", re.IGNORECASE)


def _is_shell(text: str) -> bool:
    return shell_score(text) >= 2


def _is_shell_or_split(text: str) -> bool:
    return shell_score(text) >= 2 or split_by_quotes(text)


def _is_probable_shell(text: str) -> bool:
    return shell_score(text) >= 1


def _globs_a_target(text: str) -> bool:
    """A path glob (/e??/pa[s]swd, /bin/c?t) that names a known target."""
    for token in _GLOB_TOKEN.findall(text):
        token = _WILDCARD_CLASS.sub(r"\1", token)
        if any(fnmatchcase(target, token) for target in _GLOB_TARGETS):
            return True
    return False


def _is_batch_if(text: str) -> bool:
    """A cmd.exe IF whose condition is followed by a command, not prose."""
    for match in _IF_BATCH.finditer(text):
        then = match.group(1)
        if then is None or then == "(":
            return True
        word = then.lstrip("@").lower()
        if word in _BATCH_WORDS or word in COMMANDS:
            return True
    return False


def _expands_to_command(text: str) -> bool:
    """A brace expansion ({l,-lh}s, c{a,oun}t, {,ifconfig}) that spells a command."""
    for match in _BRACE_WORD.finditer(text):
        prefix, options, suffix = match.groups()
        words = [prefix + option + suffix for option in options.split(",")]
        if any(shell_score(word) for word in words if word):
            return True
        if shell_score(" ".join(words)):
            return True
        # Braces glued into a word (c{a,oun}t) or with an empty option
        # ({,id}, {id,}) are how a shell, not a sentence, lists words: one
        # that names a command is enough.
        glued = bool(prefix or suffix) or "" in options.split(",")
        if glued and any(word.lower() in COMMANDS for word in words):
            return True
    return False


def _is_fork_bomb(text: str) -> bool:
    return _FORK_BOMB.search(text) is not None


def _has_assignment(text: str) -> bool:
    return _ASSIGNED.search(text) is not None


_SCORE = 5
RULES = (
    Rule(
        "cmdi.unix",
        "cmdi",
        _UNIX,
        _SCORE,
        confirm=_is_shell,
        description="a shell command after a separator, or a command line",
    ),
    Rule(
        "cmdi.unix_probable",
        "cmdi",
        _POSITION + r"(?:" + _NAMES + r")\b",
        3,
        paranoia=2,
        confirm=_is_probable_shell,
        description="a value that reads like a command line",
    ),
    Rule(
        "cmdi.evasion",
        "cmdi",
        r"\w(?:''|\"\"|\\[a-z]|\$[@*!?_$-]|\$\{?ifs\b|``|\$\(\)|[<>]\(\))"
        r"|\$ifs\$\d|\$\{ifs\}|[;|&`]\s*\$\{?[a-z_]\w*\}?\s+[a-z]|^\s*\\[a-z]"
        # An unset variable glued to a word: cat$u /etc$u/passwd.
        r"|[a-z]\$\{?[a-z_]\w*\}?(?:[\s/+;|&]|$)",
        _SCORE,
        confirm=_is_shell_or_split,
        description="a command name split by quotes, backslashes or $@",
    ),
    Rule(
        "cmdi.split_name",
        "cmdi",
        # A quoted piece glued to what follows it ('wh'oami, c'a't); an
        # empty pair (ti''me) is cmdi.evasion's.
        r"['\"][\w.-]{1,16}['\"][a-z0-9]",
        _SCORE,
        confirm=split_by_quotes,
        description="a command name split by quotes: 'wh'oami, \"w\"get",
    ),
    Rule(
        "cmdi.substitution",
        "cmdi",
        r"\$\(\s*[a-z_][^)]*\)|[<>]\(\s*[a-z_][\w.-]*(?:\s[^)]*)?\)"
        r"|\$\(\(|\$\[[^\]]*[-+*/%][^\]]*\]|\$\[\s*\]"
        r"|\$\{[^}]*[#%/^,!`][^}]*\}|\$\{\s*`",
        _SCORE,
        # "$[]" is the empty (0) arithmetic expansion a probe sends to see
        # whether a shell evaluates the value; "$[0]" is JSONPath and passes.
        description="shell command, process or arithmetic substitution",
    ),
    Rule(
        "cmdi.variable_expansion",
        "cmdi",
        r"\$\{[a-z_]\w*\}",
        _SCORE,
        paranoia=2,
        description="a shell variable expansion such as ${cmd}",
    ),
    Rule(
        "cmdi.variable_command",
        "cmdi",
        r"[;|&]\s*\$\{?[a-z_]\w*\}?(?:\$\{?[a-z_]\w*\}?)*\s",
        _SCORE,
        confirm=_has_assignment,
        description="a command assembled from variables set earlier",
    ),
    Rule(
        "cmdi.path_exec",
        "cmdi",
        r"(?:^|[\s;|&=(`'\"])/(?:usr/(?:local/)?)?s?bin/[\w.-]"
        r"|\$\{?(?:shell|bash|zsh|comspec)\b|%comspec%",
        _SCORE,
        description="a program run by its absolute path, or $SHELL",
    ),
    Rule(
        "cmdi.reverse_shell",
        "cmdi",
        r"/dev/(?:tcp|udp)/|\b(?:ba|z|k)?sh\s+-i\b|\d?>&\s*\d\b|\bmkfifo\s"
        r"|\bnc(?:at)?(?:\.exe)?\s+(?:-\w+\s+)*-[ec]\s|\w<<<",
        _SCORE,
        description="reverse-shell plumbing or a here-string",
    ),
    Rule(
        "cmdi.redirect",
        "cmdi",
        r"[<>]{1,2}\s*/(?:tmp|dev|etc|var|proc|root|home)/",
        _SCORE,
        description="a redirect into or out of a system directory",
    ),
    Rule(
        "cmdi.glob_path",
        "cmdi",
        r"/[\w.?*\[\]!-]*[?*\[][\w.?*\[\]!-]*(?:[/\s;|&)]|$)",
        _SCORE,
        confirm=_globs_a_target,
        description="a wildcard path that expands to a program or secret file",
    ),
    Rule(
        "cmdi.brace_expansion",
        "cmdi",
        r"\{[^{}\s]*,[^{}\s]*\}",
        _SCORE,
        confirm=_expands_to_command,
        description="a brace expansion that spells a command: {,ifconfig}",
    ),
    Rule(
        "cmdi.history_expansion",
        "cmdi",
        r"^\s*~[+-]\d*\s*$|(?:^|\s)!-\d+",
        _SCORE,
        description="shell history or directory-stack expansion: !-1, ~+",
    ),
    Rule(
        "cmdi.fork_bomb",
        "cmdi",
        r"[\w.:]\s*\(\s*\)\s*\{[^}]*[|&]",
        _SCORE,
        confirm=_is_fork_bomb,
        description="a shell fork bomb: f(){ f|f& };f",
    ),
    Rule(
        "cmdi.alias",
        "cmdi",
        r"\balias\s+(?:[-+]\w+[-+]?\s+)*[\w.'\"-]+=",
        _SCORE,
        description="a shell alias definition",
    ),
    Rule(
        "cmdi.sqlite_dot",
        "cmdi",
        r"(?:[;\n]|\\n)\s*[\"'\\]*\.\s*[\"'\\]*(?:shell|system|sh|databases|load"
        r"|output)\b",
        _SCORE,
        description="an sqlite3 shell dot-command that runs programs",
    ),
    Rule(
        "cmdi.windows_cmd",
        "cmdi",
        r"\bcmd(?:\.exe)?[\"']?\s+/[ckr]\b|\bpowershell(?:\.exe)?(?:\s+-[a-z]"
        r"|\s+[a-z]:\\|\s+[\"'&{]|\s+(?:invoke|start|get|set|new)-)"
        r"|\\windows\\system32\\",
        _SCORE,
        description="cmd.exe or PowerShell invoked with a command",
    ),
    Rule(
        "cmdi.powershell",
        "cmdi",
        r"\b(?:invoke-(?:webrequest|expression|restmethod|command|item|wmimethod"
        r"|cimmethod|mimikatz|shellcode)|start-(?:process|bitstransfer)"
        r"|new-object\s+(?:-\w+\s+)?(?:system\.)?net\.|add-type\s|set-executionpolicy"
        r"|set-mppreference|get-wmiobject|get-ciminstance)\b"
        r"|\.download(?:string|file|data)\s*\(|frombase64string\s*\(|-encodedcommand\b",
        _SCORE,
        description="a PowerShell cmdlet or download cradle",
    ),
    Rule(
        "cmdi.batch_for",
        "cmdi",
        # Bounded classes, not a nested (?:\S+\s+)* repeat: in one database
        # with sqli.operator, Hyperscan 5 dropped this pattern's matches
        # written that way (a reproducer is in the report of this change).
        r"\bfor\s+(?:/[dflr]\s+[^(]{0,80})?(?:%%[^\s(]{0,30}|%[^\s(%]{1,30})\s+in\s*\(",
        _SCORE,
        description="a cmd.exe FOR loop",
    ),
    Rule(
        "cmdi.batch_if",
        "cmdi",
        r"\bif\s*(?:/i\s+)?(?:not\s+)?(?:exist|defined|errorlevel|cmdextversion"
        r"|\S+\s*==|\"[^\"]*\"\s*==|\S+\s+(?:equ|neq|lss|leq|gtr|geq)\s)",
        _SCORE,
        confirm=_is_batch_if,
        description="a cmd.exe IF statement",
    ),
)

# Paranoia 2-4: command words with less around them.  Each level lets
# more prose through to a confirmation and costs more false positives
# (measured in docs/benchmarks.md).
EAGER_RULES = (
    Rule(
        "cmdi.command_args",
        "cmdi",
        _POSITION + r"(?:" + _NAMES + r")[\s+]+[\\'\"]*[-/~.]",
        _SCORE,
        paranoia=2,
        confirm=command_with_arguments,
        description="a command name with an option or a path: tail -f, ls /x",
    ),
    Rule(
        "cmdi.trailing_pipe",
        "cmdi",
        # Perl's two-argument open() runs a file name that ends in "|" as a
        # command; a value with a pipe of its own elsewhere is a delimited
        # list ("a|b|", "| x |").
        r"^[^|\x00]*\|\s*$",
        _SCORE,
        paranoia=2,
        description="a value that ends in its only pipe: open() runs it",
    ),
    Rule(
        "cmdi.command_start",
        "cmdi",
        r"^\s*[\\'\"(@]*(?:" + _NAMES + r")(?:[\d.]*)\s",
        _SCORE,
        paranoia=3,
        confirm=opens_with_command,
        description="a value that opens with a command and a word: ls foo",
    ),
    Rule(
        "cmdi.history_event",
        "cmdi",
        r"^\s*!(?:!|-?\d+)\s*$",
        _SCORE,
        paranoia=3,
        description="a whole value that is a shell history event: !!, !1",
    ),
    Rule(
        "cmdi.bare_command",
        "cmdi",
        r"^\s*[;|&]*\s*['\"]?(?:" + _alternation(DISTINCTIVE | BARE) + r")['\"]?\s*$",
        _SCORE,
        paranoia=4,
        # Typed in lower case: "LS" and "PS" are initials.
        caseless=False,
        description="a whole value that is a command name: id, whoami, 'ls'",
    ),
)

register_rules(*RULES, *EAGER_RULES)
