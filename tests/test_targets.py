"""The targets file and board: every problem reported, statuses by the plan's time limits."""

from __future__ import annotations

import pytest

import layers
from geo.status import done_by
from layers import targets
from layers.rules import RULES, evaluate


def test_shipped_targets_cover_the_plan():
    plan = {t.key: t for t in targets.load_targets()}
    assert plan["tap_water"].deadline == 2017
    assert plan["channels"].value == 425
    assert plan["channels"].unit == "km"
    assert plan["forest_network"].to_confirm
    assert plan["land_improvement"].to_confirm
    assert plan["exit_suzhou_jinta"].schedule == {2015: 70.0, 2016: 100.0}
    assert plan["exit_immigrant"].schedule == {2015: 40.0, 2016: 80.0, 2017: 100.0}
    assert plan["exit_dunhuang_subei_aksai"].counties == ("620982", "620923", "620924")
    assert plan["broadband"].bureau.key == "commerce"


def test_broken_targets_file_lists_every_problem(tmp_path):
    bad = tmp_path / "targets.toml"
    bad.write_text(
        '[[target]]\nkey = "a"\nkind = "rule"\nrule = "bus_9km"\nvalue = 100\n'
        'deadline = 2017\nbureau = "nobody"\ntitle_en = "A"\ntitle_zh = "甲"\n'
        '[[target]]\nkey = "a"\nkind = "weird"\ntitle_en = "B"\n'
    )
    with pytest.raises(ValueError, match="has problems") as info:
        targets.load_targets(bad)
    message = str(info.value)
    assert "`rule` must be one of bus_2km" in message
    assert "`bureau` must be one of" in message
    assert "target 2 (a): missing `title_zh`" in message
    assert "`kind` must be one of rule, exit, length, area" in message
    assert "target key 'a' is used twice" in message
    bad.write_text("[[target]\nkey=")
    with pytest.raises(ValueError, match="is not valid TOML"):
        targets.load_targets(bad)


def test_rule_progress_equals_the_engine(demo_store):
    target = next(t for t in targets.load_targets() if t.key == "broadband")
    villages = layers.load("villages")
    covered = evaluate(RULES["broadband"], 2016)["covered"]
    expected = covered[villages["is_poor"]].mean() * 100
    assert targets.progress(target, 2016) == pytest.approx(expected)


def test_exit_progress_and_schedule(demo_store):
    target = next(t for t in targets.load_targets() if t.key == "exit_suzhou_jinta")
    v = layers.load("villages")
    scope = v["is_poor"] & v["county_code"].isin(["620902", "620921"])
    share = done_by(v["exit_year"], 2015)[scope].mean() * 100
    assert targets.progress(target, 2015) == pytest.approx(share)
    assert targets.expected(target, 2015, 0.0) == 70
    assert targets.expected(target, 2016, 0.0) == 100


def test_works_progress_sums_lengths_since_2015(demo_store):
    target = next(t for t in targets.load_targets() if t.key == "channels")
    channels = layers.load("water_channels")
    built = channels[(channels["year_built"] >= 2015) & (channels["year_built"] <= 2016)]
    assert targets.progress(target, 2016) == pytest.approx(built["length_km"].sum())
    assert targets.progress(target, 2014) == 0


def test_a_changed_target_changes_the_board(demo_store, tmp_path):
    text = targets.TARGETS_PATH.read_text()
    board = targets.board(targets.load_targets(), 2017)
    current = board.loc["tap_water", "current"]
    assert board.loc["tap_water", "status"] == "overdue"
    edited = tmp_path / "targets.toml"
    edited.write_text(
        text.replace(
            'rule = "tap_water"\nvillages = "all"\nvalue = 100',
            f'rule = "tap_water"\nvillages = "all"\nvalue = {int(current) - 1}',
        )
    )
    changed = targets.board(targets.load_targets(edited), 2017)
    assert changed.loc["tap_water", "status"] == "done"
    assert changed.loc["tap_water", "value"] == int(current) - 1


def test_by_county_covers_each_county_in_scope(demo_store):
    target = next(t for t in targets.load_targets() if t.key == "exit_dunhuang_subei_aksai")
    table = targets.by_county(target, 2016)
    assert list(table.index) == ["620982", "620923", "620924"]
    assert set(table["status"]) <= {"done", "overdue"}


def test_township_highway_progress_matches_a_brute_force(demo_store):
    import numpy as np  # noqa: PLC0415
    import pyproj  # noqa: PLC0415
    import shapely  # noqa: PLC0415

    target = next(t for t in targets.load_targets() if t.key == "township_highway")
    towns = layers.load("townships")
    roads = layers.load("roads")
    major = roads[roads["road_class"].isin(["national", "provincial"])]
    geod = pyproj.Geod(ellps="WGS84")
    reached = 0
    for lon, lat in zip(towns["seat_lon"], towns["seat_lat"], strict=True):
        nearest = []
        for line in major.geometry:  # densify each road every ~50 m and take the closest point
            pts = shapely.get_coordinates(shapely.segmentize(line, 0.0005))
            d = geod.inv(np.full(len(pts), lon), np.full(len(pts), lat), pts[:, 0], pts[:, 1])[2]
            nearest.append(d.min())
        reached += min(nearest) <= 1000
    assert targets.progress(target, 2017) == pytest.approx(100 * reached / len(towns))
