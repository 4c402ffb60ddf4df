"""The `village-atlas` command line: subcommands, output, and the one-line error contract."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys

import geopandas as gpd
import pandas as pd
import pyproj
import pytest
import shapely

import layers
from geo import crs
from layers.rules import RULES
from tests.helpers import uncovered_by_hand
from tests.test_targets import CHINESE, CLAUSES, UNITS_OF

CLI = [sys.executable, "-m", "cli"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, check=False, timeout=300)


def test_layers_lists_the_catalogue_and_validates_the_store(demo_store):
    out = run("layers", "--validate")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert [ln.split()[0] for ln in lines] == list(layers.REGISTRY)
    assert sum(ln.endswith("  ok") for ln in lines) == 16  # every vector layer, projects too
    assert "Municipal Water Affairs Bureau" in out.stdout


def test_build_demo_into_a_folder(tmp_path):
    out = run("build-demo", "--out", str(tmp_path), "--seed", "7")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "demo.gpkg").stat().st_size > 100_000
    assert (tmp_path / "population.tif").exists()
    villages = layers.load("villages", tmp_path / "demo.gpkg")
    assert 400 <= len(villages) <= 500


def test_usage_error_is_one_line_without_traceback():
    out = run("coverage-of-nothing")
    assert out.returncode == 2
    assert out.stderr.startswith("error: argument command: invalid choice")
    assert len(out.stderr.strip().splitlines()) == 1
    assert "Traceback" not in out.stderr


def test_runtime_error_is_one_line(tmp_path):
    target = tmp_path / "file"
    target.write_text("not a folder")
    out = run("build-demo", "--out", str(target / "sub"))
    assert out.returncode == 2
    assert out.stderr.startswith("error: ")
    assert len(out.stderr.strip().splitlines()) == 1


# --- coverage ------------------------------------------------------------------------------

GEOD = pyproj.Geod(ellps="WGS84")


@pytest.fixture
def files(tmp_path):
    """Villages 1.5 and 2.5 km from a stop near Dunhuang, and a road through them."""
    lon0, lat0 = 94.66, 40.14
    (v1x, v2x), (v1y, v2y), _ = GEOD.fwd([lon0, lon0], [lat0, lat0], [90, 90], [1500, 2500])
    villages = gpd.GeoDataFrame(
        {"code": ["620982100201", "620982100202"], "name": ["甲", "=1+1"]},
        geometry=gpd.points_from_xy([v1x, v2x], [v1y, v2y]),
        crs=4326,
    )
    stops = gpd.GeoDataFrame(geometry=gpd.points_from_xy([lon0], [lat0]), crs=4326)
    road = gpd.GeoDataFrame(
        geometry=[shapely.LineString([(lon0, lat0), (lon0 + 0.05, lat0)])], crs=4326
    )
    paths = {}
    for name, gdf in (("villages", villages), ("stops", stops), ("roads", road)):
        paths[name] = tmp_path / f"{name}.geojson"
        gdf.to_file(paths[name])
    return paths, villages, stops


def table(stdout: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(stdout)))


def test_coverage_files_straight_and_along_roads(files):
    paths, _, _ = files
    out = run(
        "coverage",
        "--villages",
        str(paths["villages"]),
        "--facilities",
        str(paths["stops"]),
        "--within",
        "2000",
        "--network",
        str(paths["roads"]),
    )
    assert out.returncode == 0, out.stderr
    rows = table(out.stdout)
    assert [r["id"] for r in rows] == ["620982100201", "620982100202"]
    assert float(rows[0]["distance_m"]) == pytest.approx(1500, abs=0.05)
    assert [r["covered"] for r in rows] == ["true", "false"]
    assert float(rows[0]["network_distance_m"]) == pytest.approx(1500, rel=2e-3)
    assert [r["network_covered"] for r in rows] == ["true", "false"]
    assert list(rows[0]) == [
        "id",
        "distance_m",
        "covered",
        "network_distance_m",
        "snap_distance_m",
        "network_covered",
    ]


@pytest.mark.parametrize("system", ["gcj02", "bd09"])
def test_coverage_of_amap_and_baidu_exports(files, tmp_path, system):
    paths, villages, _ = files
    shifted = crs.to_chinese_system(villages, system)  # what an AMap/Baidu export holds
    path = tmp_path / f"villages-{system}.geojson"
    shifted.to_file(path)
    naive = table(
        run(
            "coverage",
            "--villages",
            str(path),
            "--facilities",
            str(paths["stops"]),
            "--within",
            "2000",
        ).stdout
    )
    fixed = table(
        run(
            "coverage",
            "--villages",
            str(path),
            "--villages-crs",
            system,
            "--facilities",
            str(paths["stops"]),
            "--within",
            "2000",
        ).stdout
    )
    assert float(fixed[0]["distance_m"]) == pytest.approx(1500, abs=0.5)
    assert abs(float(naive[0]["distance_m"]) - 1500) > 50  # the offset is real


def test_coverage_id_column_and_outputs(files, tmp_path):
    paths, _, _ = files
    base = [
        "coverage",
        "--villages",
        str(paths["villages"]),
        "--facilities",
        str(paths["stops"]),
        "--within",
        "2000",
    ]
    rows = table(run(*base, "--id", "name").stdout)
    assert [r["id"] for r in rows] == ["甲", "=1+1"]
    for suffix in (".csv", ".geojson", ".gpkg", ".xlsx"):
        target = tmp_path / f"out{suffix}"
        assert run(*base, "--id", "name", "--out", str(target)).returncode == 0
        if suffix == ".xlsx":
            from openpyxl import load_workbook  # noqa: PLC0415

            cell = load_workbook(target).active["A3"]
            assert cell.value == "=1+1"
            assert cell.data_type == "s"  # text, not a formula
        elif suffix == ".csv":
            assert pd.read_csv(target)["covered"].tolist() == [True, False]
        else:
            back = gpd.read_file(target)
            assert back.crs == "EPSG:4326"
            assert back["covered"].tolist() == ["true", "false"]


def test_coverage_rule_on_built_in_data(demo_store):
    out = run("coverage", "--rule", "bus_2km", "--year", "2016", "--network")
    assert out.returncode == 0, out.stderr
    rows = table(out.stdout)
    villages = layers.load("villages")
    assert len(rows) == len(villages)
    assert {"register", "contradiction", "network_distance_m"} <= set(rows[0])
    assert [r["id"] for r in rows] == villages["code"].tolist()


def test_coverage_rule_says_which_villages_its_clause_asks_about(demo_store):
    out = run("coverage", "--rule", "broadband", "--year", "2016")
    assert out.returncode == 0, out.stderr
    rows = table(out.stdout)
    villages = layers.load("villages").set_index("code")
    assert all((r["in_scope"] == "true") == villages.loc[r["id"], "is_poor"] for r in rows)
    gaps = {r["id"] for r in rows if r["in_scope"] == "true" and r["covered"] == "false"}
    left_out = uncovered_by_hand("broadband", 2016)
    assert gaps == {code for code, asked in left_out.items() if asked}
    assert len(gaps) < len(left_out)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rule", "bus_9km"], "error: No rule matching 'bus_9km'"),
        (
            ["--villages", "nope.geojson", "--facilities", "x", "--within", "5"],
            "error: cannot read nope.geojson: no such file",
        ),
        (["--villages", "V", "--within", "5"], "error: give --rule RULE, or all of"),
        (["--rule", "bus_2km", "--villages", "V"], "error: give either --rule or"),
        (["--villages", "V", "--facilities", "F", "--within", "-3"], "error: --within must be"),
        (["--villages", "V", "--facilities", "F", "--within", "five"], "error: argument --within"),
    ],
)
def test_coverage_errors_are_one_line(files, args, message):
    paths, _, _ = files
    args = [
        str(paths["villages"]) if a == "V" else str(paths["stops"]) if a == "F" else a for a in args
    ]
    out = run("coverage", *args)
    assert out.returncode == 2
    assert out.stderr.startswith(message), out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_coverage_bad_files(files, tmp_path):
    paths, villages, _ = files
    bare = tmp_path / "bare.csv"
    bare.write_text("x\n1\n")
    no_crs = tmp_path / "nocrs.gpkg"
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        villages.set_crs(None, allow_override=True).to_file(no_crs)
    vrt = tmp_path / "evil.geojson"
    vrt.write_text(
        '<OGRVRTDataSource><OGRVRTLayer name="x"><SrcDataSource>/etc/passwd'
        "</SrcDataSource></OGRVRTLayer></OGRVRTDataSource>"
    )
    empty = tmp_path / "empty.geojson"
    empty.write_text('{"type": "FeatureCollection", "features": []}')
    cases = [
        (no_crs, paths["stops"], "has no CRS: give one with --villages-crs"),
        (vrt, paths["stops"], "it holds XML (a VRT or similar)"),
        (paths["villages"], empty, "no facilities in"),
    ]
    for v, f, message in cases:
        out = run("coverage", "--villages", str(v), "--facilities", str(f), "--within", "10")
        assert out.returncode == 2, v
        assert message in out.stderr, out.stderr
        assert "Traceback" not in out.stderr


# --- targets and bureaus ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def board_json(demo_store):
    out = run("targets", "--format", "json")
    assert out.returncode == 0, out.stderr
    return {row["key"]: row for row in json.loads(out.stdout)["rows"]}


@pytest.mark.parametrize("key", list(CLAUSES))
def test_targets_prints_each_clause_of_the_plan(board_json, key):
    want, row = CLAUSES[key], board_json[key]
    assert row["clause"].startswith(f'{want.section}: "')
    assert row["goal"] == want.goal
    assert row["unit"] == want.unit
    assert row["scope"] == want.scope
    assert row["deadline"] == want.deadline
    lead, named, _ = UNITS_OF[want.section]
    assert row["lead_key"] == lead
    assert row["lead"].startswith(layers.BUREAUS[lead].name_en)
    assert row["lead"].endswith("(not named by the plan)") != named
    assert row["provenance"] == want.provenance
    assert (row["status"] == "not_measured") != want.measured


def test_targets_table_csv_and_county(demo_store):
    printed = run("targets", "--year", "2016")
    assert printed.returncode == 0, printed.stderr
    header = printed.stdout.splitlines()[0].split()
    assert header == ["key", "unit", "goal", "deadline", "current", "status", "provenance"]
    assert '    clause: 7(1): "By 217, 425 kilometers' in printed.stdout
    assert "    reason: The plan asks for a national or provincial highway" in printed.stdout
    rows = table(run("targets", "--format", "csv").stdout)
    assert [r["key"] for r in rows] == list(CLAUSES)
    assert {"title", "scope", "lead", "provenance", "clause", "reason"} <= set(rows[0])
    aksai = [
        r["key"] for r in table(run("targets", "--county", "620924", "--format", "csv").stdout)
    ]
    assert "exit_dunhuang_subei_aksai" in aksai
    assert "exit_suzhou_jinta" not in aksai
    dunhuang = table(run("targets", "--county", "Dunhuang", "--format", "csv").stdout)
    assert "exit_dunhuang_subei_aksai" in [r["key"] for r in dunhuang]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--year", "2031"], "error: --year must be a year from 2014 to 2020"),
        (["--year", "soon"], "error: argument --year"),
        (["--county", "Atlantis"], "error: unknown county 'Atlantis'"),
        (["--format", "xml"], "error: argument --format: invalid choice"),
    ],
)
def test_targets_bad_arguments_are_one_line(demo_store, args, message):
    out = run("targets", *args)
    assert out.returncode == 2
    assert out.stderr.startswith(message), out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_a_broken_targets_file_is_one_line(tmp_path):
    bad = tmp_path / "targets.toml"
    bad.write_text('[[target]]\nkey = "a"\n', encoding="utf-8")
    out = subprocess.run(
        [*CLI, "targets"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={**os.environ, "VILLAGE_ATLAS_TARGETS": str(bad)},
    )
    assert out.returncode == 2
    assert out.stderr.startswith(f"error: {bad} has problems:")
    assert len(out.stderr.strip().splitlines()) == 1


def test_targets_output_is_inert_whatever_the_file_says(demo_store, tmp_path):
    from layers import targets  # noqa: PLC0415

    text = targets.TARGETS_PATH.read_text(encoding="utf-8")
    hostile = text.replace(
        'title_en = "Safe drinking water for every household"',
        'title_en = "=HYPERLINK(\\"http://evil.example\\",\\"x\\")\\u001b[31m\\u009b2J"',
    )
    assert hostile != text
    path = tmp_path / "targets.toml"
    path.write_text(hostile, encoding="utf-8")
    env = {**os.environ, "VILLAGE_ATLAS_TARGETS": str(path)}
    printed = {}
    for form in ("csv", "table", "json"):
        out = subprocess.run(
            [*CLI, "targets", "--format", form],
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
            env=env,
        )
        assert out.returncode == 0, out.stderr
        assert "\x1b" not in out.stdout
        assert "\x9b" not in out.stdout
        assert "HYPERLINK" in out.stdout
        printed[form] = out.stdout
    water = next(r for r in table(printed["csv"]) if r["key"] == "tap_water")
    assert water["title"].startswith("'=HYPERLINK")


def test_bureaus_lists_every_unit_with_what_it_leads_and_cooperates_on(demo_store):
    out = run("bureaus", "--format", "json")
    assert out.returncode == 0, out.stderr
    printed = json.loads(out.stdout)
    # the plan's units; only the exits' marks come from data: the demo's household register
    (line,) = printed["note"]["lines"]
    assert line.startswith("Poor-household register: Synthetic demo household register")
    assert out.stderr.startswith("note: Poor-household register: Synthetic demo")
    units = {row["key"]: row for row in printed["rows"]}
    assert list(units) == list(layers.BUREAUS)
    for key, row in units.items():
        assert row["name_zh"] == CHINESE[key]
    leads = {k: set(r["leads"].split("; ")) - {""} for k, r in units.items()}
    led = {key: UNITS_OF[want.section][0] for key, want in CLAUSES.items()}
    for key, lead in led.items():
        assert any(entry.split(" (")[0] == key for entry in leads[lead]), key
    assert "forest_network (assumption)" in leads["forestry"]
    assert "land_improvement (plan, figure to confirm)" in leads["land"]
    assert "rural_services" in units["tourism"]["cooperates_on"]
    assert "bus_2km (assumption)" in units["transport"]["leads_rules"]
    for rule in RULES.values():  # the rules a unit cooperates on, as the rules declare them
        for unit in rule.cooperating:
            listed = units[unit.key]["cooperates_on_rules"].split("; ")
            assert any(entry.split(" (")[0] == rule.key for entry in listed), (unit, rule.key)
    assert "cooperative" in units["land"]["cooperates_on_rules"].split("; ")
    table = run("bureaus")
    assert table.returncode == 0, table.stderr
    assert "市妇联" in table.stdout
    assert "    cooperates_on: professional_farmers (plan, figure to confirm); labour_training" in (
        table.stdout
    )


def test_bureaus_marks_what_is_ours_as_the_board_does(demo_store, board_json):
    """A lead the plan does not name is ours; an exit the register measures is the plan's."""
    out = run("bureaus", "--format", "json")
    assert out.returncode == 0, out.stderr
    units = {row["key"]: row for row in json.loads(out.stdout)["rows"]}
    assert "exit_poor_villages (lead ours: not named by the plan)" in units["poverty_office"][
        "leads"
    ].split("; ")
    for key, row in board_json.items():
        (entry,) = [
            e for e in units[row["lead_key"]]["leads"].split("; ") if e.split(" (")[0] == key
        ]
        marks = re.findall(r"\(([^)]*)\)", entry.removeprefix(key))
        want = [] if row["provenance"] == "plan" else [row["provenance"]]
        if row["lead"] != layers.BUREAUS[row["lead_key"]].name_en:  # the board marks it
            want.append("lead ours: not named by the plan")
        assert marks == want, (key, entry)
    assert board_json["exit_poor_households"]["provenance"] == "plan"  # by the register
    assert "exit_poor_households (lead ours: not named by the plan)" in units["poverty_office"][
        "leads"
    ].split("; ")
