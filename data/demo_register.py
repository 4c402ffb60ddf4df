"""The demo's poor-household register: synthetic households, consistent with the villages.

Each village's registered poor households and people (`poor_households`, `poor_people`)
become that many synthetic households, with no ID number at all: only their counts are
stored (`store.households.aggregate`). Households of a poor village are all out by the
year the village exits, most of them that year; those of a poor village not yet out are
partly out; those of a village that is not poor leave on the county's own pace (the exit
years of its poor villages). Each village goes through the "five steps and one
publicity" in spring 2015, most before the mid-June deadline (a few households are
reviewed again and publicised in the autumn); every file is complete on the "five
clean-ups".

Draws come from a generator of their own, so the other layers' values never change.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from numpy.random import Generator

from store.households import aggregate
from store.register import CLEANUPS, STEPS, Register

__all__ = ["demo_register"]

_STREAM = 12  # the register's own stream of the demo's seed
_START = dt.date(2015, 3, 1)


def _people(rng: Generator, households: int, people: int) -> np.ndarray:
    """Split `people` over `households` (at least one each)."""
    extra = max(people - households, 0)
    return 1 + rng.multinomial(extra, np.full(households, 1.0 / households))


def _exit_years(
    rng: Generator, n: int, exit_year: float, is_poor: bool, pace: np.ndarray, data_year: int
) -> np.ndarray:
    """Exit years of a village's `n` households (0: not out by the data year)."""
    if not is_poor:  # at the pace of the county's poor villages (all in 2015 if it has none)
        return rng.choice(pace, n) if len(pace) else np.full(n, 2015)
    if np.isnan(exit_year):  # not out yet: some of its households are
        years = np.arange(2015, data_year + 1)
        shares = np.append(np.full(len(years), 0.6 / len(years)), 0.4)
        return rng.choice(np.append(years, 0), n, p=shares)
    last = int(exit_year)
    early = np.arange(2015, last)
    if not len(early):
        return np.full(n, last)
    return np.where(rng.random(n) < 0.6, last, rng.choice(early, n))  # noqa: PLR2004


def _steps(rng: Generator, n: int) -> dict[str, list[str | None]]:
    """Dates of the five steps and the publicity for a village's `n` households."""
    day = _START + dt.timedelta(days=int(rng.integers(10, 60)))
    dates: dict[str, list[str | None]] = {}
    for step in STEPS:
        dates[step] = [day.isoformat() for _ in range(n)]
        day += dt.timedelta(days=int(rng.integers(5, 15)))
    if n > 1 and rng.random() < 0.04:  # noqa: PLR2004 (a few households reviewed again)
        pending = rng.choice(n, min(n - 1, int(rng.integers(1, 4))), replace=False)
        later = dt.date(2015, 6, 16) + dt.timedelta(days=int(rng.integers(30, 150)))
        for step in STEPS[-int(rng.integers(1, 3)) :]:
            for i in pending:
                dates[step][i] = later.isoformat()
            later += dt.timedelta(days=int(rng.integers(5, 15)))
    return dates


def _village(
    rng: Generator, v: pd.Series, pace: np.ndarray, data_year: int
) -> dict[str, np.ndarray]:
    """Columns of one village's household rows."""
    n = int(v["poor_households"])
    exit_year = float(v["exit_year"]) if pd.notna(v["exit_year"]) else float("nan")
    return {
        "village_code": np.full(n, v["code"], dtype=object),
        "people": _people(rng, n, int(v["poor_people"])),
        "exit_year": _exit_years(rng, n, exit_year, bool(v["is_poor"]), pace, data_year),
        **{step: np.array(dates, dtype=object) for step, dates in _steps(rng, n).items()},
        **{c: np.ones(n, dtype="int64") for c in CLEANUPS},
    }


def demo_register(villages: pd.DataFrame, *, seed: int, data_year: int) -> Register:
    """Return the demo's register for `villages` (codes, poor counts, exit years).

    Examples
    --------
    >>> v = pd.DataFrame({"code": ["a", "b"], "county_code": ["c", "c"],
    ...     "poor_households": [10, 3], "poor_people": [31, 9], "is_poor": [True, False],
    ...     "exit_year": [2016, None]})
    >>> reg = demo_register(v, seed=1, data_year=2017)
    >>> reg.villages[["households", "people"]].sum().tolist()
    [13, 40]
    >>> int(reg.exits.query("village_code == 'a'")["households"].sum())
    10
    """
    rng = np.random.default_rng([seed, _STREAM])
    frames = []
    for _, group in villages.sort_values("code").groupby("county_code", sort=True):
        poor = group[group["is_poor"].astype(bool)]
        pace = poor["exit_year"].astype("Float64").fillna(0).astype(int).to_numpy()
        frames += [
            _village(rng, v, pace, data_year)
            for _, v in group.iterrows()
            if int(v["poor_households"]) > 0
        ]
    if not frames:
        return Register()
    rows = pd.DataFrame(
        {column: np.concatenate([f[column] for f in frames]) for column in frames[0]}
    )
    rows["exit_year"] = rows["exit_year"].where(rows["exit_year"] > 0).astype("Int64")
    return aggregate(rows)
