"""The layer catalogue: `REGISTRY` of `LayerSpec` by key, lookup, validation and loading."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from types import MappingProxyType

import geopandas as gpd
import pandas as pd

import store
from geo import settings
from geo.errors import SchemaError, UnknownLayerError
from geo.raster import read_tags
from geo.validate import choice_problems, coerce_columns, schema_problems
from layers.bureaus import BUREAUS
from layers.catalogue import CATALOGUE
from layers.spec import Bureau, GeometryKind, LayerSpec, Style, Theme

__all__ = [
    "BUREAUS",
    "ORIGIN",
    "REGISTRY",
    "Bureau",
    "GeometryKind",
    "LayerSpec",
    "Style",
    "Theme",
    "as_of",
    "editable_fields",
    "get_layer",
    "load",
    "origin",
    "origin_of_frame",
    "problems",
    "raster_path",
    "validate",
]

REGISTRY = MappingProxyType({spec.key: spec for spec in CATALOGUE})
#: Identifier columns: each value may appear once in a layer.
_UNIQUE = ("code", "project_id")
#: Key of a loaded layer's ``attrs`` under which `load` puts where the layer came from.
ORIGIN = "origin"


def get_layer(key: str) -> LayerSpec:
    """Return the catalogue entry for `key` (case and spaces tolerated).

    Raises
    ------
    UnknownLayerError
        If no layer matches; the message lists the valid keys.

    Examples
    --------
    >>> get_layer("Bus stops").bureau.name_en
    'Municipal Transportation Bureau'
    """
    wanted = key.strip().lower().replace(" ", "_").replace("-", "_")
    if wanted in REGISTRY:
        return REGISTRY[wanted]
    msg = f"No layer matching {key!r}. Valid keys: {', '.join(REGISTRY)}"
    raise UnknownLayerError(msg)


def problems(key: str, gdf: gpd.GeoDataFrame) -> list[str]:
    """Return every way `gdf` departs from layer `key`'s schema (empty: it conforms)."""
    spec = get_layer(key)
    found = schema_problems(
        _with_optional(gdf, spec),
        columns=spec.columns,
        geometry_types=spec.geometry.shapely_types,
        name=spec.key,
    )
    for column in _UNIQUE:
        if column in spec.columns and column in gdf.columns:
            repeated = gdf[column][gdf[column].duplicated()].astype(str).unique()
            if len(repeated):
                shown = ", ".join(repeated[:5]) + (" ..." if len(repeated) > 5 else "")  # noqa: PLR2004
                found.append(f"`{column}` must be unique: {shown} appear more than once")
    found += choice_problems(gdf, spec.choices, several=spec.several)
    if spec.key == "projects":
        from layers import projects  # noqa: PLC0415 (it reads the rules, which read this module)

        found += projects.problems(gdf)
    return found


def validate(key: str, gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return `gdf` with its columns cast to layer `key`'s schema, or raise listing all problems.

    Raises
    ------
    SchemaError
        If anything is wrong; the message lists every problem.
    """
    found = problems(key, gdf)
    if found:
        msg = f"layer {key!r} does not match the catalogue:\n- " + "\n- ".join(found)
        raise SchemaError(msg)
    spec = get_layer(key)
    return coerce_columns(_with_optional(gdf, spec), spec.columns)


def _with_optional(gdf: gpd.GeoDataFrame, spec: LayerSpec) -> gpd.GeoDataFrame:
    """Return `gdf` with the optional columns it lacks added, empty (itself if it lacks none)."""
    missing = [c for c in spec.optional if c not in gdf.columns]
    if not missing:
        return gdf
    return gdf.assign(**dict.fromkeys(missing, pd.NA))


def editable_fields(key: str, bureau: str | None = None) -> dict[str, str]:
    """Return the fields of layer `key` editable record by record -> their column type.

    With `bureau`, only the fields the catalogue assigns to that bureau.

    Examples
    --------
    >>> editable_fields("villages", bureau="water")
    {'tap_water_year': 'year'}
    """
    spec = get_layer(key)
    return {
        column: spec.columns[column]
        for column, owner in spec.editable.items()
        if bureau is None or owner == bureau
    }


def load(key: str, where: Path | str | None = None) -> gpd.GeoDataFrame:
    """Read vector layer `key` from the store (default: the configured one), cast to its schema.

    The frame carries where the layer came from (`origin`) in ``attrs[ORIGIN]``, so whatever
    is made from it can say so (`origin_of_frame`).
    """
    spec = get_layer(key)
    handle = store.open_store(where)
    gdf = coerce_columns(_with_optional(handle.read_layer(spec.key), spec), spec.columns)
    found = handle.origin(spec.key)
    # a plain dict: Streamlit writes a frame's attrs as JSON when it shows the frame
    gdf.attrs[ORIGIN] = None if found is None else dataclasses.asdict(found)
    return gdf


def origin_of_frame(gdf: gpd.GeoDataFrame) -> store.Origin | None:
    """Return where a layer read by `load` came from (None: a frame `load` did not read)."""
    found = gdf.attrs.get(ORIGIN)
    return store.Origin(**found) if isinstance(found, dict) else None


def origin(key: str, where: Path | str | None = None) -> store.Origin | None:
    """Return where layer `key` came from, as the store (or a raster file itself) records it.

    A vector layer: the store's record (`Store.origin`). A raster: the store's record of
    its import when the store holds an imported file, else the tags of the file in use
    (the demo's population grid is tagged ``synthetic=yes``). None: nothing records it,
    and the catalogue's description (`LayerSpec.source`) stands.
    """
    spec = get_layer(key)
    handle = store.open_store(where)
    recorded = handle.origin(spec.key)
    if not spec.is_raster or spec.path is None:
        return recorded
    imported = handle.raster_dir() / spec.path
    path = imported if imported.is_file() else raster_path(key, _raster_folder(spec))
    if not path.is_file():
        return None
    tags = read_tags(path)
    # the demo's grid says synthetic=yes; one built by an older version only said so in words
    synthetic = tags.get("synthetic") == "yes" or "synthetic demo" in tags.get("source", "")
    if imported.is_file():
        found = recorded or store.Origin(
            layer=spec.key, source=f"{spec.path} (imported)", synthetic=False, at=_mtime(path)
        )
        return dataclasses.replace(found, synthetic=found.synthetic or synthetic)
    if not synthetic:
        return None
    source = tags.get("source") or spec.source
    return store.Origin(layer=spec.key, source=source, synthetic=True, at=_mtime(path))


def _raster_folder(spec: LayerSpec) -> Path:
    """Return the folder of a raster that was not imported: shipped, or the demo's data."""
    return settings.shipped_dir if spec.shipped else settings.data_dir


def _mtime(path: Path) -> str:
    """Return a file's modification time as ISO 8601 UTC, to the second."""
    stamp = dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC)
    return stamp.isoformat(timespec="seconds")


def as_of(key: str, gdf: gpd.GeoDataFrame, year: int) -> gpd.GeoDataFrame:
    """Return the features of layer `key` that exist by the end of `year` (all, if undated)."""
    column = get_layer(key).year_column
    if column is None or column not in gdf.columns:
        return gdf
    return gdf[(gdf[column].astype("Float64") <= year).fillna(value=False).astype(bool)]


def raster_path(key: str, data_dir: Path | None = None) -> Path:
    """Return the GeoTIFF of raster layer `key`: an imported one in the store, else the shipped one.

    Imported rasters live in the store's raster folder (`Store.raster_dir`), never in the
    source tree; the relief ships with the code, the demo population with the demo data.
    """
    spec = get_layer(key)
    if not spec.is_raster or spec.path is None:
        msg = f"layer {key!r} is a vector layer; use `load` instead"
        raise ValueError(msg)
    if data_dir is None:
        imported = store.open_store().raster_dir() / spec.path
        if imported.is_file():
            return imported
    folder = settings.shipped_dir if spec.shipped else Path(data_dir or settings.data_dir)
    return folder / spec.path
