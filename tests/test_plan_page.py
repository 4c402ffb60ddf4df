"""The Planning page as planners use it: AppTest sessions side by side on one store."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

import store
from layers import scenarios, targets
from layers.scenarios import Scenario
from store import accounts
from tests.helpers import ROOT, copy_gpkg, log_in

APP = str(ROOT / "app.py")
PASSWORD = "password 1"


@pytest.fixture
def plan_store(demo_store, tmp_path, monkeypatch, on_the_network):
    """A private copy of the demo store with two planners, an admin and a viewer."""
    path = copy_gpkg(demo_store, tmp_path / "demo.gpkg")
    monkeypatch.setenv("VILLAGE_ATLAS_STORE", str(path))
    handle = store.open_store(path)
    for name, role in (
        ("ann", "planner"),
        ("bob", "planner"),
        ("root", "admin"),
        ("vic", "viewer"),
    ):
        accounts.add_user(handle, name, role=role, bureau=None, password=PASSWORD, who="t")
    return path


def _open(who: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    log_in(at, who, PASSWORD)
    at.switch_page("pages/plan.py").run()
    assert not at.exception, at.exception
    return at


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label.startswith(label))


def _table(at: AppTest, column: str):
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _metric(at: AppTest, label: str) -> float:
    return float(next(m for m in at.metric if m.label == label).value.replace(",", ""))


def test_a_planner_proposes_adds_and_saves_and_another_opens_it(plan_store):
    ann = _open("ann")
    ann.text_input(key="plan_name").set_value("五个站点 **bold**").run()
    ann.number_input(key="plan_n").set_value(5)
    _button(ann, "Propose sites").click().run()
    assert not ann.exception
    assert "HiGHS (optimal)" in ann.text[0].value
    _button(ann, "Add these 5 sites").click().run()
    assert not ann.exception
    draft: Scenario = ann.session_state["plan_draft"]
    assert len(draft.added) == 5
    effect = scenarios.summary(scenarios.effect(draft), "county_code").loc[("bus_2km", "total")]
    assert _metric(ann, "Newly covered (straight)") == effect["newly_covered"]
    assert _metric(ann, "Newly covered (along roads)") == effect["newly_covered_roads"]
    assert (
        _metric(ann, "Poor people newly covered (straight)") == effect["poor_people_newly_covered"]
    )
    assert effect["newly_covered"] > 0
    sites = _table(ann, "site")
    assert sites["site"].tolist() == [f"planned {i}" for i in range(1, 6)]
    assert sites["gk_epsg"].between(4534, 4554).all()
    _button(ann, "Save the scenario").click().run()
    assert not ann.exception
    assert any("Saved scenario" in s.value and "\\*\\*bold" in s.value for s in ann.success)

    row = store.open_store(plan_store).scenarios().iloc[0]
    assert (row["name"], row["owner"]) == ("五个站点 **bold**", "ann")
    bob = _open("bob")
    bob.selectbox(key="plan_pick").set_value("五个站点 **bold**").run()
    assert not bob.exception
    assert bob.session_state["plan_draft"] == draft
    assert not any(b.label == "Delete the scenario" for b in bob.button)  # not his
    _button(bob, "Save the scenario").click().run()  # same name: refused, nothing lost
    assert any("belongs to ann" in e.value for e in bob.error)
    assert store.open_store(plan_store).scenarios().iloc[0]["owner"] == "ann"

    root = _open("root")
    root.selectbox(key="plan_pick").set_value("五个站点 **bold**").run()
    _button(root, "Delete the scenario").click().run()
    assert not root.exception
    assert store.open_store(plan_store).scenarios().empty


def test_removing_sites_shows_villages_no_longer_covered(plan_store):
    ann = _open("ann")
    box = ann.multiselect(key="plan_removed")
    box.set_value(box.options[:150]).run()  # stops are dense: many must go to leave a gap
    assert not ann.exception
    draft: Scenario = ann.session_state["plan_draft"]
    assert len(draft.removed) == 150
    effect = scenarios.summary(scenarios.effect(draft), "county_code").loc[("bus_2km", "total")]
    assert effect["newly_uncovered"] > 0
    assert _metric(ann, "No longer covered (straight)") == effect["newly_uncovered"]
    board = _table(ann, "With the scenario")
    # no target of the plan is measured by stops: a bus in every village and the city bus are
    # services the village file records, so the stops taken away move no row of the board
    assert not [t.key for t in targets.load_targets() if t.rule == "bus_2km"]
    assert len(board) == len(targets.load_targets())
    moved = board["With the scenario"].fillna(-1) != board["As is"].fillna(-1)
    assert not moved.any(), board[moved]
    files = board[board["Target"] == "A bus service in every village"].iloc[0]
    assert files["With the scenario"] == files["As is"]  # a service per village: no stop counts


def test_viewers_cannot_plan(plan_store):
    vic = _open("vic")
    assert [i.value for i in vic.info] == ["Planning is for planners and administrators."]
    assert not any(b.label == "Propose sites" for b in vic.button)


def test_sites_are_taken_out_of_a_draft(plan_store):
    ann = _open("ann")
    ann.session_state["plan_draft"] = Scenario(
        "up", "bus_2km", 2017, added=((98.5, 39.7), (98.6, 39.75))
    )
    ann.run()
    assert not ann.exception
    assert _table(ann, "site")["site"].tolist() == ["planned 1", "planned 2"]
    ann.multiselect(key="plan_drop").set_value(["planned 1"]).run()
    _button(ann, "Take 1 sites out").click().run()
    assert ann.session_state["plan_draft"].added == ((98.6, 39.75),)
