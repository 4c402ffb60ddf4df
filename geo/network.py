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

Routing runs on the contracted graph: its nodes are the junctions and dead ends
(vertices where other than two segments meet; one vertex of a ring that meets no
other road), and each chain of segments between two of them is one edge as long as
the chain. The segments are kept for snapping: a point snapped onto a segment is at
a known distance along its chain from each of the chain's two ends.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
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

from geo import segment_grid, settings
from geo.crs import metric_crs, require_crs, tm_point_scale

__all__ = [
    "GRAPH_FORMAT",
    "RoadGraph",
    "Snap",
    "build_graph",
    "filter_roads",
    "graph_from_arrays",
    "graph_to_arrays",
    "network_distance",
    "reach_along_roads",
    "snap",
]

#: Blocks of points snapped at once: the cores this process may run on.
_THREADS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
_MIN_WEIGHT = 1e-9  # scipy's csgraph drops explicit zeros: keep zero-length joins as edges
#: Version of the array layout written by `graph_to_arrays` (read back only if equal).
GRAPH_FORMAT = 2


@dataclass(frozen=True)
class RoadGraph:
    """A road network in a metric CRS: segments for snapping, junctions for routing.

    Attributes
    ----------
    crs
        The metric CRS of `nodes`.
    to_metric
        Lon/lat (storage CRS) to `crs`.
    nodes
        (n, 2) vertex coordinates; vertices closer than the tolerance are one vertex.
    seg_a, seg_b
        Vertex index at each end of every straight segment (zero-length segments are
        left out, except on a road that is nothing else).
    seg_length
        True length of every segment in metres.
    grid
        The segments by the cells of a grid, for exact snapping.
    cell_m
        The side of the grid's cells, in metres of the metric CRS.
    seg_edge
        The contracted edge (chain) each segment belongs to.
    seg_from_a
        Distance along its edge from the edge's first junction to the segment's `seg_a`.
    seg_sign
        +1 where walking the segment from `seg_a` to `seg_b` moves away from the edge's
        first junction, -1 where it moves towards it.
    junctions
        (j,) vertex index of every routing node: junctions, dead ends, one vertex per ring.
    edge_a, edge_b
        Junction index (into `junctions`) at each end of every edge.
    edge_length
        True length of every edge in metres (the sum of its segments).
    matrix
        (j + 1, j + 1) sparse adjacency of the junctions with the shortest edge between
        two of them; the last row and column are free for a virtual source.
    """

    crs: pyproj.CRS
    to_metric: pyproj.Transformer
    nodes: NDArray[np.float64]
    seg_a: NDArray[np.intp]
    seg_b: NDArray[np.intp]
    seg_length: NDArray[np.float64]
    grid: segment_grid.SegmentIndex
    cell_m: float
    seg_edge: NDArray[np.intp]
    seg_from_a: NDArray[np.float64]
    seg_sign: NDArray[np.float64]
    junctions: NDArray[np.intp]
    edge_a: NDArray[np.intp]
    edge_b: NDArray[np.intp]
    edge_length: NDArray[np.float64]
    matrix: csr_matrix


@dataclass(frozen=True)
class Snap:
    """Where points meet the road graph: segment, position along it (0-1) and access leg (m)."""

    segment: NDArray[np.intp]
    t: NDArray[np.float64]
    distance: NDArray[np.float64]


@dataclass(frozen=True)
class _Chains:
    """The contraction of a segment graph: see the matching `RoadGraph` attributes."""

    seg_edge: NDArray[np.intp]
    seg_from_a: NDArray[np.float64]
    seg_sign: NDArray[np.float64]
    junctions: NDArray[np.intp]
    edge_a: NDArray[np.intp]
    edge_b: NDArray[np.intp]
    edge_length: NDArray[np.float64]


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
    """Label vertices so that any two within `tolerance` metres share a label.

    Labels run from 0 in the order the vertices first appear.
    """
    tree = cKDTree(xy, leafsize=32, balanced_tree=False, compact_nodes=False)
    pairs = tree.query_pairs(tolerance, output_type="ndarray")  # exact copies are pairs too
    n = len(xy)
    links = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, labels = connected_components(links, directed=False)
    return np.asarray(labels, dtype=np.intp)


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


# -- contraction: chains of pass-through vertices become one edge ----------------------------
#
# Each segment s has two arcs: s runs seg_a -> seg_b, S + s runs back. An arc "leaves"
# the segment end with its own number (end s is seg_a's end, end S + s is seg_b's end) and
# "arrives" at the other one, (arc + S) mod 2S. At a pass-through vertex (exactly two
# segment ends) the arc arriving through one end continues as the arc leaving the other.
# List ranking by pointer jumping then gives every arc the length left to the junction it
# runs into, and which arc arrives there: both in O(S log S), without walking the chains.


def _proper(a: NDArray[np.intp], b: NDArray[np.intp], n: int) -> NDArray[np.bool_]:
    """Segments to keep: not zero-length, or the only thing at their vertex."""
    proper = a != b
    on_proper = np.zeros(n, dtype=bool)
    on_proper[a[proper]] = True
    on_proper[b[proper]] = True
    return np.asarray(proper | ~on_proper[a], dtype=bool)


def _successors(ends: NDArray[np.intp], n: int, junction: NDArray[np.bool_]) -> NDArray[np.intp]:
    """Return the arc each arc continues as through a pass-through vertex (-1: a junction)."""
    two_s = len(ends)
    # the segment ends grouped by vertex (a counting sort: scipy's COO to CSR conversion)
    by_vertex = csr_matrix(
        (np.ones(two_s, dtype=np.int8), (ends, np.arange(two_s))), shape=(n, two_s)
    )
    order, first = by_vertex.indices, by_vertex.indptr[:-1]
    degree = np.diff(by_vertex.indptr)
    through = np.flatnonzero((degree == 2) & ~junction)  # noqa: PLR2004 (pass-through)
    e1, e2 = order[first[through]], order[first[through] + 1]
    succ = np.full(two_s, -1, dtype=np.intp)
    half = two_s // 2
    succ[(e1 + half) % two_s] = e2
    succ[(e2 + half) % two_s] = e1
    return succ


def _jump(
    succ: NDArray[np.intp],
    rest: NDArray[np.float64],
    last: NDArray[np.intp],
    arcs: NDArray[np.intp],
) -> NDArray[np.intp]:
    """Pointer-jump `arcs` to the ends of their chains, in place; return the arcs on rings.

    On return `rest[x]` is the length from arc x's start to the junction it runs into
    and `last[x]` the arc arriving there. A chain of m arcs takes ceil(log2 m) rounds;
    arcs still going after that many rounds for the longest possible chain run round a
    ring with no junction.
    """
    active = arcs[succ[arcs] >= 0]
    for _ in range(math.ceil(math.log2(max(len(succ), 2))) + 1):
        if len(active) == 0:
            break
        nxt = succ[active]
        rest[active] += rest[nxt]
        last[active] = last[nxt]
        succ[active] = succ[nxt]
        active = active[succ[active] >= 0]
    return active


def _ring_vertices(
    ring_arcs: NDArray[np.intp], succ0: NDArray[np.intp], ends: NDArray[np.intp]
) -> NDArray[np.intp]:
    """Return the lowest vertex of every ring (a closed chain that meets no junction)."""
    half = len(ends) // 2
    segments = np.unique(ring_arcs % half)
    local = np.full(half, -1, dtype=np.intp)
    local[segments] = np.arange(len(segments))
    following = local[succ0[segments] % half]  # the next segment round the ring
    m = len(segments)
    links = coo_matrix((np.ones(m), (np.arange(m), following)), shape=(m, m))
    _, ring = connected_components(links, directed=False)
    lowest = np.full(ring.max() + 1, np.iinfo(np.intp).max, dtype=np.intp)
    np.minimum.at(lowest, ring, np.minimum(ends[segments], ends[segments + half]))
    return lowest


def _contract(
    n: int, a: NDArray[np.intp], b: NDArray[np.intp], length: NDArray[np.float64]
) -> _Chains:
    """Contract the segments a-b (of n vertices) into edges between junctions."""
    half = len(a)
    ends = np.concatenate([a, b]).astype(np.intp)
    junction = np.bincount(ends, minlength=n) != 2  # noqa: PLR2004 (dead ends and junctions)
    succ = _successors(ends, n, junction)
    rest = np.concatenate([length, length])
    last = np.arange(2 * half, dtype=np.intp)
    rings = _jump(succ, rest, last, np.arange(2 * half, dtype=np.intp))
    if len(rings):
        succ0 = _successors(ends, n, junction)  # the jumps overwrote it
        junction[_ring_vertices(rings, succ0, ends)] = True
        arcs = np.unique(np.concatenate([rings % half, rings % half + half]))
        succ[arcs] = succ0[arcs]
        succ[arcs[junction[ends[(arcs + half) % (2 * half)]]]] = -1  # arriving at a ring's node
        rest[arcs] = np.concatenate([length, length])[arcs]
        last[arcs] = arcs
        _jump(succ, rest, last, arcs)
    last_f, last_b = last[:half], last[half:]
    key = np.minimum(last_f, last_b)  # one of the two arcs arriving at the chain's ends
    seg_edge, key_arc = pd.factorize(key)
    n_edges = len(key_arc)
    other_arc = np.empty(n_edges, dtype=np.intp)
    other_arc[seg_edge] = np.maximum(last_f, last_b)
    total = rest[:half] + rest[half:] - length
    edge_length = np.empty(n_edges)
    edge_length[seg_edge] = total
    arriving = np.concatenate([other_arc, np.asarray(key_arc, dtype=np.intp)])
    vertex, junction_of = np.unique(ends[(arriving + half) % (2 * half)], return_inverse=True)
    forward = last_f == key  # seg_a -> seg_b runs towards the edge's second junction
    return _Chains(
        seg_edge=np.asarray(seg_edge, dtype=np.intp),
        seg_from_a=np.maximum(np.where(forward, total - rest[:half], rest[:half]), 0.0),
        seg_sign=np.where(forward, 1.0, -1.0),
        junctions=vertex.astype(np.intp),
        edge_a=junction_of[:n_edges].astype(np.intp),
        edge_b=junction_of[n_edges:].astype(np.intp),
        edge_length=edge_length,
    )


_Segments = tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.float64]]


def _segments(
    roads: gpd.GeoDataFrame, crs: pyproj.CRS | None, tolerance: float
) -> tuple[pyproj.CRS, NDArray[np.float64], _Segments]:
    """Return the metric CRS, the vertices, and each segment's two vertices and true length."""
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
    a, b = node_of[start], node_of[end]
    keep = _proper(a, b, len(nodes))
    return crs, nodes, (a[keep], b[keep], length[keep])


def _assemble(
    crs: pyproj.CRS,
    nodes: NDArray[np.float64],
    segments: _Segments,
    chains: _Chains,
    cell_m: float,
    matrix: csr_matrix | None = None,
) -> RoadGraph:
    """Return the `RoadGraph` of these parts (the adjacency derived too unless given)."""
    a, b, length = segments
    grid = segment_grid.SegmentIndex(nodes[a], nodes[b], cell_m)
    if matrix is None:
        n = len(chains.junctions)
        matrix = _adjacency(n, chains.edge_a, chains.edge_b, chains.edge_length)
    return RoadGraph(
        crs=crs,
        to_metric=pyproj.Transformer.from_crs(settings.storage_crs, crs, always_xy=True),
        nodes=nodes,
        seg_a=a,
        seg_b=b,
        seg_length=length,
        grid=grid,
        cell_m=grid.cell,
        seg_edge=chains.seg_edge,
        seg_from_a=chains.seg_from_a,
        seg_sign=chains.seg_sign,
        junctions=chains.junctions,
        edge_a=chains.edge_a,
        edge_b=chains.edge_b,
        edge_length=chains.edge_length,
        matrix=matrix,
    )


def build_graph(
    roads: gpd.GeoDataFrame,
    *,
    crs: pyproj.CRS | None = None,
    tolerance: float = 0.5,
    cell_m: float | None = None,
) -> RoadGraph:
    """Build the graph of `roads` (LineStrings or MultiLineStrings, any CRS).

    Parameters
    ----------
    roads
        The road lines.
    crs
        The metric CRS to work in; default: chosen from the roads' extent.
    tolerance
        Vertices closer than this (metres) are one vertex.
    cell_m
        Side of the cells of the grid that finds the nearest segment (a speed setting;
        results are exact). Default: about six segments in each cell that holds any.

    Raises
    ------
    ValueError
        If `roads` holds no line.

    Examples
    --------
    A road of three vertices and a spur from its middle: three edges, four junctions.

    >>> roads = gpd.GeoDataFrame(geometry=[
    ...     shapely.LineString([(95.0, 40.0), (95.01, 40.0), (95.02, 40.0), (95.03, 40.0)]),
    ...     shapely.LineString([(95.01, 40.0), (95.01, 40.01)])], crs=4326)
    >>> graph = build_graph(roads)
    >>> len(graph.seg_a), len(graph.edge_a), len(graph.junctions)
    (4, 3, 4)
    """
    require_crs(roads, "roads")
    crs, nodes, segments = _segments(roads, crs, tolerance)
    if cell_m is None:
        cell_m = segment_grid.choose_cell(nodes[segments[0]], nodes[segments[1]])
    return _assemble(crs, nodes, segments, _contract(len(nodes), *segments), cell_m)


# -- (de)serialisation: plain arrays, for a cache on disk ------------------------------------

_ARRAYS = {
    "nodes": (np.float64, 2),
    "seg_a": (np.intp, 1),
    "seg_b": (np.intp, 1),
    "seg_length": (np.float64, 1),
    "seg_edge": (np.intp, 1),
    "seg_from_a": (np.float64, 1),
    "seg_sign": (np.float64, 1),
    "junctions": (np.intp, 1),
    "edge_a": (np.intp, 1),
    "edge_b": (np.intp, 1),
    "edge_length": (np.float64, 1),
    "adj_indptr": (np.intp, 1),
    "adj_indices": (np.intp, 1),
    "adj_data": (np.float64, 1),
}


def graph_to_arrays(graph: RoadGraph) -> dict[str, NDArray[np.generic]]:
    """Return `graph` as plain arrays (no objects): what `graph_from_arrays` reads back.

    The snapping grid is left out: it is rebuilt from the segments when read back.

    Examples
    --------
    >>> road = gpd.GeoDataFrame(geometry=[shapely.LineString([(95, 40), (95.1, 40)])], crs=4326)
    >>> graph = build_graph(road)
    >>> again = graph_from_arrays(graph_to_arrays(graph))
    >>> bool(again.edge_length[0] == graph.edge_length[0]), again.crs == graph.crs
    (True, True)
    """
    arrays: dict[str, NDArray[np.generic]] = {}
    stored = {
        "adj_indptr": graph.matrix.indptr,
        "adj_indices": graph.matrix.indices,
        "adj_data": graph.matrix.data,
    }
    for name in _ARRAYS:
        value = np.asarray(stored[name] if name in stored else getattr(graph, name))
        if value.dtype.kind == "i" and (value.size == 0 or value.max() < 2**31):
            value = value.astype(np.int32)  # half the bytes on disk; read back as intp
        arrays[name] = value
    arrays["seg_sign"] = graph.seg_sign.astype(np.int8)
    arrays["crs"] = np.array(graph.crs.to_wkt())
    arrays["cell_m"] = np.array(graph.cell_m)
    arrays["format"] = np.array(GRAPH_FORMAT)
    return arrays


def _checked(arrays: Mapping[str, NDArray[np.generic]]) -> dict[str, NDArray[np.generic]]:
    """Return the graph's arrays cast, or raise listing every way they are not a graph's."""
    needed = (*_ARRAYS, "crs", "cell_m", "format")
    problems = [f"`{name}` is missing" for name in needed if name not in arrays]
    if problems:
        raise ValueError("not a road graph: " + "; ".join(problems))
    if arrays["format"].shape != () or int(arrays["format"]) != GRAPH_FORMAT:
        raise ValueError(f"not a road graph of format {GRAPH_FORMAT}")
    out: dict[str, NDArray[np.generic]] = {}
    for name, (dtype, ndim) in _ARRAYS.items():
        value = arrays[name]
        if value.ndim != ndim or not np.can_cast(value.dtype, dtype, casting="same_kind"):
            problems.append(f"`{name}` is not a {ndim}-d array of {np.dtype(dtype).name}")
        else:
            out[name] = value.astype(dtype, copy=False)
    if problems:
        raise ValueError("not a road graph: " + "; ".join(problems))
    return out


def _consistent(g: Mapping[str, NDArray[np.generic]]) -> list[str]:
    """Return every way the arrays of a graph contradict each other."""
    n_seg, n_edge, n_node = len(g["seg_a"]), len(g["edge_a"]), len(g["nodes"])
    n_junction = len(g["junctions"])
    problems = [
        f"`{name}` has {len(g[name])} rows, not {size}"
        for names, size in (
            (("seg_b", "seg_length", "seg_edge", "seg_from_a", "seg_sign"), n_seg),
            (("edge_b", "edge_length"), n_edge),
        )
        for name in names
        if len(g[name]) != size
    ]
    for name, size in (
        ("seg_a", n_node), ("seg_b", n_node), ("junctions", n_node), ("seg_edge", n_edge),
        ("edge_a", n_junction), ("edge_b", n_junction),
    ):  # fmt: skip
        if len(g[name]) and (g[name].min() < 0 or g[name].max() >= size):
            problems.append(f"`{name}` points outside 0..{size - 1}")
    lengths = np.concatenate([g["seg_length"], g["edge_length"], g["seg_from_a"]])
    if n_seg == 0 or not (np.isfinite(lengths).all() and (lengths >= 0).all()):
        problems.append("lengths are missing, negative or not finite")
    if g["nodes"].shape[1:] != (2,) or not np.isfinite(g["nodes"]).all():
        problems.append("`nodes` are not finite (x, y) pairs")
    if not np.isin(g["seg_sign"], (-1.0, 1.0)).all():
        problems.append("`seg_sign` holds other values than -1 and 1")
    return problems + _adjacency_problems(g, n_junction)


def _adjacency_problems(g: Mapping[str, NDArray[np.generic]], n: int) -> list[str]:
    """Return every way the stored adjacency is not an (n + 1)-square CSR matrix of lengths."""
    indptr, indices = g["adj_indptr"], g["adj_indices"]
    data = np.asarray(g["adj_data"], dtype=np.float64)
    if (
        len(indptr) != n + 2
        or indptr[0] != 0
        or indptr[-1] != len(indices)
        or indptr[-2] != indptr[-1]  # the virtual source's row stays empty
        or len(data) != len(indices)
        or (np.diff(indptr) < 0).any()
        or (len(indices) and (indices.min() < 0 or indices.max() >= n))
        or not (np.isfinite(data).all() and (data > 0).all())
    ):
        return ["the adjacency is not a matrix of the junctions' edge lengths"]
    return []


def graph_from_arrays(arrays: Mapping[str, NDArray[np.generic]]) -> RoadGraph:
    """Return the `RoadGraph` that `graph_to_arrays` turned into `arrays`.

    Raises
    ------
    ValueError
        If `arrays` are not a road graph of this format (missing, inconsistent, or
        out-of-range arrays; the message lists every problem).
    """
    g = _checked(arrays)
    problems = _consistent(g)
    try:
        crs = pyproj.CRS.from_wkt(str(arrays["crs"]))
        cell_m = float(arrays["cell_m"])
    except (pyproj.exceptions.CRSError, TypeError, ValueError) as exc:
        problems.append(f"bad `crs` or `cell_m` ({exc})")
    if problems or not cell_m > 0:
        raise ValueError("not a road graph: " + "; ".join(problems or ["`cell_m` <= 0"]))
    chains = _Chains(**{name: g[name] for name in _Chains.__dataclass_fields__})  # type: ignore[arg-type]
    segments = (g["seg_a"], g["seg_b"], g["seg_length"])
    n = len(g["junctions"]) + 1
    matrix = csr_matrix((g["adj_data"], g["adj_indices"], g["adj_indptr"]), shape=(n, n))
    return _assemble(crs, g["nodes"], segments, chains, cell_m, matrix)  # type: ignore[arg-type]


# -- snapping --------------------------------------------------------------------------------


def _spatial_order(p: NDArray[np.float64]) -> NDArray[np.intp]:
    """Return an order of the points along a Z-order curve: near points come together.

    The grid's search runs faster on points in this order than on points in random
    order (the cells that near points read stay in cache).
    """
    if len(p) == 0:
        return np.zeros(0, dtype=np.intp)
    x, y = p[:, 0], p[:, 1]  # one axis at a time: reductions along rows of two are slow
    low_x, low_y = float(x.min()), float(y.min())
    scale = 65535.0 / max(float(x.max()) - low_x, float(y.max()) - low_y, 1e-9)
    key = np.zeros(len(p), dtype=np.uint64)
    for axis, (c, low) in enumerate(((x, low_x), (y, low_y))):
        # through int32: numpy converts floats to it several times faster than to uint64
        cell = ((c - low) * scale).astype(np.int32).astype(np.uint64)
        for shift, mask in ((8, 0x00FF00FF), (4, 0x0F0F0F0F), (2, 0x33333333), (1, 0x55555555)):
            cell = (cell | (cell << np.uint64(shift))) & np.uint64(mask)  # spread the bits apart
        key |= cell << np.uint64(axis)
    return np.argsort(key, kind="stable")


_Feet = tuple[NDArray[np.intp], NDArray[np.float64], NDArray[np.float64]]


def _nearest_segments(graph: RoadGraph, p: NDArray[np.float64], block: int = 4096) -> _Feet:
    """Nearest segment to each point, exactly, with its foot's position and planar distance.

    The points go in spatial order, in blocks of `block` points (the cells a block
    reads stay in cache), the blocks on all cores: the grid's search releases the GIL.

    Raises
    ------
    ValueError
        If a point's coordinates are not finite.
    """
    if not np.isfinite(p).all():
        raise ValueError("cannot snap a point without finite coordinates onto the roads")
    order = _spatial_order(p)
    blocks = [order[i : i + block] for i in range(0, len(p), block)]

    def feet(points: NDArray[np.intp]) -> segment_grid.Found:
        return graph.grid.nearest(p[points])

    if len(blocks) <= 1:
        found = [feet(b) for b in blocks]
    else:
        with ThreadPoolExecutor(max_workers=min(_THREADS, len(blocks))) as pool:
            found = list(pool.map(feet, blocks))
    seg = np.empty(len(p), dtype=np.intp)
    t, squared = np.empty(len(p)), np.empty(len(p))
    if found:
        seg[order] = np.concatenate([f[0] for f in found])
        t[order] = np.concatenate([f[1] for f in found])
        squared[order] = np.concatenate([f[2] for f in found])
    return seg, t, np.sqrt(squared)


def snap(graph: RoadGraph, points: gpd.GeoDataFrame) -> Snap:
    """Snap points (any CRS) onto the nearest point of the nearest road segment."""
    return _snap_metric(graph, _metric(graph, points))


def _metric(graph: RoadGraph, points: gpd.GeoDataFrame) -> NDArray[np.float64]:
    """Return the (n, 2) coordinates of points (any CRS) in the graph's metric CRS."""
    lonlat = shapely.get_coordinates(points.to_crs(settings.storage_crs).geometry.to_numpy())
    return np.column_stack(graph.to_metric.transform(lonlat[:, 0], lonlat[:, 1]))


def _snap_metric(graph: RoadGraph, p: NDArray[np.float64]) -> Snap:
    """Snap points given in the graph's metric CRS (see `snap`)."""
    seg, t, planar = _nearest_segments(graph, p)
    a_x, b_x = graph.nodes[graph.seg_a[seg], 0], graph.nodes[graph.seg_b[seg], 0]
    mid_x = (p[:, 0] + a_x + t * (b_x - a_x)) / 2.0
    return Snap(segment=seg, t=t, distance=planar / tm_point_scale(mid_x))


# -- shortest paths on the contracted graph --------------------------------------------------


@dataclass(frozen=True)
class _OnEdge:
    """Snapped points on the contracted graph: their edge and how far along it they are."""

    edge: NDArray[np.intp]
    from_a: NDArray[np.float64]  # along the edge from its first junction
    from_b: NDArray[np.float64]  # along the edge from its second junction
    leg: NDArray[np.float64]  # the access leg


def _on_edges(graph: RoadGraph, snapped: Snap) -> _OnEdge:
    """Return where snapped points sit along the edges of the contracted graph."""
    seg = snapped.segment
    edge = graph.seg_edge[seg]
    total = graph.edge_length[edge]
    along = graph.seg_from_a[seg] + graph.seg_sign[seg] * snapped.t * graph.seg_length[seg]
    from_a = np.clip(along, 0.0, total)
    return _OnEdge(edge=edge, from_a=from_a, from_b=total - from_a, leg=snapped.distance)


def _both_on_edges(
    graph: RoadGraph, targets: gpd.GeoDataFrame, sources: gpd.GeoDataFrame
) -> tuple[_OnEdge, _OnEdge]:
    """Snap targets and sources in one search (one spatial order for both) onto the edges."""
    xy_t = _metric(graph, targets)
    both = _on_edges(graph, _snap_metric(graph, np.concatenate([xy_t, _metric(graph, sources)])))
    n = len(xy_t)
    parts = [
        _OnEdge(
            edge=both.edge[cut], from_a=both.from_a[cut], from_b=both.from_b[cut], leg=both.leg[cut]
        )
        for cut in (slice(None, n), slice(n, None))
    ]
    return parts[0], parts[1]


def _from_sources(graph: RoadGraph, sources: _OnEdge) -> NDArray[np.float64]:
    """Shortest distance from the nearest source (access leg included) to every junction."""
    n = len(graph.junctions)
    lead = np.full(n, np.inf)  # the virtual source's edge to each junction
    np.minimum.at(lead, graph.edge_a[sources.edge], sources.leg + sources.from_a)
    np.minimum.at(lead, graph.edge_b[sources.edge], sources.leg + sources.from_b)
    to = np.flatnonzero(np.isfinite(lead))
    matrix = graph.matrix  # its last row is empty: append the source's edges there
    indptr = matrix.indptr.copy()
    indptr[-1] += len(to)
    with_source = csr_matrix(
        (
            np.concatenate([matrix.data, np.maximum(lead[to], _MIN_WEIGHT)]),
            np.concatenate([matrix.indices, to]),
            indptr,
        ),
        shape=matrix.shape,
    )
    dist = dijkstra(with_source, directed=True, indices=n)
    return np.asarray(dist[:n], dtype=np.float64)


def _same_edge(targets: _OnEdge, sources: _OnEdge) -> NDArray[np.float64]:
    """Distance along a shared edge from the nearest source on it to each target (inf if none).

    One sweep each way along every edge (sorted by position): the best source behind a
    target minimises ``leg - position``, the best ahead ``leg + position``.
    """
    n_t = len(targets.edge)
    frame = pd.DataFrame(
        {
            "edge": np.concatenate([targets.edge, sources.edge]),
            "at": np.concatenate([targets.from_a, sources.from_a]),
            "behind": np.concatenate([np.full(n_t, np.inf), sources.leg - sources.from_a]),
            "ahead": np.concatenate([np.full(n_t, np.inf), sources.leg + sources.from_a]),
            "row": np.arange(n_t + len(sources.edge)),
        }
    )
    frame = frame[frame["edge"].isin(sources.edge)].sort_values(["edge", "at"], kind="stable")
    by_edge = frame.groupby("edge", sort=False)
    behind = by_edge["behind"].cummin().to_numpy() + frame["at"].to_numpy()
    ahead = frame.iloc[::-1].groupby("edge", sort=False)["ahead"].cummin().to_numpy()[::-1]
    best = np.minimum(behind, ahead - frame["at"].to_numpy())
    out = np.full(n_t + len(sources.edge), np.inf)
    out[frame["row"].to_numpy()] = best
    return out[:n_t]


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
    targets, sources = _both_on_edges(graph, villages, facilities)
    node_dist = _from_sources(graph, sources)
    via_a = node_dist[graph.edge_a[targets.edge]] + targets.from_a
    via_b = node_dist[graph.edge_b[targets.edge]] + targets.from_b
    along = np.minimum(np.minimum(via_a, via_b), _same_edge(targets, sources))
    total = targets.leg + along
    out["network_distance_m"] = np.where(np.isfinite(total), total, np.nan)
    out["snap_distance_m"] = targets.leg
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
    Each site's paths come from Dijkstra bounded by `within_m`, run from both junctions
    of the edge it snaps onto, a batch of sites at a time: never a dense distance
    matrix of every site to every junction.
    """
    targets, sources = _both_on_edges(graph, villages, sites)
    ends_t = np.column_stack([graph.edge_a[targets.edge], graph.edge_b[targets.edge]])
    rows, cols = [], []
    n = len(graph.junctions)
    for first in range(0, len(sites), batch):
        block = np.arange(first, min(first + batch, len(sites)))
        block = block[sources.leg[block] <= within_m]
        if len(block) == 0:
            continue
        edge = sources.edge[block]
        starts = np.concatenate([graph.edge_a[edge], graph.edge_b[edge]])
        from_node = dijkstra(graph.matrix, directed=True, indices=starts, limit=within_m)[:, :n]
        half = len(block)
        for k, site in enumerate(block):
            lead_a = sources.leg[site] + sources.from_a[site]
            lead_b = sources.leg[site] + sources.from_b[site]
            node = np.minimum(lead_a + from_node[k], lead_b + from_node[half + k])
            along = np.minimum(
                node[ends_t[:, 0]] + targets.from_a, node[ends_t[:, 1]] + targets.from_b
            )
            same = targets.edge == edge[k]
            along[same] = np.minimum(
                along[same],
                sources.leg[site] + np.abs(targets.from_a[same] - sources.from_a[site]),
            )
            hit = np.flatnonzero(targets.leg + along <= within_m)
            rows.append(hit)
            cols.append(np.full(len(hit), site))
    row = np.concatenate(rows) if rows else np.zeros(0, dtype=np.intp)
    col = np.concatenate(cols) if cols else np.zeros(0, dtype=np.intp)
    shape = (len(villages), len(sites))
    return csr_matrix((np.ones(len(row), dtype=bool), (row, col)), shape=shape)
