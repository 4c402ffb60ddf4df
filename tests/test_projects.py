"""The project register: its checks on import, its link to the gaps, its demo, its exports."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from openpyxl import load_workbook
from shapely import Point

import exports as export
import layers
import store
from geo.errors import AccessDeniedError, StoreError
from layers import projects, render
from layers.access import LOCAL_ADMIN, Account, Role
from layers.catalogue import PROJECT_STATUSES
from layers.rules import RULES, evaluate, gap_list
from layers.targets import load_targets
from store import accounts
from store.importer import suggest_columns
from tests.helpers import HOSTILE_NAMES, MARKDOWN_NAMES, cli, copy_gpkg

RANK = {status: rank for rank, status in enumerate(PROJECT_STATUSES)}


def _register(**overrides: list[object]) -> gpd.GeoDataFrame:
    """Three valid projects (two at one village), with columns replaced by `overrides`."""
    columns: dict[str, list[object]] = {
        "project_id": ["P1", "P2", "P3"],
        "name": ["water one", "water two", "channel"],
        "measure": ["tap_water", "tap_water", "channels"],
        "site": ["village", "village", "line"],
        "village_code": ["620902100201", "620902100201", None],
        "lead": ["water", "water", "water"],
        "year": [2016, 2018, 2017],
        "budget_wan_yuan": [50.0, 20.5, 300.0],
        "fund_source": ["central", "loan", "provincial"],
        "status": ["done", "funded", "done"],
    }
    columns.update(overrides)
    return gpd.GeoDataFrame(
        columns, geometry=[Point(98.5, 39.7), Point(98.5, 39.7), Point(98.6, 39.8)], crs=4326
    )


# --- checks on import -----------------------------------------------------------------------


def test_a_valid_register_passes():
    assert layers.problems("projects", _register()) == []


def test_a_project_may_be_paid_from_several_sources_each_named_once():
    joint = _register(fund_source=["central, local", "pairing, loan", "provincial"])
    assert layers.problems("projects", joint) == []
    twice = _register(fund_source=["central, central", "central;local", "central, gold"])
    found = " | ".join(layers.problems("projects", twice))
    assert "3 bad row(s) (0, 1, 2)" in found
    assert projects.fund_text("pairing, loan", "zh") == "帮扶单位资金、贷款"


def test_bad_status_fund_source_measure_and_budget_are_each_named():
    bad = _register(
        status=["done", "finished", "done"],
        fund_source=["central", "bank", "provincial"],
        measure=["tap_water", "tap_water", "flying_cars"],
        budget_wan_yuan=[50.0, -3.0, 300.0],
    )
    found = " | ".join(layers.problems("projects", bad))
    assert "column `status` must be one of planned, funded, under_construction, done" in found
    assert "'finished'" in found
    assert (
        "column `fund_source` must list one or more of central, provincial, local, pairing, loan"
        in found
    )
    assert "'bank'" in found
    assert "column `measure` must name a coverage rule or a target" in found
    assert "'flying_cars'" in found
    assert "`budget_wan_yuan` must be >= 0: 1 bad row(s)" in found
    with pytest.raises(ValueError, match="does not match the catalogue"):
        layers.validate("projects", bad)


def test_a_village_project_needs_its_village_and_ids_are_unique():
    bad = _register(village_code=["620902100201", "", None], project_id=["P1", "P1", "P3"])
    found = layers.problems("projects", bad)
    assert "a village project needs a 12-digit `village_code`: 1 bad row(s) (1)" in found
    assert "`project_id` must be unique: P1 appear more than once" in found


def test_a_register_with_chinese_headers_finds_its_columns():
    headers = ["项目编号", "名称", "村代码", "牵头单位", "年度", "投资（万元）", "资金来源", "状态"]
    found = suggest_columns(headers, list(layers.get_layer("projects").columns))
    assert found == {
        "项目编号": "project_id",
        "名称": "name",
        "村代码": "village_code",
        "牵头单位": "lead",
        "年度": "year",
        "投资（万元）": "budget_wan_yuan",
        "资金来源": "fund_source",
        "状态": "status",
    }


def test_a_hostile_file_is_refused_by_the_command_line(demo_store, tmp_path):
    path = copy_gpkg(demo_store, tmp_path / "atlas.gpkg")
    before = layers.load("projects", path)
    hostile = _register(
        name=[HOSTILE_NAMES[0], MARKDOWN_NAMES[0], HOSTILE_NAMES[1]],
        status=["done", "<b>done</b>", "done"],
        fund_source=["central", "central", "[loan](http://x.test)"],
    )
    hostile.to_file(tmp_path / "projects.geojson")
    done = cli(
        "import", str(tmp_path / "projects.geojson"), "--layer", "projects", "--store", str(path)
    )
    assert done.returncode == 2
    assert "column `status` must be one of" in done.stderr
    assert "column `fund_source` must list one or more of" in done.stderr
    assert len(layers.load("projects", path)) == len(before)  # nothing written


def test_hostile_names_are_drawn_as_text_on_the_map():
    spec = layers.get_layer("projects")
    hostile = _register(name=[HOSTILE_NAMES[0], HOSTILE_NAMES[1], MARKDOWN_NAMES[0]])
    data, dropped = render.layer_geojson(spec, hostile, tooltip=dict(spec.tooltip))
    names = [f["properties"]["name"] for f in data["features"]]
    assert dropped == 0
    assert names[0] == "&lt;img src=x onerror=&quot;window.__xss=1;alert(1)&quot;&gt;"
    assert "<script>" not in str(data)
    assert {f["properties"]["status"] for f in data["features"]} == {"done", "funded"}


# --- who may import -------------------------------------------------------------------------


def test_an_editor_replaces_only_their_own_units_projects(demo_store, tmp_path):
    path = copy_gpkg(demo_store, tmp_path / "atlas.gpkg")
    handle = store.open_store(path)
    before = layers.load("projects", path)
    water = Account("w", Role.EDITOR, "water")
    mine = _register(measure=["tap_water", "tap_water", "tap_water"], site=["village"] * 3,
                     village_code=["620902100201"] * 3)  # fmt: skip
    accounts.import_as(
        handle, water, "projects", layers.validate("projects", mine), source="w.xlsx"
    )
    after = layers.load("projects", path)
    others = before[before["lead"] != "water"]
    assert len(after) == len(others) + 3
    assert set(after.loc[after["lead"] == "water", "project_id"]) == {"P1", "P2", "P3"}
    assert sorted(after.loc[after["lead"] != "water", "project_id"]) == sorted(others["project_id"])
    origin = handle.origin("projects")
    assert origin is not None
    assert origin.synthetic  # the other units' demo rows are still in it
    assert origin.source.startswith("w.xlsx; ")
    theirs = _register(lead=["water", "transport", "water"])
    with pytest.raises(AccessDeniedError, match="only the rows of their own unit"):
        accounts.import_as(
            handle, water, "projects", layers.validate("projects", theirs), source="x"
        )
    assert len(layers.load("projects", path)) == len(after)


# --- the link to the gaps -------------------------------------------------------------------


def _brute_force(gaps: pd.DataFrame, register: pd.DataFrame, rule_of: dict[str, str]) -> list:
    """For each gap, looping over every project: (status, ids, budget) of those serving it."""
    out = []
    for gap in gaps.itertuples():
        status, ids, budget = projects.NO_PROJECT, set(), 0.0
        for p in register.itertuples():
            if p.village_code == gap.code and rule_of.get(p.measure) == gap.rule:
                ids.add(p.project_id)
                budget += p.budget_wan_yuan
                if status == projects.NO_PROJECT or RANK[p.status] > RANK[status]:
                    status = p.status
        out.append((status, ids, round(budget, 6)))
    return out


def _from_link(linked: pd.DataFrame) -> list:
    return [
        (
            row.project_status,
            {part.split(" ", 1)[0] for part in row.project.split("; ") if part},
            round(0.0 if pd.isna(row.budget_wan_yuan) else row.budget_wan_yuan, 6),
        )
        for row in linked.itertuples()
    ]


@pytest.mark.parametrize("year", [2015, 2017])
def test_the_link_equals_a_brute_force_over_the_demo(demo_store, year):
    villages = layers.load("villages")
    measures = {key: evaluate(rule, year) for key, rule in RULES.items()}
    gaps = gap_list(villages, measures, year)
    register = layers.load("projects")
    rule_of = projects.measure_rules(load_targets())
    linked = projects.link(gaps, register, rule_of)
    assert linked.index.equals(gaps.index)
    assert _from_link(linked) == _brute_force(gaps, register, rule_of)
    assert (linked["project_status"] != projects.NO_PROJECT).sum() > 50


def test_a_target_with_a_rule_serves_that_rules_gaps():
    gaps = pd.DataFrame({"code": ["620902100201"], "rule": ["cooperative"]})
    register = _register(measure=["cooperatives", "tap_water", "channels"])
    linked = projects.link(gaps, register, projects.measure_rules(load_targets()))
    assert linked.loc[0, "project_status"] == "done"
    assert linked.loc[0, "project"] == "P1 water one"
    assert projects.link(gaps, register).loc[0, "project_status"] == projects.NO_PROJECT


def test_the_furthest_along_project_is_shown_and_budgets_add_up():
    gaps = pd.DataFrame({"code": ["620902100201", "620902100299"], "rule": ["tap_water"] * 2})
    linked = projects.link(gaps, _register())
    assert linked["project_status"].tolist() == ["done", projects.NO_PROJECT]
    assert linked.loc[0, "project"] == "P1 water one; P2 water two"
    assert linked.loc[0, "budget_wan_yuan"] == pytest.approx(70.5)
    assert linked.loc[0, "fund_source"] == "central, loan"
    assert linked.loc[0, "project_year"] == 2016
    assert pd.isna(linked.loc[1, "budget_wan_yuan"])
    empty = projects.link(gaps.iloc[:0], _register())
    assert list(empty.columns) == projects.LINK_COLUMNS
    assert empty.empty


def test_a_store_without_a_register_has_no_projects_for_any_gap():
    def older_store(key: str) -> gpd.GeoDataFrame:
        raise StoreError(f"layer {key!r} is not in the store")

    register = projects.register(older_store)
    assert register.empty
    assert list(register.columns) == [*layers.get_layer("projects").columns, "geometry"]
    assert layers.problems("projects", register) == []
    gaps = pd.DataFrame({"code": ["620902100201"], "rule": ["power"]})
    assert projects.link(gaps, register)["project_status"].tolist() == [projects.NO_PROJECT]
    assert projects.completed(register, 2014, 2020).empty


# --- the demo ---------------------------------------------------------------------------------


def test_the_demo_register_looks_like_a_plan_that_mostly_worked(demo_store):
    register = layers.load("projects")
    assert layers.problems("projects", register) == []
    done = register[register["status"] == "done"]
    assert len(done) > len(register) / 2
    assert (done["year"] <= 2017).all()
    assert (register.loc[register["status"] != "done", "year"] >= 2018).all()
    assert set(register["status"]) == set(PROJECT_STATUSES)
    assert set(register["site"]) == {"village", "line", "area"}
    for rule in register["measure"].unique():
        if rule in RULES:
            mine = register[register["measure"] == rule]
            assert (mine["lead"] == RULES[rule].bureau.key).all(), rule
    origin = layers.origin("projects")
    assert origin is not None
    assert origin.synthetic


def test_a_done_project_of_the_demo_met_its_measure_that_year(demo_store):
    villages = layers.load("villages").set_index("code")
    register = layers.load("projects")
    done = register[(register["status"] == "done") & (register["measure"] == "tap_water")]
    assert len(done) > 10
    years = villages.loc[done["village_code"], "tap_water_year"].to_numpy()
    assert (years == done["year"].to_numpy()).all()


@pytest.mark.parametrize("year", [2015, 2016, 2017])
def test_no_demo_gap_has_a_project_done_by_then(demo_store, year):
    villages = layers.load("villages")
    gaps = gap_list(villages, {k: evaluate(r, year) for k, r in RULES.items()}, year)
    linked = projects.link(gaps, layers.load("projects"), projects.measure_rules(load_targets()))
    assert not projects.done_but_open(linked, year).any()
    assert (linked["project_status"] == "done").any() == (year < 2017)  # done later: it closes


def test_completed_projects_between_two_years(demo_store):
    register = layers.load("projects")
    found = projects.completed(register, 2015, 2017)
    by_hand = [
        p.project_id for p in register.itertuples() if p.status == "done" and 2015 < p.year <= 2017
    ]
    assert sorted(found["project_id"]) == sorted(by_hand)
    assert len(by_hand) > 0


# --- the workbook -----------------------------------------------------------------------------


def test_the_bureau_workbook_says_which_project_serves_each_gap(demo_store, tmp_path):
    transport = layers.BUREAUS["transport"]
    book = load_workbook(export.bureau_workbook(2017, tmp_path / "w.xlsx", lang="en"))
    sheet = book[transport.name("en")]
    rows = list(sheet.iter_rows(values_only=True))
    header = list(rows[0])
    assert {"project", "project_status"} <= set(header)
    status = [r[header.index("project_status")] for r in rows[1:]]
    villages = layers.load("villages")
    gaps = gap_list(villages, {k: evaluate(r, 2017) for k, r in RULES.items()}, 2017)
    linked = projects.link(gaps, layers.load("projects"), projects.measure_rules(load_targets()))
    mine = [k for k, r in RULES.items() if r.bureau is transport]  # the sheet's order
    statuses = [linked.loc[gaps["rule"] == k, "project_status"] for k in mine]
    expected = [projects.status_text(s) for column in statuses for s in column]
    assert status == expected
    assert {"Funded", "Under construction"} <= set(status)
    assert "Projects and funds" in book.sheetnames


def test_hostile_project_names_stay_text_in_the_workbook(demo_store, tmp_path):
    path = copy_gpkg(demo_store, tmp_path / "atlas.gpkg")
    names = ['=HYPERLINK("http://x.test","click")', HOSTILE_NAMES[0], MARKDOWN_NAMES[0]]
    hostile = layers.validate("projects", _register(name=names))
    accounts.import_as(store.open_store(path), LOCAL_ADMIN, "projects", hostile, source="h.xlsx")
    out = export.bureau_workbook(
        2017, tmp_path / "w.xlsx", load=lambda key: layers.load(key, path), lang="en"
    )
    sheet = load_workbook(out)["Projects and funds"]
    cells = {c.value: c for row in sheet.iter_rows() for c in row if c.value in names}
    assert set(cells) == set(names)
    assert {c.data_type for c in cells.values()} == {"s"}  # text, never a formula
