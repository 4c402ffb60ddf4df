"""Importing a layer: coordinate checks, column mapping, a report, and a safe write.

Nothing is written until confirmed; the write itself is the store's `replace_layers`
(one transaction, after an online backup).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from geo import crs as geo_crs
from geo import settings
from geo.errors import ImportRefusedError
from layers.profile import PROFILE

__all__ = [
    "CITY_BOUNDS",
    "FLAG_SPELLINGS",
    "ImportRefusedError",
    "Report",
    "crs_problems",
    "import_raster",
    "prepare",
    "read_flags",
    "suggest_columns",
]

#: Lon/lat box the data must fall in: the city profile's `bounds` (the city with a margin).
CITY_BOUNDS = PROFILE.bounds
_MAX_ABS = 1e8  # larger coordinates are nonsense in any CRS used here

#: Header synonyms (Chinese and English) for the catalogue's columns.
SYNONYMS: Mapping[str, tuple[str, ...]] = {
    "code": ("代码", "村代码", "行政区划代码", "编码", "code", "id", "village_code"),
    "name_zh": ("村名", "村庄名称", "名称", "行政村", "name", "村"),
    "name": ("名称", "站名", "名字", "name"),
    "pinyin": ("拼音", "pinyin"),
    "households": ("户数", "总户数", "households"),
    "population": ("人口", "总人口", "人数", "population"),
    "poor_households": ("贫困户", "贫困户数"),
    "poor_people": ("贫困人口", "贫困人数"),
    "year_built": ("建成年份", "年份", "建设年份", "year"),
    "year_opened": ("开通年份", "开业年份", "年份", "year"),
    "county": ("县", "县区", "所属县"),
    "township": ("乡镇", "所属乡镇"),
    "project_id": ("项目编号", "项目代码"),
    "village_code": ("村代码", "行政村代码"),
    "lead": ("牵头单位", "责任单位"),
    "year": ("年份", "年度", "建设年度"),
    "budget_wan_yuan": ("投资（万元）", "投资(万元)", "投资", "预算", "budget"),
    "fund_source": ("资金来源",),
    "status": ("状态", "项目状态", "进度"),
}


@dataclass
class Report:
    """What an import found and did, in plain words."""

    rows_in: int = 0
    rows_out: int = 0
    repaired: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Return the report as lines of text."""
        out = [f"{self.rows_in} features read, {self.rows_out} ready to write"]
        for label, items in (
            ("repaired", self.repaired),
            ("dropped", self.dropped),
            ("duplicates", self.duplicates),
            ("note", self.notes),
            ("problem", self.problems),
        ):
            out += [f"{label}: {item}" for item in items]
        return out


def _in_city(x: np.ndarray, y: np.ndarray) -> float:
    minx, miny, maxx, maxy = CITY_BOUNDS
    return float(np.mean((x >= minx) & (x <= maxx) & (y >= miny) & (y <= maxy)))


def _gauss_kruger(x: np.ndarray) -> str | None:
    """Return the Gauss-Kruger CRS of projected eastings (with or without the zone prefix)."""
    e = float(np.median(x))
    if 1e7 <= e < 5e7:  # noqa: PLR2004 (zone prefix in the easting)
        zone = int(e // 1e6)
        if 25 <= zone <= 45:  # noqa: PLR2004 (3-degree zones 25-45, EPSG:4513-4533)
            return f"EPSG:{4513 + zone - 25}"
        if 13 <= zone <= 23:  # noqa: PLR2004 (6-degree zones 13-23, EPSG:4491-4501)
            return f"EPSG:{4491 + zone - 13}"
    if 1e5 <= e < 9e5:  # noqa: PLR2004 (no prefix: the CM must come from elsewhere)
        return "EPSG:4541"
    return None


def crs_problems(gdf: gpd.GeoDataFrame) -> list[str]:
    """Check the coordinates against the city and say what looks wrong and the likely fix.

    Examples
    --------
    >>> g = gpd.GeoDataFrame(geometry=[shapely.Point(39.7, 98.5)], crs=4326)
    >>> crs_problems(g)[0]
    'latitude and longitude look swapped (the points land in the city when swapped): swap them'
    """
    xy = shapely.get_coordinates(gdf.geometry.to_numpy())
    xy = xy[np.isfinite(xy).all(axis=1)]
    if len(xy) == 0:
        return ["no finite coordinates"]
    x, y = xy[:, 0], xy[:, 1]
    geographic = gdf.crs is None or gdf.crs.is_geographic
    if geographic and _in_city(x, y) > 0.5:  # noqa: PLR2004
        return (
            []
            if gdf.crs is not None
            else [
                (
                    "the file has no CRS; its coordinates look like longitude/latitude in the "
                    "city: give --crs EPSG:4490 (CGCS2000), EPSG:4326, gcj02 (AMap) or bd09 (Baidu)"
                )
            ]
        )
    if geographic and _in_city(y, x) > 0.5:  # noqa: PLR2004
        return [
            (
                "latitude and longitude look swapped (the points land in the city when "
                "swapped): swap them"
            )
        ]
    if gdf.crs is not None and not gdf.crs.is_geographic:
        lon, lat = pyproj.Transformer.from_crs(gdf.crs, 4326, always_xy=True).transform(x, y)
        if _in_city(np.asarray(lon), np.asarray(lat)) > 0.5:  # noqa: PLR2004
            return []
    guess = _gauss_kruger(x)
    if guess is not None:
        label = (
            "claims WGS84 but holds projected metres"
            if gdf.crs is not None and (gdf.crs.is_geographic)
            else "has no CRS and holds projected metres"
        )
        return [f"the file {label}: likely Gauss-Kruger, try --crs {guess}"]
    return ["the coordinates do not fall in the city in any CRS tried: check the file's CRS"]


def suggest_columns(columns: list[str], wanted: list[str]) -> dict[str, str]:
    """Suggest file column -> catalogue column, from synonyms (Chinese too) and spelling.

    Examples
    --------
    >>> suggest_columns(["村名", "总人口", "Households"], ["name_zh", "population", "households"])
    {'村名': 'name_zh', '总人口': 'population', 'Households': 'households'}
    """
    out: dict[str, str] = {}
    for target in wanted:
        names = (target, *SYNONYMS.get(target, ()))
        lower = {c.strip().lower(): c for c in columns if c not in out}
        hit = next((lower[n.lower()] for n in names if n.lower() in lower), None)
        if hit is None:
            close = difflib.get_close_matches(target, list(lower), n=1, cutoff=0.8)
            hit = lower[close[0]] if close else None
        if hit is not None:
            out[hit] = target
    return out


def _apply_crs(gdf: gpd.GeoDataFrame, given: str | None, report: Report) -> gpd.GeoDataFrame:
    if given is None:
        problems = crs_problems(gdf)
        if problems:
            raise ImportRefusedError("; ".join(problems))
        return gdf.to_crs(settings.storage_crs)
    parsed = geo_crs.parse_crs(given)
    out = geo_crs.to_storage_crs(gdf, parsed)
    problems = crs_problems(out)
    if problems:
        msg = f"with --crs {given}: " + "; ".join(problems)
        raise ImportRefusedError(msg)
    report.notes.append(f"coordinates read as {given} and stored as {settings.storage_crs}")
    return out


def _clean_geometries(
    gdf: gpd.GeoDataFrame, report: Report, id_col: str | None
) -> gpd.GeoDataFrame:
    """Drop empty or non-finite geometries, repair invalid ones, flatten 3D; list each."""
    label = gdf[id_col].astype(str) if id_col else pd.Series(gdf.index.astype(str), gdf.index)
    geoms = gdf.geometry.to_numpy()
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    bad = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    bad[
        np.unique(
            owner[~(np.isfinite(coords).all(axis=1) & (np.abs(coords) < _MAX_ABS).all(axis=1))]
        )
    ] = True
    report.dropped += [
        f"{label.iloc[i]}: empty, missing or non-finite geometry" for i in np.flatnonzero(bad)
    ]
    gdf = gdf[~bad].copy()
    geoms = shapely.force_2d(gdf.geometry.to_numpy())
    invalid = ~shapely.is_valid(geoms)
    for i in np.flatnonzero(invalid):
        report.repaired.append(f"{label.loc[gdf.index[i]]}: {shapely.is_valid_reason(geoms[i])}")
    geoms[invalid] = shapely.make_valid(geoms[invalid])
    gdf.geometry = geoms
    return gdf


def _keep_kind(gdf: gpd.GeoDataFrame, kinds: frozenset[str], report: Report) -> gpd.GeoDataFrame:
    """Keep the geometries of the layer's kind (parts of collections too); list the rest.

    A line or polygon feature keeps every part of the kind, as one feature (a township
    with an exclave stays one township, with its code once); a point feature its first.
    """
    parts = gdf.reset_index(drop=True).explode(index_parts=False)
    ok = parts.geom_type.isin(kinds)
    if (~ok).any():
        report.dropped.append(
            f"{int((~ok).sum())} part(s) of another geometry type "
            f"({', '.join(sorted(set(parts.geom_type[~ok])))})"
        )
    parts = parts[ok]
    out = parts[~parts.index.duplicated()].copy()
    if "Point" not in kinds and len(out) < len(parts):
        multi = shapely.multipolygons if "Polygon" in kinds else shapely.multilinestrings
        whole = parts.geometry.groupby(level=0).agg(
            lambda g: g.iloc[0] if len(g) == 1 else multi(g.to_numpy())
        )
        out.geometry = whole.loc[out.index].to_numpy()
    out.index = gdf.index[out.index]
    return out


#: How people spell true and false in tables (compared without case or spaces).
FLAG_SPELLINGS: Mapping[str, bool] = {
    "true": True,
    "false": False,
    "1": True,
    "0": False,
    "是": True,
    "否": False,
    "y": True,
    "n": False,
    "yes": True,
    "no": False,
    "t": True,
    "f": False,
}


def _flag(value: object) -> object:
    """Return a spelt true/false as a bool; anything else unchanged."""
    if isinstance(value, str):
        return FLAG_SPELLINGS.get(value.strip().lower(), value)
    return value


def read_flags(
    gdf: gpd.GeoDataFrame, columns: Mapping[str, str], report: Report
) -> gpd.GeoDataFrame:
    """Return `gdf` with true/false columns spelt as text (CSV, XLSX) read as booleans.

    Raises
    ------
    ImportRefusedError
        If a true/false column holds other text; the message lists a few of the values.

    Examples
    --------
    >>> g = gpd.GeoDataFrame({"ok": ["是", "否", " TRUE", "0"]}, geometry=[None] * 4)
    >>> report = Report()
    >>> read_flags(g, {"ok": "bool"}, report)["ok"].tolist()
    [True, False, True, False]
    >>> report.notes
    ["column `ok`: read '0', 'TRUE', '否', '是' as true/false (2 true, 2 false)"]
    """
    out = gdf.copy()
    for column in [c for c, kind in columns.items() if kind == "bool" and c in gdf.columns]:
        text = gdf[column].map(lambda v: isinstance(v, str)).astype(bool)
        if text.any():
            out[column] = gdf[column].map(_flag)
            report.notes.append(_flags_read(column, gdf[column][text], out[column][text]))
    return out


def _flags_read(column: str, spelt: pd.Series, read: pd.Series) -> str:
    """Say how a column's true/false text was read, or refuse the text that is neither."""
    bad = ~read.map(lambda v: isinstance(v, bool)).astype(bool)
    if bad.any():
        odd = ", ".join(repr(v) for v in list(dict.fromkeys(spelt[bad]))[:5])
        pairs = list(FLAG_SPELLINGS)
        known = ", ".join(f"{t}/{f}" for t, f in zip(pairs[::2], pairs[1::2], strict=True))
        msg = (
            f"column `{column}` must hold true/false ({known}): {int(bad.sum())} row(s) hold {odd}"
        )
        raise ImportRefusedError(msg)
    forms = ", ".join(repr(v) for v in sorted(set(spelt.str.strip()))[:8])
    yes = int(read.astype(bool).sum())
    return f"column `{column}`: read {forms} as true/false ({yes} true, {len(read) - yes} false)"


def prepare(
    gdf: gpd.GeoDataFrame,
    *,
    columns: Mapping[str, str],
    geometry_kinds: frozenset[str],
    crs: str | None = None,
    mapping: Mapping[str, str] | None = None,
    notes: list[str] | None = None,
) -> tuple[gpd.GeoDataFrame, Report]:
    """Bring an uploaded layer to the catalogue's schema; report everything done to it.

    Raises
    ------
    ImportRefusedError
        If the coordinate system is wrong or unknown (with the likely fix), or a
        true/false column holds text that is neither.
    """
    report = Report(rows_in=len(gdf), notes=list(notes or []))
    mapping = dict(
        mapping or suggest_columns([c for c in gdf.columns if c != "geometry"], list(columns))
    )
    gdf = read_flags(gdf.rename(columns=mapping), columns, report)
    id_col = "code" if "code" in gdf.columns else None
    gdf = _clean_geometries(gdf, report, id_col)
    gdf = _keep_kind(gdf, geometry_kinds, report)
    gdf = _apply_crs(gdf, crs, report)
    if id_col:
        dup = gdf[id_col][gdf[id_col].duplicated(keep=False)]
        report.duplicates += [f"{v}: appears {n} times" for v, n in dup.value_counts().items()]
    same = gdf.geometry.to_wkb().duplicated()
    if same.any():
        report.duplicates.append(f"{int(same.sum())} feature(s) repeat another's geometry")
    report.rows_out = len(gdf)
    return gdf, report


def import_raster(path: Path, target: Path, *, dry_run: bool = False) -> Report:
    """Check a GeoTIFF in the limited child process and, unless `dry_run`, put it in place.

    Raises
    ------
    ImportRefusedError
        If the file is not a GeoTIFF, is too large, or has no projected CRS.
    """
    from store.ingest import IngestError, copy_raster  # noqa: PLC0415

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".tmp-{os.getpid()}-{target.name}")
    try:
        notes = copy_raster(path, tmp)
        if not dry_run:
            tmp.replace(target)
    except IngestError as exc:
        raise ImportRefusedError(str(exc)) from exc
    finally:
        tmp.unlink(missing_ok=True)
    return Report(rows_in=1, rows_out=1, notes=notes)
