"""The learned guards in the pipeline: model findings, route model learn/enforce."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.guards.pipeline import Pipeline
from vaultgate.cli import main as cli
from vaultgate.core.policy import parse_policy
from vaultgate.errors import PolicyError
from vaultgate.guards import load_all

# Inspection off: only the model sees the values (and extracts them itself).
MODEL_ONLY = """
upstream: http://127.0.0.1:9
audit: {file: /dev/null}
inspection: {enabled: false}
"""


@pytest.mark.parametrize(
    ("target", "outcome"),
    [
        ("/search?q=%27%20or%201%3D1--", "block"),
        ("/search?q=%22%3E%3Csvg/onload=alert(1)%3E", "block"),
        ("/files?name=..%2F..%2F..%2F..%2Fetc%2Fpasswd%00.png", "block"),
        ("/search?q=%27%20union%20select%20password%20from%20users--", "alert"),
        ("/search?q=O%27Reilly%20%26%20Sons", "allow"),
        ("/search?q=select%20a%20payee", "allow"),
        ("/accounts/1001/transactions?from=2026-01-01&limit=50", "allow"),
    ],
)
async def test_the_model_alone_flags_attacks_and_passes_text(
    tmp_path: Path, target: str, outcome: str
) -> None:
    pipe = Pipeline(tmp_path, MODEL_ONLY)
    decision, ex = await pipe.send(target)
    assert decision.action.value == outcome
    if outcome == "block":
        assert decision.reasons == ("ml.attack",)
        assert ex.tags["model.probability"] >= 0.99
        assert ex.tags["model.location"].startswith("query:")
    elif outcome == "alert":
        # Likely but not near-certain: 3 points, blocked only together
        # with a rule finding or a route-model deviation.
        assert decision.reasons == ("ml.suspicious",)
        assert decision.score == 3


async def test_monitor_records_without_scoring(tmp_path: Path) -> None:
    pipe = Pipeline(tmp_path, MODEL_ONLY + "model: {monitor: true}\n")
    decision, ex = await pipe.send("/search?q=%27%20or%201%3D1--")
    assert not decision.action.stops
    assert ex.tags["model.monitor"] == "ml.attack"
    assert ex.score == 0


async def test_per_route_weight(tmp_path: Path) -> None:
    policy = MODEL_ONLY + "routes:\n  - path: /quiet\n    model: {weight: 0}\n"
    pipe = Pipeline(tmp_path, policy)
    quiet, _ = await pipe.send("/quiet?q=%27%20or%201%3D1--")
    loud, _ = await pipe.send("/loud?q=%27%20or%201%3D1--")
    assert not quiet.action.stops and loud.action.stops


def shop_requests(client: int, round_: int) -> list[tuple[str, str]]:
    n = round_ * 50 + client
    return [
        ("GET", f"/shop/items/{n}?sort=price&page={n % 7}"),
        ("GET", f"/shop/search?q=red+shoes+{n % 40}"),
        ("GET", f"/shop/cart?id={n}&qty={client % 5 + 1}&gift=on"),
    ]


def learning(path: Path, mode: str) -> str:
    return (
        "upstream: http://127.0.0.1:9\naudit: {file: /dev/null}\n"
        f"learning: {{mode: {mode}, file: '{path}', flush_every: 10s}}\n"
    )


async def teach(pipe: Pipeline, clients: int = 8, rounds: int = 30) -> None:
    for round_ in range(rounds):
        for client in range(clients):
            for method, target in shop_requests(client, round_):
                await pipe.send(target, method, ip=f"198.51.100.{client}")
        pipe.clock.advance(5)


async def test_learn_then_enforce(tmp_path: Path) -> None:
    model_file = tmp_path / "routes.json"
    pipe = Pipeline(tmp_path, learning(model_file, "learn"))
    await teach(pipe)
    # Poisoning: an attacker is flagged by inspection, then sends a "clean"
    # but odd value that must not be learnt; another probes a new page.
    await pipe.send("/shop/search?q=%27+or+1%3D1--", ip="192.0.2.66")
    for _ in range(50):
        await pipe.send("/shop/cart?id=1;2&qty=1&gift=on", ip="192.0.2.66")
    pipe.clock.advance(60)
    await pipe.send("/shop/search?q=red+shoes", ip="198.51.100.1")  # flushes
    assert model_file.exists()

    pipe.reload(learning(model_file, "enforce"))
    normal, _ = await pipe.send("/shop/cart?id=77&qty=2&gift=on", ip="203.0.113.9")
    assert not normal.action.stops
    for index, (target, rule) in enumerate(
        [
            ("/shop/cart?id=1;2&qty=1&gift=on", "route.type"),
            ("/shop/cart?id=77&qty=2&gift=on%2F", "route.enum"),
            ("/shop/cart?id=77&qtyA=2&gift=on", "route.param"),
            ("/shop/items.bak", "route.path"),
        ]
    ):
        # One address each: blocked requests raise the sender's running
        # score, and a challenge would hide the route model's verdict.
        decision, ex = await pipe.send(target, ip=f"203.0.113.{20 + index}")
        assert decision.action.stops, target
        assert rule in decision.reasons
        assert ex.tags["route_model.deviations"]
    put, _ = await pipe.send("/shop/cart?id=77&qty=2&gift=on", "PUT")
    assert "route.method" in put.reasons


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ("learning: {mode: enforce}", "learning.file"),
        ("learning: {mode: enforce, file: /nonexistent.json}", "learning.file"),
        ("learning: {mode: sometimes, file: x.json}", "learning.mode"),
        ("model: {file: /nonexistent/model.npz}", "vaultgate train"),
        ("model: {likely: 2}", "model.likely"),
        ("learning: {mode: learn, file: x.json, scores: {bogus: 1}}", "scores.bogus"),
    ],
)
def test_policy_mistakes_say_where(policy: str, message: str) -> None:
    load_all()
    with pytest.raises(PolicyError, match=message.replace(".", r"\.")):
        parse_policy("upstream: http://127.0.0.1:9\n" + policy)


def test_enforcing_a_corrupt_model_file_is_refused(tmp_path: Path) -> None:
    load_all()
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(PolicyError, match="learning.file"):
        parse_policy(
            f"upstream: http://127.0.0.1:9\nlearning: {{mode: enforce, file: '{bad}'}}"
        )


async def test_route_model_built_offline_from_raw_http(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = tmp_path / "traffic.txt"
    lines = []
    for round_ in range(30):
        for client in range(8):
            for method, target in shop_requests(client, round_):
                lines.append(f"{method} {target} HTTP/1.1\r\nHost: shop\r\n\r\n")
    lines.append("GET /shop/search?q=%27+or+1%3D1-- HTTP/1.1\r\nHost: shop\r\n\r\n")
    raw.write_text("".join(lines))
    out = tmp_path / "routes.json"
    code = cli(["train", "--route-model", str(out), "--from", str(raw)])
    assert code == 0
    assert "1 flagged by inspection" in capsys.readouterr().out
    pipe = Pipeline(tmp_path, learning(out, "enforce"))
    odd, _ = await pipe.send("/shop/cart?id=77&qty=2&gift=maybe")
    fine, _ = await pipe.send("/shop/cart?id=77&qty=2&gift=on")
    assert odd.action.stops and not fine.action.stops
