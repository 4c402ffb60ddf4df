"""Raster access: population-weighted coverage (the Rural Access Index idea) and relief.

A cell counts as covered when its centre lies within the distance of a facility.
A Euclidean distance transform over the raster finds every cell that is surely
in or surely out (it is exact to half a cell diagonal); only the thin band of
cells in between is measured exactly against the facilities' geometries.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from numpy.typing import NDArray
from rasterio.features import rasterize
from rasterio.transform import array_bounds
from rasterio.windows import Window
from scipy import ndimage

from geo.crs import require_crs

__all__ = [
    "BAND_CELLS",
    "MAX_CELLS",
    "MAX_WINDOWED_CELLS",
    "covered_cells",
    "hillshade",
    "population_within",
    "read_band",
    "read_tags",
]

MAX_CELLS = 200_000_000  # the largest raster read at once (imports are capped to it)
MAX_WINDOWED_CELLS = 4_000_000_000  # the largest raster read band by band
BAND_CELLS = 4_000_000  # cells per band: about 100 MB of working arrays


def read_band(path: Path) -> tuple[NDArray[np.float64], rasterio.Affine, rasterio.crs.CRS]:
    """Read band 1 of a GeoTIFF as float64 with nodata as NaN; also its transform and CRS.

    Raises
    ------
    ValueError
        If the raster has no CRS or is implausibly large.
    """
    with rasterio.open(path) as src:
        if src.width * src.height > MAX_CELLS:
            msg = f"{path} has {src.width} x {src.height} cells: more than this tool reads"
            raise ValueError(msg)
        if src.crs is None:
            msg = f"{path} has no CRS: set one before using it"
            raise ValueError(msg)
        band = src.read(1).astype("float64")
        if src.nodata is not None and not np.isnan(src.nodata):
            band[band == src.nodata] = np.nan
        return band, src.transform, src.crs


def read_tags(path: Path) -> dict[str, str]:
    """Return a GeoTIFF's dataset tags (its own metadata: units, source, ...)."""
    with rasterio.open(path) as src:
        return {str(k): str(v) for k, v in src.tags().items()}


def covered_cells(
    shape: tuple[int, int],
    transform: rasterio.Affine,
    facilities: gpd.GeoSeries,
    within_m: float,
    candidates: NDArray[np.bool_] | None = None,
) -> NDArray[np.bool_]:
    """Return a mask of the cells whose centre lies within `within_m` metres of any facility.

    `facilities` must be in the raster's (metric) CRS; `candidates` limits the exact
    check to the cells that matter (for example, populated ones).
    """
    if len(facilities) == 0:
        return np.zeros(shape, dtype=bool)
    cell_w, cell_h = abs(transform.a), abs(transform.e)
    half_diagonal = float(np.hypot(cell_w, cell_h) / 2.0)
    burnt = rasterize(
        ((g, 1) for g in facilities.to_numpy()),
        out_shape=shape,
        transform=transform,
        all_touched=True,
        fill=0,
        dtype="uint8",
    ).astype(bool)
    if candidates is None:
        candidates = np.ones(shape, dtype=bool)
    if not burnt.any():
        return np.zeros(shape, dtype=bool)
    approx = ndimage.distance_transform_edt(~burnt, sampling=(cell_h, cell_w))
    covered = candidates & (approx <= within_m - half_diagonal)
    band = candidates & (np.abs(approx - within_m) < half_diagonal)
    rows, cols = np.nonzero(band)
    if len(rows):
        xs, ys = rasterio.transform.xy(transform, rows, cols, offset="center")
        tree = shapely.STRtree(facilities.to_numpy())
        hit, _ = tree.query(shapely.points(xs, ys), predicate="dwithin", distance=within_m)
        inside = np.zeros(len(rows), dtype=bool)
        inside[hit] = True
        covered[rows[inside], cols[inside]] = True
    return np.asarray(covered, dtype=bool)


def _down(transform: rasterio.Affine, rows: int) -> rasterio.Affine:
    """Return the transform of the raster starting `rows` rows further down."""
    t = transform
    return rasterio.Affine(t.a, t.b, t.c + t.b * rows, t.d, t.e, t.f + t.e * rows)


def _bands(height: int, rows: int, halo: int) -> list[tuple[int, int, int, int]]:
    """Return (first, stop) rows of each band and of its window with `halo` rows either side.

    Examples
    --------
    >>> _bands(10, 4, 1)
    [(0, 4, 0, 5), (4, 8, 3, 9), (8, 10, 7, 10)]
    """
    return [
        (r, min(r + rows, height), max(r - halo, 0), min(r + rows + halo, height))
        for r in range(0, height, rows)
    ]


def population_within(
    raster: Path,
    facilities: gpd.GeoDataFrame,
    within_m: float,
    *,
    zones: gpd.GeoDataFrame | None = None,
    zone_key: str = "code",
    band_cells: int = BAND_CELLS,
) -> pd.DataFrame:
    """Return the people living within `within_m` metres of a facility, per zone.

    The raster is read in bands of whole rows (about `band_cells` cells each), each with a
    halo of rows as deep as the distance, so memory stays bounded however large the raster
    is; the answer is the same as in one piece.

    Parameters
    ----------
    raster
        Population GeoTIFF (people per cell) in a projected, metric CRS.
    facilities
        Points, lines or polygons, any CRS.
    within_m
        Distance in metres.
    zones
        Polygons to summarize by (for example counties); default: one zone, ``all``.
    zone_key
        The zones' identifying column.
    band_cells
        Cells per band read at once.

    Returns
    -------
    pandas.DataFrame
        Indexed by zone: `people`, `people_covered`, `share`.
    """
    require_crs(facilities, "facilities")
    labels = ["all"] if zones is None else list(zones[zone_key])
    n = len(labels) + 1
    people, reached = np.zeros(n), np.zeros(n)
    with rasterio.open(raster) as src:
        if src.crs is None:
            raise ValueError(f"{raster} has no CRS: set one before using it")
        if not src.crs.is_projected:
            msg = f"{raster} is in a geographic CRS: reproject it to a metric CRS first"
            raise ValueError(msg)
        if src.width * src.height > MAX_WINDOWED_CELLS:
            msg = f"{raster} has {src.width} x {src.height} cells: more than this tool reads"
            raise ValueError(msg)
        geoms = facilities.to_crs(src.crs).geometry
        areas = None if zones is None else zones.to_crs(src.crs).geometry.to_numpy()
        halo = int(np.ceil((within_m + np.hypot(src.res[0], src.res[1])) / src.res[1])) + 1
        rows = max(1, band_cells // max(src.width, 1))
        bands = _bands(src.height, rows, halo)
        # a facility outside a band's window (its rows and the halo) reaches none of its rows
        index = shapely.STRtree(geoms.to_numpy()) if len(bands) > 1 else None
        for first, stop, top, bottom in bands:
            window = Window(0, top, src.width, bottom - top)
            transform = _down(src.transform, top)
            pop = src.read(1, window=window).astype("float64")
            if src.nodata is not None and not np.isnan(src.nodata):
                pop[pop == src.nodata] = np.nan
            pop = np.nan_to_num(pop, nan=0.0)
            near = geoms
            if index is not None:
                box = shapely.box(*array_bounds(bottom - top, src.width, transform))
                near = geoms.iloc[np.sort(index.query(box, predicate="intersects"))]
            covered = covered_cells(pop.shape, transform, near, within_m, candidates=pop > 0)
            inner = slice(first - top, stop - top)
            pop, covered = pop[inner], covered[inner]
            if areas is None:
                zone_of = np.ones(pop.shape, dtype="int32")
            else:
                zone_of = rasterize(
                    ((g, i + 1) for i, g in enumerate(areas)),
                    out_shape=pop.shape,
                    transform=_down(src.transform, first),
                    fill=0,
                    dtype="int32",
                )
            people += np.bincount(zone_of.ravel(), weights=pop.ravel(), minlength=n)
            reached += np.bincount(zone_of.ravel(), weights=(pop * covered).ravel(), minlength=n)
    out = pd.DataFrame(
        {"people": people[1:], "people_covered": reached[1:]}, index=pd.Index(labels)
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        out["share"] = np.where(out["people"] > 0, out["people_covered"] / out["people"], np.nan)
    return out


def hillshade(
    dem: NDArray[np.float64],
    cell: tuple[float, float],
    *,
    azimuth: float = 315.0,
    altitude: float = 45.0,
    z_factor: float = 1.0,
) -> NDArray[np.float64]:
    """Return hillshade (0-1) of a north-up DEM with cell size (dx, dy) in its z units.

    The sun shines from `azimuth` degrees clockwise from north, `altitude` degrees up;
    shade is the cosine between the surface normal and the sun.

    Examples
    --------
    >>> flat = hillshade(np.zeros((3, 3)), (30.0, 30.0))
    >>> bool(np.allclose(flat, np.sin(np.radians(45))))
    True
    """
    dem = np.where(np.isnan(dem), np.nanmean(dem), dem) * z_factor
    d_row, d_col = np.gradient(dem, cell[1], cell[0])
    east, north = d_col, -d_row  # rows run southward
    az, alt = np.radians(azimuth), np.radians(altitude)
    sun = np.array([np.sin(az) * np.cos(alt), np.cos(az) * np.cos(alt), np.sin(alt)])
    shade = (-east * sun[0] - north * sun[1] + sun[2]) / np.sqrt(east**2 + north**2 + 1.0)
    return np.asarray(np.clip(shade, 0.0, 1.0), dtype=np.float64)
