"""Tables written for people: CSV, Excel, GeoJSON and GeoPackage downloads, safe to open."""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd

__all__ = ["Note", "labelled_name", "table_bytes", "write_table", "write_workbook"]


@dataclass(frozen=True)
class Note:
    """What a table written for people says about its data (that it is synthetic, say).

    How each format carries it, so that tools reading the data are not tripped up:

    * CSV: a last column headed `title` holding `label` on every row (no comment line,
      which spreadsheets and ``read_csv`` would take for data);
    * Excel: a first sheet named `title` with `lines`, one per row;
    * GeoPackage: the layer's description (``gpkg_contents.description``) is `text`;
    * GeoJSON: a top-level ``description`` member holding `text`.
    """

    title: str
    label: str
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        """The note's lines as one paragraph."""
        return " ".join(self.lines)


def labelled_name(stem: str, note: Note | None) -> str:
    """Return a file name's `stem` ending in the `note`'s label (as is without a note).

    Every file the atlas offers for download is named so: its name says what its
    contents say.

    Examples
    --------
    >>> labelled_name("gaps-2017", Note("About the data", "synthetic demo data", ()))
    'gaps-2017-synthetic-demo-data'
    >>> labelled_name("gaps-2017", None)
    'gaps-2017'
    """
    return stem if note is None else f"{stem}-{note.label.replace(' ', '-')}"


_TABLE_FORMATS = {".csv", ".geojson", ".json", ".gpkg", ".xlsx"}
#: How a cell a spreadsheet would run as a formula (or a DDE command) starts.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _sheet_name(name: str, taken: set[str]) -> str:
    r"""Return a valid, unique Excel sheet name (31 characters, none of []:*?/\\)."""
    clean = "".join("_" if ch in "[]:*?/\\" else ch for ch in name)[:31] or "sheet"
    candidate, n = clean, 1
    while candidate in taken:
        n += 1
        candidate = f"{clean[:28]}~{n}"
    taken.add(candidate)
    return candidate


def write_workbook(
    sheets: Mapping[str, pd.DataFrame], path: Path | str, *, note: Note | None = None
) -> Path:
    """Write one sheet per frame to an .xlsx file; text from data never becomes a formula.

    Any cell whose text starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
    return is stored as text (with Excel's quote prefix), so a hostile
    ``=HYPERLINK(...)`` stays inert; numbers stay numbers. A `note` comes first, as a
    sheet of its own.
    """
    from openpyxl import Workbook  # noqa: PLC0415 (only for .xlsx)

    book = Workbook()
    book.remove(book.active)
    taken: set[str] = set()
    if note is not None:
        about = book.create_sheet(_sheet_name(note.title, taken))
        for line in note.lines:
            about.append([_cell(line)])
        about.column_dimensions["A"].width = 100
    for name, frame in sheets.items():
        sheet = book.create_sheet(_sheet_name(str(name), taken))
        sheet.append([str(c) for c in frame.columns])
        for row in frame.itertuples(index=False):
            sheet.append([_cell(v) for v in row])
        for cells in sheet.iter_rows(min_row=1):
            for cell in cells:
                if isinstance(cell.value, str) and cell.value.startswith(_FORMULA_START):
                    cell.data_type = "s"  # text, never a formula
                    cell.quotePrefix = True
    book.save(path)
    return Path(path)


def _inert(value: object) -> object:
    r"""Return text a spreadsheet would run as a formula with a quote in front; else as is.

    Examples
    --------
    >>> [_inert(v) for v in ("=1+1", "-2", "\tx", "村", -3.5)]
    ["'=1+1", "'-2", "'\tx", '村', -3.5]
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _write_csv(frame: pd.DataFrame, path: Path, note: Note | None = None) -> None:
    """Write a CSV safe to open in a spreadsheet: inert text, every field quoted.

    Quoting every field keeps a carriage return or line break inside its cell. A `note`
    is a last column (see `Note`).
    """
    if note is not None:
        frame = frame.assign(**{note.title: note.label})
    safe = frame.map(_inert)
    safe.columns = [_inert(str(c)) for c in frame.columns]
    safe.to_csv(path, index=False, quoting=csv.QUOTE_ALL)


def _cell(value: object) -> object:
    """Return a value as a workbook cell: None when missing, text without control characters.

    Excel files cannot hold most control characters (openpyxl refuses them); they are
    shown as U+FFFD so the cell still says something was there.
    """
    if _is_missing(value):
        return None
    if isinstance(value, str):
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE  # noqa: PLC0415

        return ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
    return value


def _is_missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)  # noqa: PLR0124


def write_table(
    frame: pd.DataFrame,
    path: Path | str,
    *,
    geometry: gpd.GeoSeries | None = None,
    note: Note | None = None,
) -> Path:
    """Write `frame` as .csv, .xlsx, or (with `geometry`) .geojson / .gpkg.

    Spreadsheet cells whose text starts with ``=``, ``+``, ``-``, ``@``, a tab or a
    carriage return are stored as text, never as formulas: with a leading quote in a
    CSV (whose every field is quoted), with Excel's quote prefix in a workbook. A `note`
    goes where each format keeps one (see `Note`).

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
        _write_csv(frame, path, note)
    elif suffix == ".xlsx":
        write_workbook({"data": frame}, path, note=note)
    else:
        if geometry is None:
            msg = f"cannot write {path.name}: a map format needs geometries"
            raise ValueError(msg)
        gdf = gpd.GeoDataFrame(frame, geometry=geometry.to_numpy(), crs=geometry.crs)
        driver = "GPKG" if suffix == ".gpkg" else "GeoJSON"
        options = {} if note is None else {"DESCRIPTION": note.text}
        gdf.to_file(path, driver=driver, engine="pyogrio", layer_options=options)
    return path


def table_bytes(
    frame: pd.DataFrame,
    suffix: str,
    *,
    geometry: gpd.GeoSeries | None = None,
    note: Note | None = None,
) -> bytes:
    """Return `frame` written as a `suffix` file (see `write_table`), for a download."""
    with tempfile.TemporaryDirectory() as folder:
        out = write_table(frame, Path(folder) / f"table{suffix}", geometry=geometry, note=note)
        return out.read_bytes()
