"""The poor-household register in the plan's words: its steps, clean-ups, and counts by year.

Section 5 of the plan identifies the poor through the "five steps and one publicity"
(household application, group review, village review, township review, county approval,
public publicity), due by mid-June 2015; section 3 files every household on the "five
clean-ups" (clear base, problems, countermeasures, responsibility, tasks); section 2 sets
the exits in households and people. These functions read the aggregated register
(`store.register.Register`): counts, never households.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pandas as pd

import store
from geo.errors import StoreError
from layers.i18n import t
from store.register import CLEANUPS, STEPS, Register

__all__ = [
    "CLEANUPS",
    "IDENTIFY_DEADLINE",
    "STEPS",
    "cleanup_label",
    "exits_by_year",
    "late",
    "out_by",
    "read_register",
    "registered",
    "step_label",
]

#: The plan's time limit for identifying the poor: "completed in mid-June, 215" (2015).
IDENTIFY_DEADLINE = dt.date(2015, 6, 15)


def step_label(step: str, lang: str = "en") -> str:
    """Return a step of the "five steps and one publicity" in words.

    Examples
    --------
    >>> step_label("county_approval", "zh")
    '县审批'
    """
    return t("step_" + step, lang)


def cleanup_label(cleanup: str, lang: str = "en") -> str:
    """Return one of the "five clean-ups" in words.

    Examples
    --------
    >>> cleanup_label("clear_tasks")
    'Clear tasks'
    """
    return t("cleanup_" + cleanup.removeprefix("clear_"), lang)


def read_register(where: str | None = None) -> Register:
    """Return the configured store's register (empty when it holds none or cannot be read)."""
    try:
        return store.open_store(where).register()
    except StoreError:
        return Register()


def _of(frame: pd.DataFrame, codes: Iterable[str] | None, column: str) -> pd.DataFrame:
    return frame if codes is None else frame[frame[column].isin(set(codes))]


def registered(register: Register, codes: Iterable[str] | None = None) -> tuple[int, int]:
    """Return the households and people registered poor at the baseline in villages `codes`.

    Examples
    --------
    >>> reg = Register(pd.DataFrame({"households": [2, 5], "people": [7, 16]},
    ...                             index=pd.Index(["a", "b"], name="village_code")))
    >>> registered(reg, ["a"])
    (2, 7)
    """
    villages = register.villages.reset_index()
    chosen = _of(villages, codes, "village_code")
    return int(chosen["households"].sum()), int(chosen["people"].sum())


def out_by(register: Register, year: int, codes: Iterable[str] | None = None) -> tuple[int, int]:
    """Return the households and people of villages `codes` out of poverty by the end of `year`.

    Examples
    --------
    >>> reg = Register(exits=pd.DataFrame({"village_code": ["a", "a", "b"],
    ...     "year": [2015, 2016, 2016], "households": [1, 1, 4], "people": [3, 4, 12]}))
    >>> out_by(reg, 2015), out_by(reg, 2016, ["a"])
    ((1, 3), (2, 7))
    """
    exits = _of(register.exits, codes, "village_code")
    done = exits[exits["year"] <= year]
    return int(done["households"].sum()), int(done["people"].sum())


def exits_by_year(register: Register, codes: Iterable[str] | None = None) -> pd.DataFrame:
    """Return the households and people that exited in each year (rows: years)."""
    exits = _of(register.exits, codes, "village_code")
    table = exits.groupby("year")[["households", "people"]].sum()
    return table.astype("int64")


def late(register: Register, deadline: dt.date = IDENTIFY_DEADLINE) -> pd.Series:
    """Return, per village, whether its publicity came after `deadline` or has not come yet.

    Examples
    --------
    >>> reg = Register(pd.DataFrame({"publicity": ["2015-06-01", "2015-06-20", None]},
    ...                             index=pd.Index(["a", "b", "c"], name="village_code")))
    >>> late(reg).tolist()
    [False, True, True]
    """
    published = register.villages["publicity"]
    due = deadline.isoformat()
    return published.map(lambda d: d is None or d != d or str(d) > due).astype(bool)  # noqa: PLR0124
