"""Along-road distances against an independent brute force: networkx on geodesic edges,
with every snapped point splitting its edge explicitly."""

from __future__ import annotations

import itertools

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from shapely import LineString

from geo.crs import tm_point_scale
from geo.network import (
    GRAPH_FORMAT,
    build_graph,
    filter_roads,
    graph_from_arrays,
    graph_to_arrays,
    network_distance,
    reach_along_roads,
)

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


@pytest.mark.parametrize(
    ("cell_m", "block"), [(None, 4096), (150.0, 4096), (40_000.0, 4096), (150.0, 7), (3.0, 1)]
)
def test_snapping_is_exact_on_short_and_very_long_segments(cell_m, block):
    """Brute force: shapely's distance from each point to every segment, in the graph's CRS.

    Any cell size gives the exact answer: cells much shorter than the segments, and one
    cell nearly as large as the whole extent. Small blocks run the points in many blocks
    on several threads: each point still gets its own answer, in its own row.
    """
    rng = np.random.default_rng(11)
    start = np.column_stack([rng.uniform(95.0, 96.0, 300), rng.uniform(40.0, 40.6, 300)])
    span = rng.choice([0.0002, 0.003, 0.3], size=(300, 1)) * rng.normal(0, 1, (300, 2))
    roads = lines(*[[tuple(a), tuple(a + d)] for a, d in zip(start, span, strict=True)])
    graph = build_graph(roads, cell_m=cell_m)
    pts = points(np.column_stack([rng.uniform(95.0, 96.0, 400), rng.uniform(40.0, 40.6, 400)]))
    p = np.column_stack(graph.to_metric.transform(pts.geometry.x, pts.geometry.y))
    from geo.network import _nearest_segments  # noqa: PLC0415

    seg, t, dist = _nearest_segments(graph, p, block=block)
    segments = shapely.linestrings(
        np.stack([graph.nodes[graph.seg_a], graph.nodes[graph.seg_b]], axis=1)
    )
    brute = np.array([shapely.distance(shapely.Point(q), segments).min() for q in p])
    got = shapely.distance(shapely.points(p), segments[seg])
    np.testing.assert_allclose(got, brute, atol=1e-6)
    np.testing.assert_allclose(dist, brute, atol=1e-6)
    foot = shapely.line_interpolate_point(segments[seg], t, normalized=True)
    np.testing.assert_allclose(shapely.distance(shapely.points(p), foot), brute, atol=1e-6)


def test_snapping_no_point_and_one_point():
    road = lines([(96.0, 40.0), (96.01, 40.0)])
    graph = build_graph(road)
    from geo.network import _nearest_segments  # noqa: PLC0415

    seg, t, dist = _nearest_segments(graph, np.zeros((0, 2)))
    assert len(seg) == len(t) == len(dist) == 0
    mid = np.column_stack(graph.to_metric.transform([96.005], [40.001]))
    seg, t, dist = _nearest_segments(graph, mid)
    assert seg.tolist() == [0]
    assert t[0] == pytest.approx(0.5, abs=1e-3)
    assert dist[0] == pytest.approx(111.0, rel=0.01)


def test_snapping_points_far_outside_the_roads_and_refusing_points_without_coordinates():
    """Points hundreds of km beyond the grid's extent, in every direction, still find the
    exact nearest segment (brute force); a point without coordinates is an error."""
    road = lines([(96.0, 40.0), (96.01, 40.0), (96.02, 40.01)], [(96.0, 40.02), (96.03, 40.03)])
    graph = build_graph(road, cell_m=50.0)
    from geo.network import _nearest_segments  # noqa: PLC0415

    lon = [90.0, 101.0, 96.01, 96.01, 96.015, 96.5]
    lat = [40.0, 40.0, 35.0, 45.0, 40.015, 40.5]
    p = np.column_stack(graph.to_metric.transform(lon, lat))
    _seg, _t, dist = _nearest_segments(graph, p)
    segments = shapely.linestrings(
        np.stack([graph.nodes[graph.seg_a], graph.nodes[graph.seg_b]], axis=1)
    )
    brute = shapely.distance(shapely.points(p)[:, None], segments[None, :])
    np.testing.assert_allclose(dist, brute.min(axis=1), rtol=1e-12)
    assert dist.max() > 400_000.0
    with pytest.raises(ValueError, match="finite coordinates"):
        _nearest_segments(graph, np.array([[p[0, 0], np.nan]]))


# -- the contracted graph against a plain Dijkstra on every vertex ---------------------------
# The brute force shares only the definition with the engine (the metric CRS the graph
# chose, and lengths as planar / point scale): it snaps by trying every segment, splits
# each segment at the points snapped onto it, and runs a textbook heapq Dijkstra on the
# full vertex graph. Vertices here are either identical or far apart, so no merging.


def _metric_lines(graph, roads):
    out = []
    for line in roads.geometry:
        c = np.asarray(line.coords)
        out.append(np.column_stack(graph.to_metric.transform(c[:, 0], c[:, 1])))
    return out


def _plain_dijkstra(adjacency, sources):
    import heapq  # noqa: PLC0415

    dist = dict(sources)
    count = itertools.count()  # breaks ties: nodes themselves are not comparable
    heap = [(d, next(count), node) for node, d in sources.items()]
    heapq.heapify(heap)
    while heap:
        d, _, node = heapq.heappop(heap)
        if d > dist[node]:
            continue
        for other, w in adjacency.get(node, ()):
            if d + w < dist.get(other, np.inf):
                dist[other] = d + w
                heapq.heappush(heap, (d + w, next(count), other))
    return dist


def _snap_everywhere(p, segments):
    """Leg, segment and position of the nearest point over every segment (brute force)."""
    best = (np.inf, -1, 0.0)
    for i, (a, b, _) in enumerate(segments):
        ab = b - a
        denom = ab @ ab
        t = 0.0 if denom == 0 else float(np.clip((p - a) @ ab / denom, 0.0, 1.0))
        foot = a + t * ab
        d = float(np.hypot(*(p - foot)))
        if d < best[0]:
            best = (d, i, t)
    d, i, t = best
    a, b, _ = segments[i]
    foot_x = a[0] + t * (b[0] - a[0])
    return d / float(tm_point_scale((p[0] + foot_x) / 2.0)), i, t


def brute_force_full(graph, roads, villages, facilities):
    """(villages x facilities) along-road distances on the full vertex graph, brute force."""
    segments = []
    for xy in _metric_lines(graph, roads):
        for a, b in itertools.pairwise(xy):
            planar = np.hypot(*(b - a))
            segments.append((a, b, planar / float(tm_point_scale((a[0] + b[0]) / 2.0))))
    splits: dict[int, list[tuple[float, str]]] = {i: [] for i in range(len(segments))}
    adjacency: dict[object, list[tuple[object, float]]] = {}

    def link(u, v, w):
        adjacency.setdefault(u, []).append((v, w))
        adjacency.setdefault(v, []).append((u, w))

    for kind, gdf in (("v", villages), ("f", facilities)):
        p = np.column_stack(graph.to_metric.transform(gdf.geometry.x, gdf.geometry.y))
        for j, q in enumerate(p):
            leg, i, t = _snap_everywhere(q, segments)
            splits[i].append((t, f"{kind}{j}"))
            link(f"{kind}{j}*", f"{kind}{j}", leg)
    for i, (a, b, length) in enumerate(segments):
        chain = [(0.0, tuple(a)), *sorted(splits[i]), (1.0, tuple(b))]
        for (t0, n0), (t1, n1) in itertools.pairwise(chain):
            link(n0, n1, (t1 - t0) * length)
    out = np.full((len(villages), len(facilities)), np.nan)
    for j in range(len(facilities)):
        dist = _plain_dijkstra(adjacency, {f"f{j}*": 0.0})
        for i in range(len(villages)):
            out[i, j] = dist.get(f"v{i}*", np.nan)
    return out


def polyline_network(seed: int, *, side: int = 5):
    """Links of several vertices on a jittered grid, and every awkward case at once."""
    rng = np.random.default_rng(seed)
    lon0, lat0, step = 95.70, 40.50, 0.012
    grid = {
        (i, j): np.array([lon0 + i * step, lat0 + j * step]) + rng.normal(0, 0.001, 2)
        for i in range(side)
        for j in range(side)
    }

    def wiggle(p, q, k):
        t = np.sort(rng.uniform(0, 1, k))[:, None]
        normal = np.array([-(q - p)[1], (q - p)[0]])
        return [p, *(p + t * (q - p) + rng.normal(0, 0.08, (k, 1)) * normal), q]

    roads = []
    for (i, j), p in grid.items():
        for di, dj in ((1, 0), (0, 1)):
            q = grid.get((i + di, j + dj))
            if q is None or rng.random() > 0.75:
                continue
            coords = wiggle(p, q, int(rng.integers(0, 6)))
            if len(coords) > 3 and rng.random() < 0.3:  # one link drawn as two features
                cut = int(rng.integers(1, len(coords) - 1))
                roads += [coords[: cut + 1], coords[cut:]]
            elif rng.random() < 0.15:  # drawn twice, once backwards
                roads += [coords, coords[::-1]]
            else:
                roads.append(coords)
    c = grid[(1, 1)]
    ring = [c + 0.004 * np.array([np.cos(a), np.sin(a)]) for a in np.linspace(0, 6, 7)]
    roads.append([c, *ring, c])  # a loop road starting and ending at a junction
    far = np.array([lon0 + side * step + 0.01, lat0])
    island = [far + 0.005 * np.array([np.cos(a), np.sin(a)]) for a in np.linspace(0, 5, 6)]
    roads += [[*island[:3]], [*island[2:], island[0]]]  # a ring of two features, no junction
    spot, step_ne, north = grid[(2, 2)], np.array([0.003, 0.001]), np.array([0.0, 0.02])
    roads.append([spot, spot, spot + step_ne, spot + step_ne])  # repeated vertices
    roads.append([far + north, far + north])  # a road that is one point
    roads.append([grid[(0, 0)] + [-0.003, 0.017], grid[(4, 3)] + [0.004, 0.002]])  # overpass
    box = (lon0 - 0.005, lat0 - 0.005, lon0 + side * step + 0.02, lat0 + side * step)
    villages = np.column_stack([rng.uniform(box[0], box[2], 40), rng.uniform(box[1], box[3], 40)])
    facilities = np.column_stack([rng.uniform(box[0], box[2], 4), rng.uniform(box[1], box[3], 4)])
    return lines(*roads), points(villages), points(facilities)


@pytest.mark.parametrize("seed", range(6))
def test_contracted_graph_matches_plain_dijkstra_on_every_vertex(seed):
    roads, villages, facilities = polyline_network(seed)
    graph = build_graph(roads, cell_m=150.0)
    expected = brute_force_full(graph, roads, villages, facilities)
    got = network_distance(graph, villages, facilities)["network_distance_m"].to_numpy()
    nearest = np.nanmin(np.where(np.isnan(expected), np.inf, expected), axis=1)
    nearest[np.isinf(nearest)] = np.nan
    np.testing.assert_array_equal(np.isnan(got), np.isnan(nearest))
    np.testing.assert_allclose(got, nearest, rtol=0, atol=1e-6, equal_nan=True)
    assert np.isnan(got).any()  # the ring far away is reached from nothing
    assert len(graph.edge_a) < len(graph.seg_a)  # and the graph was contracted


@pytest.mark.parametrize("seed", range(3))
def test_reach_along_roads_matches_plain_dijkstra(seed):
    roads, villages, facilities = polyline_network(seed + 10)
    graph = build_graph(roads)
    expected = brute_force_full(graph, roads, villages, facilities) <= 1500.0
    got = reach_along_roads(graph, villages, facilities, 1500.0, batch=3).toarray()
    np.testing.assert_array_equal(got, expected)
    assert got.any()
    assert not got.all()


def test_junctions_are_the_vertices_not_passed_through():
    """Degree counted by hand: junctions and dead ends, plus one vertex per bare ring."""
    roads, _, _ = polyline_network(3)
    graph = build_graph(roads)
    degree = np.bincount(np.concatenate([graph.seg_a, graph.seg_b]), minlength=len(graph.nodes))
    assert set(graph.junctions) >= set(np.flatnonzero((degree != 2) & (degree > 0)))
    bare_rings = len(graph.junctions) - ((degree != 2) & (degree > 0)).sum()
    assert bare_rings == 2  # the island ring, and the road that is one point
    assert (graph.edge_length > 0).sum() == len(graph.edge_length) - 1
    np.testing.assert_allclose(
        np.bincount(graph.seg_edge, weights=graph.seg_length), graph.edge_length, rtol=1e-12
    )


def test_a_ring_meeting_nothing_is_one_loop_edge():
    ring = [(96.0, 40.0), (96.01, 40.0), (96.01, 40.01), (96.0, 40.01), (96.0, 40.0)]
    graph = build_graph(lines(ring))
    assert len(graph.junctions) == 1
    assert graph.edge_a.tolist() == graph.edge_b.tolist() == [0]
    assert graph.edge_length[0] == pytest.approx(graph.seg_length.sum(), rel=1e-12)
    village, facility = points([(96.0101, 40.002)]), points([(96.0001, 40.008)])
    got = network_distance(graph, village, facility)["network_distance_m"].iloc[0]
    assert got == pytest.approx(brute_force_full(graph, lines(ring), village, facility)[0, 0])


def test_graph_round_trips_through_plain_arrays():
    roads, villages, facilities = polyline_network(4)
    graph = build_graph(roads)
    arrays = graph_to_arrays(graph)
    assert all(a.dtype != object for a in arrays.values())
    again = graph_from_arrays(arrays)
    pd.testing.assert_frame_equal(
        network_distance(again, villages, facilities), network_distance(graph, villages, facilities)
    )


def test_arrays_that_are_not_a_graph_are_refused():
    road = lines([(96.0, 40.0), (96.01, 40.0), (96.02, 40.01)])
    arrays = graph_to_arrays(build_graph(road))
    with pytest.raises(ValueError, match="`seg_edge` is missing"):
        graph_from_arrays({k: v for k, v in arrays.items() if k != "seg_edge"})
    with pytest.raises(ValueError, match="`edge_a` points outside"):
        graph_from_arrays({**arrays, "edge_a": arrays["edge_a"] + 5})
    with pytest.raises(ValueError, match="`seg_b` has 1 rows, not 2"):
        graph_from_arrays({**arrays, "seg_b": arrays["seg_b"][:1]})
    with pytest.raises(ValueError, match="format"):
        graph_from_arrays({**arrays, "format": np.array(GRAPH_FORMAT + 1)})
    with pytest.raises(ValueError, match="bad `crs`"):
        graph_from_arrays({**arrays, "crs": np.array("not a crs")})
    with pytest.raises(ValueError, match="`cell_m` <= 0"):
        graph_from_arrays({**arrays, "cell_m": np.array(0.0)})
    with pytest.raises(ValueError, match=r"`nodes` are not finite \(x, y\) pairs"):
        graph_from_arrays({**arrays, "nodes": arrays["nodes"][:, :1]})
    with pytest.raises(ValueError, match="adjacency is not a matrix"):
        graph_from_arrays({**arrays, "adj_indices": arrays["adj_indices"] + 1})
    with pytest.raises(ValueError, match="adjacency is not a matrix"):
        graph_from_arrays({**arrays, "adj_data": -arrays["adj_data"]})


def test_spatial_order_is_the_z_order_curve():
    from geo.network import _spatial_order  # noqa: PLC0415

    cells = np.array([(x, y) for x in range(4) for y in range(4)])
    shuffled = cells[np.random.default_rng(3).permutation(len(cells))]
    got = shuffled[_spatial_order(shuffled * 1000.0 + 5.0e5)]

    def z(x, y):
        return sum(((x >> b) & 1) << (2 * b) | ((y >> b) & 1) << (2 * b + 1) for b in range(2))

    assert [z(x, y) for x, y in got] == list(range(16))
    assert len(_spatial_order(np.zeros((0, 2)))) == 0
    assert _spatial_order(np.ones((3, 2))).tolist() == [0, 1, 2]  # all at one place


def test_points_far_from_dense_towns_are_answered_by_blocks_of_cells_exactly():
    """Two dense towns 100 km apart, fine cells fitted to the towns: a point in the empty
    land between them would scan millions of empty cells; it goes to blocks of cells and
    still gets the exact nearest segment (brute force)."""
    from geo.segment_grid import SegmentIndex, search  # noqa: PLC0415

    rng = np.random.default_rng(5)
    town = rng.uniform(0.0, 2_000.0, (3_000, 2))
    starts = np.concatenate([town, town + np.array([100_000.0, 0.0])])
    nodes = np.concatenate([starts, starts + rng.normal(0.0, 30.0, starts.shape)])
    seg_a, seg_b = np.arange(len(starts)), np.arange(len(starts)) + len(starts)
    index = SegmentIndex(nodes[seg_a], nodes[seg_b], cell=50.0)
    p = np.column_stack([rng.uniform(-20_000.0, 120_000.0, 300), rng.uniform(-30_000, 30_000, 300)])
    near_town = np.array([[1_000.0, 1_000.0], [101_000.0, 500.0]])
    seg, _t, squared = index.nearest(np.concatenate([p, near_town]))
    segments = shapely.linestrings(np.stack([nodes[seg_a], nodes[seg_b]], axis=1))
    q = shapely.points(np.concatenate([p, near_town]))
    brute = shapely.distance(q[:, None], segments[None, :]).min(axis=1)
    np.testing.assert_allclose(np.sqrt(squared), brute, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(shapely.distance(q, segments[seg]), brute, rtol=1e-12, atol=1e-9)
    # most of these points are more than 32 rings of 50 m cells from any road
    assert (search(index.fine, p, rings=32)[0] < 0).mean() > 0.9
    with pytest.raises(ValueError, match="without coordinates"):
        index.nearest(np.array([[np.inf, 0.0]]))


def test_a_grid_over_a_thin_extent_stays_within_its_cells():
    """Roads on one north-south line, some of them single points (median length 0): the
    chosen cell still gives a grid of at most MAX_CELLS cells, and snapping works."""
    from geo.segment_grid import MAX_CELLS  # noqa: PLC0415

    roads = gpd.GeoDataFrame(
        geometry=[LineString([(5e5, 4e6 + k), (5e5, 4e6 + k)]) for k in (0, 1e5, 2e5)]
        + [LineString([(5e5, 4e6), (5e5, 4e6 + 1)])],
        crs=32647,
    )
    graph = build_graph(roads, crs=roads.crs)
    assert graph.grid.fine.nx * graph.grid.fine.ny <= MAX_CELLS
    from geo.network import _nearest_segments  # noqa: PLC0415

    _seg, _t, dist = _nearest_segments(graph, np.array([[5e5 + 30.0, 4e6 + 50_000.0]]))
    assert dist[0] == pytest.approx(np.hypot(30.0, 50_000.0 - 1.0))
