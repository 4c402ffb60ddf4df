"""The compiled loops of `geo.segment_grid` (numba is imported only when they are used).

`frame` is (x0, y0, cell) and `shape` (nx, ny); a segment is (x, y, dx, dy): its first
point and the step to its end; `lists` are a grid's (start, segment, coords). Compiled
copies are cached beside this file: the first call in a process loads them (a fraction
of a second), the first call ever compiles them (a few seconds).
"""

from __future__ import annotations

import numba
import numpy as np
from numpy.typing import NDArray

Frame = tuple[float, float, float]
Shape = tuple[int, int]
Lists = tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]
Best = tuple[float, int, float]  # squared distance, segment, position on it
#: Fine cells by coarse cell: where each coarse cell's list begins, the fine cells, the
#: coarse cell's side in fine cells, and the coarse cells across and up.
Coarse = tuple[NDArray[np.int64], NDArray[np.int64], int, int, int]


@numba.njit(cache=True, nogil=True)
def _cells_of(step: NDArray[np.float64], frame: Frame, shape: Shape, out: NDArray[np.int64]) -> int:
    """Write the cells the segment `step` passes through into `out`; return how many.

    The segment is walked in steps of at most half a cell; each step's box, widened by a
    millionth of a cell against rounding, adds the cells it touches (never more than four).
    """
    ax, ay, dx, dy = step[0], step[1], step[2], step[3]
    x0, y0, cell = frame
    nx, ny = shape
    pad = 1e-6 * cell
    steps = 1
    if abs(dx) > 0.5 * cell or abs(dy) > 0.5 * cell:
        steps = int(np.ceil(np.hypot(dx, dy) / (0.5 * cell)))
    k = 0
    for part in range(steps):
        t0, t1 = part / steps, (part + 1) / steps
        xa, xb = ax + t0 * dx, ax + t1 * dx
        ya, yb = ay + t0 * dy, ay + t1 * dy
        i0 = min(max(int((min(xa, xb) - pad - x0) // cell), 0), nx - 1)
        i1 = min(max(int((max(xa, xb) + pad - x0) // cell), 0), nx - 1)
        j0 = min(max(int((min(ya, yb) - pad - y0) // cell), 0), ny - 1)
        j1 = min(max(int((max(ya, yb) + pad - y0) // cell), 0), ny - 1)
        for j in range(j0, j1 + 1):
            for i in range(i0, i1 + 1):
                c = j * nx + i
                seen = False
                for back in range(max(k - 8, 0) if steps > 1 else k, k):
                    seen = seen or out[back] == c  # a line never comes back to a cell it left
                if not seen:
                    out[k] = c
                    k += 1
    return k


@numba.njit(cache=True, nogil=True)
def list_segments(
    steps: NDArray[np.float64], frame: Frame, shape: Shape
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Each cell's segments: where its list begins, and the lists one after another."""
    cell = frame[2]
    longest = 0.0
    for s in range(len(steps)):
        longest = max(longest, np.hypot(steps[s, 2], steps[s, 3]))
    out = np.empty(4 * (int(np.ceil(longest / (0.5 * cell))) + 1), np.int64)
    start = np.zeros(shape[0] * shape[1] + 1, np.int64)
    for s in range(len(steps)):
        for k in range(_cells_of(steps[s], frame, shape, out)):
            start[out[k] + 1] += 1
    for c in range(shape[0] * shape[1]):
        start[c + 1] += start[c]
    fill = start[:-1].copy()
    segment = np.empty(start[-1], np.int64)
    for s in range(len(steps)):
        for k in range(_cells_of(steps[s], frame, shape, out)):
            segment[fill[out[k]]] = s
            fill[out[k]] += 1
    return start, segment


@numba.njit(cache=True, nogil=True, inline="always")
def _scan(lists: Lists, c: int, x: float, y: float, best: Best) -> Best:
    """Return the nearest of cell `c`'s segments to (x, y) if nearer than `best`, else `best`."""
    start, segment, coords = lists
    squared_best, found, at = best
    for e in range(start[c], start[c + 1]):
        dx, dy = coords[e, 2], coords[e, 3]
        wx, wy = x - coords[e, 0], y - coords[e, 1]
        denom = dx * dx + dy * dy
        t = (wx * dx + wy * dy) / denom if denom > 0.0 else 0.0
        t = min(max(t, 0.0), 1.0)
        wx -= t * dx
        wy -= t * dy
        squared = wx * wx + wy * wy
        if squared < squared_best:
            squared_best, found, at = squared, segment[e], t
    return squared_best, found, at


@numba.njit(cache=True, nogil=True)
def _ring(shape: Shape, centre: tuple[int, int, int], out: NDArray[np.int64]) -> int:
    """Write the cells at Chebyshev distance r from cell (ci, cj) into `out`; return how many.

    `centre` is (ci, cj, r); `out` holds at least 8 r + 1 cells.
    """
    nx, ny = shape
    ci, cj, r = centre
    k = 0
    for j in range(max(cj - r, 0), min(cj + r, ny - 1) + 1):
        if r == 0 or abs(j - cj) == r:  # a whole row of the ring
            for i in range(max(ci - r, 0), min(ci + r, nx - 1) + 1):
                out[k] = j * nx + i
                k += 1
        else:  # its two ends
            if ci - r >= 0:
                out[k] = j * nx + ci - r
                k += 1
            if ci + r < nx:
                out[k] = j * nx + ci + r
                k += 1
    return k


@numba.njit(cache=True, nogil=True)
def _beyond(frame: Frame, shape: Shape, centre: tuple[int, int, int], x: float, y: float) -> float:
    """Distance from (x, y) to the nearest cell outside the square searched (inf: none left)."""
    x0, y0, cell = frame
    nx, ny = shape
    ci, cj, r = centre
    edge = np.inf
    if ci - r > 0:
        edge = min(edge, x - (x0 + (ci - r) * cell))
    if ci + r < nx - 1:
        edge = min(edge, x0 + (ci + r + 1) * cell - x)
    if cj - r > 0:
        edge = min(edge, y - (y0 + (cj - r) * cell))
    if cj + r < ny - 1:
        edge = min(edge, y0 + (cj + r + 1) * cell - y)
    return edge


@numba.njit(cache=True, nogil=True)
def _stop(
    frame: Frame,
    shape: Shape,
    centre: tuple[int, int, int],
    point: tuple[float, float],
    best: float,
) -> bool:
    """Whether the square of rings searched so far settles `point` (its best: `best`)."""
    edge = _beyond(frame, shape, centre, point[0], point[1])
    return edge == np.inf or (edge >= 0.0 and best <= edge * edge)


@numba.njit(cache=True, nogil=True)
def search(
    p: NDArray[np.float64], lists: Lists, frame: Frame, shape: Shape, rings: int
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """Nearest segment to each point: rings of cells around the point's own, nearest first.

    A point stops when its nearest segment so far is no farther than every cell not yet
    searched (points beyond the grid start from the nearest cell inside it), or gets
    segment -1 when that takes more than `rings` rings.
    """
    x0, y0, cell = frame
    n = len(p)
    out_seg, out_t, out_squared = np.empty(n, np.int64), np.empty(n), np.empty(n)
    cells = np.empty(8 * min(rings, shape[0] + shape[1]) + 8, np.int64)
    for q in range(n):
        x, y = p[q, 0], p[q, 1]
        ci = min(max(int((x - x0) // cell), 0), shape[0] - 1)
        cj = min(max(int((y - y0) // cell), 0), shape[1] - 1)
        best = (np.inf, -1, 0.0)
        r = 0
        while True:
            for k in range(_ring(shape, (ci, cj, r), cells)):
                best = _scan(lists, cells[k], x, y, best)
            if _stop(frame, shape, (ci, cj, r), (x, y), best[0]):
                break
            r += 1
            if r > rings:
                best = (np.inf, -1, 0.0)
                break
        out_squared[q], out_seg[q], out_t[q] = best
    return out_seg, out_t, out_squared


@numba.njit(cache=True, nogil=True)
def search_coarse(
    p: NDArray[np.float64], lists: Lists, frame: Frame, shape: Shape, coarse: Coarse
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """Nearest segment to each point, by rings of coarse cells, each a block of fine cells.

    A fine cell is scanned only if its box is nearer than the nearest segment so far, so
    a point far from every segment passes over the empty land a coarse cell at a time.
    """
    x0, y0, cell = frame
    nx = shape[0]
    start, fine, factor, ncx, ncy = coarse
    big, big_shape = (x0, y0, cell * factor), (ncx, ncy)
    pad = 1e-6 * cell  # as the segments were listed
    n = len(p)
    out_seg, out_t, out_squared = np.empty(n, np.int64), np.empty(n), np.empty(n)
    cells = np.empty(8 * (ncx + ncy) + 8, np.int64)
    for q in range(n):
        x, y = p[q, 0], p[q, 1]
        ci = min(max(int((x - x0) // big[2]), 0), ncx - 1)
        cj = min(max(int((y - y0) // big[2]), 0), ncy - 1)
        best = (np.inf, -1, 0.0)
        r = 0
        while True:
            for k in range(_ring(big_shape, (ci, cj, r), cells)):
                for e in range(start[cells[k]], start[cells[k] + 1]):
                    i, j = fine[e] % nx, fine[e] // nx
                    dx = max(x0 + i * cell - pad - x, 0.0, x - (x0 + (i + 1) * cell + pad))
                    dy = max(y0 + j * cell - pad - y, 0.0, y - (y0 + (j + 1) * cell + pad))
                    if dx * dx + dy * dy < best[0]:
                        best = _scan(lists, fine[e], x, y, best)
            if _stop(big, big_shape, (ci, cj, r), (x, y), best[0]):
                break
            r += 1
        out_squared[q], out_seg[q], out_t[q] = best
    return out_seg, out_t, out_squared
