"""Cross-site scripting: what must fire, what must not, and the prefilter's promise."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.detect.family_cases import benign_values, levels_firing, rule_ids
from tests.detect.inspect_kit import fired, prefilter_hits
from vaultgate.detect import xss
from vaultgate.detect.base import Value
from vaultgate.detect.normalize import expand

RULES = xss.RULES

# (payload, the rule that must fire): tags, handlers, URLs, script-context
# breakouts, and the encodings and spellings filters miss.
MUST_FIRE = [
    ("<script>alert(1)</script>", "xss.script"),
    # A filter that strips tags joins the words again.
    ('\\"autof<x>ocus o<x>nfocus=alert<x>(1)//', "xss.handler"),
    ("<ScRiPt src=//evil.example/x.js>", "xss.script"),
    ("'>alert(1)</script><script/1='", "xss.script"),
    ("<<scr\x00ipt/src=http://xss.example/x.js></script", "xss.script"),
    ("%3Cscript%3Ealert(1)%3C%2Fscript%3E", "xss.script"),
    ("&lt;script&gt;alert(1)&lt;/script&gt;", "xss.script"),
    ("\\u003cscript\\u003ealert(1)", "xss.script"),
    ("＜script＞alert(1)＜/script＞", "xss.script"),
    ("PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", "xss.script"),
    ("<img src=x onerror=alert(1)>", "xss.handler"),
    ("<svg/onload=alert(1)>", "xss.handler"),
    ('<svG/x=">"/oNloaD=confirm()//', "xss.handler"),
    ("<body onload=alert('test1')>", "xss.handler"),
    ('<details/open/ontoggle="alert(1)">', "xss.handler"),
    ("<x/Onpointerrawupdate=confirm()>x", "xss.handler"),
    ("<svg\nonauxclick=0;[1].some(confirm)//", "xss.handler"),
    ('" onmouseover="alert(1)', "xss.handler"),
    ('"onwheel=ead(111)', "xss.handler"),
    ("x onfocus=alert(1) autofocus", "xss.handler"),
    ("&lt;svg/onload&equals;alert(1)&gt;", "xss.handler"),
    ("<iframe src=//evil.example>", "xss.tag"),
    ("<object data=x.swf>", "xss.tag"),
    ("<embed src=x.svg>", "xss.tag"),
    ("<base href=//evil.example/>", "xss.tag"),
    ("<meta http-equiv=refresh content='0;url=//evil.example'>", "xss.tag"),
    ("javascript:alert(document.domain)", "xss.url"),
    ("JaVaScRiPt:alert(1)", "xss.url"),
    ("java\tscript:alert(1)", "xss.url"),
    ("javascript:setInterval('ale'+'rt(1)')", "xss.url"),
    ("<a href=javascript:prompt(1)>x</a>", "xss.url"),
    ("<IMG SRC=j&#X41vascript:alert('test')>", "xss.url"),
    ("data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", "xss.url"),
    ('" href="javascript:alert(1)', "xss.url"),
    ("alert(1)", "xss.call"),
    ("prompt`1`", "xss.call"),
    ("(alert)(1)", "xss.call"),
    ("confirm.call(null,1)", "xss.call"),
    ("alert?.(document?.cookie)", "xss.call"),
    ('eval(atob("YWxlcnQoMSk="))', "xss.call"),
    ('document["cookie"]', "xss.call"),
    ("document.cookie", "xss.call"),
    ("';alert(String.fromCharCode(88,83,83))//", "xss.jsbreak"),
    ("\\'-alert(1)//", "xss.jsbreak"),
    ('"));if(!self.x)self.x=!alert(1)}catch(e){}//', "xss.jsbreak"),
    ('<div style="width:expression(alert(1))">', "xss.css"),
    ("x=x:url(javascript:alert(1))", "xss.css"),
    ("(![]+[])[+!+[]]+(![]+[])[!+[]+!+[]]", "xss.jsfuck"),
    ('window["alert"](window["document"]["cookie"])', "xss.call"),
    ('self[/*foo*/"alert"](1)', "xss.call"),
    ("[].sort.call`${alert}1337`", "xss.call"),
    ('document.querySelector("p").textContent="XSS"', "xss.call"),
    ("<x onend=", "xss.handler"),
    ('"onzoom=', "xss.handler"),
    ('<v:vmlframe src="foo.com/sup.fml"/>', "xss.tag"),
    ("<STYLE>@import'http://xss.example/x.css';</STYLE>", "xss.tag"),
    ('<meta charset="UTF-7">', "xss.tag"),
    # A handler name and "=" that end the value: the page's next text is
    # the handler's code.
    ("  onload= ", "xss.handler"),
    (" onwebkitplaybacktargetavailabilitychanged=", "xss.handler"),
    # JSFuck whose "+" a form turned into spaces.
    ("(![] [])[ ! []]", "xss.jsfuck"),
    # A scheme split by named references browsers drop inside it, in any
    # letter case: it counts with no code after the colon.
    ("ja&Tab;vascript:", "xss.url"),
    ("ja%26tab%3Bvascript%3A%20", "xss.url"),
    ("v&newline;b&tab;s&newline;c&newline;r&tab;i&tab;p&newline;t&colon;:", "xss.url"),
    ("<a href='jav&#x09;ascript:'>x</a>", "xss.url"),
    ("javascript&colon;alert&lpar;1&rpar;", "xss.url"),
    # An event this list does not know, where the value ends an attribute
    # or calls code.
    ("  onabcdefgh= ", "xss.handler"),
    ("x onbeforematch=alert(1)", "xss.handler"),
    ("<x oncommandfor=alert(1)>", "xss.handler"),
    # <link ...href> loads a stylesheet or import, however it is spelled.
    ("<link / asdf href  /= ", "xss.tag"),
    ("<link rel=import href=//evil.example/x.html>", "xss.tag"),
    # <?import loads an IE behaviour.
    ("<?import implementation =", "xss.tag"),
    ("&lt;?import namespace=t implementation=#default#time2&gt;", "xss.tag"),
]

# Prose with HTML and script words, angle brackets, e-mail addresses, code
# names, and text in several languages.  None of these runs script.
MUST_NOT_FIRE = [
    "List<String> items and Map<K,V>",
    "Use a<b>c only in tests",
    "<3",
    "I <3 you",
    "a < b",
    "x<y>z",
    "if a<b and c>d",
    "h2<h1",
    "Email <john@example.com>",
    "O'Reilly <o.reilly@example.ie>",
    "Anne <anne@bank.example>, Bob <bob@bank.example>",
    "<enter type here>",
    "<b>bold</b> move",
    "The standard for the <$ tag is to enclose text",
    "JavaScript: Basics of JavaScript Language",
    "javascript: the good parts",
    "data: 5 items",
    "alert me at 5pm (daily)",
    "Please confirm (yes/no)",
    "Please confirm(with manager) before",
    "Set an alert for low balance",
    "onload = ready",
    "Set online=true",
    "Window (seat) please",
    "document the function(s) please",
    "Import (EU)",
    "regular expression (regex)",
    "It's 'fine' - really (ok)",
    "'Hello'; do(x)",
    "Mike's fund: 5 - 6 (approx)",
    ">url=/pi?mode=<;>",
    "url=https://api.example.com/1.1/statuses.json?screen_name=x&count=2",
    "Scripture reading on Sunday",
    "Script writer fee",
    "Die Überweisung <Miete> für März",
    "Le paiement <loyer> de mars",
    "支払い <家賃> 3月",
    "Платёж <аренда> за март",
    "1 < 2 > 0",
    "<-- back",
    "-->",
    "<<EOF",
    "![](receipt.png) and ![](invoice.png)",
    "Top [3] payees",
    "Call me at 5",
    "onload = true in the config",
    "the onload event fires first",
    "Cost: [] [] [] (empty boxes)",
    "![](a.png) ![](b.png) [] []",
    "Zoë ❤️ <3 a<b>c",
    "Encode it with btoa (base64)",
    "improve `btoa` performance (Node 22)",
    # Paranoia 2-4 fragments that prose and data also hold (the rules of
    # EAGER_TESTS below fire on them at higher levels only).
    "Set online=true",
    "Status: online = yes",
    "Base64 VGhhbmtzLCBmb3Ig/onafe=",
    "  onthisisaverylongwordthathasmorethanfiftycharactersss= ",
    "<img> and <svg> tags are stripped",
    "eval(peer review) in May",
    "data: text, <b>",
    "+!![]",
    "<p class=note>",
    "see window.status in the docs",
    "Download document.pdf",
    "List<String> x",
    "R&D; Tab & co: ja&tab vascript",
    "<?xml version='1.0'?><a/>",
    "Java\tScript is not a scheme",
]


@pytest.mark.parametrize(("payload", "rule_id"), MUST_FIRE)
def test_xss_fires(payload: str, rule_id: str) -> None:
    assert rule_id in fired(RULES, payload)


@pytest.mark.parametrize("text", MUST_NOT_FIRE + benign_values())
def test_ordinary_text_passes(text: str) -> None:
    assert fired(RULES, text) == set()


# (payload, rule, paranoia level): each fires at its level and above, and
# never below it (each payload also passes at paranoia 1, see MUST_NOT_FIRE
# for their benign look-alikes).
EAGER_TESTS = [
    ("Set online=true", "xss.handler_any", 2),
    ("x1onmouseover=f", "xss.handler_any", 2),
    ("<img> and <svg> tags are stripped", "xss.tag_name", 2),
    ("<svg", "xss.tag_name", 2),
    ("< iframe", "xss.tag_name", 2),
    ("eval(peer review) in May", "xss.sink_any", 2),
    ("btoa()", "xss.sink_any", 2),
    ("x=new Function", "xss.sink_any", 2),
    ("data:,<b>hi</b>", "xss.data_markup", 2),
    (" data: , <x>", "xss.data_markup", 2),
    ("data:text/plain;charset=utf-8,<b>", "xss.data_markup", 2),
    ("+!![]", "xss.jsfuck_fragment", 2),
    ("'formaction=", "xss.attribute_breakout", 2),
    ('He said "src=docs/a.png"', "xss.attribute_breakout", 2),
    ("$<f o r m", "xss.spaced_tag", 2),
    ("bar<d i a l o g", "xss.spaced_tag", 2),
    ("'  infoo.bar=", "xss.string_assign", 2),
    ('"in \\u0076\\u0061lueOf=', "xss.string_assign", 2),
    ("<p class=note>", "xss.tag_attribute", 3),
    ("x=window.name.length", "xss.dom_access", 3),
    ("document.title='x'", "xss.dom_access", 3),
    ("el.innerHTML", "xss.dom_access", 3),
    ("List<String> x", "xss.any_tag", 4),
]


@pytest.mark.parametrize(("payload", "rule_id", "level"), EAGER_TESTS)
def test_eager_rules_fire_at_their_level_only(
    payload: str, rule_id: str, level: int
) -> None:
    assert levels_firing(payload, rule_id) == list(range(level, 5))


@pytest.mark.parametrize(
    "text",
    [
        "Condition=new",  # "on" inside a word
        "<b>bold</b> move",
        "Evaluation (Q3)",
        "data: 5 items",
        "data: text, <b>",
        "![](a.png)",
        "< a b c",  # letters that join into no element
        "Rate: 'A' = best",
        "'x' == 'x'",
        "Base64 VGhhbmtzLCBmb3Ig/onafe=",
        "  onthisisaverylongwordthathasmorethanfiftycharactersss= ",
    ],
)
def test_eager_rules_pass_prose_at_paranoia_2(text: str) -> None:
    # Pinned: a Base64 signature ending "/onafe=" and a 51-letter on-word
    # fired xss.handler_any before it skipped "/" and capped the name.
    assert not {r for r in rule_ids(text, "query", "q", 2) if r.startswith("xss.")}


@pytest.mark.parametrize("kind", ["query", "form", "cookie", "header", "path", "xml"])
def test_every_kind_of_value_is_inspected(kind: str) -> None:
    assert "xss.handler" in fired(RULES, "<img src=x onerror=alert(1)>", kind)


# -- the prefilter may only say "maybe" ------------------------------------------

_PIECES = [
    "<",
    ">",
    "/",
    "</",
    "<!--",
    "-->",
    " ",
    "\t",
    "\n",
    "\r",
    "\x00",
    "=",
    "'",
    '"',
    "`",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ";",
    ":",
    "-",
    "+",
    ".",
    "?.",
    ",",
    "script",
    "svg",
    "img",
    "iframe",
    "object",
    "base",
    "meta",
    "http-equiv",
    "a",
    "x",
    "src",
    "href",
    "data",
    "style",
    "srcdoc",
    "onload",
    "onerror",
    "onmouseover",
    "onpointerrawupdate",
    "online",
    "onfoobar",
    "<?",
    "import",
    "link",
    "&Tab;",
    "&colon;",
    "&lpar;",
    "ja\tva",
    "alert",
    "prompt",
    "confirm",
    "eval",
    "fetch",
    "import",
    "function",
    "document",
    "cookie",
    "window",
    "location",
    ".innerHTML",
    "call",
    "javascript",
    "java",
    "script:",
    "vbscript:",
    "data:text/html,",
    "expression",
    "-moz-binding",
    "behavior",
    "url(",
    "1",
    "&#x3c;",
    "[]",
    "![]",
    "+",
    "é",
    "\u00a0",
    "ſ",
]

html_like = st.lists(st.sampled_from(_PIECES), min_size=1, max_size=14).map("".join)


def _check_prefilter(text: str) -> None:
    forms = [value.text for value in expand(Value("json", "$.x", text))]
    for form in forms:
        classes = xss.evidence(form)
        if classes:
            hits = prefilter_hits(RULES, [form])
            for kind in classes:
                assert f"xss.{kind}" in hits, (form, kind, hits)


@settings(max_examples=400, deadline=None)
@given(html_like)
def test_prefilter_never_hides_xss_in_html_like_text(text: str) -> None:
    _check_prefilter(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_prefilter_never_hides_xss_in_any_text(text: str) -> None:
    _check_prefilter(text)


@pytest.mark.parametrize("text", [p for p, _ in MUST_FIRE] + MUST_NOT_FIRE)
def test_prefilter_covers_the_tables(text: str) -> None:
    _check_prefilter(text)
