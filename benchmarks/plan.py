"""Benchmark the planning optimiser against a bare sparse `scipy.optimize.milp`, in one run.

    .venv/bin/python benchmarks/plan.py                 # 10k villages, 5k candidates, N = 20
    .venv/bin/python benchmarks/plan.py --villages 2000 --candidates 1000

Synthetic: villages in oases (clusters) over a 600 x 400 km box, candidates scattered over
the same oases, weights = poor people (0 for two villages in three). Prints the time to
build the coverage pairs, our solve (`geo.optimise.max_cover`: greedy first, then HiGHS
with a time limit) and the bare floor (the same integer program handed straight to
`milp`), their ratio, and the greedy's objective as a share of the optimum.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_matrix, hstack, identity

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from geo.optimise import greedy_max_cover, max_cover, pairs_within


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


def main() -> None:
    """Run the case and print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--villages", type=int, default=10_000)
    parser.add_argument("--candidates", type=int, default=5_000)
    parser.add_argument("--sites", type=int, default=20)
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


if __name__ == "__main__":
    main()
