"""The inspection engine: one compiled database, filters, exclusions, snippets."""

from __future__ import annotations

import pytest

from vaultgate.core.model import Finding
from vaultgate.core.request import Request
from vaultgate.detect.base import Rule, Value
from vaultgate.detect.engine import (
    MAX_SNIPPET,
    PATTERN_CONFIDENCE,
    Exclusion,
    Inspector,
    anchored,
    mask_cards,
    register_request_check,
)

UNION = Rule("t.union", "t", r"union\s+select", 5)
AGENT = Rule(
    "t.agent",
    "t",
    r"sqlmap",
    4,
    kinds=frozenset({"header"}),
    names=frozenset({"user-agent"}),
)
START = Rule("t.start", "t", r"^\.\./", 3)
END = Rule("t.end", "t", r"\.php$", 3)
BREAK = Rule("t.break", "t", r"\n", 2)
CONFIRMED = Rule("t.confirmed", "u", r"\bor\b", 5, confirm=lambda text: "1=1" in text)
STRICT_CASE = Rule("t.case", "t", r"JNDI", 5, caseless=False)
EAGER = Rule("t.eager", "t", r"eager", 2, paranoia=3)
RULES = (UNION, AGENT, START, END, BREAK, CONFIRMED, STRICT_CASE, EAGER)


def ids(findings: list[Finding]) -> list[tuple[str, str]]:
    return sorted((f.rule_id, f.location) for f in findings)


def test_clean_values_raise_nothing() -> None:
    values = [Value("query", "q", "hello"), Value("json", "$.a", "world")]
    assert Inspector(RULES, 1).scan(values) == []


def test_each_rule_fires_once_per_location_in_every_value() -> None:
    values = [
        Value("query", "a", "x union  select 1"),
        Value("query", "b", "ok"),
        Value("json", "$.c", "UNION SELECT"),
        Value("query", "a", "union select again"),  # same location as the first
    ]
    assert ids(Inspector(RULES, 1).scan(values)) == [
        ("t.union", "json:$.c"),
        ("t.union", "query:a"),
    ]


def test_kind_and_name_filters_apply_after_the_hit() -> None:
    values = [
        Value("header", "user-agent", "sqlmap/1.7"),
        Value("header", "x-agent", "sqlmap/1.7"),
        Value("query", "user-agent", "sqlmap"),
    ]
    assert ids(Inspector(RULES, 1).scan(values)) == [("t.agent", "header:user-agent")]


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (["../etc/passwd"], [("t.start", "json:0")]),
        (["ok", "../etc/passwd"], [("t.start", "json:1")]),
        (["a/../b"], []),
        (["x.php", "y"], [("t.end", "json:0")]),
        (["y", "x.php"], [("t.end", "json:1")]),
        (["x.php5"], []),
        # After a first hit, the values that follow are rescanned joined by
        # the same separator, so anchors still hold there.
        (
            ["x union select", "ok", "../a"],
            [("t.start", "json:2"), ("t.union", "json:0")],
        ),
    ],
)
def test_anchors_hold_at_the_edges_of_each_value(
    texts: list[str], expected: list[tuple[str, str]]
) -> None:
    values = [Value("json", str(i), text) for i, text in enumerate(texts)]
    assert ids(Inspector(RULES, 1).scan(values)) == expected


def test_a_rule_may_skip_some_headers() -> None:
    rule = Rule("t.own", "t", r"localhost", 5, skip_headers=frozenset({"origin"}))
    values = [
        Value("header", "origin", "http://localhost:3000"),
        Value("header", "x-target", "http://localhost:3000"),
        Value("query", "origin", "http://localhost:3000"),
    ]
    assert ids(Inspector([rule], 1).scan(values)) == [
        ("t.own", "header:x-target"),
        ("t.own", "query:origin"),
    ]


def test_values_are_not_joined_by_a_line_break() -> None:
    # A rule about line breaks fires only where a value holds one.
    values = [Value("json", "a", "one"), Value("json", "b", "two\nlines")]
    assert ids(Inspector(RULES, 1).scan(values)) == [("t.break", "json:b")]


def test_a_match_across_two_values_is_no_finding() -> None:
    values = [Value("json", "a", "union"), Value("json", "b", "select")]
    assert Inspector(RULES, 1).scan(values) == []


def test_confirm_decides_and_raises_confidence() -> None:
    inspector = Inspector(RULES, 1)
    assert inspector.scan([Value("json", "$.m", "tea or coffee")]) == []
    [finding] = inspector.scan([Value("json", "$.m", "x or 1=1")])
    assert (finding.rule_id, finding.confidence) == ("t.confirmed", 1.0)
    [plain] = inspector.scan([Value("json", "$.m", "union select")])
    assert plain.confidence == PATTERN_CONFIDENCE


def test_case_sensitive_rules_stay_so() -> None:
    inspector = Inspector(RULES, 1)
    assert ids(inspector.scan([Value("json", "a", "JNDI")])) == [("t.case", "json:a")]
    assert inspector.scan([Value("json", "a", "jndi")]) == []


@pytest.mark.parametrize(("paranoia", "fires"), [(1, False), (2, False), (3, True)])
def test_paranoia_enables_eager_rules(paranoia: int, fires: bool) -> None:
    found = Inspector(RULES, paranoia).scan([Value("json", "a", "eager")])
    assert bool(found) is fires


@pytest.mark.parametrize(
    ("exclusion", "silenced"),
    [
        (Exclusion("t.union"), {"json:$.memo", "query:q", "json:$.items[3].note"}),
        (Exclusion("t"), {"json:$.memo", "query:q", "json:$.items[3].note"}),
        (Exclusion("t.union", ("json:$.memo",)), {"json:$.memo"}),
        (Exclusion("t.union", ("q",)), {"query:q"}),
        (Exclusion("t.union", ("json:$.items[*].note",)), {"json:$.items[3].note"}),
        (Exclusion("t.union", ("json:*",)), {"json:$.memo", "json:$.items[3].note"}),
        (Exclusion("t.other", ("json:$.memo",)), set()),
        (Exclusion("u"), set()),
    ],
)
def test_exclusions_silence_precisely(exclusion: Exclusion, silenced: set[str]) -> None:
    values = [
        Value("json", "$.memo", "union select"),
        Value("query", "q", "union select"),
        Value("json", "$.items[3].note", "union select"),
    ]
    found = {f.location for f in Inspector(RULES, 1, [exclusion]).scan(values)}
    assert found == {v.location for v in _locations(values)} - silenced


def _locations(values: list[Value]) -> list[Finding]:
    return [Finding("t", "t.union", 5, f"{v.kind}:{v.name}") for v in values]


def test_snippet_is_decoded_truncated_and_masked() -> None:
    text = "card 4111 1111 1111 1111 " + "x" * 200 + " union select"
    [finding] = Inspector(RULES, 1).scan([Value("json", "$.m", text)])
    assert finding.snippet.endswith("union select")
    assert len(finding.snippet) <= MAX_SNIPPET
    near = "pay 4111-1111-1111-1234 union select"
    [close] = Inspector(RULES, 1).scan([Value("json", "$.m", near)])
    assert "****-****-****-1234" in close.snippet
    assert "4111" not in close.snippet


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("4111111111111111", "************1111"),
        ("id 12345", "id 12345"),
        ("5500 0000 0000 0004 ok", "**** **** **** 0004 ok"),
        ("+49 30 1234567", "+49 30 1234567"),
    ],
)
def test_card_numbers_are_masked(text: str, masked: str) -> None:
    assert mask_cards(text) == masked


@pytest.mark.parametrize(
    ("pattern", "rewritten"),
    [
        ("^a$", r"(?:^|\x00)a(?:$|\x00)"),
        ("[^a]b", "[^a]b"),
        (r"a\^b\$", r"a\^b\$"),
        (r"[]^$]", r"[]^$]"),
        (r"\Aa\z", r"(?:\A|\x00)a(?:\z|\x00)"),
    ],
)
def test_anchor_rewriting_leaves_classes_and_escapes_alone(
    pattern: str, rewritten: str
) -> None:
    assert anchored(pattern) == rewritten


def test_a_pattern_that_does_not_compile_is_refused() -> None:
    with pytest.raises(ValueError, match="rule .t.bad.: pattern does not compile"):
        Inspector([Rule("t.bad", "t", r"(unclosed", 5)], 1)


def test_request_checks_run_with_the_same_exclusions() -> None:
    def odd_method(request: Request, paranoia: int) -> list[Finding]:
        if request.method == "BREW":
            return [Finding("proto", "proto.method", 5, "method:", request.method)]
        return []

    register_request_check("test-engine-odd-method", odd_method)
    request = Request("BREW", "/pot", [], "192.0.2.1")

    def ours(inspector: Inspector) -> list[str]:
        # Other families' request checks may be registered too.
        found = inspector.check_request(request)
        return [f.rule_id for f in found if f.family == "proto"]

    assert ours(Inspector(RULES, 1)) == ["proto.method"]
    assert ours(Inspector(RULES, 1, [Exclusion("proto")])) == []
    with pytest.raises(ValueError, match="registered twice"):
        register_request_check("test-engine-odd-method", odd_method)


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        # Multi-byte text before and between hits: each value's bytes are
        # cut from the joined buffer, so offsets must count UTF-8 bytes.
        (
            ["Émile Zola", "x union select", "ＡＢＣ", "a.php"],
            [("t.end", "json:3"), ("t.union", "json:1")],
        ),
        (
            ["日本語", "../x", "ü", "union select ü"],
            [("t.start", "json:1"), ("t.union", "json:3")],
        ),
        (["\ud800 lone", "../x"], [("t.start", "json:1")]),
        # A match ending on the separator belongs to the value before it.
        (["ok.php", "x"], [("t.end", "json:0")]),
    ],
)
def test_hits_are_found_after_multi_byte_values(
    texts: list[str], expected: list[tuple[str, str]]
) -> None:
    values = [Value("json", str(i), text) for i, text in enumerate(texts)]
    assert ids(Inspector(RULES, 1).scan(values)) == expected


def test_snippet_after_multi_byte_values_is_the_value_s_own_text() -> None:
    values = [Value("json", "a", "Zoë " * 40), Value("json", "b", "é union select")]
    [finding] = Inspector(RULES, 1).scan(values)
    assert (finding.location, finding.snippet) == ("json:b", "é union select")


def test_request_checks_keep_their_order_and_exclusions() -> None:
    def two(request: Request, paranoia: int) -> list[Finding]:
        if request.method != "MKCOL":
            return []
        return [
            Finding("dav", "dav.one", 5, "method:"),
            Finding("dav", "dav.two", 3, "method:"),
        ]

    register_request_check("test-engine-two-findings", two)
    request = Request("MKCOL", "/x", [], "192.0.2.1")

    def ours(inspector: Inspector) -> list[str]:
        return [
            f.rule_id for f in inspector.check_request(request) if f.family == "dav"
        ]

    assert ours(Inspector(RULES, 1)) == ["dav.one", "dav.two"]
    assert ours(Inspector(RULES, 1, [Exclusion("dav.one")])) == ["dav.two"]


def test_a_check_s_prepare_runs_when_the_inspector_is_built() -> None:
    built: list[str] = []

    def check(request: Request, paranoia: int) -> list[Finding]:
        return []

    register_request_check(
        "test-engine-prepared", check, prepare=lambda: built.append("db")
    )
    assert built == []
    Inspector(RULES, 1)
    assert built == ["db"]
