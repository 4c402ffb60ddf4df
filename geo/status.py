"""The plan's state as of a year, from the village files' year columns."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from geo import settings

__all__ = ["done_by", "poverty_status", "safe_housing_year", "year_of"]


def done_by(years: pd.Series, year: int) -> pd.Series:
    """Return whether each event year (empty: not yet) happened by the end of `year`.

    Examples
    --------
    >>> done_by(pd.Series([2014, None, 2017], dtype="Int64"), 2016).tolist()
    [True, False, False]
    """
    return (years.astype("Float64") <= year).fillna(value=False).astype(bool).rename(years.name)


def poverty_status(villages: gpd.GeoDataFrame, year: int) -> pd.Series:
    """Return each village's status at the end of `year`: ``poor``, ``exited`` or ``not_poor``.

    Examples
    --------
    >>> v = pd.DataFrame({"is_poor": [True, True, False],
    ...                   "exit_year": pd.array([2015, None, None], dtype="Int64")})
    >>> poverty_status(v, 2014).tolist(), poverty_status(v, 2016).tolist()
    (['poor', 'poor', 'not_poor'], ['exited', 'poor', 'not_poor'])
    """
    exited = done_by(villages["exit_year"], year)
    status = np.where(
        ~villages["is_poor"].astype(bool), "not_poor", np.where(exited, "exited", "poor")
    )
    return pd.Series(status, index=villages.index, name="status")


def safe_housing_year(villages: pd.DataFrame) -> pd.Series:
    """Return the year by which all of a village's dangerous houses were renovated (else empty).

    Uses `dangerous_houses` (2014 baseline) and the `renovated_YYYY` columns; a village
    with no dangerous house was safe at the baseline (2014).

    Examples
    --------
    >>> v = pd.DataFrame({"dangerous_houses": [0, 5, 5], "renovated_2015": [0, 2, 1],
    ...                   "renovated_2016": [0, 3, 1]})
    >>> safe_housing_year(v).tolist()
    [2014, 2016, <NA>]
    """
    columns = sorted(c for c in villages.columns if c.startswith("renovated_"))
    done = villages[columns].astype("float64").fillna(0.0).cumsum(axis=1)
    need = villages["dangerous_houses"].astype("float64").to_numpy()[:, None]
    reached = done.to_numpy() >= need
    years = np.array([int(c.removeprefix("renovated_")) for c in columns])
    first = np.where(reached.any(axis=1), years[reached.argmax(axis=1)], -1)
    first = np.where(need[:, 0] <= 0, settings.baseline_year, first)
    return (
        pd.Series(first, index=villages.index, name="safe_housing_year")
        .replace(-1, pd.NA)
        .astype("Int64")
    )


_DERIVED = {"safe_housing_year": safe_housing_year}


def year_of(villages: pd.DataFrame, column: str) -> pd.Series:
    """Return a village year column, stored or derived (``safe_housing_year``)."""
    if column in villages.columns:
        return villages[column]
    return _DERIVED[column](villages)


def select_villages(
    villages: pd.DataFrame,
    *,
    counties: list[str] | None = None,
    townships: list[str] | None = None,
    statuses: list[str] | None = None,
    immigrant_only: bool = False,
) -> pd.Series:
    """Return a boolean mask of the villages that pass the map's filters (empty list: any).

    `villages` must hold `county_code`, `township_code`, `is_immigrant` and `status`.

    Examples
    --------
    >>> v = pd.DataFrame({"county_code": ["a", "b"], "township_code": ["a1", "b1"],
    ...                   "is_immigrant": [False, True], "status": ["poor", "exited"]})
    >>> select_villages(v, counties=["b"]).tolist(), select_villages(v, statuses=["poor"]).tolist()
    ([False, True], [True, False])
    """
    keep = pd.Series(data=True, index=villages.index)
    for column, wanted in (
        ("county_code", counties),
        ("township_code", townships),
        ("status", statuses),
    ):
        if wanted:
            keep &= villages[column].isin(wanted)
    if immigrant_only:
        keep &= villages["is_immigrant"].astype(bool)
    return keep


def search_villages(villages: pd.DataFrame, query: str, *, limit: int = 20) -> pd.DataFrame:
    """Return the villages whose Chinese name, pinyin or code matches `query`.

    Pinyin matches ignore case, spaces and tone-less ``ü``/``v`` spelling; codes match
    from the start. Exact name matches come first.

    Examples
    --------
    >>> v = pd.DataFrame({"name_zh": ["东泉村", "西湖村"], "pinyin": ["Dongquan Cun", "Xihu Cun"],
    ...                   "code": ["620902100201", "620902100202"]})
    >>> search_villages(v, "dongquan")["name_zh"].tolist(), len(search_villages(v, "6209021002"))
    (['东泉村'], 2)
    """
    q = query.strip()
    if not q:
        return villages.iloc[:0]
    folded = q.lower().replace(" ", "").replace("v", "ü")
    pinyin = villages["pinyin"].str.lower().str.replace(" ", "", regex=False)
    hit = (
        villages["name_zh"].str.contains(q, regex=False)
        | pinyin.str.contains(folded, regex=False)
        | pinyin.str.contains(q.lower().replace(" ", ""), regex=False)
        | villages["code"].str.startswith(q)
    )
    found = villages[hit]
    exact = found["name_zh"].eq(q) | found["name_zh"].eq(q + "村")
    return pd.concat([found[exact], found[~exact]]).head(limit)
