"""Schema checks for GeoDataFrames: every problem is reported at once."""

from __future__ import annotations

from collections.abc import Collection, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

__all__ = ["COLUMN_TYPES", "choice_problems", "coerce_columns", "schema_problems"]

#: Column types a layer schema may use, with what each accepts.
COLUMN_TYPES: Mapping[str, str] = {
    "str": "text",
    "int": "whole number, never empty",
    "count": "whole number >= 0, never empty",
    "year": "year 1949-2100, or empty (not yet)",
    "float": "number, never empty",
    "bool": "true/false",
    "code12": "12-digit administrative code",
}

_MIN_YEAR, _MAX_YEAR = 1949, 2100


def _whole(values: pd.Series) -> pd.Series:
    num = pd.to_numeric(values, errors="coerce")
    return num.notna() & (num == np.round(num))


def _column_problems(name: str, kind: str, values: pd.Series) -> list[str]:
    present = values.notna()
    if kind == "str":
        bad = present & ~values.map(lambda v: isinstance(v, str))
    elif kind in {"int", "count", "float"}:
        bad = ~present | ~pd.to_numeric(values, errors="coerce").notna()
        if kind != "float":
            bad |= ~_whole(values)
        if kind == "count":
            bad |= pd.to_numeric(values, errors="coerce") < 0
    elif kind == "year":
        num = pd.to_numeric(values, errors="coerce")
        bad = present & (~_whole(values) | (num < _MIN_YEAR) | (num > _MAX_YEAR))
    elif kind == "bool":
        bad = ~values.map(lambda v: isinstance(v, bool | np.bool_) or v in (0, 1))
    elif kind == "code12":
        bad = ~values.astype(str).str.fullmatch(r"\d{12}")
    else:
        return [f"column `{name}` has unknown schema type {kind!r}"]
    if not bad.any():
        return []
    where = ", ".join(map(str, values.index[bad][:5]))
    more = " ..." if bad.sum() > 5 else ""  # noqa: PLR2004
    return [
        f"column `{name}` must hold {COLUMN_TYPES[kind]}: {bad.sum()} bad row(s) ({where}{more})"
    ]


def _shown(value: object) -> str:
    """Return a value as a short quoted text for a message (long text cut)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."  # noqa: PLR2004


def choice_problems(
    gdf: pd.DataFrame,
    choices: Mapping[str, Collection[str]],
    *,
    several: Collection[str] = (),
) -> list[str]:
    """List the columns of `gdf` holding values outside their allowed list (empty cells pass).

    Parameters
    ----------
    gdf
        The data to check; columns it lacks are not checked here (`schema_problems` says so).
    choices
        Column name -> the values allowed in it.
    several
        Columns whose cells may list several allowed values, joined by ", ".

    Examples
    --------
    >>> frame = pd.DataFrame({"status": ["done", "finished", None, "DONE"]})
    >>> choice_problems(frame, {"status": ("planned", "done")})
    ["column `status` must be one of planned, done: 2 bad row(s) (1, 3): 'finished', 'DONE'"]
    >>> funds = pd.DataFrame({"f": ["a, b", "a,,b", "c"]})
    >>> choice_problems(funds, {"f": ("a", "b")}, several={"f"})
    ["column `f` must list one or more of a, b (joined by ', '): 2 bad row(s) (1, 2): 'a,,b', 'c'"]
    """
    problems = []
    for col, allowed in choices.items():
        if col not in gdf.columns:
            continue
        values = gdf[col]
        if col in several:
            parts = values.dropna().astype(str).str.split(", ")
            ok = frozenset(allowed)
            fine = parts.map(lambda p, ok=ok: len(p) == len(set(p)) and set(p) <= ok)
            bad = values.notna() & ~fine.reindex(values.index, fill_value=True)
        else:
            bad = values.notna() & ~values.isin(list(allowed))
        if not bad.any():
            continue
        where = ", ".join(map(str, values.index[bad][:5]))
        more = " ..." if bad.sum() > 5 else ""  # noqa: PLR2004
        seen = ", ".join(_shown(v) for v in values[bad].unique()[:5])
        what = (
            f"list one or more of {', '.join(allowed)} (joined by ', ')"
            if col in several
            else f"be one of {', '.join(allowed)}"
        )
        problems.append(
            f"column `{col}` must {what}: {bad.sum()} bad row(s) ({where}{more}): {seen}"
        )
    return problems


def schema_problems(
    gdf: gpd.GeoDataFrame,
    *,
    columns: Mapping[str, str],
    geometry_types: Collection[str],
    name: str = "gdf",
) -> list[str]:
    """List every way `gdf` departs from a schema (empty list: it conforms).

    Parameters
    ----------
    gdf
        The data to check.
    columns
        Required column name -> type, one of `COLUMN_TYPES`.
    geometry_types
        Allowed shapely geometry type names (``"Point"``, ``"MultiPolygon"``, ...).
    name
        How to call the data in messages.

    Examples
    --------
    >>> gdf = gpd.GeoDataFrame({"pop": [3, None]}, geometry=[shapely.Point(0, 0), None],
    ...                        crs="EPSG:4326")
    >>> for p in schema_problems(gdf, columns={"pop": "int", "name": "str"},
    ...                          geometry_types={"Point"}, name="villages"):
    ...     print(p)
    `villages` lacks column(s): `name`
    column `pop` must hold whole number, never empty: 1 bad row(s) (1)
    `villages` has 1 empty or missing geometries (rows 1)
    """
    problems: list[str] = []
    if gdf.crs is None:
        problems.append(f"`{name}` has no CRS")
    missing = [c for c in columns if c not in gdf.columns]
    if missing:
        problems.append(f"`{name}` lacks column(s): " + ", ".join(f"`{c}`" for c in missing))
    for col, kind in columns.items():
        if col in gdf.columns:
            problems += _column_problems(col, kind, gdf[col])
    geoms = gdf.geometry.to_numpy()
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if empty.any():
        rows = ", ".join(map(str, gdf.index[empty][:5]))
        problems.append(f"`{name}` has {empty.sum()} empty or missing geometries (rows {rows})")
    types = pd.Series(shapely.get_type_id(geoms)).map(
        dict(
            enumerate(
                [
                    "Point",
                    "LineString",
                    "LinearRing",
                    "Polygon",
                    "MultiPoint",
                    "MultiLineString",
                    "MultiPolygon",
                    "GeometryCollection",
                ]
            )
        )
    )
    wrong = sorted(set(types[~empty].dropna()) - set(geometry_types))
    if wrong:
        allowed = ", ".join(sorted(geometry_types))
        problems.append(f"`{name}` has geometries of type {', '.join(wrong)}; expected {allowed}")
    invalid = ~empty & ~shapely.is_valid(geoms)
    if invalid.any():
        problems.append(f"`{name}` has {invalid.sum()} invalid geometries")
    return problems


def coerce_columns(gdf: gpd.GeoDataFrame, columns: Mapping[str, str]) -> gpd.GeoDataFrame:
    """Return a copy of `gdf` with schema columns cast to their pandas dtypes.

    Years and counts become nullable ``Int64`` (GeoPackage returns them as floats
    when some are empty), codes become 12-character strings, flags become bool.
    """
    out = gdf.copy()
    for col, kind in columns.items():
        if col not in out.columns:
            continue
        if kind in {"int", "count", "year"}:
            out[col] = pd.to_numeric(out[col], errors="coerce").round().astype("Int64")
        elif kind == "float":
            out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64")
        elif kind == "bool":
            out[col] = out[col].fillna(value=False).astype(bool)
        elif kind == "code12":
            out[col] = out[col].map(lambda v: f"{int(v):012d}" if not isinstance(v, str) else v)
    return out
