"""Feature hashing of request values: the one definition training and scoring share.

How this works.  A batch of value texts is joined into one byte buffer,
values separated by runs of NUL bytes, and folded through a 256-byte table
(ASCII letters to lower case, every digit to ``0``, every non-ASCII byte to
one marker, control bytes other than tab and line breaks to another), so
that ``' OR 7=7`` and ``' or 1=1`` share their features.  A NUL inside a
value is replaced first, so the separators stay unambiguous and mark where
a value starts and ends.

Two groups of features go into one table of ``WIDTH`` hashed slots:

- character n-grams of 1 to ``MAX_NGRAM`` bytes.  The buffer is read as
  little-endian 8-byte words starting at every byte (one strided view, no
  copy); masking word ``i`` to its low n bytes gives the n-gram starting at
  byte ``i`` as an integer, and multiplicative hashing (an odd 64-bit
  multiplier per length, keep the top ``FEATURE_BITS`` bits) gives its
  slot.  Three array operations hash every n-gram of the batch at once (no
  Python loop per byte).
  With the start and end markers, 5-grams hold most SQL, script and shell
  keywords whole (``union``, ``\\0alert``, ``sleep(``), which is why word
  tokens are not a separate group (measured: they doubled the cost);
- shape indicators per value: its length (log scale), its share of ASCII
  punctuation (in bins), and whether it is a decoded form (decoding depth
  0, or at least 1).  Shares of digits, upper case and non-ASCII bytes were
  measured too and dropped: the folded n-grams carry them, and each cost
  a pass over the value.

Where a value was found (query, JSON, header ...) is deliberately not a
feature: an attack is one wherever it is sent, and a first version learnt
from the training mix that multipart fields are riskier than query
arguments, which made it flag ordinary text in forms.

N-gram counts are divided by the square root of their number (a long
benign text does not add up to an attack); shape indicators count 1.
Slot ``WIDTH`` exists and always weighs zero (for callers that pad).
``encode`` returns a batch that ``model.py`` scores with one gather and a
few sums and that ``train.py`` turns into a sparse matrix: training and
scoring cannot disagree about a feature.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate

import numpy as np
import numpy.typing as npt

# Bump when anything below changes what a value maps to: a model file
# records the version it was trained with and is refused on a mismatch.
FEATURE_VERSION = 3
# 2**16 slots: the float32 table is 256 KiB and stays in a core's cache
# beside the rest of the pipeline.  Measured against 2**18 on the same
# data: the same held-out precision and recall (the linear model absorbs
# the extra collisions), and a quarter of the memory.
FEATURE_BITS = 16
WIDTH = 1 << FEATURE_BITS
# 5 bytes: long enough for "union", "<scri", "../..", "${jnd"; longer
# n-grams add little and cost one more column per byte.
MAX_NGRAM = 5

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]

_NONASCII = 0x80
_CONTROL = 0x01
# Values are separated by MAX_NGRAM - 1 NUL bytes: no n-gram can then hold
# bytes of two values, and those with NULs mark where a value starts or
# ends ("\0\0\0\0'" starts with a quote).  Each value owns the n-grams
# starting in the gap before it and in its own bytes.
_GAP_SIZE = MAX_NGRAM - 1
_GAP = b"\0" * _GAP_SIZE


def _splitmix(state: int) -> int:
    """SplitMix64: a fixed, portable stream of random 64-bit keys."""
    state = (state + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return z ^ (z >> 31)


# Multiplicative hashing, one odd multiplier per n-gram length: the top
# FEATURE_BITS bits of (n-gram bytes as an integer) * multiplier.
_MASKS = np.array([[(1 << (8 * n)) - 1] for n in range(1, MAX_NGRAM + 1)], "<u8")
_MULTIPLIERS = np.array(
    [[_splitmix(n) | 1] for n in range(1, MAX_NGRAM + 1)], dtype=np.uint64
)
_SHIFT = np.uint64(64 - FEATURE_BITS)
# Bytes past the last gap, so that the last 8-byte word can be read.
_WORD_PAD = 8 - MAX_NGRAM
_TAIL = b"\0" * _WORD_PAD


def _fold_table() -> bytes:
    table = bytearray(range(256))
    for byte in range(256):
        if 65 <= byte <= 90:
            table[byte] = byte + 32
        elif 48 <= byte <= 57:
            table[byte] = 48
        elif byte >= 0x80:
            table[byte] = _NONASCII
        elif 0 < byte < 32 and byte not in (9, 10, 13):
            table[byte] = _CONTROL
    return bytes(table)


_FOLD = _fold_table()
# ASCII punctuation, deleted with bytes.translate to count it.
_PUNCT = bytes(b for b in range(33, 127) if not chr(b).isalnum())

# Shape indicators: (name, number of bins); each (name, bin) owns one slot.
_LENGTH_BINS = 18  # bit length of the byte length, up to 128 KiB
_RATIO_BINS = 6
_SHAPES = (("length", _LENGTH_BINS), ("punct", _RATIO_BINS), ("decoded", 2))
SHAPE_FEATURES = len(_SHAPES)  # model.logits reads exactly three per value
assert SHAPE_FEATURES == 3


def _slot(name: str, index: int) -> int:
    return _splitmix(hash_text(f"shape:{name}:{index}")) >> (64 - FEATURE_BITS)


def hash_text(text: str) -> int:
    """FNV-1a of ``text``: a stable seed for named slots."""
    value = 0xCBF29CE484222325
    for byte in text.encode():
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return value


_LENGTH_SLOTS, _PUNCT_SLOTS, _DECODED_SLOTS = (
    [_slot(name, i) for i in range(bins)] for name, bins in _SHAPES
)


@dataclass(frozen=True, slots=True)
class Batch:
    """A batch of values as hashed feature slots.

    ``grams[n - 1, i]`` is the slot of the n-gram starting at byte ``i`` of
    the joined buffer; value ``j`` owns the columns from ``starts[j]`` up
    to ``starts[j + 1]`` (the last one, up to the end); ``shapes`` holds
    ``SHAPE_FEATURES`` indicator slots per value, in value order; ``scale``
    is the per-value divisor of the counts.
    """

    count: int
    grams: npt.NDArray[np.uint64]
    starts: list[int]
    shapes: list[int]
    scale: list[float]


def encode(texts: Sequence[str], decoded: Sequence[bool]) -> Batch:
    """Hash a batch of values; ``decoded[i]`` says ``texts[i]`` was decoded.

    A value of byte length L owns L + GAP columns of MAX_NGRAM n-grams
    each; ``scale`` is one over the square root of that number.
    """
    blobs: list[bytes] = []
    shapes: list[int] = []
    scale: list[float] = []
    for text, flag in zip(texts, decoded, strict=True):
        if "\0" in text:
            text = text.replace("\0", "\1")
        blob = text.encode("utf-8", "surrogatepass")
        blobs.append(blob)
        shapes += _shape(blob, flag)
        scale.append(1.0 / math.sqrt(MAX_NGRAM * (len(blob) + _GAP_SIZE)))
    starts = list(accumulate((len(b) + _GAP_SIZE for b in blobs[:-1]), initial=0))
    joined = (_GAP + _GAP.join(blobs) + _GAP + _TAIL).translate(_FOLD)
    return Batch(len(blobs), _grams(joined), starts, shapes, scale)


def _grams(folded: bytes) -> npt.NDArray[np.uint64]:
    """The slots of the 1- to MAX_NGRAM-grams starting at each byte."""
    columns = len(folded) - _GAP_SIZE - _WORD_PAD
    # Little-endian 8-byte words starting at every byte: the low n bytes
    # of word i are the n-gram starting at byte i (unaligned reads).
    words = np.ndarray((1, columns), "<u8", folded, 0, (8, 1))
    slots: npt.NDArray[np.uint64] = ((words & _MASKS) * _MULTIPLIERS) >> _SHIFT
    return slots


def owners(batch: Batch) -> npt.NDArray[np.int64]:
    """The value each column of ``batch.grams`` belongs to."""
    ends = [*batch.starts[1:], batch.grams.shape[1]]
    sizes = [end - start for start, end in zip(batch.starts, ends, strict=True)]
    return np.repeat(np.arange(batch.count), sizes)


def _shape(blob: bytes, decoded: bool) -> list[int]:
    """The indicator slots of one value."""
    length = max(len(blob), 1)
    punct = len(blob) - len(blob.translate(None, _PUNCT))
    return [
        _LENGTH_SLOTS[min(length.bit_length() - 1, _LENGTH_BINS - 1)],
        _PUNCT_SLOTS[min(punct * _RATIO_BINS // length, _RATIO_BINS - 1)],
        _DECODED_SLOTS[decoded],
    ]
