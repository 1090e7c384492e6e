"""Training: deterministic, usable by the proxy, retrainable on user traffic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vaultgate.cli import main as cli
from vaultgate.detect.base import Value
from vaultgate.ml.model import load_model

pytest.importorskip("sklearn", reason="the train extra (scripts/bootstrap.sh has it)")

SMALL = ["--attacks", "600", "--benign", "1200", "--seed", "5"]


def train(out: Path, *extra: str) -> bytes:
    assert cli(["train", "--out", str(out), *SMALL, *extra]) == 0
    return (out / "attack-model.npz").read_bytes()


def test_training_is_deterministic_and_yields_a_working_model(tmp_path: Path) -> None:
    first = train(tmp_path / "a")
    assert train(tmp_path / "b") == first
    model = load_model(str(tmp_path / "a" / "attack-model.npz"))
    attack = model.assess([Value("query", "q", "' or 1=1--")], frozenset())
    benign = model.assess(
        [Value("json", "$.memo", "Dinner (split 3 ways)")], frozenset()
    )
    assert attack.probability > 0.5 > benign.probability
    card = (tmp_path / "a" / "MODEL_CARD.md").read_text()
    assert "vaultgate train --out" in card and "| sqli |" in card


def test_retraining_on_labelled_audit_events(tmp_path: Path) -> None:
    """A value the user labels benign stops being flagged once learnt."""
    odd = "x' || y"
    audit = tmp_path / "audit.jsonl"
    labels = tmp_path / "labels.jsonl"
    with audit.open("w") as events, labels.open("w") as marks:
        for index in range(400):
            event = {
                "event": {"kind": "event"},
                "vaultgate": {
                    "incident_id": f"i{index}",
                    "decision": "alert",
                    "detail": {"query": [["expr", f"{odd} {index}"]]},
                },
            }
            events.write(json.dumps(event) + "\n")
            marks.write(json.dumps({"id": f"i{index}", "label": "benign"}) + "\n")
    train(tmp_path / "plain")
    train(tmp_path / "tuned", "--audit", str(audit), "--labels", str(labels))
    value = [Value("query", "expr", f"{odd} 9999")]
    plain = load_model(str(tmp_path / "plain" / "attack-model.npz")).assess(
        value, frozenset()
    )
    tuned = load_model(str(tmp_path / "tuned" / "attack-model.npz")).assess(
        value, frozenset()
    )
    assert tuned.probability < plain.probability


def test_labels_must_say_attack_or_benign(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    audit.write_text("")
    labels = tmp_path / "labels.jsonl"
    labels.write_text('{"id": "x", "label": "maybe"}\n')
    with pytest.raises(ValueError, match="labels.jsonl:1"):
        cli(["train", "--out", str(tmp_path), *SMALL, "--audit", str(audit),
             "--labels", str(labels)])  # fmt: skip
