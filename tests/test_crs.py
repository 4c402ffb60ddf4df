"""GCJ-02 / BD-09 conversions against published vectors, and the metric CRS choice."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial import cKDTree

from data import boundaries
from data.counties import COUNTIES
from geo import crs
from geo import settings as geo_settings
from geo.errors import NoCrsError

GEOD = pyproj.Geod(ellps="WGS84")

# (wgs lon, wgs lat, gcj lon, gcj lat), published with googollee/eviltransform's tests.
GCJ_VECTORS = [
    (121.5272106, 31.1774276, 121.531541859215, 31.17530398364597),  # Shanghai
    (113.912316, 22.543847, 113.9171764808363, 22.540796131694766),  # Shenzhen
    (116.377817, 39.911954, 116.38404722455657, 39.91334545536069),  # Beijing
]
# (gcj lon, gcj lat, bd lon, bd lat), published with the geotool crate's tests.
BD_VECTORS = [(121.09626935575027, 30.608604331756705, 121.10271732371203, 30.61484572185035)]


def metres(lon1: object, lat1: object, lon2: object, lat2: object) -> np.ndarray:
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


@pytest.mark.parametrize(("wlon", "wlat", "glon", "glat"), GCJ_VECTORS)
def test_wgs84_to_gcj02_matches_published_vectors(wlon, wlat, glon, glat):
    lon, lat = crs.wgs84_to_gcj02(wlon, wlat)
    assert metres(lon, lat, glon, glat) < 0.001


@pytest.mark.parametrize(("wlon", "wlat", "glon", "glat"), GCJ_VECTORS)
def test_gcj02_to_wgs84_is_exact_inverse(wlon, wlat, glon, glat):
    lon, lat = crs.gcj02_to_wgs84(glon, glat)
    assert metres(lon, lat, wlon, wlat) < 0.01


@pytest.mark.parametrize(("glon", "glat", "blon", "blat"), BD_VECTORS)
def test_bd09_vectors_both_ways(glon, glat, blon, blat):
    assert metres(*crs.gcj02_to_bd09(glon, glat), blon, blat) < 0.001
    assert metres(*crs.bd09_to_gcj02(blon, blat), glon, glat) < 0.01


@settings(max_examples=200, deadline=None)
@given(st.floats(92.8, 100.3), st.floats(38.2, 42.8))
def test_round_trips_stay_under_half_a_metre_in_the_prefecture(lon, lat):
    for forward, inverse in (
        (crs.wgs84_to_gcj02, crs.gcj02_to_wgs84),
        (crs.wgs84_to_bd09, crs.bd09_to_wgs84),
    ):
        shifted = forward(lon, lat)
        assert 20 < metres(lon, lat, *shifted) < 1500  # the offset is real, and bounded
        assert metres(lon, lat, *inverse(*shifted)) < 0.5


def test_from_chinese_system_converts_geometries_and_labels_wgs84():
    gcj = gpd.GeoDataFrame(geometry=[shapely.Point(GCJ_VECTORS[2][2:])], crs="EPSG:4326")
    out = crs.from_chinese_system(gcj, "gcj02")
    assert out.crs == "EPSG:4326"
    p = out.geometry.iloc[0]
    assert metres(p.x, p.y, *GCJ_VECTORS[2][:2]) < 0.01
    assert gcj.geometry.iloc[0].x == GCJ_VECTORS[2][2]  # input untouched


def test_to_storage_crs_without_crs_says_how_to_fix():
    gdf = gpd.GeoDataFrame(geometry=[shapely.Point(95, 40)])
    with pytest.raises(NoCrsError, match="no coordinate reference system: pass one explicitly"):
        crs.to_storage_crs(gdf)
    assert crs.to_storage_crs(gdf, "EPSG:4490").crs == "EPSG:4326"


def test_to_storage_crs_reads_gauss_kruger():
    lon, lat = 96.3, 40.5
    x, y = pyproj.Transformer.from_crs(4326, 4541, always_xy=True).transform(lon, lat)
    gk = gpd.GeoDataFrame(geometry=[shapely.Point(x, y)], crs="EPSG:4541")
    p = crs.to_storage_crs(gk).geometry.iloc[0]
    assert metres(p.x, p.y, lon, lat) < 0.01


def test_parse_crs_rejects_nonsense_with_examples():
    with pytest.raises(ValueError, match="give an EPSG code such as EPSG:4490"):
        crs.parse_crs("not a crs")
    assert crs.parse_crs("BD-09") == "bd09"


@pytest.mark.parametrize(
    ("bounds", "epsg"),
    [((92.0, 39, 94.4, 41), 4540), ((95.6, 40.0, 97.2, 40.6), 4541), ((97.6, 39, 100.4, 41), 4542)],
)
def test_metric_crs_picks_the_gauss_kruger_zone_holding_the_data(bounds, epsg):
    assert crs.metric_crs(bounds).to_epsg() == epsg


def test_metric_crs_for_the_prefecture_keeps_distances_within_0_2_percent():
    bounds = gpd.read_file(geo_settings.boundaries_path).total_bounds
    chosen = crs.metric_crs(bounds)
    assert chosen.is_projected
    assert chosen.to_epsg() != 3857
    assert crs.scale_error(chosen, bounds) < 0.002
    # brute force: 2 km pairs at several longitudes, planar vs geodesic
    to_m = pyproj.Transformer.from_crs(4326, chosen, always_xy=True)
    for lon in np.linspace(bounds[0], bounds[2], 7):
        for lat in (bounds[1], (bounds[1] + bounds[3]) / 2, bounds[3]):
            lon2, lat2, _ = GEOD.fwd(lon, lat, 37.0, 2000.0)
            (x1, x2), (y1, y2) = to_m.transform([lon, lon2], [lat, lat2])
            assert abs(np.hypot(x2 - x1, y2 - y1) / 2000.0 - 1) < 0.002
    assert crs.scale_error(pyproj.CRS.from_epsg(3857), bounds) > 0.25


def test_shipped_boundaries_are_converted_from_gcj02():
    shipped = gpd.read_file(geo_settings.boundaries_path).set_index("code")
    raw = boundaries.read_raw_counties().set_index("code")
    assert list(shipped.index) == [c.code for c in COUNTIES]
    for code in shipped.index:
        ours = shapely.get_coordinates(shipped.geometry[code])
        theirs = shapely.get_coordinates(raw.geometry[code])
        # each shipped vertex, shifted back into GCJ-02, lands on a raw vertex (< 0.5 m; the
        # shipped file is rounded to 1e-6 degree, about 0.1 m) ...
        back = np.column_stack(crs.wgs84_to_gcj02(ours[:, 0], ours[:, 1]))
        scale = np.array([np.cos(np.radians(40.0)), 1.0]) * 111_320.0
        _dist, idx = cKDTree(theirs * scale).query(back * scale)
        matched = theirs[idx]
        assert metres(back[:, 0], back[:, 1], matched[:, 0], matched[:, 1]).max() < 0.5, code
        # ... and lies about 50-150 m (median; 20-240 m at the extremes) from where AMap drew it
        shift = metres(ours[:, 0], ours[:, 1], matched[:, 0], matched[:, 1])
        assert 50 < np.median(shift) < 150, code
        assert shift.min() > 10, code
        assert shift.max() < 300, code
        assert len(np.unique(idx)) > 0.95 * len(np.unique(theirs, axis=0)), code
