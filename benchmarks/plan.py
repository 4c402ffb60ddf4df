"""Benchmark the planning optimiser against a bare sparse `scipy.optimize.milp` and spopt.

    .venv/bin/python benchmarks/plan.py                 # 10k villages, 5k candidates, N = 20
    .venv/bin/python benchmarks/plan.py --villages 2000 --candidates 1000 --no-spopt

Synthetic: villages in oases (clusters) over a 600 x 400 km box, candidates scattered over
the same oases, weights = poor people (0 for two villages in three). Prints the time to
build the coverage pairs, our solve (`geo.optimise.max_cover`: greedy first, then HiGHS
with a time limit) and the bare floor (the same integer program handed straight to
`milp`), their ratio, and the greedy's objective as a share of the optimum. Then the same
against spopt's MCLP (its own model, built from the dense distance matrix it needs, solved by
PuLP's CBC), and along roads: villages and candidates on a synthetic road grid, the coverage
pairs from bounded Dijkstra (`geo.network.reach_along_roads`), our solve against the floor.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import geopandas as gpd
import numpy as np
import shapely
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_matrix, hstack, identity

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.coverage_engine import road_grid
from geo import network
from geo.optimise import greedy_max_cover, max_cover, pairs_within

T = TypeVar("T")


def oases(rng: np.random.Generator, n: int, centres: np.ndarray, spread: float) -> np.ndarray:
    """N lon/lat points around random oasis centres."""
    pick = rng.integers(0, len(centres), n)
    return centres[pick] + rng.normal(0.0, spread, (n, 2))


def bare_milp(reach: csr_matrix, weights: np.ndarray, n_sites: int) -> float:
    """The same maximal covering program, handed straight to `milp`: the floor."""
    useful = np.flatnonzero(weights > 0)
    sub = csr_matrix(reach[useful], dtype=np.float64)
    n_dem, n_cand = sub.shape
    result = milp(
        np.concatenate([np.zeros(n_cand), -weights[useful]]),
        constraints=[
            LinearConstraint(hstack([-sub, identity(n_dem, format="csr")]), -np.inf, 0.0),
            LinearConstraint(
                csr_matrix(np.concatenate([np.ones(n_cand), np.zeros(n_dem)])), 0, n_sites
            ),
        ],
        integrality=np.concatenate([np.ones(n_cand), np.zeros(n_dem)]),
        bounds=Bounds(0, 1),
        options={"mip_rel_gap": 0.0},
    )
    return -float(result.fun)


def spopt_mclp(villages: np.ndarray, candidates: np.ndarray, weights: np.ndarray, n: int) -> float:
    """Spopt's maximal covering: a dense geodesic-arc cost matrix, its model, CBC."""
    import warnings  # noqa: PLC0415

    import pulp  # noqa: PLC0415
    from spopt.locate import MCLP  # noqa: PLC0415

    from geo.coverage import _R, ecef  # noqa: PLC0415

    a = ecef(villages[:, 0], villages[:, 1])
    b = ecef(candidates[:, 0], candidates[:, 1])
    chord = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2))
    cost = 2.0 * _R * np.arcsin(np.minimum(chord / (2.0 * _R), 1.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # spopt 0.7 on PuLP 3's old API
        model = MCLP.from_cost_matrix(cost, weights, 2000.0, p_facilities=n)
        model = model.solve(pulp.PULP_CBC_CMD(msg=False))
    return float(pulp.value(model.problem.objective))


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    """Return what `fn` returns and the seconds it took."""
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def near(roads: gpd.GeoDataFrame, n: int, seed: int) -> gpd.GeoDataFrame:
    """N points beside random roads (within about 300 m), as villages and sites are."""
    rng = np.random.default_rng(seed)
    lines = roads.geometry.to_numpy()[rng.integers(0, len(roads), n)]
    on = shapely.line_interpolate_point(lines, rng.random(n), normalized=True)
    xy = shapely.get_coordinates(on) + rng.normal(0.0, 0.003, (n, 2))
    return gpd.GeoDataFrame(geometry=shapely.points(xy), crs=4326)


def along_roads(args: argparse.Namespace, weights: np.ndarray) -> None:
    """Villages and candidates beside the roads of an oasis (a 90 x 60 km window), 2 km."""
    grid = road_grid(50_000, 3)
    minx, miny, maxx, maxy = grid.total_bounds
    roads = grid.cx[minx : minx + 0.15 * (maxx - minx), miny : miny + 0.15 * (maxy - miny)]
    villages, candidates = near(roads, args.villages, 4), near(roads, args.candidates, 5)
    graph = network.build_graph(roads)
    reach, pairs_s = timed(lambda: network.reach_along_roads(graph, villages, candidates, 2000.0))
    ours, ours_s = timed(lambda: max_cover(reach, weights, args.sites, time_limit=600))
    floor, floor_s = timed(lambda: bare_milp(reach, weights, args.sites))
    _, greedy = greedy_max_cover(reach, weights, args.sites)
    print(
        f"| along roads, {len(roads):,} road edges ({reach.nnz:,} pairs by bounded Dijkstra in "
        f"{pairs_s:.2f} s) | {ours_s:.2f} s ({ours.method}) | {floor_s:.2f} s | "
        f"{ours_s / floor_s:.2f}x | {greedy / max(ours.objective, 1e-9):.4f} |"
    )
    if abs(ours.objective - floor) > 1e-6 * max(floor, 1):
        raise SystemExit(f"different optima along roads: ours {ours.objective}, floor {floor}")


def main() -> None:
    """Run the case and print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--villages", type=int, default=10_000)
    parser.add_argument("--candidates", type=int, default=5_000)
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--no-spopt", action="store_true", help="skip spopt (minutes at 10k)")
    args = parser.parse_args()
    rng = np.random.default_rng(2015)
    centres = np.column_stack([rng.uniform(93, 100, 60), rng.uniform(38.5, 42, 60)])
    villages = oases(rng, args.villages, centres, 0.03)
    candidates = oases(rng, args.candidates, centres, 0.03)
    weights = np.where(rng.random(args.villages) < 1 / 3, rng.integers(5, 300, args.villages), 0)
    start = time.perf_counter()
    reach = pairs_within(villages, candidates, 2000.0)
    pairs_s = time.perf_counter() - start
    start = time.perf_counter()
    ours = max_cover(reach, weights.astype(float), args.sites, time_limit=600)
    ours_s = time.perf_counter() - start
    start = time.perf_counter()
    floor = bare_milp(reach, weights.astype(float), args.sites)
    floor_s = time.perf_counter() - start
    _, greedy = greedy_max_cover(reach, weights.astype(float), args.sites)
    print("| case | ours | bare sparse milp | ratio | greedy / optimum |\n|---|---|---|---|---|")
    print(
        f"| {args.villages:,} villages x {args.candidates:,} candidates, N = {args.sites}, "
        f"straight line ({reach.nnz:,} pairs in {pairs_s:.2f} s) | {ours_s:.2f} s "
        f"({ours.method}) | {floor_s:.2f} s | {ours_s / floor_s:.2f}x | "
        f"{greedy / ours.objective:.4f} |"
    )
    if abs(ours.objective - floor) > 1e-6 * max(floor, 1):
        msg = f"different optima: ours {ours.objective}, floor {floor}"
        raise SystemExit(msg)
    along_roads(args, weights.astype(float))
    if not args.no_spopt:
        theirs, theirs_s = timed(
            lambda: spopt_mclp(villages, candidates, weights.astype(float), args.sites)
        )
        print(
            f"\nspopt MCLP (dense cost matrix, CBC): {theirs_s:.1f} s, objective {theirs:g}; "
            f"ours {ours_s:.2f} s, objective {ours.objective:g}: spopt takes "
            f"{theirs_s / ours_s:.0f}x our time"
        )
        if abs(theirs - ours.objective) > 1e-6 * max(theirs, 1):
            raise SystemExit(f"different optima: ours {ours.objective}, spopt {theirs}")


if __name__ == "__main__":
    main()
