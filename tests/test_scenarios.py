"""Scenarios: planned changes checked against a brute force, stored in both backends, exported."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import openpyxl
import pandas as pd
import pyproj
import pytest
import shapely
from pypdf import PdfReader

import layers
import store
from layers import scenarios
from layers.rules import RULES
from layers.scenarios import Scenario
from tests.helpers import cli, copy_gpkg

_GEOD = pyproj.Geod(ellps="WGS84")


def _brute_covered(villages, sites: np.ndarray, within_m: float) -> np.ndarray:
    """Whether each village has a site within `within_m`, by the geodesic to every site."""
    vxy = shapely.get_coordinates(villages.to_crs(4326).geometry.to_numpy())
    out = np.zeros(len(vxy), dtype=bool)
    for lon, lat in sites:
        _, _, dist = _GEOD.inv(vxy[:, 0], vxy[:, 1], np.full(len(vxy), lon), np.full(len(vxy), lat))
        out |= dist <= within_m
    return out


def _stops() -> np.ndarray:
    return shapely.get_coordinates(layers.load("bus_stops").geometry.to_numpy())


@pytest.mark.parametrize("seed", range(4))
def test_sites_added_and_removed_cover_what_a_brute_force_says(demo_store, seed):
    rng = np.random.default_rng(seed)
    villages = layers.load("villages")
    stops = _stops()  # every demo stop opened by 2017 is the rule's facility in 2017
    opened = layers.load("bus_stops")["year_opened"].fillna(9999).to_numpy() <= 2017
    vxy = shapely.get_coordinates(villages.geometry.to_numpy())
    added = vxy[rng.choice(len(vxy), 6, replace=False)] + rng.normal(0, 0.01, (6, 2))
    gone = stops[opened][rng.choice(int(opened.sum()), 25, replace=False)]
    scenario = Scenario(
        "brute",
        "bus_2km",
        2017,
        tuple(map(tuple, added)),
        tuple(("bus_stops", float(x), float(y)) for x, y in gone),
    )
    effect = scenarios.effect(scenario, rules=["bus_2km"])
    kept = np.array([not any((p == g).all() for g in gone) for p in stops[opened]])
    before = _brute_covered(villages, stops[opened], 2000)
    after = _brute_covered(villages, np.vstack([stops[opened][kept], added]), 2000)
    assert effect["before"].to_numpy().tolist() == before.tolist()
    assert effect["after"].to_numpy().tolist() == after.tolist()
    total = scenarios.summary(effect).loc[("bus_2km", "total")]
    assert total["newly_covered"] == int((after & ~before).sum())
    assert total["newly_uncovered"] == int((before & ~after).sum())
    poor = villages["poor_people"].fillna(0).to_numpy()
    assert total["poor_people_newly_covered"] == pytest.approx(poor[after & ~before].sum())
    by_county = scenarios.summary(effect, "county_code").loc["bus_2km"].drop(index="total")
    assert by_county["still_uncovered"].sum() == int((~after).sum())


def test_a_planned_road_link_serves_along_roads_and_as_a_hardened_road(demo_store):
    villages = layers.load("villages")
    base = scenarios.effect(Scenario("none", "bus_2km", 2017), rules=["bus_2km", "hardened_road"])
    lost = base[(base["rule"] == "bus_2km") & base["before"] & ~base["before_roads"]]
    assert not lost.empty  # villages near a stop in a straight line, but not along roads
    code = lost["code"].iloc[0]
    village = villages[villages["code"] == code].geometry.iloc[0]
    stops = _stops()
    _, _, dist = _GEOD.inv(
        np.full(len(stops), village.x), np.full(len(stops), village.y), stops[:, 0], stops[:, 1]
    )
    stop = stops[int(np.argmin(dist))]
    link = ((village.x, village.y), (float(stop[0]), float(stop[1])))
    scenario = Scenario("link", "bus_2km", 2017, roads=(link,))
    effect = scenarios.effect(scenario).set_index(["rule", "code"])
    assert effect.loc[("bus_2km", code), "after_roads"]  # now reached along the new link
    assert effect.loc[("hardened_road", code), "after"]  # it starts at the village
    assert set(effect.index.get_level_values("rule")) == {
        k for k, r in RULES.items() if r.is_distance
    }  # a road link moves every along-roads distance


def test_the_site_table_places_each_site_and_lists_the_villages_it_serves(demo_store):
    villages = layers.load("villages")
    towns = layers.load("townships")
    vxy = shapely.get_coordinates(villages.geometry.to_numpy())
    sites = ((float(vxy[3, 0]) + 0.004, float(vxy[3, 1])), (float(vxy[200, 0]), float(vxy[200, 1])))
    table = scenarios.site_table(Scenario("t", "bus_2km", 2017, sites))
    for (lon, lat), row in zip(sites, table.itertuples(), strict=True):
        town = towns[towns.contains(shapely.Point(lon, lat))]
        assert row.township_code == town["code"].iloc[0]
        zone = pyproj.CRS.from_epsg(row.gk_epsg)
        assert zone.name.endswith(f"CM {int(row.gk_cm)}E")
        x, y = pyproj.Transformer.from_crs(4490, zone, always_xy=True).transform(lon, lat)
        assert (row.gk_x, row.gk_y) == (pytest.approx(x, abs=0.01), pytest.approx(y, abs=0.01))
        _, _, dist = _GEOD.inv(vxy[:, 0], vxy[:, 1], np.full(len(vxy), lon), np.full(len(vxy), lat))
        served = row.villages_served.split()
        assert set(served) == set(villages["code"][dist <= 2000])
        assert served == sorted(served, key=lambda c: dist[villages["code"].tolist().index(c)])
        assert set(row.newly_covered.split()) <= set(served)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ("{", "not JSON"),
        ('{"added": [[1e999, 40]]}', "not a longitude/latitude"),
        ('{"added": [[96, 140]]}', "not a longitude/latitude"),
        ('{"added": [["x", 40]]}', "must hold numbers"),
        ('{"added": [[96]]}', "[longitude, latitude] pair"),
        ('{"added": {"a": 1}}', "must be lists"),
        ('{"removed": [["schools", 96, 40]]}', "not a facility layer of 'bus_2km'"),
        ('{"roads": [[[96, 40]]]}', "needs 2 to"),
        ('{"sql": 1}', "only added, removed and roads"),
        (json.dumps({"added": [[96, 40]] * (scenarios.MAX_SITES + 1)}), "at most"),
    ],
)
def test_a_hostile_scenario_is_refused_with_the_reason(changes, message):
    with pytest.raises(ValueError) as caught:
        Scenario.from_record("s", "bus_2km", 2017, changes)
    assert message in str(caught.value)


def test_names_rules_and_years_are_checked():
    with pytest.raises(ValueError, match="printable"):
        Scenario("a\nb", "bus_2km", 2017)
    with pytest.raises(ValueError, match="distance rule"):
        Scenario("a", "tap_water", 2017)
    with pytest.raises(ValueError, match="plausible year"):
        Scenario("a", "bus_2km", 20017)
    with pytest.raises(ValueError, match="no point facilities"):
        Scenario("a", "hardened_road", 2017, added=((96.0, 40.0),))
    same = Scenario("  name ", "bus_2km", 2017, added=((96.0, 40.0),))
    assert Scenario.from_record("name", "bus_2km", 2017, same.changes_json()) == same


def test_scenarios_are_stored_owned_and_deleted_in_both_backends(backend_store):
    handle = store.open_store(backend_store)
    scenario = Scenario("肃州 <b>stops</b>", "bus_2km", 2017, added=((98.5, 39.7),))
    handle.save_scenario(
        scenario.name, owner="ann", rule="bus_2km", base_year=2017, changes=scenario.changes_json()
    )
    with pytest.raises(PermissionError, match="belongs to ann"):
        handle.save_scenario(
            scenario.name, owner="bob", rule="bus_2km", base_year=2017, changes="{}"
        )
    with pytest.raises(PermissionError, match="belongs to ann"):
        handle.delete_scenario(scenario.name, who="bob")
    row = handle.scenarios().iloc[0]
    assert (
        Scenario.from_record(row["name"], row["rule"], row["base_year"], row["changes"]) == scenario
    )
    handle.delete_scenario(scenario.name, who="root", admin=True)
    assert handle.scenarios().empty
    with pytest.raises(KeyError):
        handle.delete_scenario(scenario.name, who="ann")
    events = handle.events()
    assert {"scenario saved", "scenario deleted"} <= set(events["action"])


def test_a_scenario_exports_its_workbook_and_meeting_map(demo_store, tmp_path):
    path = copy_gpkg(demo_store, tmp_path / "s" / "demo.gpkg")
    done = cli(
        "plan", "--rule", "bus_2km", "--add", "3", "--candidates", "villages", "--out",
        str(tmp_path / "p.csv"), "--save-scenario", "three", "--store", str(path),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    chosen = pd.read_csv(tmp_path / "p.csv")
    xlsx, pdf = tmp_path / "three.xlsx", tmp_path / "three.pdf"
    for out in (xlsx, pdf):
        made = cli("scenario", "export", "three", "--out", str(out), "--store", str(path))
        assert made.returncode == 0, made.stderr
    book = openpyxl.load_workbook(xlsx)
    assert book.sheetnames == [
        "数据说明", "方案", "新增站点", "撤除站点", "规划道路", "分县统计", "分乡镇统计",
    ]  # fmt: skip
    assert "合成演示数据" in str(list(book["数据说明"].values))  # the demo is synthetic
    rows = list(book["新增站点"].values)
    assert len(rows) == 4
    header = rows[0]
    for row, site in zip(rows[1:], chosen.itertuples(), strict=True):
        got = dict(zip(header, row, strict=True))
        assert (got["lon"], got["lat"]) == (pytest.approx(site.lon), pytest.approx(site.lat))
        assert set(str(got["newly_covered"] or "").split()) == set(
            str(site.newly_covered_villages).split()
        )
    text = "".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "新增站点 (3)" in text
    assert "three" in text
    bad = cli("scenario", "export", "three", "--out", str(tmp_path / "x.doc"), "--store", str(path))
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: `scenario export` needs --out")


def test_show_by_township_and_bureau_from_the_command_line(demo_store, tmp_path):
    path = copy_gpkg(demo_store, tmp_path / "s" / "demo.gpkg")
    handle = store.open_store(path)
    stops = _stops()
    scenario = Scenario("cut", "bus_2km", 2017, removed=(("bus_stops", *map(float, stops[0])),))
    handle.save_scenario(
        "cut", owner="x", rule="bus_2km", base_year=2017, changes=scenario.changes_json()
    )
    by_town = cli("scenario", "show", "cut", "--by", "township", "--store", str(path))
    table = pd.read_csv(io.StringIO(by_town.stdout), index_col=[0, 1], dtype={1: str})
    total = table.loc[("bus_2km", "total")]
    assert total["newly_covered"] == 0
    assert (
        total["newly_uncovered"] == table.drop(index=("bus_2km", "total"))["newly_uncovered"].sum()
    )
    by_bureau = cli("scenario", "show", "cut", "--by", "bureau", "--store", str(path))
    assert "bus_2km,transport,440," in by_bureau.stdout
    assert math.isfinite(float(total["still_uncovered"]))


def test_a_scenario_name_prints_as_typed_never_as_mathtext(demo_store, tmp_path):
    import exports  # noqa: PLC0415

    scenario = Scenario("$x^2$ <b>", "bus_2km", 2017, added=((98.5, 39.7),))
    spec = exports.MapSpec(rule="bus_2km", lang="en", dpi=72)
    pdf = exports.save_figure(exports.meeting_map(spec, scenario=scenario), tmp_path / "m.pdf")
    text = "".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "$x^2$ <b>" in text  # mathtext would have drawn x squared without the dollars


def test_two_planners_saving_one_name_at_once_leave_one_owner(demo_store, tmp_path):
    """Two processes save a scenario of the same name together: one wins, the other is told."""
    import subprocess  # noqa: PLC0415

    from tests.helpers import CLI, ROOT  # noqa: PLC0415

    path = copy_gpkg(demo_store, tmp_path / "s" / "demo.gpkg")
    runs = [
        subprocess.Popen(
            [
                *CLI,
                "plan",
                "--rule",
                "bus_2km",
                "--add",
                "3",
                "--candidates",
                "villages",
                "--out",
                str(tmp_path / f"{who}.csv"),
                "--save-scenario",
                "next stops",
                "--store",
                str(path),
                "--user",
                who,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for who in ("ann", "bob")
    ]
    done = [(r.communicate(timeout=300)[1], r.returncode) for r in runs]
    stored = store.open_store(path).scenarios()
    assert len(stored) == 1
    owner = stored["owner"].iloc[0]
    loser = "bob" if owner == "ann" else "ann"
    errors = dict(zip(("ann", "bob"), (err for err, _ in done), strict=True))
    codes = dict(zip(("ann", "bob"), (code for _, code in done), strict=True))
    assert codes[owner] == 0
    assert codes[loser] == 2
    assert f"belongs to {owner}" in errors[loser]
    assert Scenario.from_record(*stored.iloc[0][["name", "rule", "base_year", "changes"]]).added


def test_a_poor_village_rule_counts_its_effect_in_poor_villages_only(demo_store):
    """Outlets beside poor and other villages: only the poor ones are gaps closed."""
    rule = "express_5km"
    assert RULES[rule].scope.value == "poor villages"
    villages = layers.load("villages")
    base = scenarios.effect(Scenario("as is", rule, 2016), rules=[rule])
    open_ = base.index[~base["before"].to_numpy()]
    poor = villages["is_poor"].to_numpy()
    picks = [*[i for i in open_ if poor[i]][:3], *[i for i in open_ if not poor[i]][:3]]
    added = shapely.get_coordinates(villages.geometry.to_numpy()[picks])
    effect = scenarios.effect(Scenario("six", rule, 2016, tuple(map(tuple, added))), rules=[rule])
    new = effect["after"].to_numpy() & ~effect["before"].to_numpy()
    assert (new & ~poor).sum() >= 3  # the outlets do reach villages the clause does not ask about
    total = scenarios.summary(effect).loc[(rule, "total")]
    assert total["newly_covered"] == int((new & poor).sum()) >= 3
    assert total["villages"] == int(poor.sum())
    assert total["still_uncovered"] == int((~effect["after"].to_numpy() & poor).sum())
