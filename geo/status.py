"""The plan's state as of a year, from the village files' year columns."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

__all__ = ["done_by", "poverty_status"]


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
