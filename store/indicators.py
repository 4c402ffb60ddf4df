"""Village indicators of industry, labour and income: the columns the store keeps, and imports.

Section 6 of the plan (industrial poverty alleviation) and the income goal of section 2
are measured from one table, one row per village and year, one number per indicator
(NULL: not reported). What each indicator means and how it adds up is declared in
`layers.indicators`; here are only its column, the largest value a village can report,
and the guarded import of a file (CSV or XLSX) that replaces the rows of the years it
holds. A file is hostile input: read in the limited child (`store.ingest`), checked as a
whole, refused with one line naming every kind of problem and its rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from geo import settings
from geo.errors import AccessDeniedError, ImportRefusedError
from layers import access
from layers.access import Account
from store.base import Store
from store.indicator_columns import COLUMNS, INDICATORS_KEY, LIMITS
from store.ingest import file_rows, named_columns, read_checked_table, refusal, text_cells

__all__ = [
    "COLUMNS",
    "INDICATORS_KEY",
    "LIMITS",
    "SYNONYMS",
    "Imported",
    "import_indicators",
    "prepare",
    "read_rows",
    "store_rows",
]

#: Header spellings (English and Chinese) of the key columns of an indicators file.
SYNONYMS = {
    "village_code": ("village_code", "village", "code", "村代码", "行政村代码"),
    "year": ("year", "年份", "年度"),
}
_MAX_ROWS = 100_000


def _columns(frame: pd.DataFrame, found: list[str]) -> pd.DataFrame:
    """Return the file's columns renamed to the table's (key columns and indicators)."""
    spelt = named_columns(frame.columns, SYNONYMS, LIMITS)
    unknown = [str(c)[:40] for c in frame.columns if c not in spelt]
    if unknown:
        found.append(
            f"unknown column(s) {', '.join(repr(u) for u in unknown[:5])} "
            f"(indicators: {', '.join(COLUMNS)})"
        )
    if "village_code" not in spelt.values():
        found.append("missing column `village_code` (or 村代码)")
    if not any(f in LIMITS for f in spelt.values()):
        found.append("the file holds no indicator column")
    return frame[list(spelt)].rename(columns=spelt)


def _numbers(column: pd.Series, name: str, found: list[str]) -> pd.Series:
    """Return the column's numbers (NaN when blank), noting what is not a number in range."""
    text = text_cells(column)
    plain = text.map(lambda v: v.replace(",", "") if isinstance(v, str) else None)
    numbers = pd.to_numeric(plain, errors="coerce")
    finite = numbers.notna() & np.isfinite(numbers.astype(float))
    ok = finite & numbers.between(0, LIMITS[name])
    bad = text.notna() & ~ok
    if bad.any():
        found.append(f"`{name}` must be a number from 0 to {LIMITS[name]:,g} ({file_rows(bad)})")
    return numbers.where(ok).astype(float)


def _years(raw: pd.DataFrame, year: int | None, found: list[str]) -> pd.Series:
    """Return each row's year: the file's `year` column, or `year` for every row."""
    first, last = settings.baseline_year, settings.goal_year
    if "year" not in raw:
        if year is None:
            found.append("missing column `year` (or give the year of every row)")
        return pd.Series(year, index=raw.index, dtype="Int64")
    numbers = pd.to_numeric(text_cells(raw["year"]), errors="coerce")
    ok = numbers.notna() & (numbers % 1 == 0) & numbers.between(first, last)
    if year is not None:
        ok &= numbers == year
    if (~ok).any():
        also = f" and equal to the year given, {year}" if year is not None else ""
        found.append(f"`year` must be a year from {first} to {last}{also} ({file_rows(~ok)})")
    return numbers.where(ok).astype("Int64")


def prepare(
    frame: pd.DataFrame, *, villages: Iterable[str], year: int | None = None
) -> pd.DataFrame:
    """Check an indicators file's rows and return them as the table keeps them.

    Parameters
    ----------
    frame
        The file's rows, every cell as text (None: blank).
    villages
        The village codes the store knows; every row must name one.
    year
        The year of every row when the file has no `year` column (else it must agree).

    Returns
    -------
    pandas.DataFrame
        `village_code`, `year` and the file's indicator columns (NaN: not reported).

    Raises
    ------
    ImportRefusedError
        Listing, in one line, every kind of problem with the rows it is on.

    Examples
    --------
    >>> f = pd.DataFrame({"村代码": ["a", "b"], "year": ["2016", "2016"], "sheep": ["12", ""]})
    >>> prepare(f, villages=["a", "b"])[["village_code", "year", "sheep"]].to_dict("list")
    {'village_code': ['a', 'b'], 'year': [2016, 2016], 'sheep': [12.0, nan]}
    """
    found: list[str] = []
    if frame.empty:
        raise ImportRefusedError("the file holds no rows")
    if len(frame) > _MAX_ROWS:
        raise ImportRefusedError(f"the file holds {len(frame):,} rows: at most {_MAX_ROWS:,}")
    raw = _columns(frame, found)
    if found:
        raise ImportRefusedError("; ".join(found))
    codes = text_cells(raw["village_code"])
    unknown = ~codes.isin(set(villages))
    if unknown.any():
        found.append(f"`village_code` is not a village of the store ({file_rows(unknown)})")
    rows = pd.DataFrame({"village_code": codes, "year": _years(raw, year, found)})
    twice = rows.notna().all(axis=1) & rows.duplicated(keep=False)
    if twice.any():
        found.append(f"the same village and year is on more than one row ({file_rows(twice)})")
    for column in COLUMNS:
        if column in raw:
            rows[column] = _numbers(raw[column], column, found)
    if found:
        raise ImportRefusedError(refusal(found))
    return rows.astype({"year": "int64"}).reset_index(drop=True)


@dataclass(frozen=True)
class Imported:
    """What an import of an indicators file stored."""

    rows: int
    villages: int
    years: tuple[int, ...]
    columns: tuple[str, ...]
    notes: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        """Return the summary as lines of text."""
        years = ", ".join(map(str, self.years))
        return [
            f"{self.rows} rows ({self.villages} villages; {years}) stored: "
            + ", ".join(self.columns),
            *self.notes,
        ]


def reported(rows: pd.DataFrame) -> tuple[str, ...]:
    """Return the indicator columns a file reports (some value in some row).

    Examples
    --------
    >>> reported(pd.DataFrame({"sheep": [1.0], "trained": [float("nan")]}))
    ('sheep',)
    """
    return tuple(c for c in COLUMNS if c in rows and rows[c].notna().any())


def import_indicators(
    path: Path | str,
    *,
    handle: Store,
    account: Account,
    year: int | None = None,
    encoding: str | None = None,
    name: str | None = None,
) -> Imported:
    """Import an indicators file as `account`: the columns it holds, of the years it holds.

    Those columns of those years are replaced for every village (a village the file
    leaves out has them no longer); other indicators and other years stay. `name` is
    how messages and the table's origin name the file (default: its name).

    Raises
    ------
    IngestError
        If the file is refused before its rows are read (size, type, parsing).
    ImportRefusedError
        If its rows do not pass the checks; nothing is stored.
    AccessDeniedError
        If it holds indicators the account's unit does not lead; the attempt is logged.
    """
    path = Path(path)
    name = name or path.name
    frame, notes = read_rows(path, handle=handle, year=year, encoding=encoding, name=name)
    return store_rows(frame, notes, handle=handle, account=account, name=name)


def store_rows(
    frame: pd.DataFrame, notes: Iterable[str], *, handle: Store, account: Account, name: str
) -> Imported:
    """Store the checked rows of the file `name` (from `read_rows`) as `account`.

    Raises
    ------
    AccessDeniedError
        If they hold indicators the account's unit does not lead; the attempt is logged.
    """
    columns = tuple(c for c in COLUMNS if c in frame)
    refused = access.indicators_refused(account, columns)
    if refused:
        handle.log_event(account.name, "import refused", INDICATORS_KEY, f"{name}: {refused}")
        msg = f"{account.name} may not import {', '.join(refused)} (not their unit's indicators)"
        raise AccessDeniedError(msg)
    years = tuple(sorted(int(y) for y in frame["year"].unique()))
    handle.replace_indicators(
        frame,
        years=years,
        columns=columns,
        who=account.name,
        source=f"{name} (imported indicators)",
        synthetic=False,
    )
    return Imported(
        rows=len(frame),
        villages=int(frame["village_code"].nunique()),
        years=years,
        columns=reported(frame),
        notes=tuple(notes),
    )


def read_rows(
    path: Path,
    *,
    handle: Store,
    year: int | None = None,
    encoding: str | None = None,
    name: str | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Read and check an indicators file without storing it: its rows and the reader's notes.

    Raises
    ------
    IngestError
        If the file is refused before its rows are read.
    ImportRefusedError
        If its rows do not pass the checks.
    """
    known = handle.read_layer("villages")["code"].astype(str)
    return read_checked_table(
        path, lambda frame: prepare(frame, villages=known, year=year), encoding=encoding, name=name
    )
