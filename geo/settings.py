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
    The data that ships with the code (profiles, relief), whatever ``data_dir`` is.
profile_dir : pathlib.Path
    The city profile the atlas serves: a folder with ``profile.toml`` (city, counties,
    import bounds, metric CRS, targets file, bureaus) and ``boundaries.geojson``, read by
    `layers.profile`. Overridable with the environment variable ``VILLAGE_ATLAS_PROFILE``;
    default ``data/profiles/jiuquan``.
boundaries_path : pathlib.Path
    The profile's county boundaries (for Jiuquan converted from GCJ-02 to WGS84).

Functions
---------
household_key_path
    The file holding the secret key that household ID numbers are hashed with
    (`store.households`), read whenever it is needed: ``VILLAGE_ATLAS_HOUSEHOLD_KEY_FILE``,
    else ``village-atlas/household.key`` in the user's configuration folder
    (``$XDG_CONFIG_HOME``, default ``~/.config``). It is never inside a store.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
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
profile_dir: Path = Path(
    os.environ.get("VILLAGE_ATLAS_PROFILE", shipped_dir / "profiles" / "jiuquan")
)
boundaries_path: Path = profile_dir / "boundaries.geojson"


def household_key_path(environ: Mapping[str, str] | None = None) -> Path:
    """Return the file of the key that hashes household ID numbers (never inside a store).

    ``VILLAGE_ATLAS_HOUSEHOLD_KEY_FILE`` if set, else ``village-atlas/household.key`` in
    ``$XDG_CONFIG_HOME`` (default ``~/.config``); `environ` is the process's environment
    (`os.environ`, read at each call, like the store's location) unless given.

    Examples
    --------
    >>> household_key_path({"VILLAGE_ATLAS_HOUSEHOLD_KEY_FILE": "/srv/atlas/hh.key"}).as_posix()
    '/srv/atlas/hh.key'
    >>> household_key_path({"XDG_CONFIG_HOME": "/etc/xdg"}).as_posix()
    '/etc/xdg/village-atlas/household.key'
    """
    environ = os.environ if environ is None else environ
    named = environ.get("VILLAGE_ATLAS_HOUSEHOLD_KEY_FILE")
    if named:
        return Path(named).expanduser()
    config = environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(config) / "village-atlas" / "household.key"
