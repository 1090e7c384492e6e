"""Training the attack-likelihood model (scikit-learn; never imported at run time).

How this works.  ``build_rows`` turns labelled samples (the generators',
benign requests from raw HTTP files, a user's labelled traffic) into the
decoded forms the proxy would score (``detect.normalize.expand``), drops
the forms the fast path never scores (``model.certainly_clean``) from the
attacks, and hashes them with ``features.encode`` into a sparse matrix.
A logistic regression (liblinear, fixed seed: the same data gives the
same weights) is fitted on one seed's samples and half the benign
requests; the reporting threshold is set on a validation slice of the
training data, and precision and recall are measured on samples of
another seed and on the other half of the benign requests, which the
model never saw.  ``export`` writes the ``.npz`` the proxy loads and the
model card.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from vaultgate.core.request import Request
from vaultgate.detect.base import Value
from vaultgate.detect.normalize import expand, expand_all
from vaultgate.ml import features
from vaultgate.ml.generators import Sample, generate
from vaultgate.ml.model import Model, certainly_clean
from vaultgate.ml.traffic import (
    in_holdout,
    read_audit,
    read_labels,
    read_requests,
    request_values,
)

# Values hashed per call: big enough to amortise numpy's per-call cost,
# small enough that a chunk's arrays stay a few megabytes.
CHUNK = 4096
# The largest share of benign validation values allowed over the reporting
# threshold: about one value in 5,000 is still scored "likely".
TARGET_FALSE_ALERTS = 0.0002
# The "near certain" threshold: one benign value in 50,000.
TARGET_FALSE_BLOCKS = 0.00002
# The least probabilities of the two thresholds, whatever validation says.
LIKELY_FLOOR = 0.9
CERTAIN_FLOOR = 0.99
# Regularisation of the logistic regression (inverse strength), chosen on
# the validation slice among 0.3, 1, 3 and 10; 3 generalised best.
C = 3.0

Progress = Callable[[str], None]
# An attack form that is only Base64 text: its decoding is the attack.
BASE64_LIKE = re.compile(r"[A-Za-z0-9+/_\-]+={0,2}")


@dataclass
class Rows:
    """Decoded values with labels, ready to hash."""

    texts: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    decoded: list[bool] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)  # family or source

    def add(self, value: Value, decoded: bool, label: int, group: str) -> None:
        self.texts.append(value.text)
        self.kinds.append(value.kind)
        self.decoded.append(decoded)
        self.labels.append(label)
        self.groups.append(group)

    def extend(self, other: Rows) -> None:
        for name in ("texts", "kinds", "decoded", "labels", "groups"):
            getattr(self, name).extend(getattr(other, name))

    def __len__(self) -> int:
        return len(self.texts)


def sample_rows(samples: Iterable[Sample]) -> Rows:
    """Every decoded form of each sample that the proxy would score."""
    rows = Rows()
    for sample in samples:
        value = Value(sample.kind, "", sample.text)
        for form in expand(value):
            clean = certainly_clean(form.text, form.kind)
            if sample.label and (clean or BASE64_LIKE.fullmatch(form.text)):
                # The proxy never scores a clean form, and an attack's
                # Base64 text is not itself an attack: its decoding is.
                continue
            rows.add(form, form.text != sample.text, sample.label, sample.family)
    return rows


def request_rows(requests: Iterable[Request], label: int, group: str) -> Rows:
    """The decoded values of recorded requests, all with one label."""
    rows = Rows()
    for request in requests:
        values, raw = request_values(request)
        for value in values:
            rows.add(value, value.text not in raw, label, group)
    return rows


def audit_rows(path: str, labels: dict[str, int]) -> Rows:
    """The values of labelled audit events (unlabelled events are skipped)."""
    rows = Rows()
    for record in read_audit(path):
        label = labels.get(record.incident_id)
        if label is None:
            continue
        raw = frozenset(v.text for v in record.values)
        for value in expand_all(record.values):
            rows.add(value, value.text not in raw, label, "audit")
    return rows


def matrix(rows: Rows, progress: Progress | None = None) -> sparse.csr_matrix:
    """The hashed features of ``rows`` as a sparse matrix, one row per value."""
    blocks = []
    for start in range(0, len(rows), CHUNK):
        end = min(start + CHUNK, len(rows))
        blocks.append(_block(rows.texts[start:end], rows.decoded[start:end]))
        if progress is not None:
            progress(f"hashing {end}/{len(rows)} values")
    return sparse.vstack(blocks, format="csr")


def _block(texts: Sequence[str], decoded: Sequence[bool]) -> sparse.csr_matrix:
    batch = features.encode(texts, decoded)
    count = batch.count
    owners = features.owners(batch)
    gram_rows = np.tile(owners, features.MAX_NGRAM)
    shape_rows = np.repeat(np.arange(count), features.SHAPE_FEATURES)
    rows = np.concatenate((gram_rows, shape_rows))
    cols = np.concatenate((batch.grams.ravel().astype(np.int64), batch.shapes))
    data = np.concatenate((np.array(batch.scale)[gram_rows], np.ones(len(shape_rows))))
    return sparse.csr_matrix((data, (rows, cols)), shape=(count, features.WIDTH))


def fit(x: sparse.csr_matrix, y: np.ndarray, seed: int) -> tuple[np.ndarray, float]:
    """Logistic regression weights (one per slot) and bias."""
    classifier = LogisticRegression(
        C=C,
        solver="liblinear",
        max_iter=200,
        random_state=seed,
        class_weight="balanced",
    )
    classifier.fit(x, y)
    weights = np.zeros(features.WIDTH + 1)
    weights[: features.WIDTH] = classifier.coef_[0]
    bias: float = classifier.intercept_[0].item()
    return weights, bias


def threshold_for(benign_logits: np.ndarray, share: float, floor: float) -> float:
    """The probability above which at most ``share`` of benign values fall.

    Never below ``floor``: the validation slice comes from the same
    generators as the training data, so its tail is thinner than that of
    real traffic, and a threshold set by it alone is too eager.
    """
    if not len(benign_logits):
        return floor
    cut = float(np.quantile(benign_logits, 1.0 - share))
    return max(floor, 1.0 / (1.0 + math.exp(-cut)))


def digest(paths: Iterable[str]) -> str:
    """A short sha256 over files, for the model card."""
    hasher = hashlib.sha256()
    for path in paths:
        hasher.update(Path(path).read_bytes())
    return hasher.hexdigest()[:16]


def now() -> float:
    return time.monotonic()


def scored(model: Model, x: sparse.csr_matrix) -> np.ndarray:
    """Logits of a hashed matrix under ``model`` (the same sum as at run time)."""
    result: np.ndarray = x @ model.weights[: features.WIDTH] + model.bias
    return result


# -- the whole run ---------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    """What ``vaultgate train`` was asked to do."""

    seed: int = 2010
    attacks: int = 60_000
    benign: int = 60_000
    # Raw HTTP files of benign traffic: half trains, half is held out.
    benign_http: tuple[str, ...] = ()
    # A user's own labelled traffic (raw HTTP files, whole-file labels).
    attack_http: tuple[str, ...] = ()
    # An audit file and the labels of its events (by incident id).
    audit: str = ""
    labels: str = ""


@dataclass
class Report:
    """What a training run measured, for the console and the model card."""

    rows: int = 0
    attack_rows: int = 0
    seconds: float = 0.0
    threshold: float = 0.5
    strong: float = 0.9
    lines: list[str] = field(default_factory=list)


def run(options: Options, progress: Progress) -> tuple[Model, Report]:
    """Train on ``options``' data; the model and what it scored on held-out data."""
    started = now()
    report = Report()
    progress(f"generating {options.attacks} attacks and {options.benign} benign values")
    rows = sample_rows(generate(options.seed, options.attacks, options.benign))
    held_http: list[Request] = []
    for path in options.benign_http:
        train_part, held = _split_http(path)
        held_http += held
        rows.extend(request_rows(train_part, 0, "http:" + Path(path).name))
    for path in options.attack_http:
        rows.extend(request_rows(read_requests(path), 1, "http:" + Path(path).name))
    if options.audit:
        rows.extend(audit_rows(options.audit, read_labels(options.labels)))
    rows = _unique(rows)
    report.rows, report.attack_rows = len(rows), sum(rows.labels)
    x, y = matrix(rows, progress), np.array(rows.labels)
    validation = _validation_mask(rows)
    progress(f"fitting on {int((~validation).sum())} values")
    weights, bias = fit(x[~validation], y[~validation], options.seed)
    model = Model(weights, bias, 0.5, 0.9, "attack-model")
    benign_logits = scored(model, x[validation & (y == 0)])
    threshold = threshold_for(benign_logits, TARGET_FALSE_ALERTS, LIKELY_FLOOR)
    strong = threshold_for(benign_logits, TARGET_FALSE_BLOCKS, CERTAIN_FLOOR)
    model = Model(weights, bias, threshold, strong, "attack-model")
    report.threshold, report.strong = threshold, strong
    progress("measuring on held-out data")
    report.lines += _generated_metrics(model, options)
    if held_http:
        report.lines += _request_metrics(model, held_http, "benign requests held out")
    report.seconds = now() - started
    return model, report


def _split_http(path: str) -> tuple[list[Request], list[Request]]:
    train_part: list[Request] = []
    held: list[Request] = []
    for request in read_requests(path):
        (held if in_holdout(request) else train_part).append(request)
    return train_part, held


def _unique(rows: Rows) -> Rows:
    """Rows without repeats (the same session cookie 10,000 times is one value)."""
    out, seen = Rows(), set()
    for index, text in enumerate(rows.texts):
        key = (text, rows.kinds[index], rows.labels[index])
        if key in seen:
            continue
        seen.add(key)
        value = Value(rows.kinds[index], "", text)
        out.add(value, rows.decoded[index], rows.labels[index], rows.groups[index])
    return out


def _validation_mask(rows: Rows) -> np.ndarray:
    """A stable tenth of the rows, by a hash of their text."""
    return np.array(
        [
            hashlib.sha256(t.encode("utf-8", "surrogatepass")).digest()[0] < 26
            for t in rows.texts
        ]
    )


def _generated_metrics(model: Model, options: Options) -> list[str]:
    """Precision and recall on samples of another seed, per family."""
    held = sample_rows(
        generate(options.seed + 1, options.attacks // 4, options.benign // 4)
    )
    probability = 1.0 / (1.0 + np.exp(-scored(model, matrix(held))))
    labels = np.array(held.labels)
    lines = [
        f"Generated samples of seed {options.seed + 1} (never trained on), "
        "per decoded value:",
        "",
    ]
    lines += [
        "| threshold | precision | recall | false-positive rate |",
        "|---|---:|---:|---:|",
    ]
    for name, cut in (("likely", model.threshold), ("near-certain", model.strong)):
        flagged = probability >= cut
        tp = int((flagged & (labels == 1)).sum())
        fp = int((flagged & (labels == 0)).sum())
        precision = tp / max(1, tp + fp)
        recall = tp / max(1, int(labels.sum()))
        fpr = fp / max(1, int((labels == 0).sum()))
        lines.append(
            f"| {name} ({cut:.4f}) | {precision:.4f} | {recall:.4f} | {fpr:.5f} |"
        )
    lines += ["", "| attack family | values | recall (likely) |", "|---|---:|---:|"]
    groups = np.array(held.groups)
    for family in sorted(set(groups[labels == 1])):
        mask = (groups == family) & (labels == 1)
        recall = float((probability[mask] >= model.threshold).mean())
        lines.append(f"| {family} | {int(mask.sum())} | {recall:.3f} |")
    return lines + [""]


def _request_metrics(model: Model, requests: list[Request], what: str) -> list[str]:
    """The share of whole requests the model would flag (fast path included)."""
    flagged = strong = 0
    for request in requests:
        values, raw = request_values(request)
        assessment = model.assess(values, raw)
        flagged += assessment.probability >= model.threshold
        strong += assessment.probability >= model.strong
    total = max(1, len(requests))
    return [
        f"{what}: {len(requests)} requests; flagged likely {flagged} "
        f"({100 * flagged / total:.3f}%), near-certain {strong} "
        f"({100 * strong / total:.3f}%).",
        "",
    ]
