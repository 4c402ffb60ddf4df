"""Straight-line coverage against an independent brute force (pyproj's Geod)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.coverage import coverage, nearest_distance, summarize

GEOD = pyproj.Geod(ellps="WGS84")


def brute_force(villages: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame) -> np.ndarray:
    """Geodesic distance from every village to every facility point; the minimum per village."""
    v = villages.to_crs(4326)
    f = facilities.to_crs(4326)
    best = []
    for p in v.geometry:
        d = GEOD.inv(np.full(len(f), p.x), np.full(len(f), p.y), f.geometry.x, f.geometry.y)[2]
        best.append(np.min(d))
    return np.array(best)


def points(lon, lat, **columns) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(columns, geometry=gpd.points_from_xy(lon, lat), crs=4326)


@pytest.mark.parametrize("lon", [92.9, 94.66, 96.5, 98.49, 100.2])
def test_villages_near_the_2_km_threshold_across_the_prefecture(lon):
    rng = np.random.default_rng(int(lon * 100))
    stops = points([lon, lon + 0.3], [40.0, 39.8])
    az = rng.uniform(-180, 180, 20)
    dist = np.where(np.arange(20) % 2 == 0, 1999.0, 2001.0)
    vlon, vlat, _ = GEOD.fwd(np.full(20, lon), np.full(20, 40.0), az, dist)
    villages = points(vlon, vlat, code=[f"v{i}" for i in range(20)])
    out = coverage(villages, stops, within_m=2000)
    assert out["distance_m"].to_numpy() == pytest.approx(brute_force(villages, stops), abs=1e-3)
    assert out["covered"].tolist() == [d < 2000 for d in dist]
    assert (out["nearest"] == 0).all()


def test_random_points_match_brute_force_in_any_crs():
    rng = np.random.default_rng(7)
    villages = points(rng.uniform(92.8, 100.3, 300), rng.uniform(38.2, 42.8, 300))
    stops = points(rng.uniform(92.8, 100.3, 40), rng.uniform(38.2, 42.8, 40))
    expected = brute_force(villages, stops)
    for crs in ("EPSG:4490", "EPSG:4541", "EPSG:32646"):
        got = nearest_distance(villages.to_crs(crs), stops.to_crs(crs))["distance_m"]
        np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_web_mercator_input_still_gives_true_metres():
    villages = points([96.0], [40.0]).to_crs(3857)
    stops = points([96.0], [40.02]).to_crs(3857)
    planar = villages.distance(stops.geometry.iloc[0]).iloc[0]
    got = nearest_distance(villages, stops)["distance_m"].iloc[0]
    assert got == pytest.approx(GEOD.inv(96, 40, 96, 40.02)[2], abs=0.01)
    assert planar / got > 1.3  # what a naive Web Mercator distance would have said


def test_distance_to_a_long_line_is_to_its_nearest_point_not_its_vertices():
    road = gpd.GeoDataFrame(geometry=[shapely.LineString([(95.0, 40.0), (96.0, 40.0)])], crs=4326)
    villages = points([95.5], [40.01])
    got = nearest_distance(villages, road)["distance_m"].iloc[0]
    # brute force: the road on the ground is the geodesic between its ends (not the parallel,
    # which bows 119 m north of it here); densify it every 5 m and take the minimum
    lonlat = np.array(GEOD.npts(95.0, 40.0, 96.0, 40.0, 17_000))
    n = len(lonlat)
    expected = np.min(GEOD.inv(np.full(n, 95.5), np.full(n, 40.01), lonlat[:, 0], lonlat[:, 1])[2])
    assert got == pytest.approx(expected, abs=1.0)
    assert got < GEOD.inv(95.5, 40.01, 95.5, 40.0)[2] - 100


def test_index_is_kept_and_missing_geometry_is_empty(villages, bus_stops):
    villages = villages.set_index(pd.Index([10, 20, 30, 40]))
    villages.loc[30, "geometry"] = None
    out = coverage(villages, bus_stops, within_m=2000)
    assert list(out.index) == [10, 20, 30, 40]
    assert np.isnan(out.loc[30, "distance_m"])
    assert not out.loc[30, "covered"]
    assert out.loc[10, "distance_m"] == pytest.approx(500, rel=2e-3)
    assert out.loc[40, "distance_m"] == pytest.approx(200, rel=2e-3)
    assert out["covered"].tolist() == [True, True, False, True]


def test_empty_in_empty_out_and_bad_arguments(villages, bus_stops):
    out = coverage(villages.iloc[:0], bus_stops, within_m=2000)
    assert out.empty
    assert list(out.columns) == ["distance_m", "covered", "nearest"]
    with pytest.raises(ValueError, match="`facilities` is empty"):
        coverage(villages, bus_stops.iloc[:0], within_m=2000)
    with pytest.raises(ValueError, match="`within_m` must be a distance in metres >= 0"):
        coverage(villages, bus_stops, within_m=-1)


coords = st.tuples(st.floats(94.0, 99.0), st.floats(39.0, 41.0))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(coords, min_size=1, max_size=30),
    st.lists(coords, min_size=1, max_size=10),
    st.floats(0, 50_000),
    st.floats(0, 50_000),
)
def test_covered_set_grows_with_the_radius(vs, fs, r1, r2):
    villages = points(*zip(*vs, strict=True))
    facilities = points(*zip(*fs, strict=True))
    small, large = sorted((r1, r2))
    a = coverage(villages, facilities, within_m=small)["covered"]
    b = coverage(villages, facilities, within_m=large)["covered"]
    assert (b | ~a).all()
    assert list(a.index) == list(villages.index)


def test_summaries_count_villages_poor_and_people():
    frame = pd.DataFrame(
        {
            "county": ["a", "a", "b", "b"],
            "population": [100, 200, 300, 400],
            "is_poor": [True, True, False, True],
        }
    )
    out = summarize(pd.Series([True, False, True, True]), frame, by="county")
    assert out.loc["a"].to_dict() == {
        "villages": 2,
        "covered": 1,
        "share": 0.5,
        "poor_villages": 2,
        "poor_covered": 1,
        "people": 300,
        "people_covered": 100,
    }
    assert out.loc["b", "people_covered"] == 700
