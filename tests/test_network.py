"""Along-road distances against an independent brute force: networkx on geodesic edges,
with every snapped point splitting its edge explicitly."""

from __future__ import annotations

import itertools

import geopandas as gpd
import networkx as nx
import numpy as np
import pyproj
import pytest
import shapely
from shapely import LineString

from geo.network import build_graph, filter_roads, network_distance

GEOD = pyproj.Geod(ellps="WGS84")


def lines(*coords_lists) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(geometry=[LineString(c) for c in coords_lists], crs=4326)


def points(xy) -> gpd.GeoDataFrame:
    xy = np.asarray(xy, dtype=float)
    return gpd.GeoDataFrame(geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=4326)


def _nearest_on_segment(p, a, b, step_m=0.5):
    """Brute force: sample the geodesic a-b every `step_m` and keep the closest sample."""
    length = GEOD.inv(*a, *b)[2]
    n = max(int(length / step_m), 1)
    samples = np.array([a, *GEOD.npts(*a, *b, n - 1), b]) if n > 1 else np.array([a, b])
    d = GEOD.inv(
        np.full(len(samples), p[0]), np.full(len(samples), p[1]), samples[:, 0], samples[:, 1]
    )[2]
    i = int(np.argmin(d))
    return d[i], i / (len(samples) - 1), length


def brute_force(roads: gpd.GeoDataFrame, villages, facilities) -> np.ndarray:
    segments = []
    for line in roads.geometry:
        c = list(line.coords)
        segments += [(tuple(c[i]), tuple(c[i + 1])) for i in range(len(c) - 1)]
    g = nx.Graph()
    splits: dict[int, list[tuple[float, str]]] = {i: [] for i in range(len(segments))}
    legs = {}
    for kind, gdf in (("v", villages), ("f", facilities)):
        for j, p in enumerate(gdf.geometry):
            best = min(
                ((*_nearest_on_segment((p.x, p.y), a, b), i) for i, (a, b) in enumerate(segments)),
                key=lambda r: r[0],
            )
            d, t, _, i = best
            splits[i].append((t, f"{kind}{j}"))
            legs[f"{kind}{j}"] = d
    for i, (a, b) in enumerate(segments):
        length = GEOD.inv(*a, *b)[2]
        chain = [(0.0, a), *sorted(splits[i]), (1.0, b)]
        for (t0, n0), (t1, n1) in itertools.pairwise(chain):
            w = (t1 - t0) * length
            if not g.has_edge(n0, n1) or g[n0][n1]["weight"] > w:
                g.add_edge(n0, n1, weight=w)
    for name, d in legs.items():
        g.add_edge(name + "*", name, weight=d)  # the point itself, off the road
    dist = nx.multi_source_dijkstra_path_length(
        g, {f"f{j}*" for j in range(len(facilities))}, weight="weight"
    )
    return np.array([dist.get(f"v{j}*", np.nan) for j in range(len(villages))])


def random_network(seed: int):
    rng = np.random.default_rng(seed)
    lon0, lat0, step = 95.70, 40.50, 0.012
    grid = {
        (i, j): (lon0 + i * step + rng.normal(0, 0.001), lat0 + j * step + rng.normal(0, 0.001))
        for i in range(5)
        for j in range(5)
    }
    roads = []
    for (i, j), p in grid.items():
        for di, dj in ((1, 0), (0, 1)):
            q = grid.get((i + di, j + dj))
            if q is not None and rng.random() < 0.7:
                roads.append([p, q])
    # an overpass: crosses several roads without sharing a vertex
    roads.append([(lon0 - 0.003, lat0 + 0.017), (lon0 + 0.055, lat0 + 0.031)])
    villages = np.column_stack(
        [rng.uniform(lon0, lon0 + 0.05, 12), rng.uniform(lat0, lat0 + 0.05, 12)]
    )
    facilities = np.column_stack(
        [rng.uniform(lon0, lon0 + 0.05, 2), rng.uniform(lat0, lat0 + 0.05, 2)]
    )
    return lines(*roads), points(villages), points(facilities)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_random_networks_match_networkx_brute_force(seed):
    roads, villages, facilities = random_network(seed)
    got = network_distance(build_graph(roads), villages, facilities)["network_distance_m"]
    expected = brute_force(roads, villages, facilities)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got.to_numpy(), expected, atol=1.0, equal_nan=True)


def test_crossing_without_shared_vertex_does_not_connect():
    ns = [(96.0, 40.0), (96.0, 40.02)]
    ew = [(95.99, 40.01), (96.01, 40.01)]
    village, facility = points([(96.0002, 40.001)]), points([(96.0095, 40.0101)])
    out = network_distance(build_graph(lines(ns, ew)), village, facility)
    assert np.isnan(out["network_distance_m"].iloc[0])
    assert out["snap_distance_m"].iloc[0] == pytest.approx(
        GEOD.inv(96.0002, 40.001, 96, 40.001)[2], rel=1e-3
    )
    # the same roads meeting at a shared vertex do connect
    joined = lines([ns[0], (96.0, 40.01), ns[1]], [ew[0], (96.0, 40.01), ew[1]])
    out = network_distance(build_graph(joined), village, facility)
    expected = brute_force(joined, village, facility)[0]
    assert out["network_distance_m"].iloc[0] == pytest.approx(expected, abs=1.0)


def test_long_single_segment_snaps_to_the_edge_not_a_vertex():
    road = lines([(95.0, 40.5), (95.25, 40.5)])  # one straight 21 km segment
    village = points([(95.125, 40.503)])
    facility = points([(95.2, 40.4995)])
    out = network_distance(build_graph(road), village, facility)
    expected = brute_force(road, village, facility)[0]
    assert out["network_distance_m"].iloc[0] == pytest.approx(expected, abs=1.0)
    assert out["snap_distance_m"].iloc[0] < 400  # not 10 km to a vertex


@pytest.mark.parametrize(("gap_m", "connected"), [(0.3, True), (0.7, False)])
def test_vertices_join_within_half_a_metre(gap_m, connected):
    lon2, lat2, _ = GEOD.fwd(96.01, 40.0, 90, gap_m)
    roads = lines([(96.0, 40.0), (96.01, 40.0)], [(lon2, lat2), (96.02, 40.0)])
    out = network_distance(build_graph(roads), points([(96.001, 40.0)]), points([(96.019, 40.0)]))
    assert np.isfinite(out["network_distance_m"].iloc[0]) == connected


def test_index_kept_and_empty_inputs(villages, bus_stops, road):
    graph = build_graph(road)
    out = network_distance(graph, villages.set_index(villages.index + 100), bus_stops)
    assert list(out.index) == [100, 101, 102, 103]
    assert out.loc[100, "network_distance_m"] == pytest.approx(500, rel=2e-3)
    assert network_distance(graph, villages.iloc[:0], bus_stops).empty
    with pytest.raises(ValueError, match="`facilities` is empty"):
        network_distance(graph, villages, bus_stops.iloc[:0])
    with pytest.raises(ValueError, match="no line"):
        build_graph(road.iloc[:0])


def test_filter_roads_all_season_and_class():
    roads = gpd.GeoDataFrame(
        {"all_season": [True, False, True], "road_class": ["county", "village", "village"]},
        geometry=[shapely.LineString([(0, 0), (1, 0)])] * 3,
        crs=4326,
    )
    assert filter_roads(roads, all_season=True, classes=["village"]).index.tolist() == [2]


@pytest.mark.parametrize("k", [1, 16])
def test_snapping_is_exact_on_short_and_very_long_segments(k):
    """Brute force: shapely's distance from each point to every segment, in the graph's CRS."""
    rng = np.random.default_rng(11)
    start = np.column_stack([rng.uniform(95.0, 96.0, 300), rng.uniform(40.0, 40.6, 300)])
    span = rng.choice([0.0002, 0.003, 0.3], size=(300, 1)) * rng.normal(0, 1, (300, 2))
    roads = lines(*[[tuple(a), tuple(a + d)] for a, d in zip(start, span, strict=True)])
    graph = build_graph(roads, piece_m=150.0)
    pts = points(np.column_stack([rng.uniform(95.0, 96.0, 400), rng.uniform(40.0, 40.6, 400)]))
    p = np.column_stack(graph.to_metric.transform(pts.geometry.x, pts.geometry.y))
    from geo.network import _nearest_segments  # noqa: PLC0415

    seg = _nearest_segments(graph, p, k=k)
    segments = shapely.linestrings(
        np.stack([graph.nodes[graph.seg_a], graph.nodes[graph.seg_b]], axis=1)
    )
    brute = np.array([shapely.distance(shapely.Point(q), segments).min() for q in p])
    got = shapely.distance(shapely.points(p), segments[seg])
    np.testing.assert_allclose(got, brute, atol=1e-6)
