"""The city profile: Jiuquan's loads, a broken one lists every problem, another city builds."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pytest
import rasterio
import shapely

import layers
import store
from data import build_demo
from geo import settings
from geo.errors import ProfileError
from layers.profile import REQUIRED_BUREAUS, load_profile, read_boundaries
from layers.rules import RULES
from store import importer

ROOT = Path(__file__).resolve().parent.parent
JIUQUAN = settings.shipped_dir / "profiles" / "jiuquan"
GOLDEN = Path(__file__).parent / "data" / "demo_jiuquan_checksums.csv"
#: Two adjacent 0.5 degree squares in Guizhou, far from Jiuquan.
SQUARES = {"520101": (106.0, 26.5, 106.5, 27.0), "520102": (106.5, 26.5, 107.0, 27.0)}
BOUNDS = [105.5, 26.0, 107.5, 27.5]


def _write_city(folder: Path) -> Path:
    """Write a two-county profile with no demo hints into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    features = [
        {
            "type": "Feature",
            "properties": {"code": code},
            "geometry": shapely.box(*b).__geo_interface__,
        }
        for code, b in SQUARES.items()
    ]
    collection = {"type": "FeatureCollection", "features": features}
    (folder / "boundaries.geojson").write_text(json.dumps(collection), encoding="utf-8")
    shutil.copy(JIUQUAN / "targets.toml", folder / "targets.toml")
    bureaus = "".join(
        f'[[bureaus]]\nkey = "{b.key}"\nname_en = "{b.name_en}"\nname_zh = "{b.name_zh}"\n\n'
        for b in load_profile(JIUQUAN).bureaus.values()
    )
    (folder / "profile.toml").write_text(
        f"bounds = {BOUNDS}\n"
        'metric_crs = "auto"\n'
        'targets = "targets.toml"\n\n'
        '[city]\ncode = "520100"\nname_zh = "测试市"\nname_en = "Testville"\n'
        'pinyin = "Ceshi Shi"\nseat = [106.5, 26.75]\n\n'
        '[[counties]]\ncode = "520101"\nname_zh = "东区"\nname_en = "East District"\n'
        'pinyin = "Dong Qu"\nseat = [106.2, 26.7]\n\n'
        '[[counties]]\ncode = "520102"\nname_zh = "西区"\nname_en = "West District"\n'
        'pinyin = "Xi Qu"\nseat = [106.8, 26.8]\n\n' + bureaus,
        encoding="utf-8",
    )
    return folder


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A two-county profile and the demo `build-demo --profile` made of it."""
    base = tmp_path_factory.mktemp("city")
    profile, out = _write_city(base / "profile"), base / "demo"
    out.mkdir()
    done = _run("-m", "cli", "build-demo", "--profile", str(profile), "--out", str(out))
    assert done.returncode == 0, done.stderr
    return profile, out


def test_jiuquan_profile_has_its_seven_counties_and_the_plans_bureaus():
    profile = load_profile(JIUQUAN)
    assert profile.city.name_zh == "酒泉市"
    assert len(profile.counties) == 7
    assert len(profile.bureaus) >= 12
    assert profile.bounds == importer.CITY_BOUNDS
    assert profile.targets_path.is_file()
    boundaries = read_boundaries(profile)
    assert list(boundaries["code"]) == profile.codes()


def test_every_bureau_the_catalogue_and_rules_name_is_required_of_a_profile():
    named = {spec.bureau.key for spec in layers.REGISTRY.values()}
    named |= {rule.bureau.key for rule in RULES.values()}
    assert named <= set(REQUIRED_BUREAUS)


def test_a_broken_profile_lists_every_problem(tmp_path):
    (tmp_path / "profile.toml").write_text(
        "bounds = [100.0, 40.0, 90.0]\n"
        'metric_crs = "EPSG:4326"\n'
        'targets = "missing.toml"\n\n'
        '[city]\ncode = "1"\nname_zh = "市"\nname_en = "City"\npinyin = "Shi"\nseat = [1]\n\n'
        '[[counties]]\ncode = "11"\nname_en = "A"\npinyin = "A"\nseat = [95.0, 41.0]\n'
        "[counties.demo]\noases = [[95.0, 41.0, -1.0, 0.5]]\n\n"
        '[[counties]]\ncode = "11"\nname_zh = "乙"\nname_en = "B"\npinyin = "B"\n'
        "seat = [95.0, 41.0]\n\n"
        '[[bureaus]]\nkey = "water"\nname_en = "Water"\n\n'
        '[[bureaus]]\nkey = "tourism"\nname_en = "Tourism"\nname_zh = " "\n\n'
        '[demo]\nbureaus = ["nobody"]\n',
        encoding="utf-8",
    )
    with pytest.raises(ProfileError, match="has problems") as caught:
        load_profile(tmp_path)
    message = str(caught.value)
    for expected in (
        "`bounds` must be [min_lon, min_lat, max_lon, max_lat]",
        "`metric_crs` must be a projected (metric) CRS",
        "`[city]`: `seat` must be [lon, lat]",
        "county 1 (11): missing `name_zh`",
        "oasis 1 must be [lon, lat, spread_km > 0, share > 0]",
        "county code '11' is used twice",
        "bureau 1 (water): missing `name_zh`",
        "bureau 2 (tourism): `name_zh` must not be empty",
        "`demo.bureaus` names units not in `[[bureaus]]`: nobody",
        "must include the plan's units: poverty_office, transport",
        "missing.toml, which does not exist",
        "no county boundaries",
    ):
        assert expected in message


def test_a_profile_may_fix_its_metric_crs(tmp_path):
    folder = _write_city(tmp_path)
    text = (folder / "profile.toml").read_text(encoding="utf-8")
    fixed = text.replace('metric_crs = "auto"', 'metric_crs = "EPSG:4544"')
    (folder / "profile.toml").write_text(fixed, encoding="utf-8")
    assert load_profile(folder).working_crs((106.0, 26.5, 107.0, 27.0)).to_epsg() == 4544
    (folder / "profile.toml").write_text(
        text + '\n[[demo.roads]]\nname = "G1"\nroad_class = "national"\nyear = 2000\n'
        "waypoints = [[106.2, 26.7]]\n",
        encoding="utf-8",
    )
    with pytest.raises(ProfileError, match="demo road 1: `waypoints` must be two or more"):
        load_profile(folder)


def test_a_profile_that_is_not_toml_says_so(tmp_path):
    (tmp_path / "profile.toml").write_text("bounds = [", encoding="utf-8")
    with pytest.raises(ProfileError, match="cannot be read as a city profile"):
        load_profile(tmp_path)


def test_boundaries_that_do_not_fit_the_profile_list_every_mismatch(tmp_path):
    folder = _write_city(tmp_path)
    other = gpd.GeoDataFrame(
        {"code": ["520101", "999999"]}, geometry=[shapely.box(*SQUARES["520101"])] * 2, crs=4326
    )
    other.to_file(folder / "boundaries.geojson", driver="GeoJSON", engine="pyogrio")
    with pytest.raises(ProfileError, match="does not fit the profile") as caught:
        read_boundaries(load_profile(folder))
    assert "county 520102 has no polygon" in str(caught.value)
    assert "polygon 999999 matches no county" in str(caught.value)


def test_build_demo_for_another_city_puts_every_village_in_its_counties(city):
    _, out = city
    sto = store.open_store(out / "demo.gpkg")
    villages = layers.load("villages", out / "demo.gpkg")
    counties = layers.load("counties", out / "demo.gpkg")
    assert sorted(counties["code"]) == sorted(SQUARES)
    assert set(villages["county_code"]) == set(SQUARES)
    joined = gpd.sjoin(villages, counties[["code", "geometry"]], predicate="within")
    assert len(joined) == len(villages) > 20
    assert (joined["county_code"] == joined["code_right"]).all()
    assert layers.load("prefecture", out / "demo.gpkg")["name_en"].tolist() == ["Testville"]
    for key in sto.list_layers():
        assert layers.problems(key, layers.load(key, out / "demo.gpkg")) == [], key


def test_the_other_citys_import_bounds_come_from_its_profile(city):
    profile, out = city
    script = (
        "import json, layers; from store import importer; "
        f"v = layers.load('villages', {str(out / 'demo.gpkg')!r}); "
        "print(json.dumps([list(importer.CITY_BOUNDS), importer.crs_problems(v)]))"
    )
    done = _run("-c", script, env={"VILLAGE_ATLAS_PROFILE": str(profile)})
    assert done.returncode == 0, done.stderr
    bounds, found = json.loads(done.stdout)
    assert bounds == BOUNDS
    assert found == []
    elsewhere = importer.crs_problems(layers.load("villages", out / "demo.gpkg"))
    assert elsewhere != []  # the Jiuquan profile of this process refuses them


def test_build_demo_with_a_profile_needs_an_output_folder(city):
    profile, _ = city
    done = _run("-m", "cli", "build-demo", "--profile", str(profile))
    assert done.returncode == 2
    assert done.stderr.startswith("error: --profile needs --out")


def test_the_jiuquan_demo_is_unchanged(tmp_path):
    paths = build_demo.build(tmp_path, profile=load_profile(JIUQUAN))
    sto = store.open_store(paths["store"])
    found = {key: store.layer_checksum(sto.read_layer(key)) for key in sto.list_layers()}
    with rasterio.open(paths["population"]) as raster:
        found["population.tif"] = hashlib.sha256(raster.read(1).tobytes()).hexdigest()
    with GOLDEN.open(encoding="utf-8") as f:
        expected = {row["layer"]: row["sha256"] for row in csv.DictReader(f)}
    assert found == expected
