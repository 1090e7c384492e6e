"""The route model: learning normal shapes, trusting only many clients."""

from __future__ import annotations

from pathlib import Path

import pytest

from vaultgate.ml.learner import Learner, load_route_model
from vaultgate.ml.routes import RouteModel, classes, route_key, value_type

SHOP = [
    ("GET", "/shop/items/{n}", [("sort", "price"), ("page", "{n}")]),
    ("POST", "/shop/cart", [("id", "{n}"), ("qty", "{q}"), ("gift", "on")]),
    ("GET", "/shop/search", [("q", "red shoes size {n}")]),
]


def learnt(clients: int = 40, rounds: int = 10) -> RouteModel:
    """A shop's traffic from ``clients`` clients, ``rounds`` visits each."""
    model = RouteModel()
    for round_ in range(rounds):
        for client in range(clients):
            n = str(round_ * 100 + client)
            for method, path, params in SHOP:
                filled = [(k, v.format(n=n, q=client % 9 + 1)) for k, v in params]
                model.learn(method, path.format(n=n), filled, f"c{client}")
    return model


MODEL = learnt()


@pytest.mark.parametrize(
    ("method", "path", "params", "kinds"),
    [
        ("GET", "/shop/items/77", [("sort", "price"), ("page", "3")], []),
        ("POST", "/shop/cart", [("id", "12"), ("qty", "4"), ("gift", "on")], []),
        ("GET", "/shop/search", [("q", "blue shoes size 9")], []),
        # CSIC-style anomalies, in a shop of our own making:
        ("GET", "/shop/items/77", [("sort", "price"), ("pageA", "3")], ["param"]),
        ("POST", "/shop/cart", [("id", "12/"), ("qty", "4")], ["type", "chars"]),
        ("POST", "/shop/cart", [("id", "12"), ("gift", "on/")], ["enum"]),
        ("GET", "/shop/items.bak", [], ["path"]),
        ("GET", "/admin/", [], ["path"]),
        ("PUT", "/shop/cart", [("id", "12")], ["method"]),
        ("GET", "/shop/search", [("q", "red shoes " * 20)], ["length"]),
        ("GET", "/shop/search", [("q", "shoes'--")], ["chars"]),
    ],
)
def test_enforcement_finds_what_is_far_outside(
    method: str, path: str, params: list[tuple[str, str]], kinds: list[str]
) -> None:
    found = MODEL.check(method, path, params, min_clients=3)
    assert [d.kind for d in found] == kinds


def test_one_client_cannot_teach_a_shape() -> None:
    model = learnt()
    for index in range(500):
        # Many distinct odd values, so that they are many rare items: they
        # are counted by their one client and leave the shape closed.
        model.learn("POST", "/shop/cart", [("id", f"1' or {index}--")], "attacker")
        model.learn("GET", "/shop/secret", [], "attacker")
    assert [d.kind for d in model.check("POST", "/shop/cart", [("id", "2'--")], 3)]
    assert model.check("GET", "/shop/secret", [], 3)[0].kind == "path"


def test_few_observations_close_nothing() -> None:
    model = learnt(clients=5, rounds=2)  # 10 requests per route
    assert model.check("GET", "/shop/anything", [("new", "x'y")], 3) == []


def test_ids_in_paths_are_folded() -> None:
    assert route_key("GET", "/a/123/b/0f8e9a2b-1c2d-4e5f-8a9b-0c1d2e3f4a5b") == (
        "GET",
        ["a", "{int}", "b", "{uuid}"],
    )


@pytest.mark.parametrize(
    ("text", "kind"),
    [("42", "int"), ("-3.50", "decimal"), ("2026-12-04", "date"), ("", "empty")]
    + [("a@b.example", "email"), ("Añadir", "word"), ("red shoes", "text")]
    + [("0f8e9a2b1c2d4e5f", "hex")],
)
def test_value_types(text: str, kind: str) -> None:
    assert value_type(text) == kind


def test_classes_name_each_mark() -> None:
    assert classes("Añ 1-'") == {"alpha", "letter", "space", "digit", "-", "'"}


def test_the_file_round_trips_and_merges(tmp_path: Path) -> None:
    path = str(tmp_path / "routes.json")
    first, second = Learner(path, 30.0), Learner(path, 30.0)
    for index in range(300):
        first.learn("GET", "/a", [("x", str(index))], f"c{index % 7}", 0.0)
        second.learn("GET", "/b", [("y", "on")], f"c{index % 7}", 0.0)
    first.flush(31.0)
    second.flush(31.0)
    model = load_route_model(path)
    assert set(model.routes) == {"/a", "/b"}
    assert model.check("GET", "/c", [], 3)[0].kind == "path"
    assert model.check("GET", "/b", [("y", "off")], 3)[0].kind == "enum"
    assert load_route_model(str(tmp_path / "missing.json")).routes == {}


def test_flagged_clients_are_forgotten_after_a_while() -> None:
    learner = Learner("/nonexistent", 30.0)
    learner.flag("bad", 100.0)
    assert learner.is_flagged("bad", 200.0)
    assert not learner.is_flagged("bad", 100.0 + 3601.0)
