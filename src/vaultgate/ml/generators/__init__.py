"""Labelled training values: attack grammars and benign API traffic.

``generate(seed, attacks, benign)`` returns ``Sample`` values as extraction
hands them to the decoder (the text of one query argument, JSON leaf,
header ...), so that training runs them through the same decoding
(``detect.normalize.expand``) and feature hashing as the proxy does.  The
same seed always gives the same samples.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from vaultgate.ml.generators import attacks, benign, encodings

# Where attacks are placed, weighted like gotestwaf-style and real probes:
# query and body fields first, then headers, cookies and the path.
ATTACK_KINDS = (
    ("query", 30),
    ("form", 14),
    ("json", 18),
    ("header", 8),
    ("cookie", 5),
    ("path", 8),
    ("multipart", 5),
    ("xml", 5),
    ("graphql", 2),
    ("body", 5),
)
_KINDS = [kind for kind, _ in ATTACK_KINDS]
_KIND_WEIGHTS = [weight for _, weight in ATTACK_KINDS]
_FAMILY_WEIGHTS = [weight for _, _, weight in attacks.FAMILIES]
_BENIGN_WEIGHTS = [weight for _, _, weight in benign.VALUES]


@dataclass(frozen=True, slots=True)
class Sample:
    """One extracted value with its label (1 attack, 0 benign)."""

    kind: str
    text: str
    label: int
    family: str  # attack family, or the benign generator's name


def attack(rng: random.Random) -> Sample:
    """One attack payload, evaded and placed."""
    family, grammar, _ = rng.choices(attacks.FAMILIES, _FAMILY_WEIGHTS)[0]
    kind = rng.choices(_KINDS, _KIND_WEIGHTS)[0]
    text = encodings.evade(grammar(rng), rng)
    if kind == "path":
        text = "/" + rng.choice(("api/v1/items/", "", "files/", "users/")) + text
    return Sample(kind, text, 1, family)


def benign_value(rng: random.Random) -> Sample:
    """One benign value, sometimes URL-encoded as a client would send it."""
    kind, generator, _ = rng.choices(benign.VALUES, _BENIGN_WEIGHTS)[0]
    if rng.random() < 0.4:
        # Any field may carry any text: where a value is sent must not
        # weigh in the model's verdict, only what it looks like.
        kind = rng.choices(_KINDS, _KIND_WEIGHTS)[0]
    text = generator(rng)
    if rng.random() < 0.3:
        # Clients percent-encode ordinary text too: being decoded must not
        # make a value look like an attack.
        text = encodings.url_once(text, rng)
    return Sample(kind, text, 0, generator.__name__)


def benign_path(rng: random.Random) -> Sample:
    """A REST path with ids, versions and file names."""
    parts = ["api", f"v{rng.randint(1, 3)}"]
    for _ in range(rng.randint(1, 4)):
        parts.append(
            rng.choice(
                (
                    "accounts",
                    "payments",
                    str(rng.randint(1, 10**6)),
                    "search",
                    "transactions",
                    "cards",
                    benign.token(rng)[:12],
                    "statement.pdf",
                    "users",
                    "me",
                    "2024-03",
                    "fx-rates",
                    "EUR",
                    "webhooks",
                )  # fmt: skip
            )
        )
    return Sample("path", "/" + "/".join(parts), 0, "path")


def generate(seed: int, attack_count: int, benign_count: int) -> list[Sample]:
    """``attack_count`` attacks and ``benign_count`` benign values, shuffled."""
    rng = random.Random(seed)
    samples = [attack(rng) for _ in range(attack_count)]
    paths = benign_count // 20
    samples += [benign_value(rng) for _ in range(benign_count - paths)]
    samples += [benign_path(rng) for _ in range(paths)]
    rng.shuffle(samples)
    return samples
