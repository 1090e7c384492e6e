"""Mail header and mail command injection (SMTP, IMAP).

How this works: a form value that an application puts into a mail header
or hands to a mail server can add recipients (``\\nBcc: a@b``) or whole
protocol commands (``\\r\\nRCPT TO: a@b``, ``\\r\\nQUIT\\r\\n``,
``\\r\\nA1 FETCH 1``).  A memo with a line that starts "To: John" is prose:
an injected recipient header carries an address, and injected commands are
written the way servers read them, in capitals.
"""

from __future__ import annotations

from vaultgate.detect.base import Rule, register_rules

_BREAK = r"(?:\r\n?|\n)"
_ADDRESS = r"[^\s@,;]+@[\w-]+(?:\.[\w-]+)+"
_IMAP = (
    r"CAPABILITY|FETCH|LOGIN|LOGOUT|SELECT|EXAMINE|CREATE|DELETE|RENAME|LIST"
    r"|LSUB|STATUS|APPEND|STORE|COPY|UID|SEARCH|AUTHENTICATE|NOOP|EXPUNGE|QUIT"
)
_RECIPIENT = (
    _BREAK + r"\s*(?:bcc|cc|to|from|reply-to|sender|return-path)\s*:\s*"
    r"(?:[^\r\n<]*<)?" + _ADDRESS
)


# A POP3 or IMAP command line with its exact argument syntax (RFC 1939,
# RFC 9051), written in any case, as servers accept: "RETR 123",
# "a001 uid store 231:233", 'A1 list "INBOX/" "*"'.  Only a value that
# *opens* with a line break and holds nothing else on that line counts: that
# is a line appended to the application's own command, not a memo.
_SEQUENCE = r"(?:\d+|\*)(?::(?:\d+|\*))?(?:,(?:\d+|\*)(?::(?:\d+|\*))?)*"
_MAILBOX = r"(?:\"[^\"\r\n]*\"|[\w./*%-]+)"
_POP3_LINE = (
    r"(?:retr|dele|list|uidl)\s+\d+|top\s+\d+\s+\d+|apop\s+\S+\s+[0-9a-f]{32}"
    r"|noop|rset|capa|stls"
)
_IMAP_LINE = (
    r"[a-z0-9.]{1,8}\s+(?:authenticate\s+[\w-]+"
    r"|uid\s+(?:fetch|store|copy|move|search|expunge)\s+" + _SEQUENCE + r"(?:\s.*)?"
    r"|store\s+" + _SEQUENCE + r"\s+[+-]?flags(?:\.silent)?\b.*"
    r"|fetch\s+" + _SEQUENCE + r"\s+(?:\(|(?:all|fast|full|body|rfc822|flags"
    r"|envelope|internaldate)\b).*"
    r"|(?:copy|move)\s+(?:\d+|\*)[:,][\d:,*]*\s+"
    + _MAILBOX
    + r"|(?:list|lsub)\s+"
    + _MAILBOX
    + r"\s+(?:\"[^\"\r\n]*\"|[*%]\S*)"
    r"|(?:select|examine|subscribe)\s+(?:inbox|\"[^\"\r\n]*\")"
    r"|status\s+(?:inbox|\"[^\"\r\n]*\")\s+\(.*)"
)
_OPENING_COMMAND = (
    r"^[ \t]*" + _BREAK + r"[ \t]*(?:" + _POP3_LINE + "|" + _IMAP_LINE + r")[ \t]*"
    r"(?:" + _BREAK + r"|$)"
)


def _single_line_field(text: str) -> bool:
    """The value before the first break is one token: an address or a name.

    Injection targets one-line fields (an e-mail address, a subject); a
    multi-line memo whose third line reads "To: a@b.example" is prose.
    """
    first = text.replace("\r", "\n").split("\n", 1)[0].strip()
    return not any(ch.isspace() for ch in first)


_SCORE = 5
RULES = (
    Rule(
        "mailinj.header",
        "mailinj",
        _RECIPIENT,
        _SCORE,
        confirm=_single_line_field,
        description="a recipient or sender header after a one-line field value",
    ),
    Rule(
        "mailinj.header_in_text",
        "mailinj",
        _RECIPIENT,
        4,
        paranoia=2,
        description="a line break followed by a recipient or sender header",
    ),
    Rule(
        "mailinj.content_header",
        "mailinj",
        _BREAK + r"\s*(?:content-type\s*:\s*(?:multipart|text)/|mime-version\s*:"
        r"|content-transfer-encoding\s*:|subject\s*:[^\r\n]*" + _BREAK + ")",
        _SCORE,
        description="a line break followed by MIME headers",
    ),
    Rule(
        "mailinj.smtp",
        "mailinj",
        _BREAK + r"\s*(?:(?:MAIL FROM|RCPT TO)\s*:|(?:HELO|EHLO|VRFY|EXPN|AUTH)"
        r" \S|(?:QUIT|DATA|RSET|STARTTLS)\s*(?:" + _BREAK + r"|$))",
        _SCORE,
        caseless=False,
        description="a line break followed by an SMTP command",
    ),
    Rule(
        "mailinj.command_line",
        "mailinj",
        _OPENING_COMMAND,
        _SCORE,
        description="a value opening with a line break and a POP3 or IMAP command",
    ),
    Rule(
        "mailinj.imap",
        "mailinj",
        _BREAK + r"\s*[A-Za-z0-9]{1,8} (?:" + _IMAP + r")\b",
        _SCORE,
        caseless=False,
        description="a line break followed by a tagged IMAP command",
    ),
)

register_rules(*RULES)
