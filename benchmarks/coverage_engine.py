"""Benchmark the coverage engine against the standard approaches, measured in the same run.

    .venv/bin/python benchmarks/coverage_engine.py          # every case (about 10 minutes, 2 cores)
    .venv/bin/python benchmarks/coverage_engine.py --quick  # the small cases only

Prints, per case, the engine's time, its ratio to each baseline (engine / baseline: below
1 the engine is faster), and the engine's peak memory. Machines here are noisy: read ratios,
not absolute times. Synthetic data: villages and facilities scattered over a 600 x 400 km box
around the prefecture (lon/lat, as the app stores them); for roads, a jittered square grid
of road segments, or of winding links of 5 to 20 vertices each (as real road layers draw
them), with the villages scattered over it (and 5 km beyond its edge).
Baselines get their data already projected to metres (the engine starts from lon/lat).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import rasterio
import shapely
from rasterio.features import rasterize
from scipy import ndimage
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import store
from geo import coverage, crs, network, raster
from store import derived

BOUNDS = (93.0, 38.5, 100.0, 42.0)
METRIC = crs.metric_crs(BOUNDS)
TO_M = pyproj.Transformer.from_crs(4326, METRIC, always_xy=True)
WITHIN = 2000.0


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    return 0


def measure(fn: Callable[[], object], repeat: int = 1) -> tuple[float, float]:
    """Best time of `repeat` runs (s) and peak extra memory (MiB), each run in a forked child."""
    best, peak = np.inf, 0.0
    for _ in range(repeat):
        gc.collect()
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # child
            os.close(read)
            base = _rss_kib("VmRSS:")
            t = time.perf_counter()
            fn()
            elapsed = time.perf_counter() - t
            extra = (_rss_kib("VmHWM:") - base) / 1024
            os.write(write, json.dumps([elapsed, extra]).encode())
            os._exit(0)
        os.close(write)
        with os.fdopen(read) as f:
            elapsed, extra = json.loads(f.read() or "[NaN, NaN]")
        os.waitpid(pid, 0)
        best, peak = min(best, elapsed), max(peak, extra)
    return best, peak


def points(n: int, seed: int, bounds: tuple[float, ...] = BOUNDS) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    lon = rng.uniform(bounds[0], bounds[2], n)
    lat = rng.uniform(bounds[1], bounds[3], n)
    return gpd.GeoDataFrame(geometry=shapely.points(lon, lat), crs=4326)


def _grid_links(n_links: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Both ends (metres) of about `n_links` links of a jittered square grid, and its step."""
    side = int(np.sqrt(n_links / 2)) + 1
    x0, y0 = TO_M.transform(BOUNDS[0], BOUNDS[1])
    x1, y1 = TO_M.transform(BOUNDS[2], BOUNDS[3])
    step = min((x1 - x0), (y1 - y0)) / side
    gx, gy = np.meshgrid(np.arange(side), np.arange(side))
    xy = np.column_stack([x0 + gx.ravel() * step, y0 + gy.ravel() * step])
    xy += rng.normal(0, step * 0.15, xy.shape)
    node = np.arange(side * side).reshape(side, side)
    a = np.concatenate([node[:, :-1].ravel(), node[:-1, :].ravel()])
    b = np.concatenate([node[:, 1:].ravel(), node[1:, :].ravel()])
    keep = rng.random(len(a)) < n_links / len(a)
    return np.stack([xy[a[keep]], xy[b[keep]]], axis=1), np.array(step)


def _lines(xy: np.ndarray, line: np.ndarray) -> gpd.GeoDataFrame:
    lon, lat = TO_M.transform(xy[:, 0], xy[:, 1], direction="INVERSE")
    geoms = shapely.linestrings(np.column_stack([lon, lat]), indices=line)
    return gpd.GeoDataFrame(geometry=geoms, crs=4326)


def road_grid(n_edges: int, seed: int) -> gpd.GeoDataFrame:
    """A jittered square grid of 2-point road segments with about `n_edges` edges."""
    ends, _ = _grid_links(n_edges, np.random.default_rng(seed))
    return _lines(ends.reshape(-1, 2), np.repeat(np.arange(len(ends)), 2))


def road_polylines(n_links: int, seed: int) -> gpd.GeoDataFrame:
    """The jittered grid with every link a winding polyline of 5 to 20 vertices."""
    rng = np.random.default_rng(seed)
    ends, step = _grid_links(n_links, rng)
    count = rng.integers(5, 21, len(ends))
    line = np.repeat(np.arange(len(ends)), count)
    first = np.cumsum(count) - count
    k = np.arange(len(line)) - first[line]
    t = (k + rng.uniform(-0.3, 0.3, len(line)) * (k > 0) * (k < count[line] - 1)) / (
        count[line] - 1
    )
    p, q = ends[line, 0], ends[line, 1]
    normal = (q - p)[:, ::-1] * np.array([-1.0, 1.0]) / np.hypot(*(q - p).T)[:, None]
    bend = step * 0.05 * np.sin(np.pi * t * rng.integers(1, 4, len(ends))[line])
    xy = p + t[:, None] * (q - p) + bend[:, None] * normal
    return _lines(xy, line)


def projected_xy(gdf: gpd.GeoDataFrame) -> np.ndarray:
    xy = shapely.get_coordinates(gdf.geometry.to_numpy())
    x, y = TO_M.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([x, y])


def row(case: str, engine: tuple[float, float], baselines: dict[str, float | None]) -> None:
    parts = [f"{case:34} engine {engine[0]:7.2f} s  peak {engine[1]:7.0f} MiB"]
    for name, t in baselines.items():
        parts.append(
            f"{name}: " + ("skipped" if t is None else f"{engine[0] / t:5.2f}x ({t:.2f} s)")
        )
    print("  ".join(parts), flush=True)


def straight_line(n_v: int, n_f: int, *, with_buffer: bool) -> None:
    villages, facilities = points(n_v, 1), points(n_f, 2)
    vm, fm = villages.to_crs(METRIC), facilities.to_crs(METRIC)
    vxy, fxy = projected_xy(villages), projected_xy(facilities)
    repeat = 3 if n_v <= 100_000 else 1
    engine = measure(lambda: coverage.coverage(villages, facilities, within_m=WITHIN), repeat)
    floor = measure(lambda: cKDTree(fxy).query(vxy, workers=-1), repeat)[0]
    sjoin = measure(lambda: gpd.sjoin_nearest(vm, fm, distance_col="d"), 1)[0]
    buffered = None
    if with_buffer:
        buffered = measure(lambda: vm.within(fm.buffer(WITHIN).union_all()), 1)[0]
    row(
        f"straight {n_v:,} x {n_f:,}",
        engine,
        {"kd-tree floor": floor, "sjoin_nearest": sjoin, "buffer+union+within": buffered},
    )


def _node_snap_floor(graph: network.RoadGraph, vxy: np.ndarray, fxy: np.ndarray) -> None:
    """Snap to the nearest junction, then multi-source Dijkstra on the junction graph."""
    tree = cKDTree(graph.nodes[graph.junctions])
    _, v_nodes = tree.query(vxy, workers=-1)
    _, f_nodes = tree.query(fxy, workers=-1)
    dist = dijkstra(graph.matrix, indices=np.unique(f_nodes), min_only=True)
    _ = dist[v_nodes]


def along_roads(
    n_v: int, n_links: int, n_f: int = 1000, *, polylines: bool = False, cache: bool = False
) -> None:
    """Engine against the node-snapping floor; the graph's build (and its disk cache)."""
    roads = road_polylines(n_links, 3) if polylines else road_grid(n_links, 3)
    # villages live where the roads are: the network's extent plus a 0.05 degree (5 km) margin
    b = tuple(roads.total_bounds + np.array([-0.05, -0.05, 0.05, 0.05]))
    villages, facilities = points(n_v, 4, b), points(n_f, 5, b)
    build = measure(lambda: network.build_graph(roads), 1)
    graph = network.build_graph(roads)
    to_m = graph.to_metric
    vxy = np.column_stack(to_m.transform(*shapely.get_coordinates(villages.geometry.to_numpy()).T))
    fxy = np.column_stack(
        to_m.transform(*shapely.get_coordinates(facilities.geometry.to_numpy()).T)
    )
    # the engine's compiled search is loaded once per process, as in a running server
    network.network_distance(graph, villages.iloc[:1], facilities.iloc[:1])
    engine = measure(lambda: network.network_distance(graph, villages, facilities), 1)
    floor = measure(lambda: _node_snap_floor(graph, vxy, fxy), 1)[0]
    links = "polyline links" if polylines else "edges"
    row(
        f"roads {n_v:,} x {n_f:,} on {len(roads):,} {links}",
        engine,
        {"node-snap + dijkstra floor": floor},
    )
    print(
        f"{'':34} (graph: {len(graph.seg_a):,} segments, {len(graph.edge_a):,} edges between "
        f"{len(graph.junctions):,} junctions; built in {build[0]:.2f} s, peak {build[1]:.0f} MiB)",
        flush=True,
    )
    if cache:
        _disk_cache(graph, build[0])


def _disk_cache(graph: network.RoadGraph, build_s: float) -> None:
    """Reading the graph back from the store's disk cache, against building it."""
    folder = Path(tempfile.mkdtemp())
    handle = store.create_store(folder / "bench.gpkg")
    arrays = network.graph_to_arrays(graph)
    write = measure(lambda: derived.write_arrays(handle, "road_graph", "bench", arrays), 1)
    size = (handle.derived_dir() / "road_graph.npz").stat().st_size / 2**20

    def load() -> network.RoadGraph:
        read = derived.read_arrays(handle, "road_graph", "bench")
        assert read is not None  # noqa: S101
        return network.graph_from_arrays(read)

    again = measure(load, 1)
    print(
        f"{'':34} (disk cache: {size:.0f} MiB written in {write[0]:.2f} s; read back in "
        f"{again[0]:.2f} s, peak {again[1]:.0f} MiB: {again[0] / build_s:.2f}x the build)",
        flush=True,
    )
    shutil.rmtree(folder)


def population(n_edges: int, size: int = 3000, *, with_buffer: bool) -> None:
    cell = 250.0
    x0, y0 = TO_M.transform(BOUNDS[0], BOUNDS[1])
    transform = rasterio.Affine(cell, 0.0, x0, 0.0, -cell, y0 + size * cell)
    rng = np.random.default_rng(6)
    pop = rng.gamma(0.3, 20.0, (size, size)).astype("float32")
    path = Path(tempfile.mkdtemp()) / "population.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=size,
        height=size,
        count=1,
        dtype="float32",
        crs=METRIC.to_wkt(),
        transform=transform,
    ) as dst:
        dst.write(pop, 1)
    roads = road_grid(n_edges, 7).to_crs(METRIC)
    roads = roads[roads.intersects(shapely.box(x0, y0, x0 + size * cell, y0 + size * cell))]

    def floor() -> float:
        burnt = rasterize(
            ((g, 1) for g in roads.geometry.to_numpy()),
            out_shape=pop.shape,
            transform=transform,
            all_touched=True,
            dtype="uint8",
        )
        dist = ndimage.distance_transform_edt(burnt == 0, sampling=(cell, cell))
        return float(pop[dist <= WITHIN].sum())

    def buffered() -> float:
        zone = roads.buffer(WITHIN).union_all()
        inside = rasterize([(zone, 1)], out_shape=pop.shape, transform=transform, dtype="uint8")
        return float(pop[inside == 1].sum())

    engine = measure(lambda: raster.population_within(path, roads, WITHIN), 1)
    base = {
        "distance-transform floor": measure(floor, 1)[0],
        "buffer+union+mask": measure(buffered, 1)[0] if with_buffer else None,
    }
    row(f"population {size * size / 1e6:.0f}M cells, {len(roads):,} edges", engine, base)
    shutil.rmtree(path.parent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small cases only")
    args = parser.parse_args()
    print(f"metric CRS: {METRIC.name}; {os.cpu_count()} cores; numpy {np.__version__}")
    straight_line(10_000, 1_000, with_buffer=True)
    straight_line(100_000, 10_000, with_buffer=True)
    along_roads(10_000, 100_000)
    along_roads(10_000, 30_000, polylines=True, cache=True)
    population(100_000, 1000, with_buffer=True)
    if args.quick:
        return
    straight_line(1_000_000, 100_000, with_buffer=False)
    along_roads(100_000, 100_000)
    along_roads(100_000, 1_000_000, cache=True)
    along_roads(100_000, 300_000, 10_000, polylines=True, cache=True)
    along_roads(500_000, 5_000_000, 10_000)  # a province: 500k villages on 5M links
    population(100_000, with_buffer=True)
    population(1_000_000, with_buffer=False)
    population(100_000, 10_000, with_buffer=False)  # 100M cells, read in bands: bounded memory


if __name__ == "__main__":
    main()
