"""File I/O: read and write the GeoPackage store, list its layers."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import pyogrio

from geo import settings
from geo.errors import StoreError

__all__ = ["list_layers", "read_layer", "write_layers"]

_HOW_TO_BUILD = "build the demo data with `village-atlas build-demo` (or `make run`)"


def list_layers(path: Path | None = None) -> list[str]:
    """Return the names of the vector layers in the store at `path`.

    Raises
    ------
    StoreError
        If the store does not exist or is not a GeoPackage.
    """
    path = Path(path or settings.store_path)
    if not path.is_file():
        msg = f"data store {path} does not exist: {_HOW_TO_BUILD}"
        raise StoreError(msg)
    try:
        return [str(name) for name, _ in pyogrio.list_layers(path)]
    except pyogrio.errors.DataSourceError as exc:
        msg = f"data store {path} is not a readable GeoPackage: {exc}"
        raise StoreError(msg) from exc


def read_layer(key: str, path: Path | None = None) -> gpd.GeoDataFrame:
    """Read layer `key` from the store at `path` (default: the demo store).

    The result is returned as stored; `layers.load` also applies the layer's schema.

    Raises
    ------
    StoreError
        If the store or the layer is missing.
    """
    path = Path(path or settings.store_path)
    names = list_layers(path)
    if key not in names:
        msg = f"layer {key!r} is not in {path} (it holds: {', '.join(names) or 'nothing'})"
        raise StoreError(msg)
    return gpd.read_file(path, layer=key, engine="pyogrio")


def write_layers(layers: Mapping[str, gpd.GeoDataFrame], path: Path) -> Path:
    """Write `layers` (name -> GeoDataFrame) as one new GeoPackage at `path`, atomically.

    The file is written next to `path` and moved over it only once complete, so
    an interrupted write never leaves a damaged store behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(suffix=".gpkg", dir=path.parent, prefix=".tmp-")
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()
    try:
        for name, gdf in layers.items():
            gdf.to_file(tmp, layer=name, driver="GPKG", engine="pyogrio")
        tmp.replace(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return path
