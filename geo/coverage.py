"""Straight-line coverage: how far each village is from its nearest facility, and who is left out.

Distances are measured on the ellipsoid, not on a projection: points go to
Earth-centred (ECEF) coordinates, where a KD-tree over straight chords finds the
nearest facility whatever the data's extent; the chord is then turned back into
an arc (it is d^3 / 24 R^2 short: 0.4 m at 71 km), which agrees with the
geodesic to about 1e-6. Line and polygon
facilities are searched in the metric CRS chosen from the data's extent, and
the distance to the nearest point found is then measured on the ellipsoid.
"""

from __future__ import annotations

from collections.abc import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from geo import settings
from geo.crs import metric_crs, require_crs

__all__ = [
    "coverage",
    "coverage_class",
    "covered_from_distances",
    "ecef",
    "near_any",
    "nearest_distance",
    "nearest_ecef",
    "pairs_within",
    "service_area",
    "summarize",
]

_WGS84 = pyproj.Geod(ellps="WGS84")
_A = 6378137.0
_E2 = 0.00669437999014
_R = 6371008.8  # mean radius: turns a chord back into an arc (0.4 m at 71 km -> < 1 mm)


def ecef(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.float64]:
    """Return Earth-centred x, y, z in metres (WGS84 ellipsoid, height 0) for lon/lat degrees.

    Examples
    --------
    >>> ecef(np.array([0.0]), np.array([0.0])).round(1).tolist()
    [[6378137.0, 0.0, 0.0]]
    """
    la = np.radians(lat)
    lo = np.radians(lon)
    sin_la = np.sin(la)
    cos_la = np.cos(la, out=la)
    n = _A / np.sqrt(1.0 - _E2 * sin_la * sin_la)
    out = np.empty((len(n), 3))
    np.multiply(n, cos_la, out=cos_la)  # n * cos(lat), reused for x and y
    np.multiply(cos_la, np.cos(lo), out=out[:, 0])
    np.multiply(cos_la, np.sin(lo, out=lo), out=out[:, 1])
    np.multiply(n * (1 - _E2), sin_la, out=out[:, 2])
    return out


def nearest_ecef(
    points: NDArray[np.float64], sites: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    """Return the distance in metres and the index of the nearest site for each point.

    Both inputs are (n, 2) arrays of lon/lat degrees.

    Examples
    --------
    >>> pts = np.array([[96.0, 40.0], [96.1, 40.0]])
    >>> dist, idx = nearest_ecef(pts, np.array([[96.0, 40.01]]))
    >>> dist.round(1).tolist(), idx.tolist()
    ([1110.3, 8610.7], [0, 0])
    """
    tree = cKDTree(ecef(sites[:, 0], sites[:, 1]))
    chord, idx = tree.query(ecef(points[:, 0], points[:, 1]), workers=-1)
    arc = 2.0 * _R * np.arcsin(np.minimum(np.asarray(chord) / (2.0 * _R), 1.0))
    return arc, np.asarray(idx, dtype=np.intp)


def covered_from_distances(distances: NDArray[np.float64], within_m: float) -> NDArray[np.bool_]:
    """Return whether each distance is within `within_m` metres (an empty distance never is).

    Examples
    --------
    >>> covered_from_distances(np.array([10.0, 2000.0, 2000.1, np.nan]), 2000).tolist()
    [True, True, False, False]
    """
    with np.errstate(invalid="ignore"):
        return np.asarray(distances <= within_m)


def _lonlat(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    require_crs(gdf)
    return gdf if gdf.crs.equals(settings.storage_crs) else gdf.to_crs(settings.storage_crs)


def _point_xy(gdf: gpd.GeoDataFrame) -> NDArray[np.float64]:
    """Lon/lat of points (representative points of other geometries); NaN where missing."""
    geoms = gdf.geometry.to_numpy()
    not_points = shapely.get_type_id(geoms) > 0
    if not_points.any():
        geoms = geoms.copy()
        geoms[not_points] = shapely.point_on_surface(geoms[not_points])
    return np.column_stack([shapely.get_x(geoms), shapely.get_y(geoms)])


def _nearest_on_geometries(
    points: NDArray[np.float64], facilities: gpd.GeoDataFrame
) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    """Nearest line/polygon facility found in a metric CRS, distance measured on the ellipsoid."""
    bounds = np.concatenate([points.min(axis=0), points.max(axis=0)])
    fb = facilities.total_bounds
    extent = [
        min(bounds[0], fb[0]),
        min(bounds[1], fb[1]),
        max(bounds[2], fb[2]),
        max(bounds[3], fb[3]),
    ]
    crs = metric_crs(extent)
    to_m = pyproj.Transformer.from_crs(settings.storage_crs, crs, always_xy=True)
    px, py = to_m.transform(points[:, 0], points[:, 1])
    pts_m = shapely.points(px, py)
    geoms_m = facilities.to_crs(crs).geometry.to_numpy()
    tree = shapely.STRtree(geoms_m)
    pairs = tree.query_nearest(pts_m, all_matches=False)
    idx = np.empty(len(points), dtype=np.intp)
    idx[pairs[0]] = pairs[1]
    nearest_m = shapely.get_coordinates(shapely.shortest_line(pts_m, geoms_m[idx]))[1::2]
    lon, lat = to_m.transform(nearest_m[:, 0], nearest_m[:, 1], direction="INVERSE")
    dist = np.asarray(_WGS84.inv(points[:, 0], points[:, 1], lon, lat)[2], dtype=np.float64)
    return dist, idx


def nearest_distance(villages: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame) -> pd.DataFrame:
    """Return each village's straight-line distance (m) to, and label of, its nearest facility.

    Parameters
    ----------
    villages
        Demand points (other geometries use a representative point), any CRS.
    facilities
        Points, lines or polygons, any CRS. Must not be empty.

    Returns
    -------
    pandas.DataFrame
        Indexed like `villages`, with `distance_m` and `nearest` (the facility's index label).

    Examples
    --------
    >>> v = gpd.GeoDataFrame(geometry=gpd.points_from_xy([96.0, 96.1], [40.0, 40.0]), crs=4326)
    >>> f = gpd.GeoDataFrame(geometry=gpd.points_from_xy([96.0], [40.01]), crs=4326, index=["s"])
    >>> nearest_distance(v, f).round(1)
       distance_m nearest
    0      1110.3       s
    1      8610.7       s
    """
    villages, facilities = _lonlat(villages), _lonlat(facilities)
    if facilities.empty:
        raise ValueError("`facilities` is empty: there is nothing to measure the distance to")
    xy = _point_xy(villages)
    present = np.isfinite(xy).all(axis=1)
    everywhere = bool(present.all())
    dist = np.full(len(villages), np.nan)
    nearest: object = np.full(len(villages), None, dtype=object)
    if present.any():
        if (shapely.get_type_id(facilities.geometry.to_numpy()) == 0).all():
            found, idx = nearest_ecef(xy if everywhere else xy[present], _point_xy(facilities))
        else:
            found, idx = _nearest_on_geometries(xy if everywhere else xy[present], facilities)
        dist[present] = found
        if everywhere:  # keep the facilities' index dtype
            nearest = facilities.index.take(idx).to_numpy()
        else:
            nearest[present] = facilities.index.to_numpy()[idx]  # type: ignore[index]
    return pd.DataFrame({"distance_m": dist, "nearest": nearest}, index=villages.index)


def coverage(
    villages: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, *, within_m: float
) -> pd.DataFrame:
    """Return `distance_m`, `covered` and `nearest` for each village, indexed like `villages`.

    An empty `villages` gives an empty result with the same columns.

    Raises
    ------
    ValueError
        If `within_m` is negative or not finite, or `facilities` is empty.
    """
    if not np.isfinite(within_m) or within_m < 0:
        msg = f"`within_m` must be a distance in metres >= 0, got {within_m!r}"
        raise ValueError(msg)
    if villages.empty:
        return pd.DataFrame(
            {
                "distance_m": pd.Series(dtype=float),
                "covered": pd.Series(dtype=bool),
                "nearest": pd.Series(dtype=object),
            },
            index=villages.index,
        )
    out = nearest_distance(villages, facilities)
    out.insert(1, "covered", covered_from_distances(out["distance_m"].to_numpy(float), within_m))
    return out


def summarize(
    covered: pd.Series, villages: pd.DataFrame, *, by: str, weights: str = "population"
) -> pd.DataFrame:
    """Summarize a coverage result per group (county, township, bureau, ...).

    Parameters
    ----------
    covered
        Boolean, indexed like `villages`.
    villages
        Must hold `by`, `weights` and `is_poor`.
    by
        The column to group by.
    weights
        The column counted as people.

    Returns
    -------
    pandas.DataFrame
        Per group: villages, covered, share, poor villages, poor covered, people, people covered.

    Examples
    --------
    >>> v = pd.DataFrame({"county": ["a", "a", "b"], "population": [100, 300, 50],
    ...                   "is_poor": [True, False, True]})
    >>> summarize(pd.Series([True, False, False]), v, by="county")  # doctest: +NORMALIZE_WHITESPACE
            villages  covered  share  poor_villages  poor_covered  people  people_covered
    county
    a              2        1    0.5              1             1     400             100
    b              1        0    0.0              1             0      50               0
    """
    frame = pd.DataFrame(
        {
            "group": villages[by],
            "covered": covered.astype(bool).to_numpy(),
            "poor": villages["is_poor"].astype(bool).to_numpy(),
            "people": villages[weights].to_numpy(),
        },
        index=villages.index,
    )
    frame["poor_covered"] = frame["poor"] & frame["covered"]
    frame["people_covered"] = frame["people"].where(frame["covered"], 0)
    out = frame.groupby("group", sort=True).agg(
        villages=("covered", "size"),
        covered=("covered", "sum"),
        poor_villages=("poor", "sum"),
        poor_covered=("poor_covered", "sum"),
        people=("people", "sum"),
        people_covered=("people_covered", "sum"),
    )
    out.insert(2, "share", (out["covered"] / out["villages"]).round(4))
    out.index.name = by
    return out


def pairs_within(
    features: gpd.GeoDataFrame, anchors: gpd.GeoDataFrame, *, within_m: float
) -> pd.DataFrame:
    """Return every pair of a feature and an anchor within `within_m` metres of each other.

    Candidates are found in a metric CRS chosen from the data's extent, with a 1 % margin
    for its scale error; each is then confirmed on the ellipsoid (the distance between
    the two nearest points, as in `nearest_distance`).

    Parameters
    ----------
    features, anchors
        Any geometries, any CRS (for example channels and immigrant villages, or
        township seats and roads).
    within_m
        The distance in metres (>= 0).

    Returns
    -------
    pandas.DataFrame
        One row per pair: `feature` and `anchor` (index labels) and `distance_m`.

    Examples
    --------
    >>> seats = gpd.GeoDataFrame(geometry=gpd.points_from_xy([96.0, 96.2], [40.0, 40.0]), crs=4326)
    >>> road = gpd.GeoDataFrame(geometry=[shapely.LineString([(96.0, 40.005), (96.1, 40.005)])],
    ...                         crs=4326, index=["G312"])
    >>> pairs_within(seats, road, within_m=1000).round(1)
       feature anchor  distance_m
    0        0   G312       555.2
    """
    if not np.isfinite(within_m) or within_m < 0:
        msg = f"`within_m` must be a distance in metres >= 0, got {within_m!r}"
        raise ValueError(msg)
    features, anchors = _lonlat(features), _lonlat(anchors)
    none = pd.DataFrame(
        {
            "feature": features.index[:0],
            "anchor": anchors.index[:0],
            "distance_m": pd.Series(dtype=float),
        }
    )
    if features.empty or anchors.empty:
        return none
    fb, ab = features.total_bounds, anchors.total_bounds
    crs = metric_crs([min(fb[0], ab[0]), min(fb[1], ab[1]), max(fb[2], ab[2]), max(fb[3], ab[3])])
    to_m = pyproj.Transformer.from_crs(settings.storage_crs, crs, always_xy=True)
    f_m = shapely.transform(features.geometry.to_numpy(), _projector(to_m))
    a_m = shapely.transform(anchors.geometry.to_numpy(), _projector(to_m))
    pairs = shapely.STRtree(a_m).query(f_m, predicate="dwithin", distance=within_m * 1.01 + 1.0)
    if not pairs.shape[1]:
        return none
    ends = shapely.get_coordinates(shapely.shortest_line(f_m[pairs[0]], a_m[pairs[1]]))
    lon, lat = to_m.transform(ends[:, 0], ends[:, 1], direction="INVERSE")
    metres = np.asarray(_WGS84.inv(lon[0::2], lat[0::2], lon[1::2], lat[1::2])[2])
    keep = metres <= within_m
    return pd.DataFrame(
        {
            "feature": features.index.take(pairs[0][keep]),
            "anchor": anchors.index.take(pairs[1][keep]),
            "distance_m": metres[keep],
        }
    )


def _projector(
    transformer: pyproj.Transformer,
) -> Callable[[NDArray[np.float64]], NDArray[np.float64]]:
    """Return a `shapely.transform` function that applies `transformer` to (n, 2) coordinates."""

    def project(xy: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return project


def near_any(
    features: gpd.GeoDataFrame, anchors: gpd.GeoDataFrame, *, within_m: float
) -> pd.Series:
    """Return whether each feature passes within `within_m` metres of any anchor.

    Measured as `pairs_within` does; no anchors: nothing is near.

    Returns
    -------
    pandas.Series
        Boolean, indexed like `features`, named ``near``.

    Examples
    --------
    >>> line = shapely.LineString([(96.0, 40.0), (96.0, 40.1)])
    >>> lines = gpd.GeoDataFrame(geometry=[line, line.offset_curve(0.1)], crs=4326)
    >>> town = gpd.GeoDataFrame(geometry=gpd.points_from_xy([96.01], [40.05]), crs=4326)
    >>> near_any(lines, town, within_m=1000).tolist()  # 853 m and 9.4 km away
    [True, False]
    """
    found = pairs_within(features, anchors, within_m=within_m)
    return pd.Series(features.index.isin(found["feature"]), index=features.index, name="near")


def service_area(facilities: gpd.GeoDataFrame, *, within_m: float) -> gpd.GeoDataFrame:
    """Return the area within `within_m` metres of any facility, as one polygon in lon/lat.

    Buffered in a metric CRS chosen for the facilities' extent (never in degrees).

    Examples
    --------
    >>> stops = gpd.GeoDataFrame(geometry=gpd.points_from_xy([96.0], [40.0]), crs=4326)
    >>> zone = service_area(stops, within_m=1000).to_crs(metric_crs(stops.total_bounds))
    >>> round(float(zone.area.iloc[0]) / 1e6, 2)  # km2: pi x 1 km2
    3.14
    """
    if facilities.empty:
        return gpd.GeoDataFrame(geometry=[], crs=settings.storage_crs)
    facilities = _lonlat(facilities)
    metric = metric_crs(facilities.total_bounds)
    zone = shapely.union_all(facilities.to_crs(metric).buffer(within_m).to_numpy())
    return gpd.GeoDataFrame(geometry=[zone], crs=metric).to_crs(settings.storage_crs)


def coverage_class(
    covered: pd.Series, straight_covered: pd.Series, *, in_scope: pd.Series | None = None
) -> pd.Series:
    """Return each village's class: covered, covered straight but not along roads, uncovered.

    With `in_scope`, a village outside it is ``out_of_scope`` (neither covered nor a gap).

    Examples
    --------
    >>> coverage_class(pd.Series([True, False, False]), pd.Series([True, True, False])).tolist()
    ['covered', 'straight_only', 'uncovered']
    >>> coverage_class(
    ...     pd.Series([False, False]), pd.Series([False, False]), in_scope=pd.Series([True, False])
    ... ).tolist()
    ['uncovered', 'out_of_scope']
    """
    out = np.where(covered, "covered", np.where(straight_covered, "straight_only", "uncovered"))
    if in_scope is not None:
        out = np.where(in_scope.to_numpy(dtype=bool), out, "out_of_scope")
    return pd.Series(out, index=covered.index, name="class")
