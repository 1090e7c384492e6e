"""The attack-likelihood model at run time: numpy weights, one gather per batch.

How this works.  A model file (``.npz``) holds one weight per hashed
feature slot of ``features.py`` plus a bias: a linear model trained by
``vaultgate train`` (scikit-learn) and exported so that scoring needs numpy
only.  ``Model.logits`` hashes a batch of values at once and returns each
value's log-odds of being an attack: a gather of the weights of every
n-gram, token and shape slot, summed per value with ``np.bincount``.
``Model.assess`` applies the fast path below, scores what is left in one
batch and returns the most suspicious value.

Guarantee of the fast path ("certainly clean"): a value is not scored when
it is made only of letters, digits, spaces and ``. , - _ @ :`` (any
script's letters and digits: ``\\w``), or, for a path, of ``/``-separated
segments of such characters (without spaces or ``:``) and no ``..``, and
holds none of the words an injection can be written with in that alphabet
(``1 union select password from users`` needs no punctuation in a number
context; ``CODE_WORDS`` and ``SHORT_CODE_WORDS`` list them).  No family
we model can be written otherwise: there is no quote, bracket, operator,
escape, separator or markup to break out of a context with.  The property test in
``tests/ml/test_model.py`` checks that the shipped model, run on such
values anyway, never reaches its finding threshold, so the skip hides
nothing the model would have said.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import hyperscan
import numpy as np
import numpy.typing as npt

from vaultgate.detect.base import Value
from vaultgate.errors import PolicyError
from vaultgate.ml.features import (
    FEATURE_BITS,
    FEATURE_VERSION,
    SHAPE_FEATURES,
    WIDTH,
    Floats,
    encode,
)

CLEAN = re.compile(r"[\w .,@:\-]*")
CLEAN_PATH = re.compile(r"(?:/[\w.\-~]*)*")
# Words of SQL and shell that build an injection without punctuation; the
# long ones anywhere in the text, the short ones as whole words.
CODE_WORDS = (
    "union", "select", "sleep", "benchmark", "waitfor", "delay", "exec",
    "drop", "delete", "insert", "update", "having", "procedure", "into",
    "where", "from", "order", "group", "limit", "offset", "shutdown",
)  # fmt: skip
SHORT_CODE_WORDS = frozenset(
    (
        "or", "and", "xor", "not", "like", "rlike", "regexp", "div", "is", "null",
        "true", "false", "case", "when", "then", "else", "end", "if", "by", "as",
        "in", "rm", "ls", "id", "cat", "ping", "wget", "curl", "nc", "sh", "bash",
    )
)  # fmt: skip
# Values longer than this are scored every time: long texts (memos, whole
# bodies) rarely repeat, and 256 characters bound the cache's memory.
MAX_CACHED_TEXT = 256
# The model shipped in the package (``vaultgate train`` rebuilds it).
SHIPPED = "attack-model.npz"


def certainly_clean(text: str, kind: str) -> bool:
    """True when ``text`` is in the alphabet no modelled attack can use."""
    # isalnum() is one C loop: most ids, codes and words take it.
    alphabet = text.isalnum() or CLEAN.fullmatch(text) is not None
    if not alphabet and not (kind == "path" and _clean_path(text)):
        return False
    return not has_code_words(text)


def triage(values: Sequence[Value]) -> list[Value]:
    """The values that are not certainly clean (``certainly_clean``, batched)."""
    todo: list[Value] = []
    clean: list[Value] = []
    fullmatch = CLEAN.fullmatch
    for value in values:
        text = value.text
        alphabet = text.isalnum() or fullmatch(text) is not None
        if alphabet or (value.kind == "path" and _clean_path(text)):
            clean.append(value)
        else:
            todo.append(value)
    # One look for code words over every alphabet-clean value at once;
    # only when there is one are they looked at one by one.
    if clean and has_code_words("\n".join(v.text for v in clean)):
        todo += [v for v in clean if has_code_words(v.text)]
    return todo


def _clean_path(text: str) -> bool:
    return ".." not in text and CLEAN_PATH.fullmatch(text) is not None


def has_code_words(text: str) -> bool:
    """Whether ``text`` holds a word of ``CODE_WORDS`` or ``SHORT_CODE_WORDS``."""
    found: list[int] = []
    _code_words().scan(
        text.encode("utf-8", "surrogatepass"),
        match_event_handler=_found,
        context=found,
        scratch=_code_scratch(),
    )
    return bool(found)


def _found(pattern: int, start: int, end: int, flags: int, found: list[int]) -> None:
    found.append(pattern)


@lru_cache(maxsize=1)
def _code_words() -> Any:
    """One Hyperscan database of the code words (compiled on first use)."""
    words = [re.escape(w) for w in CODE_WORDS]
    words.append(r"\b(?:" + "|".join(sorted(SHORT_CODE_WORDS)) + r")\b")
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    flag = hyperscan.HS_FLAG_CASELESS | hyperscan.HS_FLAG_SINGLEMATCH
    database.compile(
        expressions=[w.encode() for w in words],
        ids=list(range(len(words))),
        elements=len(words),
        flags=[flag] * len(words),
    )
    return database


_SCRATCH = threading.local()


def _code_scratch() -> Any:
    """This thread's Hyperscan scratch (scratch may not be shared by threads)."""
    scratch = getattr(_SCRATCH, "scratch", None)
    if scratch is None:
        scratch = _SCRATCH.scratch = hyperscan.Scratch(_code_words())
    return scratch


@dataclass(frozen=True, slots=True)
class Assessment:
    """The most suspicious value of a request and its attack probability."""

    probability: float
    value: Value | None
    scored: int  # how many values the model scored (after the fast path)


NOTHING = Assessment(0.0, None, 0)


@dataclass(frozen=True, slots=True)
class Model:
    """A linear attack-likelihood model over hashed features."""

    # WIDTH + 1 entries, the last one always zero.  float32: the table is
    # then 256 KiB, and the gathers of a request stay in the CPU's caches.
    weights: npt.NDArray[np.floating[Any]]
    bias: float
    # The probability at which a value is reported (chosen on held-out data
    # when training, see MODEL_CARD.md) and at which it is near-certain.
    threshold: float
    strong: float
    name: str

    def logits(self, texts: Sequence[str], decoded: Sequence[bool]) -> Floats:
        """Each value's log-odds of being an attack."""
        return np.array(self._logits(texts, decoded))

    def _logits(self, texts: Sequence[str], decoded: Sequence[bool]) -> list[float]:
        batch = encode(texts, decoded)
        weights = self.weights
        per_column = weights.take(batch.grams).sum(axis=0)
        grams = np.add.reduceat(per_column, batch.starts).tolist()
        shape = weights.take(batch.shapes).tolist()
        bias = self.bias
        return [
            bias + total * scale + shape[k] + shape[k + 1] + shape[k + 2]
            for k, total, scale in zip(
                range(0, len(shape), SHAPE_FEATURES), grams, batch.scale, strict=True
            )
        ]

    def probabilities(self, texts: Sequence[str], decoded: Sequence[bool]) -> Floats:
        """Each value's probability of being an attack."""
        result: Floats = 1.0 / (1.0 + np.exp(-self.logits(texts, decoded)))
        return result

    def assess(
        self,
        values: Sequence[Value],
        raw: frozenset[str],
        cache: ScoreCache | None = None,
    ) -> Assessment:
        """Score the values that need it; ``raw`` holds the undecoded texts."""
        if cache is not None:
            return cache.assess(self, values, raw)
        todo = triage(values)
        if not todo:
            return NOTHING
        logits = self._logits([v.text for v in todo], [v.text not in raw for v in todo])
        return _most_suspicious(todo, logits)


def _most_suspicious(todo: Sequence[Value], logits: list[float]) -> Assessment:
    best = max(range(len(logits)), key=logits.__getitem__)
    probability = 1.0 / (1.0 + math.exp(-max(-700.0, logits[best])))
    return Assessment(probability, todo[best], len(todo))


class ScoreCache:
    """Logits of recently scored values: a value's score depends on it alone.

    User agents, header values and the enumerations of an API repeat from
    request to request; their scores are kept (exact, not approximate) for
    the ``size`` most recent distinct short values.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.known: dict[tuple[str, bool], float] = {}
        # What triage said of a short value of a kind: certainly clean
        # (None) or its logit.  A request of known values is then a few
        # dictionary lookups; the alphabet test is the costlier part.
        self.seen: dict[tuple[str, str, bool], float | None] = {}

    def assess(
        self, model: Model, values: Sequence[Value], raw: frozenset[str]
    ) -> Assessment:
        """``model.assess`` through the cache."""
        seen = self.seen
        todo: list[Value] = []
        logits: list[float] = []
        fresh: list[tuple[Value, tuple[str, str, bool]]] = []
        for value in values:
            key = (value.text, value.kind, value.text not in raw)
            if key not in seen:
                fresh.append((value, key))
                continue
            logit = seen[key]
            if logit is not None:
                todo.append(value)
                logits.append(logit)
        if fresh:
            self._learn(model, fresh, todo, logits)
        if not todo:
            return NOTHING
        return _most_suspicious(todo, logits)

    def _learn(
        self,
        model: Model,
        fresh: list[tuple[Value, tuple[str, str, bool]]],
        todo: list[Value],
        logits: list[float],
    ) -> None:
        suspect = {id(v) for v in triage([value for value, _ in fresh])}
        scored = [(value, key) for value, key in fresh if id(value) in suspect]
        found = self.logits(model, [(key[0], key[2]) for _, key in scored])
        todo += [value for value, _ in scored]
        logits += found
        verdicts = dict(zip((key for _, key in scored), found, strict=True))
        seen = self.seen
        for _, key in fresh:
            if len(key[0]) <= MAX_CACHED_TEXT:
                seen[key] = verdicts.get(key)
        if len(seen) > self.size:
            for key in list(seen)[: len(seen) - self.size // 2]:
                del seen[key]

    def logits(self, model: Model, keys: list[tuple[str, bool]]) -> list[float]:
        """The logits of ``keys`` under ``model``, scoring only the unknown."""
        known = self.known
        missing = [k for k in keys if k not in known]
        if not missing:
            return [known[k] for k in keys]
        fresh = model._logits([k[0] for k in missing], [k[1] for k in missing])
        scored = dict(zip(missing, fresh, strict=True))
        result = [scored[k] if k in scored else known[k] for k in keys]
        for key, logit in scored.items():
            if len(key[0]) <= MAX_CACHED_TEXT:
                known[key] = logit
        if len(known) > self.size:
            # Forget the oldest half: cheaper than an exact LRU on every hit.
            for key in list(known)[: len(known) - self.size // 2]:
                del known[key]
        return result


def save_model(path: Path, model: Model, card: dict[str, str]) -> None:
    """Write ``model`` as a compressed ``.npz`` with its metadata."""
    np.savez_compressed(
        path,
        weights=model.weights[:WIDTH].astype(np.float32),
        bias=np.float64(model.bias),
        threshold=np.float64(model.threshold),
        strong=np.float64(model.strong),
        feature_version=np.int64(FEATURE_VERSION),
        feature_bits=np.int64(FEATURE_BITS),
        meta=np.array(sorted(card.items()), dtype=str),
    )


def load_model(path: str = "") -> Model:
    """The model at ``path``, or the shipped one; cached per path."""
    return _load(path or str(_shipped()))


def _shipped() -> Path:
    return Path(str(resources.files("vaultgate") / "data" / "model" / SHIPPED))


@lru_cache(maxsize=8)
def _load(path: str) -> Model:
    try:
        with np.load(path) as data:
            version = int(data["feature_version"])
            bits = int(data["feature_bits"])
            weights = np.zeros(WIDTH + 1, dtype=np.float32)
            if version == FEATURE_VERSION and bits == FEATURE_BITS:
                weights[:WIDTH] = data["weights"]
            bias = float(data["bias"])
            threshold, strong = float(data["threshold"]), float(data["strong"])
    except (OSError, KeyError, ValueError) as exc:
        expected = "a model file written by vaultgate train"
        raise PolicyError(path, "", expected, str(exc)) from None
    if version != FEATURE_VERSION or bits != FEATURE_BITS:
        got = f"features v{version}/{bits} bits"
        expected = f"a model for features v{FEATURE_VERSION}/{FEATURE_BITS} bits"
        raise PolicyError(path, "", expected, got)
    return Model(weights, bias, threshold, strong, Path(path).name)
