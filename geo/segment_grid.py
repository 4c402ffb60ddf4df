"""Exact nearest segment to many points: a uniform grid of cells over the segments.

Each segment is listed in every cell it passes through, with its coordinates beside it
(a cell's segments are read from one stretch of memory). A point's search looks at the
cells in square rings around its own, nearest ring first, and stops as soon as the
nearest segment found is no farther than the edge of the square searched: every
segment outside lies in cells beyond that edge. So the answer is exact, whatever the
cell size; the size only sets the speed. Points far from every segment, where rings of
empty cells would run into the millions, are searched by blocks of 16 x 16 cells
instead (`SegmentIndex`).

The two loops (listing the segments, searching) are compiled with numba
(`geo._grid_kernels`, imported when first used) and release the GIL, so blocks of
points run on all cores from plain Python threads (no numba thread pool, which would
not survive a fork).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["Found", "SegmentGrid", "SegmentIndex", "build", "choose_cell", "search"]

#: The most cells a grid may have (its index of cells is 8 bytes a cell).
MAX_CELLS = 1 << 22
#: Segments a cell should hold on average, among cells holding any: fewer means more
#: rings to search around points far from roads, more means more segments per cell.
_PER_CELL = 6.0
#: Rings searched on the fine grid before a point goes to blocks of `_COARSER` cells a side.
_RINGS = 32
_COARSER = 16


@dataclass(frozen=True)
class SegmentGrid:
    """Segments listed by the cells of a grid.

    Attributes
    ----------
    x0, y0
        The grid's lower left corner (the segments' smallest coordinates).
    cell
        The side of a cell, in the segments' units.
    nx, ny
        Cells across and up.
    start
        (nx * ny + 1,) where each cell's list begins in `segment` (cell ``j * nx + i``).
    segment
        The segment of each entry.
    coords
        (entries, 4) each entry's segment: first point x, y and the step to its end dx, dy.
    """

    x0: float
    y0: float
    cell: float
    nx: int
    ny: int
    start: NDArray[np.int64]
    segment: NDArray[np.int64]
    coords: NDArray[np.float64]


def _fit(span: NDArray[np.float64], cell: float) -> tuple[float, int, int]:
    """Grow `cell` until a grid over `span` (width, height) has at most `MAX_CELLS` cells."""
    cell = max(cell, float(np.sqrt(span[0] * span[1] / MAX_CELLS)), 1e-9)
    while True:
        nx, ny = (int(s // cell) + 1 for s in span)
        if nx * ny <= MAX_CELLS:
            return cell, nx, ny
        cell *= 1.5  # a long thin extent: the area bound is not enough


def choose_cell(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    """Return a cell size that puts about `_PER_CELL` segments in each cell that holds any.

    Tries sizes from the median segment's length upwards, doubling, and counts the cells
    that the segments' midpoints fall in: clustered roads (oases, towns) get cells fitted
    to where the roads are, not to the extent's average.
    """
    mid = (a + b) / 2.0
    low = mid.min(axis=0)
    cell, nx, _ = _fit(mid.max(axis=0) - low, float(np.median(np.hypot(*(b - a).T))))
    ix = ((mid[:, 0] - low[0]) // cell).astype(np.int64)
    iy = ((mid[:, 1] - low[1]) // cell).astype(np.int64)
    while True:
        nx, ny = int(ix.max()) + 1, int(iy.max()) + 1
        if nx * ny == 1:
            return cell
        held = np.count_nonzero(np.bincount(iy * nx + ix, minlength=nx * ny))
        if len(a) / held >= _PER_CELL:
            return cell
        ix >>= 1
        iy >>= 1
        cell *= 2.0


def build(a: NDArray[np.float64], b: NDArray[np.float64], cell: float) -> SegmentGrid:
    """Return the grid of segments ``a[i] -> b[i]`` ((n, 2) arrays) with cells of `cell`.

    The cell grows if the extent would need more than `MAX_CELLS` cells.

    Raises
    ------
    ValueError
        If there is no segment, a coordinate is not finite, or `cell` is not positive.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(a) == 0 or not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("a segment grid needs segments with finite coordinates")
    if not cell > 0:
        raise ValueError(f"the cell size must be positive, not {cell}")
    low = np.minimum(a.min(axis=0), b.min(axis=0))
    cell, nx, ny = _fit(np.maximum(a.max(axis=0), b.max(axis=0)) - low, float(cell))
    steps = np.column_stack([a, b - a])
    frame, shape = (float(low[0]), float(low[1]), cell), (nx, ny)
    from geo import _grid_kernels  # noqa: PLC0415 (numba only when roads are used)

    start, segment = _grid_kernels.list_segments(steps, frame, shape)
    return SegmentGrid(*frame, nx, ny, start, segment, steps[segment])


#: Per point: the nearest segment, the position of its nearest point (0-1), the squared distance.
Found = tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]
_Lists = tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]


def search(grid: SegmentGrid, p: NDArray[np.float64], rings: int | None = None) -> Found:
    """Nearest segment to each point of `p` ((n, 2), finite), exactly.

    Returns the segment, the position (0-1) of the point on it nearest to `p`, and the
    squared distance. Of segments equally near, the one met first wins. A point not
    settled within `rings` rings of cells around its own (default: no limit) gets
    segment -1. Runs on the calling thread, without the GIL.
    """
    limit = grid.nx + grid.ny if rings is None else rings
    from geo import _grid_kernels  # noqa: PLC0415 (numba only when roads are used)

    return _grid_kernels.search(np.ascontiguousarray(p, dtype=np.float64), *_parts(grid), limit)


def _parts(grid: SegmentGrid) -> tuple[_Lists, tuple[float, float, float], tuple[int, int]]:
    """Return the grid as the compiled loops take it: its lists, its frame and its shape."""
    return (
        (grid.start, grid.segment, grid.coords),
        (grid.x0, grid.y0, grid.cell),
        (grid.nx, grid.ny),
    )


class SegmentIndex:
    """The nearest of the segments ``a[i] -> b[i]`` to any point, exactly.

    A fine grid answers points near the segments. A point not settled within `_RINGS`
    rings of it (far from every segment, where the fine cells are empty for miles) is
    searched by rings of coarse cells, each a block of 16 x 16 fine cells, scanning only
    the fine cells nearer than its best so far: a village far out in the desert crosses
    the empty land a block at a time.
    """

    def __init__(self, a: NDArray[np.float64], b: NDArray[np.float64], cell: float) -> None:
        self.fine = build(a, b, cell)
        self.coarse = _blocks(self.fine, _COARSER)

    @property
    def cell(self) -> float:
        """The side of the fine grid's cells."""
        return self.fine.cell

    def nearest(self, p: NDArray[np.float64]) -> Found:
        """Nearest segment to each point of `p` ((n, 2)): see `search`.

        Raises
        ------
        ValueError
            If a coordinate is not finite.
        """
        if not np.isfinite(p).all():
            raise ValueError("cannot find the nearest segment to a point without coordinates")
        seg, t, squared = search(self.fine, p, _RINGS)
        far = np.flatnonzero(seg < 0)
        if len(far):
            from geo import _grid_kernels  # noqa: PLC0415 (numba only when roads are used)

            seg[far], t[far], squared[far] = _grid_kernels.search_coarse(
                np.ascontiguousarray(p[far], dtype=np.float64), *_parts(self.fine), self.coarse
            )
        return seg, t, squared


def _blocks(
    grid: SegmentGrid, factor: int
) -> tuple[NDArray[np.int64], NDArray[np.int64], int, int, int]:
    """Return the grid's cells that hold segments, listed by blocks of `factor` x `factor` cells."""
    held = np.flatnonzero(np.diff(grid.start) > 0)
    across, up = -(-grid.nx // factor), -(-grid.ny // factor)
    block = (held // grid.nx // factor) * across + (held % grid.nx) // factor
    start = np.zeros(across * up + 1, np.int64)
    start[1:] = np.cumsum(np.bincount(block, minlength=across * up))
    return start, held[np.argsort(block, kind="stable")], factor, across, up
