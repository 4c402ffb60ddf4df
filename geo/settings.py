"""Global settings: coordinate reference systems and file locations.

Attributes
----------
storage_crs : str
    CRS of every vector layer in the store and of all data passed between
    modules: WGS84 longitude/latitude. CGCS2000 (EPSG:4490) agrees with it to a
    few centimetres, so CGCS2000 input is read as such and stored here. Default
    is `"EPSG:4326"`.
display_crs : str
    CRS the map builder hands to Leaflet. Default is `"EPSG:4326"`.
equal_area_crs : str
    Albers equal-area projection for China, used for areas (km2, mu).
baseline_year : int
    The plan's baseline: the poor villages and households registered at the end of
    2014. Default is `2014`.
goal_year : int
    The plan's last target year. Default is `2020`.
data_dir : pathlib.Path
    Folder of the shipped demo data, overridable with the environment variable
    ``VILLAGE_ATLAS_DATA``.
store_path : pathlib.Path
    The GeoPackage holding every vector layer.
population_path : pathlib.Path
    The 250 m population raster (GeoTIFF).
shipped_dir : pathlib.Path
    The data that ships with the code (boundaries, relief), whatever ``data_dir`` is.
boundaries_path : pathlib.Path
    The prefecture's county boundaries, converted from GCJ-02 to WGS84.
"""

from __future__ import annotations

import os
from pathlib import Path

storage_crs: str = "EPSG:4326"
display_crs: str = "EPSG:4326"
equal_area_crs: str = (
    "+proj=aea +lat_1=25 +lat_2=47 +lat_0=0 +lon_0=105 +x_0=0 +y_0=0 +ellps=GRS80 +units=m +no_defs"
)
baseline_year: int = 2014
goal_year: int = 2020

shipped_dir: Path = Path(__file__).resolve().parent.parent / "data"
data_dir: Path = Path(os.environ.get("VILLAGE_ATLAS_DATA", shipped_dir))
store_path: Path = data_dir / "demo.gpkg"
population_path: Path = data_dir / "population.tif"
boundaries_path: Path = shipped_dir / "boundaries.geojson"
