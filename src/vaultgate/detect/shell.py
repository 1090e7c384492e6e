"""A small shell reader: does a value put a command where a shell would run it?

How this works: ``shell_score`` undoes the evasions attackers use to hide a
command name from pattern matchers (quotes and backslashes inside a word,
``$@``, ``${IFS}``, brace expansion, empty substitutions, unset variables
glued to a word), cuts the text into simple commands at the shell's
separators (``;`` ``|`` ``&`` newline, backticks, ``$(``), skips prefix
commands such as ``nohup`` and variable assignments, and weighs each
command word with its arguments.

Command words come in four kinds.  *Unmistakable* ones are never words of
prose (``ifconfig``, ``visudo``): they count anywhere.  *Distinctive* ones
are rarely words (``wget``, ``bash``): they count after a separator, or
with arguments.  *Bare* ones are short and double as abbreviations ("NC"
a US state, "PS" a postscript): they count after a separator when alone
or with shell arguments.  *Plain* ones are also words (``cat``, ``sort``,
``more``): they need arguments only a shell takes (``-la``, ``/etc``,
``$HOME``, ``>``), so "cat food | dog food" and "a heroine; more than that"
stay prose.  Inside backticks or ``$(...)`` any known command counts.

``command_with_arguments`` and ``opens_with_command`` are looser readings
of the same simple commands, for the paranoia 2 and 3 rules of ``cmdi``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator


def words(text: str) -> frozenset[str]:
    """The whitespace-separated words of ``text``, as a set."""
    return frozenset(text.split())


# Never words of prose: a value that starts with one is a command line.
UNMISTAKABLE = words(
    """
    whoami ifconfig ipconfig uname nslookup netstat chmod chown chgrp useradd
    usermod userdel systeminfo tasklist taskkill certutil bitsadmin mshta
    rundll32 regsvr32 wmic schtasks crontab mkfifo mknod getent setsid pkill
    killall systemctl iptables sysctl insmod modprobe lsmod visudo cscli
    lastlog lastlogin cpulimit chpasswd tcpdump tshark ansible ansible-playbook
    ansible-vault ansible-galaxy ansible-config ansible-console ansible-doc
    ansible-inventory ansible-pull chef-client chef-shell chef-run chef-vault
    chef-solo knife-ssh invoke-webrequest invoke-expression invoke-restmethod
    invoke-command start-process invoke-wmimethod set-executionpolicy
    start-bitstransfer icacls takeown vssadmin wevtutil bcdedit aa-disable
    aa-enforce aa-complain aa-exec aa-status rmt-tar rmt-dump lwp-download
    lwp-request lwp-mirror ssh-copy-id ssh-keygen ssh-keyscan msfconsole
    msfvenom pwsh powershell bcdboot diskpart driverquery fsutil gpupdate
    mountvol netsh nltest wusa xcopy robocopy qprocess quser runas cmdkey
    apt-get apt-cache dpkg yum dnf rpm pacman aptitude zypper htop bsdtar
    """
)

# Rarely words: after a shell separator they are a command whatever follows.
DISTINCTIVE = UNMISTAKABLE | words(
    """
    wget curl ncat netcat bash sh zsh ksh csh tcsh busybox python2 python3
    nodejs telnet traceroute tracert passwd sudo hostname cscript wscript
    msiexec xxd gcc nmap socat ssh scp sftp tftp rsync nohup strace ltrace
    gdb irb jshell unzip gunzip unxz bzip2 chattr lsattr umount fdisk mkfs
    printenv xargs chroot vim rmt egrep fgrep grep awk gawk nawk openssl
    iex iwr irm iwmi gwmi new-object add-type regedit net1 cacls sc.exe
    cmd.exe powershell.exe whoami.exe net.exe ping.exe nc.exe ncat.exe pgrep
    lsof fuser dmesg journalctl nproc lscpu lsblk lspci lsusb c89 c99 pip3
    pipx
    """
)

# Short commands that are also abbreviations.
BARE = words("id ps ip env pwd dig arp route nc wc ls ll")

# Commands that are also ordinary words or names.
PLAIN = words(
    """
    cat echo printf rm mv cp mkdir rmdir touch ln find locate which whereis
    head tail more less sort uniq cut tr tee sleep timeout time date cal who w
    last top df du free file stat vi ed ex emacs make tar zip gzip xz ping dir
    type copy del erase move ren rename set call start cd chdir kill mount
    service fold column comm bridge join split paste od nl diff patch test
    read exec eval export source alias trap wait true false yes watch fetch
    host open shutdown reboot halt su dd ftp net at batch nice renice tac rev
    look pr fmt expand iconv bc dc expr factor seq shuf history logger mail
    write wall finger script select python perl ruby php node lua nano lynx
    perf flock shred uptime base64 base32 reg sed md rd pip npm gem apt snap
    brew apk query cipher attrib sc
    """
)

COMMANDS = DISTINCTIVE | BARE | PLAIN

# Interpreters whose option runs the code that follows it.
_INTERPRETERS = words(
    "python python2 python3 perl ruby php node nodejs lua bash sh zsh ksh "
    "busybox pwsh powershell"
)
_CODE_FLAGS = frozenset({"-c", "-e", "-r", "-m", "--eval", "--exec", "-command"})
# Words that run the command that follows them.
_PREFIXES = words(
    "time nohup strace ltrace sudo env exec command builtin nice timeout "
    "stdbuf xargs setsid doas"
)
# Prefixes that are no words of prose: the command after one is run as
# surely as one after a separator ("nohup who", "sudo reboot").
_RUNNERS = words("nohup strace ltrace sudo stdbuf setsid doas")
# Package managers, and the subcommands that install what follows them.
# (Not brew, cargo, yarn, gem or snap: "brew install kit" is a hobby.)
INSTALLERS = words("pip pip3 pipx npm pnpm apt apt-get yum dnf apk")
INSTALL = words("install uninstall remove add upgrade")
# Directories a command is run from by path.
BIN_DIRS = ("/bin/", "/sbin/", "/usr/bin/", "/usr/sbin/", "/usr/local/bin/")
_RELATIVE_BIN_DIRS = tuple(d[1:] for d in BIN_DIRS)

_EMPTY_QUOTES = re.compile(r"""(?<=\w)(?:''|""|``|\$\(\)|[<>]\(\))|(?:''|"")(?=\w)""")
_IFS = re.compile(r"\$\{?IFS\}?(?:\$\d)?", re.IGNORECASE)
_SPECIAL_PARAM = re.compile(r"(?<=\w)\$[@*!?_$-]|\$[@*](?=\w)")
_GLUED_VAR = re.compile(r"(?<=[\w/])\$\{?[a-z_]\w*\}?(?=\W|$)", re.IGNORECASE)
_INNER_BACKSLASH = re.compile(r"(?<=[\w/.-])\\+(?=[\w/.-])")
_BRACES = re.compile(r"\{([^{}\s,]+(?:,[^{}\s,]*)+)\}")
_SEPARATORS = re.compile(r"(\|\||&&|\$\(|<\(|>\(|[;|&`\n\r(){}])")
_SUBSTITUTIONS = frozenset({"`", "$(", "<(", ">("})
# Separators that open a value only when it is built to break out of a
# command ("&copy" and a leading newline are ordinary text).
_OPENERS = frozenset({";", "|", "||", "&&"})
_ASSIGNMENT = re.compile(r"^[a-z_][\w.-]*=", re.IGNORECASE)
_VARIABLE = re.compile(r"^\$\{?[a-z_]\w*\}?$", re.IGNORECASE)
_SWITCH = re.compile(r"^[a-z?]{1,2}$")
_VERSION = re.compile(r"(?<=[a-z])\d+(?:\.\d+)*$")
_SECRET_FILES = (
    r"passwd|shadow|master\.passwd|sudoers|id_rsa|authorized_keys|\.htpasswd"
)
# An argument a shell command takes and prose does not.
_SHELL_ARG = re.compile(
    r"^(?:-{1,2}[a-z]|/[a-z]{1,2}$|/[\w.*?\[~-]|~/|\./|\.\./|\$[a-z_{(]|[<>]"
    r"|&?\d?>|(?:" + _SECRET_FILES + r")$)",
    re.IGNORECASE,
)
_PATH_ARG = re.compile(r"^(?:/[\w.*?\[~-]|~/|\./|\.\./)")
# Directories that hold the system, not a user's files: a path into one
# after a command word ("cat /etc/passwd", "ll /var/www/") is a command line.
SYSTEM_DIRS = (
    "/etc/", "/proc/", "/sys/", "/dev/", "/root/", "/var/", "/usr/", "/bin/",
    "/sbin/", "/boot/", "/home/", "/tmp/",
)  # fmt: skip
# Words of sentences that command lines do not hold (opens_with_command).
_FUNCTION_WORDS = words(
    "a an the and or but is are was were be been in on at to of for with by "
    "from as it its this that my your our his her their me you we they i not "
    "no yes away up down out so very"
)
_GLOB_CHARS = re.compile(r"[?*]|\[[^\]]*\]")
_EVASIVE_CLASS = re.compile(r"\[[^\]]*[/?*][^\]]*\]")
_FLAG_ARG = re.compile(r"^(?:-{1,2}[a-z]|/[a-z]{1,2}$)", re.IGNORECASE)
# Arguments that make even a plain word a command: a long option, a URL,
# an IP address.  A host name only counts for the distinctive commands.
_STRONG_ARG = re.compile(
    r"^(?:--[a-z][\w-]+|[a-z]+://|\d{1,3}(?:\.\d{1,3}){3}\b)", re.IGNORECASE
)
_HOST_ARG = re.compile(r"^[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}(?:/|$)", re.IGNORECASE)


def deobfuscate(text: str) -> str:
    """Undo the quoting tricks that split a command name (c''at, c\\at, c$@at)."""
    text = _IFS.sub(" ", text)
    # Bash's $"..." (locale) and $'...' (ANSI-C) quotes: {,$"whoami",}.
    text = text.replace('$"', '"').replace("$'", "'")
    text = _SPECIAL_PARAM.sub("", text)
    text = _EMPTY_QUOTES.sub("", text)
    text = _GLUED_VAR.sub("", text)
    text = _INNER_BACKSLASH.sub("", text)
    # A doubly encoded space arrives as "+": "cat+/etc/passwd".
    text = text.replace("'", "").replace('"', "").replace("+", " ")
    return _BRACES.sub(lambda m: m.group(1).replace(",", " "), text)


# A word with quotes inside it: 'wh'oami, "w"get, c'a't.
_QUOTED_PIECES = re.compile(r"""[\w.-]*(?:'[\w.-]*'|"[\w.-]*")[\w.-]*""")


def split_by_quotes(text: str) -> bool:
    """A command name split by quotes ('wh'oami, "w"get): only evasion does that.

    A wholly quoted word ('time') is quoting, not splitting, and a word
    with one apostrophe (I'd, don't) is prose.
    """
    for match in _QUOTED_PIECES.finditer(text):
        token = match.group()
        quote = token[0]
        if quote in "'\"" and token[-1] == quote and token.count(quote) == 2:
            continue  # 'time': quoted, not split
        name = token.replace("'", "").replace('"', "").lower()
        if name and _name(name)[0] in COMMANDS:
            return True
    return False


def _command(words: list[str]) -> tuple[str, list[str]]:
    """The command word of a simple command and its arguments."""
    i = 0
    prefix = -1
    while i < len(words) and (
        _ASSIGNMENT.match(words[i])
        or _VARIABLE.match(words[i])  # an unset $x expands to nothing
        or words[i].lower() in _PREFIXES
    ):
        if words[i].lower() in _PREFIXES:
            prefix = i
        i += 1
        # "timeout 5 cmd", "nice -n 5 cmd": skip the prefix's own options.
        while prefix == i - 1 and i < len(words) and words[i][:1] in "-0123456789":
            i += 1
    if i >= len(words):
        # "env --version": the prefix word was the command after all.
        return (words[prefix], words[prefix + 1 :]) if prefix >= 0 else ("", [])
    return words[i], words[i + 1 :]


def _name(word: str) -> tuple[str, bool]:
    """The command name a word runs, and whether it was given by path."""
    word = word.lstrip("@\\!(").lower()
    for directory in BIN_DIRS + _RELATIVE_BIN_DIRS:
        if word.startswith(directory):
            return word[len(directory) :], True
    if word not in COMMANDS:
        # "bcdboot/r": cmd.exe reads a switch glued to the program name.
        head, slash, switch = word.partition("/")
        if slash and head in UNMISTAKABLE and _SWITCH.match(switch):
            return head, False
        # "python3.10", "gcc7.4": a versioned name of a known command.
        unversioned = _VERSION.sub("", word)
        if unversioned in COMMANDS:
            return unversioned, False
    return word, False


def _plain_at_start(name: str, args: list[str]) -> int:
    """A plain or bare command opening the value: 2 with shell-only arguments."""
    head = args[:4]
    if name in _INTERPRETERS and any(a.lower() in _CODE_FLAGS for a in head):
        return 2
    flag = any(_FLAG_ARG.match(a) for a in head)
    path = any(_PATH_ARG.match(a) for a in head)
    if path and any(a.lower().startswith(SYSTEM_DIRS) for a in head):
        return 2
    if any(_evasive_glob(a, name) for a in head):
        return 2
    strong = any(_STRONG_ARG.match(a) for a in head)
    command = any(a.lower() in DISTINCTIVE for a in head)
    if (flag and (path or name in BARE)) or strong or command:
        return 2
    return int(any(_SHELL_ARG.match(a) for a in head))


def _evasive_glob(arg: str, name: str) -> bool:
    """A path argument with a wildcard: ``ls /a[b]c``, ``cat /[?]tc/x``.

    After a short or distinctive command any wildcard in a path counts;
    after a plain word ("find /[a-z]+/") only a bracket class that holds a
    slash or a wildcard, which no regular expression or prose writes.
    """
    if not arg.startswith("/") or "=" in arg:
        return False  # "/search?q=x" is a URL's query, not a glob
    if name in BARE or name in DISTINCTIVE:
        return _GLOB_CHARS.search(arg) is not None
    return _EVASIVE_CLASS.search(arg) is not None


def _strength(word: str, args: list[str], after: str) -> int:
    """2: surely a command; 1: probably one; 0: prose.

    ``after`` is the separator before the command, "" at the value's start.
    """
    name, by_path = _name(word)
    if word.startswith("\\") and name in COMMANDS:
        return 2  # "\\ls": the backslash skips aliases, a shell-only habit
    if by_path:
        leading_slash = word.lstrip("@\\!(").startswith("/")
        return 2 if name in COMMANDS or (leading_slash and name.isalnum()) else 0
    if name not in COMMANDS:
        return 0
    if after in _SUBSTITUTIONS or after == "^" and name in DISTINCTIVE:
        return 2
    if name in UNMISTAKABLE:
        return 2
    if name in INSTALLERS and args and args[0].lower() in INSTALL:
        return 2  # "pip3 install x": a package manager at work
    head = args[:4]
    shell_args = any(_SHELL_ARG.match(a) for a in head)
    if name in DISTINCTIVE:
        strong = any(_STRONG_ARG.match(a) or _HOST_ARG.match(a) for a in head)
        if after or shell_args or strong:
            return 2
        return 1
    if after == "^":
        return 2  # the value opens with a separator: it breaks out of a command
    if after:
        bare_alone = name in BARE and not args
        return 2 if shell_args or bare_alone else 0
    return _plain_at_start(name, args)


def _simple_commands(text: str) -> Iterator[tuple[str, str, list[str]]]:
    """Each simple command: the separator before it, its word, its arguments.

    The separator is "" at the value's start and "^" when the value opens
    with one (or a runner prefix such as ``nohup`` ran the command).
    """
    parts = _SEPARATORS.split(deobfuscate(text))
    after = ""
    for index, part in enumerate(parts):
        if index % 2:
            # A value that opens with ";" or "|" is built to break out.
            opening = index == 1 and not parts[0].strip() and part in _OPENERS
            after = "^" if opening else part
            continue
        tokens = part.split()
        word, args = _command(tokens)
        if word:
            ran = word is not tokens[0] and tokens[0].lower() in _RUNNERS
            yield after or ("^" if ran else ""), word, args


def shell_score(text: str) -> int:
    """How surely ``text`` runs a command: 0 prose, 1 probably, 2 surely."""
    best = 0
    for after, word, args in _simple_commands(text):
        best = max(best, _strength(word, args, after))
        if best == 2:
            break
    return best


def command_with_arguments(text: str) -> bool:
    """A known command with an option or a path after it: ``tail -f``, ``ls /x``."""
    for _, word, args in _simple_commands(text):
        if _name(word)[0] in COMMANDS and any(
            _FLAG_ARG.match(arg) or _PATH_ARG.match(arg) for arg in args[:4]
        ):
            return True
    return False


def opens_with_command(text: str) -> bool:
    """A value that starts like a command line: ``ls foo``, ``time who``.

    A short or distinctive command name followed by a word, any command
    name followed by another one, or a command after a prefix word.
    Sentences start with "Find", "Set" and "Make" all the time, so this is
    a paranoia 3 test.
    """
    for after, word, args in _simple_commands(text):
        name = _name(word)[0]
        if after or name not in COMMANDS or len(args) > 3:
            return False
        if deobfuscate(text).split()[0].lower() != word.lower():
            return True  # a prefix ran it: "time who", "nice make"
        if not args:
            return False
        # "bash away in the gym", "nc 8000 controller": a sentence has
        # function words, and a number first reads as a quantity.
        if args[0].isdigit() or any(a.lower() in _FUNCTION_WORDS for a in args):
            return False
        eager = name in BARE or name in DISTINCTIVE or name in _INTERPRETERS
        return eager or _name(args[0])[0] in COMMANDS
    return False
