"""File I/O: read and write the GeoPackage store, list its layers."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from geo import settings
from geo.errors import StoreError

__all__ = [
    "list_layers",
    "read_layer",
    "table_bytes",
    "write_layers",
    "write_table",
    "write_workbook",
]

_INTERNAL = "va_"  # the app's own tables (audit trail): not layers
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
        listed = pyogrio.list_layers(path)
    except pyogrio.errors.DataSourceError as exc:
        msg = f"data store {path} is not a readable GeoPackage: {exc}"
        raise StoreError(msg) from exc
    return [str(name) for name, _ in listed if not str(name).startswith(_INTERNAL)]


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
        for stale in ("-wal", "-shm"):  # a write-ahead log of the replaced file
            path.with_name(path.name + stale).unlink(missing_ok=True)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return path


_TABLE_FORMATS = {".csv", ".geojson", ".json", ".gpkg", ".xlsx"}
_FORMULA_START = ("=", "+", "-", "@")


def _sheet_name(name: str, taken: set[str]) -> str:
    r"""Return a valid, unique Excel sheet name (31 characters, none of []:*?/\\)."""
    clean = "".join("_" if ch in "[]:*?/\\" else ch for ch in name)[:31] or "sheet"
    candidate, n = clean, 1
    while candidate in taken:
        n += 1
        candidate = f"{clean[:28]}~{n}"
    taken.add(candidate)
    return candidate


def write_workbook(sheets: Mapping[str, pd.DataFrame], path: Path | str) -> Path:
    """Write one sheet per frame to an .xlsx file; text from data never becomes a formula.

    Any cell whose text starts with ``=``, ``+``, ``-`` or ``@`` is stored as text
    (with Excel's quote prefix), so a hostile ``=HYPERLINK(...)`` stays inert.
    """
    from openpyxl import Workbook  # noqa: PLC0415 (only for .xlsx)

    book = Workbook()
    book.remove(book.active)
    taken: set[str] = set()
    for name, frame in sheets.items():
        sheet = book.create_sheet(_sheet_name(str(name), taken))
        sheet.append([str(c) for c in frame.columns])
        for row in frame.itertuples(index=False):
            sheet.append([None if _is_missing(v) else v for v in row])
        for cells in sheet.iter_rows(min_row=1):
            for cell in cells:
                if isinstance(cell.value, str) and cell.value.startswith(_FORMULA_START):
                    cell.data_type = "s"  # text, never a formula
                    cell.quotePrefix = True
    book.save(path)
    return Path(path)


def _is_missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)  # noqa: PLR0124


def write_table(
    frame: pd.DataFrame, path: Path | str, *, geometry: gpd.GeoSeries | None = None
) -> Path:
    """Write `frame` as .csv, .xlsx, or (with `geometry`) .geojson / .gpkg.

    Spreadsheet cells whose text starts with ``=``, ``+``, ``-`` or ``@`` are stored as
    text, never as formulas.

    Raises
    ------
    ValueError
        If the extension is not one of these, or a map format lacks `geometry`.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _TABLE_FORMATS:
        msg = f"cannot write {path.name}: use .csv, .xlsx, .geojson or .gpkg"
        raise ValueError(msg)
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".xlsx":
        write_workbook({"data": frame}, path)
    else:
        if geometry is None:
            msg = f"cannot write {path.name}: a map format needs geometries"
            raise ValueError(msg)
        gdf = gpd.GeoDataFrame(frame, geometry=geometry.to_numpy(), crs=geometry.crs)
        driver = "GPKG" if suffix == ".gpkg" else "GeoJSON"
        gdf.to_file(path, driver=driver, engine="pyogrio")
    return path


def table_bytes(
    frame: pd.DataFrame, suffix: str, *, geometry: gpd.GeoSeries | None = None
) -> bytes:
    """Return `frame` written as a `suffix` file (see `write_table`), for a download."""
    with tempfile.TemporaryDirectory() as folder:
        return write_table(frame, Path(folder) / f"table{suffix}", geometry=geometry).read_bytes()
