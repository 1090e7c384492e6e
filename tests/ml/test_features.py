"""Feature hashing: the same features whatever the batch, and for training."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vaultgate.ml import features
from vaultgate.ml.model import Model

RNG = np.random.default_rng(7)
WEIGHTS = np.append(RNG.normal(size=features.WIDTH), 0.0)
MODEL = Model(WEIGHTS, 0.25, 0.9, 0.99, "random")

TEXTS = [
    "O'Reilly",
    "' or 1=1--",
    "a",
    "<script>alert(1)</script>",
    "Müller & Söhne GmbH",
    "x" * 300,
    "bad\0byte",
    "王伟",
]


def test_a_value_scores_the_same_alone_and_in_any_batch() -> None:
    together = MODEL.logits(TEXTS, [False] * len(TEXTS))
    alone = [MODEL.logits([t], [False])[0] for t in TEXTS]
    reverse = MODEL.logits(TEXTS[::-1], [False] * len(TEXTS))[::-1]
    assert together == pytest.approx(alone)
    assert together == pytest.approx(reverse)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("' OR 7=7", "' or 1=1", True),  # case and digits are folded
        ("SeLeCt", "select", True),
        ("é", "ü", True),  # every non-ASCII byte is one marker
        ("' or 1=1", "' and 1=1", False),
        ("<b>", "<i>", False),
    ],
)
def test_folding(a: str, b: str, same: bool) -> None:
    left, right = MODEL.logits([a, b], [False, False])
    assert bool(left == pytest.approx(right)) is same


def test_decoded_flag_changes_the_score() -> None:
    plain, decoded = MODEL.logits(["%27 or 1", "%27 or 1"], [False, True])
    assert plain != pytest.approx(decoded)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=6))
def test_training_matrix_matches_run_time_scores(texts: list[str]) -> None:
    """The sparse matrix training fits is exactly what scoring sums."""
    train = pytest.importorskip("vaultgate.ml.train")
    rows = train.Rows()
    for text in texts:
        rows.texts.append(text)
        rows.decoded.append(False)
    matrix = train.matrix(rows)
    expected = matrix @ WEIGHTS[: features.WIDTH] + 0.25
    assert MODEL.logits(texts, [False] * len(texts)) == pytest.approx(expected)
