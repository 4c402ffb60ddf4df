"""The shipped demo data: valid against the catalogue, on the real geography, truthful."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import pytest
import rasterio
import shapely
from rasterio.features import geometry_mask

import layers
from data import build_demo
from data.counties import COUNTIES
from geo import settings
from geo.status import done_by
from layers import targets
from layers.profile import PROFILE
from store import open_store

SEATS = {c.code: c.seat for c in COUNTIES}
GEOD = pyproj.Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def store(demo_store):
    return {key: layers.load(key, demo_store) for key in open_store(demo_store).list_layers()}


def test_every_catalogue_layer_is_stored_and_valid(store):
    vector_keys = [k for k, s in layers.REGISTRY.items() if not s.is_raster]
    assert sorted(store) == sorted(vector_keys)
    for key, gdf in store.items():
        assert layers.problems(key, gdf) == [], key
        assert len(gdf) > 0, key
    for key in ("population", "relief"):
        with rasterio.open(layers.raster_path(key)) as r:
            assert r.crs is not None


def test_county_areas_add_up_to_the_prefecture(store):
    counties = store["counties"].to_crs(settings.equal_area_crs)
    prefecture = store["prefecture"].to_crs(settings.equal_area_crs)
    total_km2 = counties.area.sum() / 1e6
    assert total_km2 == pytest.approx(167_700, rel=0.01)
    assert prefecture.area.sum() / 1e6 == pytest.approx(total_km2, rel=1e-6)
    townships = store["townships"].to_crs(settings.equal_area_crs)
    assert townships.area.sum() / 1e6 == pytest.approx(total_km2, rel=1e-3)


def test_villages_sit_in_their_county_and_township(store):
    v = store["villages"]
    county = gpd.sjoin(v, store["counties"][["code", "geometry"]], predicate="within")
    assert (county["code_left"].str[:6] == county["code_right"]).all()
    assert len(county) == len(v)
    town = gpd.sjoin(v, store["townships"][["code", "geometry"]], predicate="within")
    assert (town["township_code"] == town["code_right"]).all()
    assert (v["code"].str[:9] == v["township_code"]).all()
    assert v["code"].is_unique


def test_villages_lie_on_the_oasis_corridor_not_in_the_open_gobi(store):
    v = store["villages"]
    seat_lon = v["county_code"].map(lambda c: SEATS[c][0])
    seat_lat = v["county_code"].map(lambda c: SEATS[c][1])
    km = np.asarray(GEOD.inv(v.geometry.x, v.geometry.y, seat_lon, seat_lat)[2]) / 1000
    assert km.max() < 90
    assert np.median(km) < 30


def test_counts_and_flags_are_plausible(store):
    v = store["villages"]
    assert 400 <= len(v) <= 500
    assert 80 <= v["is_poor"].sum() <= 120
    immigrant = v[v["is_immigrant"]]
    assert set(immigrant["county"]) == {"玉门市", "瓜州县"}
    assert immigrant["is_poor"].all()
    assert (v["poor_households"] <= v["households"]).all()
    assert (v["poor_people"] <= v["population"]).all()
    assert (v.loc[~v["is_poor"], "planned_exit_year"].isna()).all()


def test_exit_schedule_follows_the_plan(store):
    poor = store["villages"][store["villages"]["is_poor"]]
    planned = poor.groupby("county_code")["planned_exit_year"]
    for code in ("620982", "620923", "620924"):
        assert set(planned.get_group(code)) == {2015}
    for code in ("620902", "620921"):
        years = planned.get_group(code)
        assert set(years) <= {2015, 2016}
        assert 0.5 < (years == 2015).mean() < 0.9  # 70 % of poor households out in 2015
    imm = poor[poor["is_immigrant"]]["planned_exit_year"]
    assert set(imm) <= {2015, 2016, 2017}
    assert (imm == 2017).any()
    old = poor[~poor["is_immigrant"] & poor["county_code"].isin(["620981", "620922"])]
    assert set(old["planned_exit_year"]) == {2015}
    exited = poor["exit_year"].notna()
    assert (poor.loc[exited, "exit_year"] >= poor.loc[exited, "planned_exit_year"]).all()
    assert (poor["exit_year"].dropna() <= build_demo.DATA_YEAR).all()


@pytest.mark.parametrize(
    "column", ["tap_water_year", "broadband_year", "hardened_road_year", "bus_year"]
)
def test_each_measure_has_real_gaps_in_most_counties(store, column):
    v = store["villages"]
    gaps = (~done_by(v[column], 2015)).groupby(v["county_code"]).sum()
    assert (gaps > 0).sum() >= 4  # the plan's first year has gaps to close in most counties
    assert done_by(v[column], 2017).mean() > 0.9  # and by its last, nearly all are closed


def test_status_only_grows_over_the_years(store):
    v = store["villages"]
    for column in ("tap_water_year", "bus_year", "exit_year"):
        counts = [done_by(v[column], y).sum() for y in range(2014, 2021)]
        assert counts == sorted(counts)
        assert counts[0] < counts[3]


def test_roads_meet_at_shared_vertices_and_form_one_network(store):
    g = nx.Graph()
    for line in store["roads"].geometry:
        xy = shapely.get_coordinates(line)
        g.add_edge(tuple(xy[0]), tuple(xy[-1]))
    assert nx.number_connected_components(g) == 1
    assert set(store["roads"]["road_class"]) == {
        "expressway",
        "national",
        "provincial",
        "county",
        "township",
        "village",
    }
    hard = store["roads"]["surface"].isin(["asphalt", "cement"])
    assert (store["roads"].loc[hard, "year_hardened"].notna()).all()


def test_population_raster_matches_village_populations(store):
    v = store["villages"]
    with rasterio.open(layers.raster_path("population")) as r:
        grid = r.read(1)
        assert r.res == (250.0, 250.0)
        assert r.crs.is_projected
        assert grid.sum() == pytest.approx(v["population"].sum(), rel=1e-4)
        # brute force for one isolated village: its 2 km disc holds most of its people
        vm = v.to_crs(r.crs)
        lonely = vm.geometry.apply(lambda p: vm.distance(p).nsmallest(2).iloc[1]).idxmax()
        disc = vm.geometry[lonely].buffer(2000)
        inside = ~geometry_mask([disc], out_shape=grid.shape, transform=r.transform)
        assert grid[inside].sum() == pytest.approx(v.loc[lonely, "population"], rel=0.05)


def test_build_is_deterministic(tmp_path, store):
    build_demo.build(tmp_path)
    again = layers.load("villages", tmp_path / "demo.gpkg")
    pd.testing.assert_frame_equal(
        pd.DataFrame(again.drop(columns="geometry")),
        pd.DataFrame(store["villages"].drop(columns="geometry")),
    )
    assert again.geometry.geom_equals_exact(store["villages"].geometry, 1e-9).all()


def test_the_demo_is_a_plan_that_mostly_worked(demo_store):
    board = targets.board(targets.load_targets(), build_demo.DATA_YEAR, history=False)
    measured = board[board["status"] != "not_measured"]
    status = measured["status"].value_counts()
    assert status["done"] >= 0.75 * len(measured)  # most targets done by their deadline
    assert 1 <= status.get("overdue", 0) <= 2  # one or two overdue
    assert status.get("behind", 0) >= 1  # a few behind (a 2020 goal)
    assert 425 <= board.loc["channels", "current"] <= 1.1 * 425  # near the goal, not 3x
    for key in ("forest_network", "land_improvement"):
        goal = board.loc[key, "goal"]
        assert goal <= board.loc[key, "current"] <= 1.5 * goal, key


def test_synthetic_roads_and_cadres_carry_no_real_names(store):
    names = store["roads"]["name"].dropna()
    assert not names.str.contains(r"(?<![A-Za-z])[GS]\d+", regex=True).any()
    assert names.str.startswith("示意").sum() >= 5  # the schematic trunk roads say so
    assert store["villages"]["cadre"].str.endswith("某某（虚构）").all()


def test_every_township_seat_is_on_a_national_or_provincial_road(store):
    towns = store["townships"]
    seats = gpd.GeoSeries(gpd.points_from_xy(towns["seat_lon"], towns["seat_lat"]), crs=4326)
    roads = store["roads"]
    trunk = roads[roads["road_class"].isin(["national", "provincial"])]
    metric = PROFILE.working_crs(tuple(store["counties"].total_bounds))  # a conformal TM
    distance = seats.to_crs(metric).apply(lambda p: trunk.to_crs(metric).distance(p).min())
    assert (distance <= 1000).all()  # the plan's "national or provincial highway" to each


def test_road_density_is_that_of_an_oasis(store):
    metric = settings.equal_area_crs
    oasis = store["villages"].to_crs(metric).buffer(5000).union_all()
    km = store["roads"].to_crs(metric).intersection(oasis).length.sum() / 1000
    per_100_km2 = km / (oasis.area / 1e6) * 100
    assert 25 <= per_100_km2 <= 80  # km of road per 100 km2 of oasis
