"""Where to build next: maximal covering and set covering, solved exactly with HiGHS.

The numeric core works on a sparse demand x candidate coverage matrix (`pairs_within`
builds it from points on the ellipsoid; along roads it comes from bounded Dijkstra on
the road graph). Each problem is an integer program solved by HiGHS through
`scipy.optimize.milp`, with a time limit after which the best solution found and its
proven optimality gap are returned. A greedy solution, with its bound, is the fallback
and is always computed: the answer says which one was returned.

- **Maximal covering** (Church and ReVelle): choose at most `n_sites` candidates to
  maximise the weight of the demand points within reach of at least one chosen site.
  Demand already covered by existing facilities should be given weight 0 by the caller.
- **Set covering** (Toregas): the fewest candidates such that every demand point that
  any candidate can reach is covered; the others are listed as unreachable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csc_matrix, csr_matrix, hstack, identity
from scipy.spatial import cKDTree

from geo.coverage import ecef

__all__ = ["Solution", "greedy_max_cover", "max_cover", "pairs_within", "set_cover"]

_R = 6371008.8  # the mean radius the coverage engine turns chords into arcs with
_OPTIMAL = 0


@dataclass(frozen=True)
class Solution:
    """The sites chosen and how good the answer is.

    Attributes
    ----------
    chosen
        Candidate indices, in the order the greedy would add them when it found them.
    objective
        Weight covered (maximal covering) or number of sites (set covering).
    bound
        A proven bound on the best possible objective (upper for maximal covering,
        lower for set covering).
    gap
        Relative optimality gap, ``|bound - objective| / max(|objective|, 1e-9)``; 0 when
        proven optimal.
    method
        ``"HiGHS (optimal)"``, ``"HiGHS (time limit)"`` or ``"greedy"``.
    notes
        Plain sentences: stopped early, unreachable demand, solver status.
    uncoverable
        Demand points no candidate reaches (set covering).
    """

    chosen: NDArray[np.intp]
    objective: float
    bound: float
    gap: float
    method: str
    notes: list[str] = field(default_factory=list)
    uncoverable: NDArray[np.intp] = field(default_factory=lambda: np.zeros(0, dtype=np.intp))


def pairs_within(
    demand: NDArray[np.float64], candidates: NDArray[np.float64], within_m: float
) -> csr_matrix:
    """Return the boolean (demand x candidate) matrix of pairs at most `within_m` metres apart.

    Both inputs are (n, 2) lon/lat arrays; distances are arcs on the ellipsoid as the
    coverage engine measures them (Earth-centred chords turned back into arcs).

    Examples
    --------
    >>> d = np.array([[96.0, 40.0], [96.1, 40.0]])
    >>> pairs_within(d, np.array([[96.0, 40.01], [96.1, 40.01]]), 2000).toarray().tolist()
    [[True, False], [False, True]]
    """
    chord = 2.0 * _R * math.sin(min(within_m / (2.0 * _R), math.pi / 2)) + 1e-6
    tree = cKDTree(ecef(candidates[:, 0], candidates[:, 1]))
    points = ecef(demand[:, 0], demand[:, 1])
    found = tree.sparse_distance_matrix(cKDTree(points), chord, output_type="ndarray")
    arc = 2.0 * _R * np.arcsin(np.minimum(found["v"] / (2.0 * _R), 1.0))
    keep = arc <= within_m
    rows, cols = found["j"][keep], found["i"][keep]
    shape = (len(demand), len(candidates))
    return csr_matrix((np.ones(len(rows), dtype=bool), (rows, cols)), shape=shape)


def _gap(objective: float, bound: float) -> float:
    return abs(bound - objective) / max(abs(objective), 1e-9)


def greedy_max_cover(
    reach: csr_matrix, weights: NDArray[np.float64], n_sites: int
) -> tuple[NDArray[np.intp], float]:
    """Add, one at a time, the candidate covering the most uncovered weight; stop when none adds.

    Returns the chosen candidates and the weight they cover. The greedy covers at least
    ``1 - 1/e`` of the optimum, so ``objective / (1 - 1/e)`` bounds the optimum.
    """
    by_candidate = csc_matrix(reach, dtype=np.float64)
    left = np.asarray(weights, dtype=np.float64).copy()
    chosen: list[int] = []
    total = 0.0
    for _ in range(n_sites):
        gain = by_candidate.T @ left
        best = int(np.argmax(gain))
        if gain[best] <= 0:
            break
        chosen.append(best)
        total += float(gain[best])
        hit = by_candidate.indices[by_candidate.indptr[best] : by_candidate.indptr[best + 1]]
        left[hit] = 0.0
    return np.asarray(chosen, dtype=np.intp), total


def max_cover(
    reach: csr_matrix,
    weights: NDArray[np.float64],
    n_sites: int,
    *,
    time_limit: float = 60.0,
) -> Solution:
    """Choose at most `n_sites` candidates to cover the most demand weight (exact, HiGHS).

    Parameters
    ----------
    reach
        Boolean (demand x candidate) matrix: which candidate reaches which demand point.
    weights
        Demand weights (poor people, people, 1 per poor village, ...); 0 for demand that
        is already covered or does not count.
    n_sites
        How many new sites at most.
    time_limit
        Seconds HiGHS may take; then its best solution and proven gap are returned.

    Examples
    --------
    >>> reach = csr_matrix(np.array([[1, 0], [1, 0], [0, 1]], dtype=bool))
    >>> s = max_cover(reach, np.array([1.0, 1.0, 5.0]), 1)
    >>> s.chosen.tolist(), s.objective, s.method
    ([1], 5.0, 'HiGHS (optimal)')
    """
    weights = np.asarray(weights, dtype=np.float64)
    greedy, greedy_total = greedy_max_cover(reach, weights, n_sites)
    notes = []
    if len(greedy) < n_sites:
        notes.append(
            f"only {len(greedy)} of the {n_sites} sites asked for add any coverage: "
            "the others would cover nothing new"
        )
    useful = np.flatnonzero(weights > 0)
    if len(useful) == 0 or len(greedy) == 0:
        return Solution(greedy, greedy_total, greedy_total, 0.0, "greedy", notes)
    sub = csr_matrix(reach[useful], dtype=np.float64)
    n_dem, n_cand = sub.shape
    # variables: x (candidates, binary) then y (demand, 0-1); maximise w . y
    cost = np.concatenate([np.zeros(n_cand), -weights[useful]])
    covered = LinearConstraint(hstack([-sub, identity(n_dem, format="csr")]), -np.inf, 0.0)
    budget = LinearConstraint(
        csr_matrix(np.concatenate([np.ones(n_cand), np.zeros(n_dem)])), 0, min(n_sites, n_cand)
    )
    result = milp(
        cost,
        constraints=[covered, budget],
        integrality=np.concatenate([np.ones(n_cand), np.zeros(n_dem)]),
        bounds=Bounds(0, 1),
        options={"time_limit": time_limit, "mip_rel_gap": 0.0},
    )
    return _best_of(result, n_cand, greedy, greedy_total, notes)


def _best_of(
    result: object,
    n_cand: int,
    greedy: NDArray[np.intp],
    greedy_total: float,
    notes: list[str],
) -> Solution:
    """Return HiGHS's answer if it has one at least as good as the greedy's, else the greedy."""
    x = getattr(result, "x", None)
    bound_greedy = greedy_total / (1 - 1 / math.e)
    if x is None:
        notes.append(f"HiGHS found no solution ({getattr(result, 'message', '')}): greedy used")
        return Solution(
            greedy, greedy_total, bound_greedy, _gap(greedy_total, bound_greedy), "greedy", notes
        )
    chosen = np.flatnonzero(np.asarray(x[:n_cand]) > 0.5).astype(np.intp)  # noqa: PLR2004
    objective = -float(getattr(result, "fun", 0.0))
    dual = getattr(result, "mip_dual_bound", None)
    bound = -float(dual) if dual is not None and np.isfinite(dual) else objective
    optimal = getattr(result, "status", None) == _OPTIMAL
    if objective < greedy_total:
        notes.append("HiGHS stopped below the greedy's coverage: greedy used")
        return Solution(greedy, greedy_total, bound, _gap(greedy_total, bound), "greedy", notes)
    method = "HiGHS (optimal)" if optimal else "HiGHS (time limit)"
    return Solution(
        chosen, objective, bound, 0.0 if optimal else _gap(objective, bound), method, notes
    )


def set_cover(reach: csr_matrix, must: NDArray[np.bool_], *, time_limit: float = 60.0) -> Solution:
    """Choose the fewest candidates covering every demand point in `must` that any can reach.

    Demand in `must` that no candidate reaches is listed in `uncoverable`.

    Examples
    --------
    >>> reach = csr_matrix(np.array([[1, 0, 1], [0, 1, 1], [0, 0, 0]], dtype=bool))
    >>> s = set_cover(reach, np.array([True, True, True]))
    >>> s.chosen.tolist(), s.objective, s.uncoverable.tolist()
    ([2], 1.0, [2])
    """
    reachable = np.asarray(reach.sum(axis=1)).ravel() > 0
    need = np.flatnonzero(np.asarray(must, dtype=bool) & reachable)
    uncoverable = np.flatnonzero(np.asarray(must, dtype=bool) & ~reachable).astype(np.intp)
    notes = (
        [f"{len(uncoverable)} demand point(s) no candidate can reach"] if len(uncoverable) else []
    )
    if len(need) == 0:
        empty = np.zeros(0, dtype=np.intp)
        return Solution(empty, 0.0, 0.0, 0.0, "HiGHS (optimal)", notes, uncoverable)
    sub = csr_matrix(reach[need], dtype=np.float64)
    weights = np.zeros(reach.shape[0])
    weights[need] = 1.0
    greedy, _ = greedy_max_cover(reach, weights, reach.shape[1])
    result = milp(
        np.ones(sub.shape[1]),
        constraints=[LinearConstraint(sub, 1.0, np.inf)],
        integrality=np.ones(sub.shape[1]),
        bounds=Bounds(0, 1),
        options={"time_limit": time_limit, "mip_rel_gap": 0.0},
    )
    x = getattr(result, "x", None)
    if x is None or len(np.flatnonzero(np.asarray(x) > 0.5)) > len(greedy):  # noqa: PLR2004
        notes.append("HiGHS found no better solution in time: greedy used")
        return Solution(
            greedy, float(len(greedy)), 1.0, _gap(len(greedy), 1.0), "greedy", notes, uncoverable
        )
    chosen = np.flatnonzero(np.asarray(x) > 0.5).astype(np.intp)  # noqa: PLR2004
    dual = getattr(result, "mip_dual_bound", None)
    optimal = getattr(result, "status", None) == _OPTIMAL
    bound = math.ceil(float(dual) - 1e-9) if dual is not None and np.isfinite(dual) else 1.0
    gap = 0.0 if optimal else _gap(len(chosen), bound)
    method = "HiGHS (optimal)" if optimal else "HiGHS (time limit)"
    return Solution(chosen, float(len(chosen)), float(bound), gap, method, notes, uncoverable)
