"""Coordinate reference systems: the metric working CRS and China's GCJ-02 / BD-09 offsets.

GCJ-02 (used by AMap, Tencent and Google in China) and BD-09 (Baidu) are
obfuscated WGS84: a published, deterministic offset of 100-700 m. They have no
EPSG code, so pyproj cannot convert them; the functions here do, with the
forward formulas and exact iterative inverses (error well under 0.5 m).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import geopandas as gpd
import numpy as np
import pyproj
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj.crs import ProjectedCRS
from pyproj.crs.coordinate_operation import TransverseMercatorConversion

from geo import settings
from geo.errors import NoCrsError

__all__ = [
    "ChineseSystem",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "from_chinese_system",
    "gauss_kruger_crs",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "metric_crs",
    "parse_crs",
    "require_crs",
    "scale_error",
    "tm_point_scale",
    "to_chinese_system",
    "to_storage_crs",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

ChineseSystem = Literal["gcj02", "bd09"]
Coords = tuple[NDArray[np.float64], NDArray[np.float64]]

_KRASOVSKY_A = 6378245.0
_KRASOVSKY_EE = 0.00669342162296594323
_BD_X_PI = math.pi * 3000.0 / 180.0
_GK_FIRST_EPSG, _GK_FIRST_CM = 4534, 75  # CGCS2000 / 3-degree Gauss-Kruger CM 75E .. 135E
_GK_LAST_CM = 135


def _arrays(lon: ArrayLike, lat: ArrayLike) -> Coords:
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


def _gcj_offset(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> Coords:
    """Return the GCJ-02 offset (dlon, dlat) in degrees at WGS84 (lon, lat)."""
    x, y = lon - 105.0, lat - 35.0
    waves = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    dlat += waves
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    dlon += waves
    dlon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    rad = np.radians(lat)
    magic = 1.0 - _KRASOVSKY_EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = dlat * 180.0 / ((_KRASOVSKY_A * (1.0 - _KRASOVSKY_EE)) / (magic * sqrt_magic) * np.pi)
    dlon = dlon * 180.0 / (_KRASOVSKY_A / sqrt_magic * np.cos(rad) * np.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> Coords:
    """Convert WGS84 longitude/latitude to GCJ-02.

    Examples
    --------
    >>> lon, lat = wgs84_to_gcj02(121.5272106, 31.1774276)
    >>> round(float(lon), 6), round(float(lat), 6)
    (121.531542, 31.175304)
    """
    lon, lat = _arrays(lon, lat)
    dlon, dlat = _gcj_offset(lon, lat)
    return lon + dlon, lat + dlat


def _invert(
    forward: Callable[[ArrayLike, ArrayLike], Coords],
    lon: ArrayLike,
    lat: ArrayLike,
    *,
    tol: float = 1e-10,
    max_iter: int = 30,
) -> Coords:
    """Invert a smooth near-identity mapping by fixed-point iteration."""
    target_lon, target_lat = _arrays(lon, lat)
    x, y = target_lon.copy(), target_lat.copy()
    for _ in range(max_iter):
        fx, fy = forward(x, y)
        ex, ey = fx - target_lon, fy - target_lat
        x, y = x - ex, y - ey
        if np.nanmax(np.abs(np.concatenate([np.ravel(ex), np.ravel(ey)])), initial=0.0) < tol:
            break
    return x, y


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> Coords:
    """Convert GCJ-02 longitude/latitude to WGS84 exactly (iterative inverse, < 1 mm).

    Examples
    --------
    >>> lon, lat = gcj02_to_wgs84(121.531541859215, 31.17530398364597)
    >>> round(float(lon), 7), round(float(lat), 7)
    (121.5272106, 31.1774276)
    """
    return _invert(wgs84_to_gcj02, lon, lat)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> Coords:
    """Convert GCJ-02 longitude/latitude to Baidu's BD-09.

    Examples
    --------
    >>> lon, lat = gcj02_to_bd09(121.09626935575027, 30.608604331756705)
    >>> round(float(lon), 9), round(float(lat), 9)
    (121.102717324, 30.614845722)
    """
    x, y = _arrays(lon, lat)
    z = np.hypot(x, y) + 0.00002 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _BD_X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> Coords:
    """Convert BD-09 longitude/latitude to GCJ-02 exactly (iterative inverse)."""
    return _invert(gcj02_to_bd09, lon, lat)


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> Coords:
    """Convert WGS84 longitude/latitude to BD-09."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> Coords:
    """Convert BD-09 longitude/latitude to WGS84 (exact inverse of `wgs84_to_bd09`)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


_TO_WGS84: dict[str, Callable[[ArrayLike, ArrayLike], Coords]] = {
    "gcj02": gcj02_to_wgs84,
    "bd09": bd09_to_wgs84,
}
_FROM_WGS84: dict[str, Callable[[ArrayLike, ArrayLike], Coords]] = {
    "gcj02": wgs84_to_gcj02,
    "bd09": wgs84_to_bd09,
}


def _map_coords(
    gdf: gpd.GeoDataFrame, func: Callable[[ArrayLike, ArrayLike], Coords]
) -> gpd.GeoDataFrame:
    def apply(xy: NDArray[np.float64]) -> NDArray[np.float64]:
        lon, lat = func(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    out = gdf.copy()
    out.geometry = shapely.transform(gdf.geometry.to_numpy(), apply)
    return out.set_crs(settings.storage_crs, allow_override=True)


def from_chinese_system(gdf: gpd.GeoDataFrame, system: ChineseSystem) -> gpd.GeoDataFrame:
    """Return a copy of `gdf`, whose lon/lat are in GCJ-02 or BD-09, in WGS84.

    Whatever CRS `gdf` claims is ignored: AMap and Baidu exports claim WGS84.
    """
    return _map_coords(gdf, _TO_WGS84[system])


def to_chinese_system(gdf: gpd.GeoDataFrame, system: ChineseSystem) -> gpd.GeoDataFrame:
    """Return a copy of `gdf` (any CRS) with lon/lat shifted into GCJ-02 or BD-09.

    The result is labelled EPSG:4326 because GCJ-02 and BD-09 have no CRS of
    their own: use it only to overlay data on AMap or Baidu tiles.
    """
    return _map_coords(to_storage_crs(gdf), _FROM_WGS84[system])


def parse_crs(value: str) -> pyproj.CRS | ChineseSystem:
    """Parse a user's CRS string: any pyproj string, or ``gcj02`` / ``bd09``.

    Raises
    ------
    ValueError
        If pyproj does not recognise the string; the message says what is accepted.

    Examples
    --------
    >>> parse_crs("GCJ-02")
    'gcj02'
    >>> parse_crs("EPSG:4541").name
    'CGCS2000 / 3-degree Gauss-Kruger CM 96E'
    """
    key = value.strip().lower().replace("-", "").replace("_", "")
    if key in {"gcj02", "amap", "gaode"}:
        return "gcj02"
    if key in {"bd09", "bd09ll", "baidu"}:
        return "bd09"
    try:
        return pyproj.CRS.from_user_input(value.strip())
    except pyproj.exceptions.CRSError as exc:
        msg = (
            f"unknown CRS {value!r}: give an EPSG code such as EPSG:4490 or EPSG:4541, "
            "a PROJ or WKT string, or gcj02 / bd09"
        )
        raise ValueError(msg) from exc


def to_storage_crs(
    gdf: gpd.GeoDataFrame, crs: pyproj.CRS | ChineseSystem | str | None = None
) -> gpd.GeoDataFrame:
    """Return `gdf` in the storage CRS, taking `crs` (if given) over what it claims.

    Raises
    ------
    NoCrsError
        If `gdf` has no CRS and none is given.
    """
    if isinstance(crs, str):
        crs = parse_crs(crs)
    if crs in ("gcj02", "bd09"):
        return from_chinese_system(gdf, crs)  # type: ignore[arg-type]
    if crs is not None:
        gdf = gdf.set_crs(crs, allow_override=True)
    if gdf.crs is None:
        msg = (
            "Data set has no coordinate reference system: pass one explicitly "
            "(for example EPSG:4490 for CGCS2000, EPSG:4541 for Gauss-Kruger CM 96E, or gcj02)."
        )
        raise NoCrsError(msg)
    return gdf.to_crs(settings.storage_crs)


def _gauss_kruger_zone(minx: float, maxx: float) -> int | None:
    """Return the central meridian of the 3-degree zone holding [minx, maxx], if any."""
    cm = 3 * round((minx + maxx) / 6.0)
    if _GK_FIRST_CM <= cm <= _GK_LAST_CM and cm - 1.5 <= minx and maxx <= cm + 1.5:
        return cm
    return None


def gauss_kruger_crs(lon: float) -> pyproj.CRS:
    """Return the CGCS2000 3-degree Gauss-Kruger zone (no zone prefix) whose meridian is nearest.

    Raises
    ------
    ValueError
        If `lon` lies outside China's zones (central meridians 75E to 135E).

    Examples
    --------
    >>> gauss_kruger_crs(97.4).to_epsg()
    4541
    >>> gauss_kruger_crs(94.6).name
    'CGCS2000 / 3-degree Gauss-Kruger CM 96E'
    """
    cm = 3 * round(float(lon) / 3.0)
    if not (math.isfinite(lon) and _GK_FIRST_CM <= cm <= _GK_LAST_CM):
        msg = f"longitude {lon} is outside the CGCS2000 Gauss-Kruger zones (75E to 135E)"
        raise ValueError(msg)
    return pyproj.CRS.from_epsg(_GK_FIRST_EPSG + (cm - _GK_FIRST_CM) // 3)


def metric_crs(bounds: ArrayLike) -> pyproj.CRS:
    """Choose a metric working CRS for data with lon/lat `bounds` (minx, miny, maxx, maxy).

    A CGCS2000 3-degree Gauss-Kruger zone when the data fits in one, otherwise a
    transverse Mercator on the GRS80 ellipsoid centred on the data. Never Web
    Mercator (1.3x too long at 40 N).

    Examples
    --------
    >>> metric_crs([95.6, 40.0, 97.2, 40.6]).to_epsg()
    4541
    >>> metric_crs([92.8, 38.2, 100.3, 42.8]).name
    'CGCS2000 / transverse Mercator 96.55E'
    """
    minx, miny, maxx, maxy = (float(v) for v in np.asarray(bounds, dtype=float))
    if not all(map(math.isfinite, (minx, miny, maxx, maxy))):
        raise ValueError("`bounds` must be finite longitude/latitude values")
    cm = _gauss_kruger_zone(minx, maxx)
    if cm is not None:
        return gauss_kruger_crs(cm)
    lon_0 = round((minx + maxx) / 2.0, 2)
    conversion = TransverseMercatorConversion(
        latitude_natural_origin=0.0,
        longitude_natural_origin=lon_0,
        false_easting=500000.0,
        false_northing=0.0,
        scale_factor_natural_origin=1.0,
    )
    return ProjectedCRS(
        conversion=conversion,
        geodetic_crs=pyproj.CRS.from_epsg(4490),
        name=f"CGCS2000 / transverse Mercator {lon_0:g}E",
    )


def tm_point_scale(easting: ArrayLike, *, false_easting: float = 500000.0) -> NDArray[np.float64]:
    """Return the point scale of a transverse Mercator (k0 = 1) at `easting` metres.

    Valid for every CRS `metric_crs` returns (Gauss-Kruger zones and the centred
    transverse Mercator both have k0 = 1 and a false easting of 500 km). Divide a
    short planar length by it to get the length on the ellipsoid (to about 1e-6).

    Examples
    --------
    >>> float(tm_point_scale(500000.0)), round(float(tm_point_scale(820000.0)), 5)
    (1.0, 1.00126)
    """
    x = (np.asarray(easting, dtype=np.float64) - false_easting) / 6371000.0
    return 1.0 + x * x / 2.0 + x**4 / 24.0


def scale_error(crs: pyproj.CRS, bounds: ArrayLike, *, samples: int = 9) -> float:
    """Return the largest relative scale error of `crs` over lon/lat `bounds`.

    Examples
    --------
    >>> bounds = [92.8, 38.2, 100.3, 42.8]
    >>> scale_error(metric_crs(bounds), bounds) < 0.002
    True
    >>> scale_error(pyproj.CRS.from_epsg(3857), bounds) > 0.3
    True
    """
    minx, miny, maxx, maxy = (float(v) for v in np.asarray(bounds, dtype=float))
    lon, lat = np.meshgrid(np.linspace(minx, maxx, samples), np.linspace(miny, maxy, samples))
    factors = pyproj.Proj(crs).get_factors(lon.ravel(), lat.ravel())
    scales = np.concatenate([factors.meridional_scale, factors.parallel_scale])
    return float(np.max(np.abs(scales - 1.0)))


def require_crs(gdf: gpd.GeoDataFrame, name: str = "gdf") -> None:
    """Raise `NoCrsError` if `gdf` has no CRS."""
    if gdf.crs is None:
        msg = f"`{name}` must have a valid CRS: set one with `set_crs()` or pass it explicitly."
        raise NoCrsError(msg)
