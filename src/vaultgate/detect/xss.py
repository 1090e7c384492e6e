"""Cross-site scripting: would the value run script if a page echoed it?

How this works.  ``htmltokens`` reads the tags the value would create; a
tag is evidence when it runs or loads code (``script``, ``iframe``,
``object`` ...), carries an event handler (``onerror=``), or points a URL
attribute at ``javascript:`` / ``data:text/html``.  Without a tag, a value
can still break out of an attribute (``" onmouseover=...``) or of a script
string (``';alert(1)//``), be a ``javascript:`` URL itself, or call one of
the sinks payloads use to prove execution (``alert(1)``, ``eval(atob(..))``,
``document.cookie``).  Prose fails these tests: "<3" and "a < b" open no
tag, "x<y>z" and "<john@example.com>" open tags without attributes,
"JavaScript: Basics" has no code after the colon.

Prefilter guarantee: every rule's Hyperscan pattern is a literal its
evidence needs (``<`` and a tag name, ``on<event>`` and ``=``, a scheme and
``:``), and the confirm checks only look where that literal is; the
property test in ``tests/detect/test_xss.py`` checks that the pattern
never says "clean" where the full check says "attack".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from vaultgate.detect.base import Rule, register_rules
from vaultgate.detect.htmltokens import Tag, tags

# DOM event handler attribute names (HTML, SVG, and legacy IE ones that
# old engines still run), without the "on".
_EVENT_NAMES = (
    "abort activate afterprint afterscriptexecute animationcancel animationend "
    "animationiteration animationstart auxclick beforeactivate beforecopy "
    "beforecut beforedeactivate beforeinput beforepaste beforeprint "
    "beforescriptexecute beforetoggle beforeunload begin blur bounce canplay "
    "canplaythrough change click close contentvisibilityautostatechange "
    "contextmenu copy cuechange cut dblclick deactivate drag dragend dragenter "
    "dragexit dragleave dragover dragstart drop durationchange emptied end "
    "ended error finish focus focusin focusout formdata fullscreenchange "
    "gotpointercapture hashchange help input invalid keydown keypress keyup "
    "load loadeddata loadedmetadata loadend loadstart lostpointercapture "
    "message mousedown mouseenter mouseleave mousemove mouseout mouseover "
    "mouseup mousewheel move mozfullscreenchange offline online pagehide "
    "pagereveal pageshow pageswap paste pause play playing pointercancel "
    "pointerdown pointerenter pointerleave pointermove pointerout pointerover "
    "pointerrawupdate pointerup popstate progress propertychange ratechange "
    "readystatechange repeat reset resize scroll scrollend scrollsnapchange "
    "search securitypolicyviolation seeked seeking select selectionchange "
    "selectstart show slotchange stalled start storage submit suspend "
    "timeupdate toggle touchcancel touchend touchmove touchstart "
    "transitioncancel transitionend transitionrun transitionstart "
    "unhandledrejection unload volumechange waiting webkitanimationend "
    "webkitanimationiteration webkitanimationstart webkittransitionend "
    "webkitmouseforcedown webkitmouseforceup webkitmouseforcewillbegin "
    "webkitmouseforcechanged webkitplaybacktargetavailabilitychanged wheel "
    "errorupdate filterchange layoutcomplete losecapture rowenter rowexit "
    "datasetchanged dataavailable cellchange controlselect zoom beforeeditfocus"
)
EVENTS = frozenset(_EVENT_NAMES.split())
# The longest handler name an unknown event may have: the longest known one
# ("onwebkitplaybacktargetavailabilitychanged", 41) with room to grow.
MAX_HANDLER_NAME = 48
HANDLERS = frozenset("on" + event for event in EVENTS)
# Tags that run or load code whatever their attributes.
LOADING_TAGS = frozenset(
    {"script", "iframe", "frame", "frameset", "object", "embed", "applet"}
    | {"base", "isindex", "import", "portal", "xss", "xml", "style", "vmlframe"}
)
# Elements a payload opens to carry a handler or show forged content; only
# the paranoia 2 rules look at them without an attribute.
_ACTIVE_ELEMENTS = frozenset(
    {"svg", "math", "img", "image", "video", "audio", "source", "body", "html"}
    | {"form", "input", "button", "textarea", "select", "details", "dialog"}
    | {"marquee", "animate", "set", "template", "xmp", "noscript", "keygen"}
    | {"bgsound"}
)
# Tags that load code only through their attributes (checked below).
_ATTRIBUTE_TAGS = frozenset({"meta", "link"})
_ATTRIBUTE_TAG_TRIGGERS = frozenset({"http-equiv", "rel", "href", "charset"})
# Attributes whose value is a URL that may be navigated to or loaded.
URL_ATTRIBUTES = frozenset(
    {"href", "src", "action", "formaction", "data", "xlink:href", "background"}
    | {"poster", "lowsrc", "dynsrc", "codebase", "to", "from", "values", "by"}
    | {"content", "srcdoc", "ping", "cite", "longdesc", "archive", "code"}
)
# JavaScript functions and objects a payload calls to prove execution or
# to steal; rarely written in prose, and not followed by "(" there.
SINKS = (
    "alert|prompt|confirm|eval|settimeout|setinterval|execscript|msgbox"
    "|fetch|atob|fromcharcode|import|function|constructor|write|writeln"
)
# Sinks that are also English words or common code: their arguments must
# look like code (a literal, a member access, a call), not like "(s)".
_WORDLIKE_SINKS = frozenset(
    {"fetch", "import", "function", "constructor", "write", "writeln", "confirm"}
)

# Characters browsers drop inside a URL scheme ("java\tscript:").
_SCHEME_NOISE = re.compile(r"[\t\n\r]")
# A scheme name with a tab or line break between two of its letters
# ("ja\tvascript:", "v\nb\tscript:"): browsers drop them, so only a payload
# hiding the scheme from filters writes one, and it counts with no code.
_SPLIT_SCHEME = re.compile(r"[a-z][\t\n\r]+[a-z]", re.I | re.A)
_SCHEME = re.compile(
    r"^[\x00-\x20]*(?:(?:java|vb|live)script|data|mocha):", re.I | re.A
)
_DATA_ACTIVE = re.compile(
    r"data:\s*(?:text/html|text/javascript|image/svg\+xml|application/"
    r"(?:x-)?(?:javascript|ecmascript|xhtml\+xml|xml))",
    re.I | re.A,
)
# Code after a javascript: scheme: a call, a template call, an assignment.
_CODE = re.compile(r"[\w$\])]\s*[(`]|[\w$\]]\s*=[^=]|\w\.\w+\s*\(|[\\\[<]")
_HARMLESS_CODE = re.compile(r"^\s*(?:void\s*\(?\s*0\s*\)?|;)?\s*;?\s*$", re.I)
_ATTRIBUTE_BREAKOUT = re.compile(r"(?:^|[\s\"'`/])(on[a-z]+)\s*=\s*", re.I | re.A)
_BLANKS = " \t\n\r\f\v\"'`"
_UNQUOTED_VALUE = re.compile(r"[\"'`][^\"'`]*|[^\s>]*")
_CODE_CHARS = re.compile(r"[(`=.;\[{]")
_URL_ATTRIBUTE = re.compile(
    r"(?:^|[\s\"'`/])(?:href|src|action|formaction|data|xlink:href)\s*=\s*"
    r"[\"'`]?",
    re.I | re.A,
)
_SINK_CALL = re.compile(
    r"\b(?:" + SINKS + r")\b\s*(?:\(|`|\)\s*\(|\?\.\s*\(|\.(?:call|apply|bind)\b)"
    r"|\bdocument\s*(?:\.|\[\s*['\"`])\s*(?:cookie|domain|write|writeln|location"
    r"|body|forms|createelement|queryselector\w*|getelementby\w+|execcommand)\b"
    r"|\bwindow\s*(?:\.|\[\s*['\"`])\s*location\b|\.innerhtml\s*="
    # A global's member by a computed name: window["alert"], self["x"].
    r"|\b(?:window|self|top|parent|frames|globalthis|document)\s*"
    r"(?:/\*[^*]*\*/\s*)*\)?\s*\[\s*(?:/\*[^*]*\*/\s*)*['\"`]"
    # A tagged template call or a sink inside one: .call`..`, `${alert}`.
    r"|\.(?:call|apply|bind)\s*`|\$\{\s*(?:" + SINKS + r")\b",
    re.I | re.A,
)
# Arguments that are code: empty, a number, a string, a member access or
# call, an array, a template or an arrow function.
_CODE_ARGS = re.compile(r"\s*(?:$|[\d'\"`\[]|[\w$]+\s*(?:[.(\[]|=>)|\(|-?\d)", re.A)
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|`[^`]*`")
_PROSE = re.compile(r"[a-z]{2,}\s+[a-z]{2,}", re.I | re.A)
# A script string closed, then an operator or ";", then a call.
_JS_BREAKOUT = re.compile(r"[\s)\]}]*[;+\-*/|&^,?:]", re.A)
_JS_CALL = re.compile(r"[A-Za-z_$][\w$.]*\s*[(`]")
_CSS = re.compile(
    r":\s*expression\s*\(|-moz-binding\s*:|\bbehavior\s*:\s*url\s*\("
    r"|url\s*\(\s*['\"]?\s*(?:java|vb)script",
    re.I | re.A,
)


@lru_cache(maxsize=64)
def evidence(text: str) -> frozenset[str]:
    """The classes of XSS evidence in ``text`` (empty: none)."""
    found: set[str] = set()
    if "<" in text:
        _tags(tags(text), found)
    lowered = text.lower()
    if "on" in lowered and _breaks_attribute(text):
        found.add("handler")
    if ":" in text and _url_value(text):
        found.add("url")
    if _calls_sink(text):
        found.add("call")
    if _breaks_script(text):
        found.add("jsbreak")
    if _CSS.search(text):
        found.add("css")
    if "[]" in text and _jsfuck(text):
        found.add("jsfuck")
    return frozenset(found)


def _jsfuck(text: str) -> bool:
    """JavaScript written with ``[]()!+`` only (JSFuck), which runs anything."""
    primitives = len(_JSFUCK_PRIMITIVE.findall(text))
    if not primitives:
        return False  # the rule's pattern is one primitive as written
    if primitives < _JSFUCK_MIN_PRIMITIVES:
        # A form or query turns an unencoded "+" into a space: "(![] [])".
        spaced = text.replace(" ", "+")
        if len(_JSFUCK_PRIMITIVE.findall(spaced)) < _JSFUCK_MIN_PRIMITIVES:
            return False
    chars = [ch for ch in text if not ch.isspace()]
    symbols = sum(ch in "[]()!+" for ch in chars)
    return symbols >= _JSFUCK_SHARE * len(chars)


# "![]", "+[]" and "[]+" are JSFuck's atoms; three of them in a value made
# mostly of its six symbols.  A Markdown image, "![](a.png)", has one.
_JSFUCK_PRIMITIVE = re.compile(r"!\[\]|\+\[\]|\[\]\+")
_JSFUCK_MIN_PRIMITIVES = 3
_JSFUCK_SHARE = 0.6


def _tags(created: list[Tag], found: set[str]) -> None:
    for tag in created:
        if tag.name == "script":
            found.add("script")
            continue
        if tag.end:
            continue
        # A namespaced name counts by its local part: <v:vmlframe>.
        if tag.name.rpartition(":")[2] in LOADING_TAGS:
            found.add("tag")
        for name, value in tag.attributes:
            _attribute(tag.name, name, value, found)


def _attribute(tag: str, name: str, value: str | None, found: set[str]) -> None:
    if value is None:
        # No "=": a boolean attribute carries no code, but "<link ... href"
        # is the start of a stylesheet or import whatever follows.
        if tag in _ATTRIBUTE_TAGS and name in _ATTRIBUTE_TAG_TRIGGERS:
            found.add("tag")
        return
    if name in HANDLERS or (_unknown_handler(name) and _JS_CALL.search(value)):
        # Even "<x onend=" with no value: the page's next text becomes it.
        found.add("handler")
    elif name in URL_ATTRIBUTES and _active_url(value):
        found.add("url")
    elif name == "srcdoc" and "<" in value:
        found.add("tag")
    elif name == "style" and _CSS.search(value):
        found.add("css")
    elif tag in _ATTRIBUTE_TAGS and name in _ATTRIBUTE_TAG_TRIGGERS:
        found.add("tag")


def _active_url(value: str) -> bool:
    """A javascript:, vbscript: or active data: URL."""
    if _split_scheme(value):
        return True
    value = _SCHEME_NOISE.sub("", value)
    if "url=" in value.lower():
        # <meta content="0;url=javascript:...">
        value = value[value.lower().index("url=") + 4 :]
    match = _SCHEME.match(value)
    if match is None:
        return False
    if match.group().lower().rstrip(":").endswith("data"):
        return _DATA_ACTIVE.match(value.lstrip("\x00 ")) is not None
    return _HARMLESS_CODE.match(value[match.end() :]) is None


def _unknown_handler(name: str) -> bool:
    """``on`` and 3-48 letters: a handler this list may not know yet."""
    return 5 <= len(name) <= MAX_HANDLER_NAME and name[:2] == "on" and name.isalpha()


def _breaks_attribute(text: str) -> bool:
    """An event handler after a quote, space or slash: ``" onfocus=f()``."""
    for match in _ATTRIBUTE_BREAKOUT.finditer(text):
        name = match.group(1).lower()
        known = name in HANDLERS
        if not known and (
            not _unknown_handler(name) or text[match.start()] not in _BLANKS
        ):
            # An unknown name counts after a space or a quote only: "/onafe="
            # ends many a Base64 string or URL.
            continue
        if not text[match.end() :].strip():
            # "  onload= " ends the value: the page supplies the code.  An
            # unknown name too: browsers add events faster than lists do.
            return True
        if known and text[match.start()] in "\"'`":
            return True  # a quote closed the attribute: '"onzoom='
        code = _UNQUOTED_VALUE.match(text, match.end())
        if code is None:
            continue
        # "onload = ready" is prose; a handler that runs code has some, and
        # a name no browser is known to fire needs a call.
        if _CODE_CHARS.search(code.group()) if known else _JS_CALL.search(code.group()):
            return True
    return False


def _split_scheme(text: str) -> bool:
    """The value opens with a script scheme split by tabs or line breaks."""
    match = _NOISY_SCHEME.match(text)
    return match is not None and _SPLIT_SCHEME.search(match.group()) is not None


def _url_value(text: str) -> bool:
    """The value is, or sets an attribute to, a URL that runs code."""
    if _split_scheme(text):
        return True
    cleaned = _SCHEME_NOISE.sub("", text)
    match = _SCHEME.match(cleaned)
    if match is not None:
        rest = cleaned[match.end() :]
        if match.group().lower().rstrip(":").endswith("data"):
            return _DATA_ACTIVE.match(cleaned.lstrip("\x00 ")) is not None
        return _CODE.search(rest) is not None
    return any(
        _active_url(cleaned[m.end() :]) for m in _URL_ATTRIBUTE.finditer(cleaned)
    )


def _calls_sink(text: str) -> bool:
    """A call of ``alert``, ``eval`` ... with code-like arguments."""
    for match in _SINK_CALL.finditer(text):
        call = match.group()
        if not call.endswith("("):
            return True
        args = text[match.end() : match.end() + 80].split(")", 1)[0]
        name = call.rstrip("( \t\n\r\f\v").lower()
        if name in _WORDLIKE_SINKS or call[len(name) :].strip() != "(":
            # "confirm (yes/no)", "function(s)": code needs code-like args.
            if _CODE_ARGS.match(args) is not None:
                return True
        elif not _PROSE.search(_QUOTED.sub("", args)):
            return True
    return False


def _breaks_script(text: str) -> bool:
    """A script string closed by the value, then an operator and a call."""
    for quote in "'\"`":
        at = text.find(quote)
        if at < 0:
            continue
        breakout = _JS_BREAKOUT.match(text, at + 1)
        if breakout is None or breakout.end() == at + 1:
            continue
        if _JS_CALL.search(text, breakout.end()):
            return True
    return False


def is_xss(text: str) -> bool:
    """The full check: any class of XSS evidence in ``text``."""
    return bool(evidence(text))


def _confirm(kind: str) -> Callable[[str], bool]:
    def confirm(text: str) -> bool:
        return kind in evidence(text)

    confirm.__name__ = f"confirm_{kind}"
    return confirm


def _scheme_re(word: str) -> str:
    # A letter, then any of the characters browsers drop inside a scheme.
    return r"[\t\n\r]*".join(word) + r"[\t\n\r]*:"


_SCHEMES = "|".join(
    _scheme_re(word)
    for word in ("javascript", "vbscript", "livescript", "data", "mocha")
)
_NOISY_SCHEME = re.compile(
    r"[\x00-\x20]*(?:"
    + "|".join(_scheme_re(w) for w in ("javascript", "vbscript", "livescript"))
    + ")",
    re.I | re.A,
)
_TAG_NAMES = "|".join(sorted(LOADING_TAGS | _ATTRIBUTE_TAGS))
_HANDLER_NAMES = "|".join(sorted(EVENTS))

RULES = (
    Rule(
        id="xss.script",
        family="xss",
        pattern=r"</?script",
        score=5,
        confirm=_confirm("script"),
        description="a <script> tag, or </script> ending a script block",
    ),
    Rule(
        id="xss.handler",
        family="xss",
        pattern=(
            r"\bon(?:" + _HANDLER_NAMES + r")\s*="
            r"|(?:^|[\s\"'`/])on[a-z]{3}[a-z]*\s*="
        ),
        score=5,
        confirm=_confirm("handler"),
        description="an event handler attribute (onerror=, onload= ...)",
    ),
    Rule(
        id="xss.tag",
        family="xss",
        pattern=r"<\??(?:[a-z][^\s/>\x00]*:)?(?:" + _TAG_NAMES + r")|\bsrcdoc\b",
        score=5,
        confirm=_confirm("tag"),
        description="a tag that loads or runs code (iframe, object, embed ...)",
    ),
    Rule(
        id="xss.url",
        family="xss",
        pattern=_SCHEMES,
        score=5,
        confirm=_confirm("url"),
        description="a javascript:, vbscript: or active data: URL",
    ),
    Rule(
        id="xss.call",
        family="xss",
        pattern=(
            r"\b(?:" + SINKS + r"|document|window|self|top|parent|frames|globalthis)\b"
            r"|\.innerhtml|\.(?:call|apply|bind)\s*`"
        ),
        score=5,
        confirm=_confirm("call"),
        description="a call of alert, eval, fetch ... or document.cookie",
    ),
    Rule(
        id="xss.jsbreak",
        family="xss",
        pattern=r"['\"`][\s)\]}]*[;+\-*/|&^,?:].*[(`]",
        score=5,
        confirm=_confirm("jsbreak"),
        description="a script string closed, then an operator and a call",
    ),
    Rule(
        id="xss.css",
        family="xss",
        pattern=r"expression\s*\(|-moz-binding|\bbehavior\s*:|url\s*\(",
        score=5,
        confirm=_confirm("css"),
        description="CSS that runs script in old browsers (expression(), bindings)",
    ),
    Rule(
        id="xss.jsfuck",
        family="xss",
        pattern=r"!\[\]|\+\[\]|\[\]\+",
        score=5,
        confirm=_confirm("jsfuck"),
        description="JavaScript written in six symbols (JSFuck)",
    ),
)

# Paranoia 2-4: fragments that build an XSS payload without showing that
# the value leaves its text context.  Each is a step a payload needs and
# ordinary API data rarely holds; the cost of each level is measured in
# docs/benchmarks.md.
_EAGER_TAG_SET = LOADING_TAGS | _ATTRIBUTE_TAGS | _ACTIVE_ELEMENTS
_EAGER_TAGS = "|".join(sorted(_EAGER_TAG_SET))
_SPACED_TAG = re.compile(r"<\s*((?:[a-z]\s+){2,}[a-z])(?![a-z])", re.I | re.A)


def _spaced_tag(text: str) -> bool:
    """``<f o r m``: letters that join into the name of an active element."""
    return any(
        "".join(m.group(1).split()).lower() in _EAGER_TAG_SET
        for m in _SPACED_TAG.finditer(text)
    )


EAGER_RULES = (
    Rule(
        id="xss.handler_any",
        family="xss",
        pattern=(
            # Not after "/" or "+": "/onafe=" ends many a Base64 string.
            r"(?:^|[^a-z0-9_/+])on[a-z]{3,46}\s*=|on(?:" + _HANDLER_NAMES + r")\s*="
        ),
        score=5,
        paranoia=2,
        description="any on<word>= after a non-letter, or a known handler anywhere",
    ),
    Rule(
        id="xss.tag_name",
        family="xss",
        pattern=r"<\s*(?:" + _EAGER_TAGS + r")(?:[\s/>]|$)",
        score=5,
        paranoia=2,
        description="a tag of an element that runs, loads or shows content",
    ),
    Rule(
        id="xss.sink_any",
        family="xss",
        pattern=(
            r"\b(?:eval|settimeout|setinterval|execscript|btoa|atob|fromcharcode)"
            r"\s*\(|\bnew\s+function\b|\bfunction\s*\(\s*\)"
        ),
        score=5,
        paranoia=2,
        description="a call of eval, setTimeout, atob, btoa ... whatever its arguments",
    ),
    Rule(
        id="xss.data_markup",
        family="xss",
        pattern=(
            r"\bdata\s*:\s*(?:[\w.+-]+/[\w.+-]+)?(?:\s*;\s*[\w.+-]+(?:=[\w.+-]+)?)*"
            r"\s*,\s*<[a-z!?/]"
        ),
        score=5,
        paranoia=2,
        description="a data: URL whose content is markup, whatever its type",
    ),
    Rule(
        id="xss.jsfuck_fragment",
        family="xss",
        pattern=r"^[\s\[\]()!+]*(?:!\[\]|\+\[\]|\[\]\+)[\s\[\]()!+]*$",
        score=5,
        paranoia=2,
        description="a value made of JSFuck symbols alone: +!![]",
    ),
    Rule(
        id="xss.attribute_breakout",
        family="xss",
        pattern=(
            r"['\"`]\s*(?:formaction|href|src|action|xlink:href|srcdoc|background"
            r"|poster)\s*="
        ),
        score=5,
        paranoia=2,
        description="a quote, then a URL attribute: '\"formaction=' sets a new one",
    ),
    Rule(
        id="xss.spaced_tag",
        family="xss",
        pattern=r"<\s*(?:[a-z]\s+){2,}[a-z](?:[^a-z]|$)",
        score=5,
        paranoia=2,
        confirm=_spaced_tag,
        description="a tag name spelled with spaces for a filter to join: <f o r m",
    ),
    Rule(
        id="xss.string_assign",
        family="xss",
        pattern=(
            r"['\"`]\s*(?:in\s*)?(?:[a-z_$][\w$]*\.[\w$.]+|location|valueof|tostring)"
            r"\s*=(?:[^=]|$)"
        ),
        score=5,
        paranoia=2,
        description="a string closed, then a member assigned: '  in foo.bar=",
    ),
    Rule(
        id="xss.tag_attribute",
        family="xss",
        pattern=r"<[a-z][\w:-]*[\s/]+[^\s/>=\x00]+\s*=",
        score=5,
        paranoia=3,
        description="any tag with an attribute: <p class=",
    ),
    Rule(
        id="xss.dom_access",
        family="xss",
        # A member that is used ("window.name.length", "document.title=");
        # "document.pdf" is a file name.
        pattern=(
            r"\b(?:document|window)\s*\.\s*[a-z_$][\w$]*\s*[=(.\[]"
            r"|\.(?:inner|outer)html\b"
        ),
        score=5,
        paranoia=3,
        description="a member of document or window, or innerHTML",
    ),
    Rule(
        id="xss.any_tag",
        family="xss",
        pattern=r"<[a-z][\w:-]*(?:[\s/>]|$)",
        score=3,
        paranoia=4,
        description="any tag at all: <b>, <x",
    ),
)

register_rules(*RULES, *EAGER_RULES)
