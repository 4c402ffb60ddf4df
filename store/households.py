"""Importing a household-level register: checked, ID numbers hashed, only counts derived.

A household file (CSV or XLSX, one row per registered poor household) is hostile input:
it is read in the limited child (`store.ingest`), checked as a whole, and refused with
one line naming every kind of problem and the rows (never a cell's content). The raw
file is never kept; the store receives the hashed rows and the register's counts, and
lets only the counts out.

ID numbers are hashed with HMAC-SHA256 under a secret key before anything is stored: a
keyed hash, not a salted one, because an 18-digit resident ID number has so little
entropy (region, birth date, sequence, check digit) that a plain or salted hash is
reversed in seconds by trying every number. The key is never in a store, nor in its
copies (``store copy``) or backups: it is a file of its own (`household_key`, at
`geo.settings.household_key_path`), made on the first import with mode 0600. Whoever
has a store without that file cannot test a guess against its hashes; whoever has both
can, so keep the key file out of the store's backups and give it only to the machines
that import (each machine that imports into one store needs the same file).

One key per installation keeps a household's hash the same from one import to the next
(a duplicate within a file is found either way). It also means that stores imported with
the same key file hold the same hash for the same person: their hashes can be linked by
whoever holds them together. If the key file is lost or missing, a new key is made:
hashes already stored were made with the old one and are not comparable with new ones.
Nothing compares them today, since an import replaces the whole register; re-import the
file to have every stored hash under the current key.

Stores written by earlier versions kept the key in the store itself (table
``va_secrets``). A GeoPackage store drops it, its pages overwritten with zeros, at its
next write or backup, and drops it from its own backup folder too; a PostGIS store drops
it at its next write. Copies made before (``store copy`` targets, ``pg_dump`` files, the
server's write-ahead log until recycled) still hold that old key with the hashes made
under it: delete them, or treat them like the household file itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import itertools
import os
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from geo import settings
from geo.errors import ImportRefusedError, IngestError, StoreError
from store.base import Store
from store.ingest import file_rows, named_columns, read_checked_table, refusal, text_cells
from store.register import CLEANUPS, HOUSEHOLD_FIELDS, STEPS, Register

__all__ = [
    "REQUIRED",
    "SYNONYMS",
    "Imported",
    "aggregate",
    "hash_id",
    "household_key",
    "import_households",
    "prepare",
    "redact_numbers",
    "valid_id",
]

#: Header spellings (English and Chinese) of each column of a household file.
SYNONYMS = {
    "id_number": ("id_number", "id", "身份证号", "身份证号码", "证件号码"),
    "village_code": ("village_code", "village", "村代码", "行政村代码"),
    "people": ("people", "人口", "家庭人口", "人数"),
    "application": ("application", "农户申请", "申请"),
    "group_review": ("group_review", "小组评议"),
    "village_review": ("village_review", "村评议", "村民代表大会评议"),
    "township_review": ("township_review", "乡镇审核"),
    "county_approval": ("county_approval", "县审批"),
    "publicity": ("publicity", "identified", "公示", "公告"),
    "exit_year": ("exit_year", "脱贫年份"),
    "clear_base": ("clear_base", "底数清"),
    "clear_problems": ("clear_problems", "问题清"),
    "clear_countermeasures": ("clear_countermeasures", "对策清"),
    "clear_responsibility": ("clear_responsibility", "责任清"),
    "clear_tasks": ("clear_tasks", "任务清"),
}
#: Columns every household file must have.
REQUIRED = ("id_number", "village_code", "people")
_ID = re.compile(r"^\d{17}[\dX]$")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?: 00:00:00)?$")
_YES = {"1", "yes", "y", "true", "是", "√"}
_NO = {"0", "no", "n", "false", "否"}
_MAX_PEOPLE = 30
_KEY_BYTES = 32
_LONG_NUMBER = re.compile(r"[\dXxＸｘ]{15,}")  # \d: full-width digits too
_KEY_TEXT = re.compile(r"^[0-9a-f]{64}$")
_FIRST_DAY, _LAST_DAY = "2013-01-01", f"{settings.goal_year}-12-31"


def _normal_id(number: str) -> str:
    return number.strip().upper()


def valid_id(number: str) -> bool:
    """Return whether `number` is a well-formed 18-character resident ID number.

    Checks the form (17 digits and a digit or ``X``) and the ISO 7064 MOD 11-2 check digit.

    Examples
    --------
    >>> valid_id("11010519491231002X"), valid_id("110105194912310021")
    (True, False)
    """
    number = _normal_id(number)
    if not _ID.match(number):
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _WEIGHTS, strict=True))
    return _CHECK[total % 11] == number[17]


def redact_numbers(name: str) -> str:
    """Return a file name with every run of 15 or more digits (or ``X``) replaced by ``…``.

    A household file is often named after a person: an ID number (15 or 18 characters)
    in its name must not be recorded where the register's origin and the event log keep
    the name.

    Examples
    --------
    >>> redact_numbers("62320119860209120X 张三 2016.xlsx")
    '… 张三 2016.xlsx'
    >>> redact_numbers("households-20160301.csv")
    'households-20160301.csv'
    """
    return _LONG_NUMBER.sub("…", name)


def hash_id(number: str, key: bytes) -> str:
    """Return the keyed hash (HMAC-SHA256, hex) of an ID number, as the store keeps it.

    Examples
    --------
    >>> h = hash_id("11010519491231002x", b"k" * 32)
    >>> len(h), h == hash_id(" 11010519491231002X", b"k" * 32), h == hash_id("x", b"k" * 32)
    (64, True, False)
    """
    return hmac.new(key, _normal_id(number).encode(), hashlib.sha256).hexdigest()


def household_key(path: Path | None = None) -> bytes:
    """Return the secret key ID numbers are hashed with, making it on first use.

    The key is 32 random bytes, kept as 64 hex digits in one file outside every store:
    `path`, by default `geo.settings.household_key_path`. A missing file is made with
    mode 0600 (its folder 0700), written under a private name and then linked into
    place, so two imports starting at once agree on one key and none reads half a file.

    Raises
    ------
    StoreError
        If the file cannot be read or made, is not a key, or other users may read it.
    """
    path = settings.household_key_path() if path is None else Path(path)
    try:
        return _read_key(path)
    except FileNotFoundError:
        _make_key(path)
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    """Return the key in `path` (FileNotFoundError when there is none yet)."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        msg = f"the household key {path} cannot be read ({type(exc).__name__}): check it"
        raise StoreError(msg) from exc
    if mode & 0o077:
        msg = (
            f"the household key {path} may be read by other users: make it private "
            f"(chmod 600 {path})"
        )
        raise StoreError(msg)
    if not _KEY_TEXT.match(text):
        msg = (
            f"the household key {path} is not a key (64 hex digits): put back your copy, or "
            "delete it to make a new one (hashes already stored then no longer match)"
        )
        raise StoreError(msg)
    return bytes.fromhex(text)


def _make_key(path: Path) -> None:
    """Write a new key to `path` unless another process just did (mode 0600)."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as out:
                os.fchmod(out.fileno(), 0o600)
                out.write(secrets.token_hex(_KEY_BYTES) + "\n")
                out.flush()
                os.fsync(out.fileno())
            with contextlib.suppress(FileExistsError):  # another's key came first: keep it
                os.link(draft, path)
        finally:
            draft.unlink(missing_ok=True)
    except OSError as exc:
        msg = (
            f"the household key {path} could not be made ({exc.strerror or type(exc).__name__}): "
            "set VILLAGE_ATLAS_HOUSEHOLD_KEY_FILE to a file in a private folder you may write"
        )
        raise StoreError(msg) from exc


def _columns(frame: pd.DataFrame, found: list[str]) -> pd.DataFrame:
    """Return the file's columns renamed to the register's fields (others dropped)."""
    spelt = named_columns(frame.columns, SYNONYMS)
    missing = [c for c in REQUIRED if c not in spelt.values()]
    if missing:
        found.append(
            "missing column(s) " + ", ".join(f"`{c}`" for c in missing) + " (headers: "
            + ", ".join(f"{f} or {n[-1]}" for f, n in SYNONYMS.items() if f in missing) + ")"
        )  # fmt: skip
    out = frame[list(spelt)].rename(columns=spelt)
    for field in SYNONYMS:
        if field not in out:
            out[field] = None
    return out.astype(object).where(out.notna(), None)


def _dates(column: pd.Series, name: str, found: list[str]) -> pd.Series:
    """Return ISO dates (None when blank), noting rows that are not dates of the plan's time."""

    def iso(value: object) -> str | None:
        match = _DATE.match(value) if isinstance(value, str) else None
        if match is None:
            return None
        year, month, day = (int(g) for g in match.groups())
        try:
            text = pd.Timestamp(year=year, month=month, day=day).strftime("%Y-%m-%d")
        except ValueError:
            return None
        return text if _FIRST_DAY <= text <= _LAST_DAY else None

    text = text_cells(column)
    out = text.map(iso)
    bad = text.notna() & out.isna()
    if bad.any():
        found.append(
            f"`{name}` must be a date YYYY-MM-DD from {_FIRST_DAY} to {_LAST_DAY} "
            f"({file_rows(bad)})"
        )
    return out


def _whole(column: pd.Series, name: str, low: int, high: int, found: list[str]) -> pd.Series:
    """Return whole numbers in [low, high] (NA when blank), noting rows that are not."""
    text = text_cells(column)
    numbers = pd.to_numeric(text, errors="coerce")
    ok = numbers.notna() & (numbers % 1 == 0) & numbers.between(low, high)
    bad = text.notna() & ~ok
    if bad.any():
        found.append(f"`{name}` must be a whole number from {low} to {high} ({file_rows(bad)})")
    return numbers.where(ok).astype("Int64")


def _flags(column: pd.Series, name: str, found: list[str]) -> pd.Series:
    """Return 1/0 for yes/no (blank: 0, the file is not complete), noting what is neither."""
    text = text_cells(column).map(lambda v: v.lower() if isinstance(v, str) else None)
    bad = text.notna() & ~text.isin(_YES | _NO)
    if bad.any():
        found.append(f"`{name}` must be 1/0, yes/no or 是/否 ({file_rows(bad)})")
    return text.isin(_YES).astype("int64")


def _step_order(rows: pd.DataFrame, found: list[str]) -> None:
    """Note households whose steps are out of the plan's order (a later step dated earlier)."""
    for before, after in itertools.pairwise(STEPS):
        both = rows[before].notna() & rows[after].notna()
        wrong = both & (rows[after].astype(str) < rows[before].astype(str))
        if wrong.any():
            found.append(f"`{after}` is dated before `{before}` ({file_rows(wrong)})")


def prepare(frame: pd.DataFrame, *, key: bytes, villages: Iterable[str]) -> pd.DataFrame:
    """Check a household file's rows and return them with ID numbers hashed (`id_hash`).

    Parameters
    ----------
    frame
        The file's rows, every cell as text (None: blank).
    key
        The secret key ID numbers are hashed with (`household_key`).
    villages
        The village codes the store knows; every household must belong to one.

    Returns
    -------
    pandas.DataFrame
        The `HOUSEHOLD_FIELDS` of each row; the ID number only as its keyed hash.

    Raises
    ------
    ImportRefusedError
        Listing, in one line, every kind of problem with the rows it is on (never a
        cell's content: an ID number is not repeated back).
    """
    found: list[str] = []
    if frame.empty:
        raise ImportRefusedError("the file holds no household rows")
    raw = _columns(frame, found)
    if found:
        raise ImportRefusedError(found[0])
    ids = text_cells(raw["id_number"])
    bad = ids.map(lambda v: v is None or not valid_id(v))
    if bad.any():
        found.append(f"`id_number` must be an 18-character resident ID number ({file_rows(bad)})")
    hashed = ids.map(lambda v: None if v is None else hash_id(v, key))
    twice = hashed.notna() & hashed.duplicated(keep=False)
    if twice.any():
        found.append(f"the same ID number is on more than one row ({file_rows(twice)})")
    codes = text_cells(raw["village_code"])
    unknown = ~codes.isin(set(villages))
    if unknown.any():
        found.append(f"`village_code` is not a village of the store ({file_rows(unknown)})")
    blank = text_cells(raw["people"]).isna()
    if blank.any():
        found.append(f"`people` is required ({file_rows(blank)})")
    people = _whole(raw["people"], "people", 1, _MAX_PEOPLE, found)
    rows = pd.DataFrame({"id_hash": hashed, "village_code": codes, "people": people})
    for step in STEPS:
        rows[step] = _dates(raw[step], step, found)
    _step_order(rows, found)
    rows["exit_year"] = _whole(
        raw["exit_year"], "exit_year", settings.baseline_year, settings.goal_year, found
    )
    for cleanup in CLEANUPS:
        rows[cleanup] = _flags(raw[cleanup], cleanup, found)
    if found:
        raise ImportRefusedError(refusal(found))
    return rows[list(HOUSEHOLD_FIELDS)]


def aggregate(households: pd.DataFrame) -> Register:
    """Return the register's counts from household rows (with or without `id_hash`).

    A step's date for a village is the day its last household reached it (None while some
    household has not); `identified` counts the households publicised.

    Examples
    --------
    >>> rows = pd.DataFrame({"village_code": ["a", "a", "b"], "people": [3, 4, 2],
    ...     "exit_year": [2015, None, 2016], "application": ["2015-03-01"] * 3,
    ...     "publicity": ["2015-05-02", "2015-06-20", None], "clear_base": [1, 0, 1]})
    >>> reg = aggregate(rows)
    >>> [str(v) for v in reg.villages.loc["a", ["households", "people", "publicity"]]]
    ['2', '7', '2015-06-20']
    >>> reg.exits.to_dict("records")[0]
    {'village_code': 'a', 'year': 2015, 'households': 1, 'people': 3}
    """
    rows = households.copy()
    for column in (*STEPS, *CLEANUPS, "exit_year"):
        if column not in rows:
            rows[column] = None if column in STEPS else (0 if column in CLEANUPS else pd.NA)
    by = rows.groupby("village_code", sort=True)
    villages = pd.DataFrame(
        {
            "households": by.size(),
            "people": by["people"].sum().astype("int64"),
            "identified": by["publicity"].count().astype("int64"),
        }
    )
    size = villages["households"]
    for step in STEPS:  # ISO dates: the latest is the largest; None while one is missing
        reached = by[step].count() == size
        villages[step] = by[step].max().astype(object).where(reached, None)
    for cleanup in CLEANUPS:
        villages[cleanup] = by[cleanup].sum().astype("int64")
    villages.index.name = "village_code"
    out = rows[rows["exit_year"].notna()].astype({"exit_year": "int64", "people": "int64"})
    exits = (
        out.groupby(["village_code", "exit_year"], sort=True)
        .agg(households=("people", "size"), people=("people", "sum"))
        .reset_index()
        .rename(columns={"exit_year": "year"})
    )
    return Register(villages=villages, exits=exits.astype({"households": "int64"}))


@dataclass(frozen=True)
class Imported:
    """What an import of a household file stored: counts only."""

    households: int
    people: int
    villages: int
    exited: int
    notes: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        """Return the summary as lines of text."""
        return [
            (
                f"{self.households} households ({self.people} people) in {self.villages} villages "
                f"stored with ID numbers hashed; {self.exited} households exited"
            ),
            *self.notes,
        ]


def import_households(
    path: Path | str,
    *,
    handle: Store,
    who: str,
    encoding: str | None = None,
    name: str | None = None,
) -> Imported:
    """Import a household-level file into the store's register, replacing the register.

    `name` is how messages and the register's origin name the file (default: its name),
    with any ID number in it left out (`redact_numbers`).

    Raises
    ------
    IngestError
        If the file is refused before its rows are read (size, type, parsing).
    ImportRefusedError
        If its rows do not pass the checks; nothing is stored.
    """
    path = Path(path)
    name = redact_numbers(name or path.name)
    known = handle.read_layer("villages")["code"].astype(str)

    def check(frame: pd.DataFrame) -> pd.DataFrame:  # the key is made only for a readable file
        return prepare(frame, key=household_key(), villages=known)

    try:
        rows, notes = read_checked_table(
            path,
            check,
            encoding=encoding,
            name=name,
            text_columns={"id_number": SYNONYMS["id_number"]},
        )
    except (IngestError, ImportRefusedError) as exc:  # the reader names the file it was given
        raise type(exc)(redact_numbers(str(exc))) from None
    register = aggregate(rows)
    handle.replace_register(
        register,
        households=rows,
        who=who,
        source=f"{name} (imported household register, ID numbers hashed)",
    )
    return Imported(
        households=len(rows),
        people=int(rows["people"].sum()),
        villages=len(register.villages),
        exited=int(rows["exit_year"].notna().sum()),
        notes=tuple(notes),
    )
