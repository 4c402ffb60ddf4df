"""Along-road distances: a road graph, snapping onto road edges, multi-source shortest paths.

Definition (exact): ``network_distance_m`` = access leg (village -> nearest point on
the nearest road edge, straight) + shortest length along roads + access leg
(facility -> its nearest point on the nearest road edge). Points snap onto
edges, not only to vertices. Roads connect only where they share a vertex
(within `tolerance`, 0.5 m): lines that cross without one (bridges, overpasses)
do not connect. A village with no path gets an empty distance.

Lengths are planar in the metric CRS chosen from the data's extent, divided by
the transverse Mercator point scale at each segment, so they agree with the
ellipsoid to about 1e-6.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from geo import settings
from geo.crs import metric_crs, require_crs, tm_point_scale

__all__ = [
    "RoadGraph",
    "Snap",
    "build_graph",
    "filter_roads",
    "network_distance",
    "reach_along_roads",
    "snap",
]

_MIN_WEIGHT = 1e-9  # scipy's csgraph drops explicit zeros: keep zero-length joins as edges


@dataclass(frozen=True)
class RoadGraph:
    """A road network as an undirected graph in a metric CRS.

    Attributes
    ----------
    crs
        The metric CRS of `nodes`.
    to_metric
        Lon/lat (storage CRS) to `crs`.
    nodes
        (n, 2) node coordinates; vertices closer than the tolerance are one node.
    seg_a, seg_b
        Node index at each end of every straight segment.
    seg_length
        True length of every segment in metres.
    pieces
        KD-tree over the midpoints of short pieces (at most `piece_m` long) of the
        segments, for exact snapping onto long segments.
    piece_segment
        The segment each piece belongs to.
    piece_m
        The longest piece, in metres.
    matrix
        (n + 1, n + 1) sparse adjacency with the shortest segment between two nodes;
        the last row and column are free for a virtual source.
    """

    crs: pyproj.CRS
    to_metric: pyproj.Transformer
    nodes: NDArray[np.float64]
    seg_a: NDArray[np.intp]
    seg_b: NDArray[np.intp]
    seg_length: NDArray[np.float64]
    pieces: cKDTree
    piece_segment: NDArray[np.intp]
    piece_m: float
    matrix: csr_matrix


@dataclass(frozen=True)
class Snap:
    """Where points meet the road graph: segment, position along it (0-1) and access leg (m)."""

    segment: NDArray[np.intp]
    t: NDArray[np.float64]
    distance: NDArray[np.float64]


def filter_roads(
    roads: gpd.GeoDataFrame, *, all_season: bool = False, classes: list[str] | None = None
) -> gpd.GeoDataFrame:
    """Keep all-season roads only and/or the given road classes.

    Examples
    --------
    >>> r = gpd.GeoDataFrame({"all_season": [True, False], "road_class": ["county", "village"]},
    ...                      geometry=[shapely.LineString([(0, 0), (1, 1)])] * 2, crs=4326)
    >>> len(filter_roads(r, all_season=True)), len(filter_roads(r, classes=["village"]))
    (1, 1)
    """
    keep = pd.Series(data=True, index=roads.index)
    if all_season:
        keep &= roads["all_season"].astype(bool)
    if classes is not None:
        keep &= roads["road_class"].isin(classes)
    return roads[keep]


def _merge_nodes(xy: NDArray[np.float64], tolerance: float) -> NDArray[np.intp]:
    """Label vertices so that any two within `tolerance` metres share a label."""
    inverse, uniques = pd.factorize(xy[:, 0] + 1j * xy[:, 1])  # exact duplicates, by hashing
    exact = np.column_stack([uniques.real, uniques.imag])
    pairs = cKDTree(exact).query_pairs(tolerance, output_type="ndarray")
    if len(pairs) == 0:
        return np.asarray(inverse, dtype=np.intp)
    n = len(exact)
    links = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, labels = connected_components(links, directed=False)
    return np.asarray(labels[inverse], dtype=np.intp)


def _lightest(
    rows: NDArray[np.intp], cols: NDArray[np.intp], weights: NDArray[np.float64], n: int
) -> csr_matrix:
    """Sparse (n, n) matrix keeping the lightest weight of repeated (row, col) entries."""
    keys, first = pd.factorize(rows.astype(np.int64) * n + cols)
    lightest = np.full(len(first), np.inf)
    np.minimum.at(lightest, keys, weights)
    return csr_matrix((np.maximum(lightest, _MIN_WEIGHT), (first // n, first % n)), shape=(n, n))


def _adjacency(
    n: int, a: NDArray[np.intp], b: NDArray[np.intp], w: NDArray[np.float64]
) -> csr_matrix:
    """Symmetric adjacency of n nodes plus a free last row and column for a virtual source."""
    keep = a != b
    rows = np.concatenate([a[keep], b[keep]])
    cols = np.concatenate([b[keep], a[keep]])
    return _lightest(rows, cols, np.concatenate([w[keep], w[keep]]), n + 1)


def _pieces(
    start: NDArray[np.float64], end: NDArray[np.float64], piece_m: float
) -> tuple[cKDTree, NDArray[np.intp]]:
    """Midpoints of pieces at most `piece_m` long along every segment, and their segment."""
    planar = np.hypot(*(end - start).T)
    count = np.maximum(np.ceil(planar / piece_m), 1).astype(np.intp)
    segment = np.repeat(np.arange(len(start)), count)
    first = np.repeat(np.cumsum(count) - count, count)
    t = (np.arange(len(segment)) - first + 0.5) / count[segment]
    mid = start[segment] + t[:, None] * (end - start)[segment]
    return cKDTree(mid), segment


def build_graph(
    roads: gpd.GeoDataFrame,
    *,
    crs: pyproj.CRS | None = None,
    tolerance: float = 0.5,
    piece_m: float = 200.0,
) -> RoadGraph:
    """Build the graph of `roads` (LineStrings or MultiLineStrings, any CRS).

    Parameters
    ----------
    roads
        The road lines.
    crs
        The metric CRS to work in; default: chosen from the roads' extent.
    tolerance
        Vertices closer than this (metres) are one node.
    piece_m
        Length of the pieces indexed for snapping (a speed setting; results are exact).

    Raises
    ------
    ValueError
        If `roads` holds no line.
    """
    require_crs(roads, "roads")
    lines = roads.to_crs(settings.storage_crs).geometry.to_numpy()
    if (shapely.get_type_id(lines) != 1).any():
        lines = shapely.get_parts(lines)
        lines = lines[shapely.get_type_id(lines) == 1]
    if len(lines) == 0:
        raise ValueError("`roads` holds no line: there is no network to route on")
    lonlat, line_of = shapely.get_coordinates(lines, return_index=True)
    crs = crs or metric_crs([*lonlat.min(axis=0), *lonlat.max(axis=0)])
    to_metric = pyproj.Transformer.from_crs(settings.storage_crs, crs, always_xy=True)
    xy = np.column_stack(to_metric.transform(lonlat[:, 0], lonlat[:, 1]))
    node_of = _merge_nodes(xy, tolerance)
    nodes = np.zeros((node_of.max() + 1, 2))
    nodes[node_of] = xy
    start = np.flatnonzero(line_of[1:] == line_of[:-1])
    end = start + 1
    planar = np.hypot(*(xy[end] - xy[start]).T)
    length = planar / tm_point_scale((xy[start, 0] + xy[end, 0]) / 2.0)
    pieces, piece_segment = _pieces(xy[start], xy[end], piece_m)
    a, b = node_of[start], node_of[end]
    return RoadGraph(
        crs=crs,
        to_metric=to_metric,
        nodes=nodes,
        seg_a=a,
        seg_b=b,
        seg_length=length,
        pieces=pieces,
        piece_segment=piece_segment,
        piece_m=piece_m,
        matrix=_adjacency(len(nodes), a, b, length),
    )


def _foot(
    graph: RoadGraph, p: NDArray[np.float64], seg: NDArray[np.intp]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Position (0-1) of the nearest point of segment `seg` to `p`, and the planar distance."""
    a, b = graph.nodes[graph.seg_a[seg]], graph.nodes[graph.seg_b[seg]]
    ab = b - a
    denom = np.einsum("...j,...j->...", ab, ab)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(denom > 0, np.einsum("...j,...j->...", p - a, ab) / denom, 0.0)
    t = np.clip(t, 0.0, 1.0)
    return t, np.hypot(*np.moveaxis(p - (a + t[..., None] * ab), -1, 0))


def _nearest_among(
    graph: RoadGraph, p: NDArray[np.float64], k: int
) -> tuple[NDArray[np.intp], NDArray[np.float64], NDArray[np.bool_]]:
    """Nearest segment among those of the k nearest pieces; whether that is certain."""
    reach, idx = graph.pieces.query(p, k=k, workers=-1)
    reach, idx = reach.reshape(len(p), k), idx.reshape(len(p), k)
    candidates = graph.piece_segment[np.minimum(idx, graph.pieces.n - 1)]
    _, dist = _foot(graph, p[:, None, :], candidates)
    best = dist.argmin(axis=1)
    rows = np.arange(len(p))
    best_dist = dist[rows, best]
    # a segment with no piece among the k nearest is at least reach[k] - piece_m / 2 away
    certain = (best_dist <= reach[:, -1] - graph.piece_m / 2.0) | (k >= graph.pieces.n)
    return candidates[rows, best], best_dist, certain


def _nearest_segments(
    graph: RoadGraph, p: NDArray[np.float64], k: int = 8, rounds: int = 2
) -> NDArray[np.intp]:
    """Index of the nearest segment to each point, exactly.

    Candidates come from the nearest piece midpoints, in rounds of growing k; a point is
    settled when no piece farther away could hold a nearer segment. The few points left
    (far from every road) search a ball of the certain radius.
    """
    seg = np.empty(len(p), dtype=np.intp)
    todo = np.arange(len(p))
    for _ in range(rounds):
        found, dist, certain = _nearest_among(graph, p[todo], min(k, graph.pieces.n))
        seg[todo] = found
        todo, dist = todo[~certain], dist[~certain]
        k *= 8
        if len(todo) == 0:
            return seg
    for i, d in zip(todo, dist, strict=True):
        ball = graph.pieces.query_ball_point(p[i], d + graph.piece_m / 2.0)
        near = np.unique(graph.piece_segment[ball])
        _, dists = _foot(graph, np.broadcast_to(p[i], (len(near), 2)), near)
        seg[i] = near[dists.argmin()]
    return seg


def snap(graph: RoadGraph, points: gpd.GeoDataFrame) -> Snap:
    """Snap points (any CRS) onto the nearest point of the nearest road segment."""
    lonlat = shapely.get_coordinates(points.to_crs(settings.storage_crs).geometry.to_numpy())
    p = np.column_stack(graph.to_metric.transform(lonlat[:, 0], lonlat[:, 1]))
    seg = _nearest_segments(graph, p)
    t, planar = _foot(graph, p, seg)
    a_x, b_x = graph.nodes[graph.seg_a[seg], 0], graph.nodes[graph.seg_b[seg], 0]
    mid_x = (p[:, 0] + a_x + t * (b_x - a_x)) / 2.0
    return Snap(segment=seg, t=t, distance=planar / tm_point_scale(mid_x))


def _from_sources(graph: RoadGraph, sources: Snap) -> NDArray[np.float64]:
    """Shortest distance from the nearest source (access leg included) to every node."""
    n = len(graph.nodes)
    length = graph.seg_length[sources.segment]
    cols = np.concatenate([graph.seg_a[sources.segment], graph.seg_b[sources.segment]])
    weights = np.concatenate(
        [
            sources.distance + sources.t * length,
            sources.distance + (1.0 - sources.t) * length,
        ]
    )
    source_edges = _lightest(np.full(len(cols), n), cols, weights, n + 1)
    dist = dijkstra(graph.matrix + source_edges, directed=True, indices=n)
    return np.asarray(dist[:n], dtype=np.float64)


def _same_segment(graph: RoadGraph, targets: Snap, sources: Snap) -> NDArray[np.float64]:
    """Distance along a shared segment from a source to each target on it (inf if none)."""
    out = np.full(len(targets.segment), np.inf)
    src = pd.DataFrame({"segment": sources.segment, "t_s": sources.t, "leg": sources.distance})
    tgt = pd.DataFrame({"segment": targets.segment, "t": targets.t, "row": np.arange(len(out))})
    both = tgt.merge(src, on="segment")
    if both.empty:
        return out
    length = graph.seg_length[both["segment"].to_numpy()]
    both["d"] = both["leg"] + np.abs(both["t"] - both["t_s"]) * length
    best = both.groupby("row")["d"].min()
    out[best.index.to_numpy()] = best.to_numpy()
    return out


def network_distance(
    graph: RoadGraph, villages: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame
) -> pd.DataFrame:
    """Return `network_distance_m` and `snap_distance_m` for each village, indexed like it.

    Raises
    ------
    ValueError
        If `facilities` is empty.
    """
    require_crs(villages, "villages")
    require_crs(facilities, "facilities")
    if facilities.empty:
        raise ValueError("`facilities` is empty: there is nothing to route to")
    out = pd.DataFrame(
        {"network_distance_m": np.nan, "snap_distance_m": np.nan}, index=villages.index
    )
    if villages.empty:
        return out
    targets, sources = snap(graph, villages), snap(graph, facilities)
    node_dist = _from_sources(graph, sources)
    length = graph.seg_length[targets.segment]
    via_a = node_dist[graph.seg_a[targets.segment]] + targets.t * length
    via_b = node_dist[graph.seg_b[targets.segment]] + (1.0 - targets.t) * length
    along = np.minimum(np.minimum(via_a, via_b), _same_segment(graph, targets, sources))
    total = targets.distance + along
    out["network_distance_m"] = np.where(np.isfinite(total), total, np.nan)
    out["snap_distance_m"] = targets.distance
    return out


def reach_along_roads(
    graph: RoadGraph,
    villages: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    within_m: float,
    *,
    batch: int = 32,
) -> csr_matrix:
    """Return the boolean (village x site) matrix of pairs at most `within_m` apart along roads.

    The distance is the engine's (`network_distance`): access leg + path + access leg.
    Each site's paths come from Dijkstra bounded by `within_m`, run from both ends of the
    segment it snaps onto, a batch of sites at a time: never a dense distance matrix
    of every site to every node.
    """
    targets, sources = snap(graph, villages), snap(graph, sites)
    length_t = graph.seg_length[targets.segment]
    ends_t = np.column_stack([graph.seg_a[targets.segment], graph.seg_b[targets.segment]])
    offset_t = np.column_stack([targets.t * length_t, (1.0 - targets.t) * length_t])
    rows, cols = [], []
    n = len(graph.nodes)
    for first in range(0, len(sites), batch):
        block = np.arange(first, min(first + batch, len(sites)))
        block = block[sources.distance[block] <= within_m]
        if len(block) == 0:
            continue
        seg = sources.segment[block]
        length_s = graph.seg_length[seg]
        starts = np.concatenate([graph.seg_a[seg], graph.seg_b[seg]])
        from_node = dijkstra(graph.matrix, directed=True, indices=starts, limit=within_m)[:, :n]
        half = len(block)
        for k, site in enumerate(block):
            lead_a = sources.distance[site] + sources.t[site] * length_s[k]
            lead_b = sources.distance[site] + (1.0 - sources.t[site]) * length_s[k]
            node = np.minimum(lead_a + from_node[k], lead_b + from_node[half + k])
            along = np.minimum(
                node[ends_t[:, 0]] + offset_t[:, 0], node[ends_t[:, 1]] + offset_t[:, 1]
            )
            same = targets.segment == seg[k]
            along[same] = np.minimum(
                along[same],
                sources.distance[site] + np.abs(targets.t[same] - sources.t[site]) * length_t[same],
            )
            hit = np.flatnonzero(targets.distance + along <= within_m)
            rows.append(hit)
            cols.append(np.full(len(hit), site))
    row = np.concatenate(rows) if rows else np.zeros(0, dtype=np.intp)
    col = np.concatenate(cols) if cols else np.zeros(0, dtype=np.intp)
    shape = (len(villages), len(sites))
    return csr_matrix((np.ones(len(row), dtype=bool), (row, col)), shape=shape)
