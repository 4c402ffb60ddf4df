"""Editing village records in the store: row-level transactions, version checks, audit, undo.

An edit changes one village's attributes in one SQLite transaction, straight in the
GeoPackage's table (a layer is never rewritten to save one edit). Each row carries a
`version`; an edit names the version it started from, and if someone else saved in the
meantime it is refused with their change, never silently overwritten. Every change is
kept in an audit table (who, when, old and new value) and can be undone.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import shapely

from geo.errors import VillageAtlasError

__all__ = ["AUDIT", "Change", "EditConflictError", "connect", "current", "edit", "history", "undo"]

AUDIT = "va_audit"
TABLE = "villages"
_BUSY_MS = 10_000


class EditConflictError(RuntimeError, VillageAtlasError):
    """Someone else saved the village since it was opened; `theirs` lists their changes."""

    def __init__(self, message: str, theirs: list[Change]) -> None:
        """Keep the other person's changes for the user to see."""
        super().__init__(message)
        self.theirs = theirs


@dataclass(frozen=True)
class Change:
    """One audited change of one field."""

    id: int
    at: str
    who: str
    code: str
    column: str
    old: object
    new: object
    version: int


@contextmanager
def connect(store: Path, *, write: bool = True) -> Iterator[sqlite3.Connection]:
    """Open the store: for editing (WAL mode, busy timeout, schema ready) or read-only.

    One connection per caller: never share one between threads.
    """
    if write:
        db = sqlite3.connect(store, timeout=_BUSY_MS / 1000, isolation_level=None)
    else:
        db = sqlite3.connect(
            f"{Path(store).resolve().as_uri()}?mode=ro", uri=True, timeout=_BUSY_MS / 1000
        )
    try:
        _register_gpkg_functions(db)
        db.execute(f"PRAGMA busy_timeout = {_BUSY_MS}")
        if write:
            db.execute("PRAGMA journal_mode = WAL")
            _ensure_schema(db)
        yield db
    finally:
        db.close()


def _has(db: sqlite3.Connection, table: str, column: str | None = None) -> bool:
    if column is None:
        return (
            db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (table,)).fetchone()
            is not None
        )
    return column in {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


def _envelope(blob: bytes | None) -> tuple[float, float, float, float] | None:
    """Bounds of a GeoPackage geometry blob (None when empty), for GeoPackage's triggers."""
    if blob is None:
        return None
    flags = blob[3]
    if flags & 0x10:
        return None
    size = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}[(flags >> 1) & 0x07]
    geom = shapely.from_wkb(bytes(blob[8 + size :]))
    return None if geom.is_empty else tuple(geom.bounds)


def _register_gpkg_functions(db: sqlite3.Connection) -> None:
    """Register the SQL functions GeoPackage's spatial-index triggers call (GDAL has its own)."""
    db.create_function("ST_IsEmpty", 1, lambda b: int(_envelope(b) is None), deterministic=True)
    for i, name in enumerate(("ST_MinX", "ST_MinY", "ST_MaxX", "ST_MaxY")):
        db.create_function(name, 1, lambda b, i=i: (e := _envelope(b)) and e[i], deterministic=True)


def _ensure_schema(db: sqlite3.Connection) -> None:
    columns = {row[1] for row in db.execute(f"PRAGMA table_info({TABLE})")}
    if "version" not in columns:
        db.execute(f"ALTER TABLE {TABLE} ADD COLUMN version INTEGER NOT NULL DEFAULT 0")
    db.execute(
        f"CREATE TABLE IF NOT EXISTS {AUDIT} (id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "at TEXT NOT NULL, who TEXT NOT NULL, code TEXT NOT NULL, col TEXT NOT NULL, "
        "old TEXT, new TEXT, version INTEGER NOT NULL)"
    )


def current(store: Path, code: str, columns: list[str]) -> tuple[dict[str, object], int]:
    """Return a village's values for `columns` and its version (0 if never edited)."""
    with connect(store, write=False) as db:
        version = "version" if _has(db, TABLE, "version") else "0"
        row = db.execute(
            f"SELECT {version}, {', '.join(columns)} FROM {TABLE} WHERE code = ?",
            (code,),
        ).fetchone()
    if row is None:
        msg = f"no village with code {code!r}"
        raise KeyError(msg)
    return dict(zip(columns, row[1:], strict=True)), int(row[0])


def _changes(db: sqlite3.Connection, code: str, since: int) -> list[Change]:
    rows = db.execute(
        f"SELECT id, at, who, code, col, old, new, version FROM {AUDIT} "
        "WHERE code = ? AND version > ? ORDER BY id",
        (code, since),
    ).fetchall()
    return [Change(*row) for row in rows]


def edit(
    store: Path,
    code: str,
    changes: Mapping[str, object],
    *,
    expected_version: int,
    who: str,
    allowed: Mapping[str, str],
) -> int:
    """Save `changes` to village `code` if nobody saved since `expected_version`.

    Parameters
    ----------
    store, code
        The GeoPackage and the village.
    changes
        Column -> new value (None clears it).
    expected_version
        The version the user started from (from `current`).
    who
        The user's name, for the audit.
    allowed
        Editable column -> schema type (``year``, ``count``, ``str``); checked here.

    Returns
    -------
    int
        The village's new version.

    Raises
    ------
    EditConflictError
        If someone else saved first; it carries their changes.
    ValueError
        If a column may not be edited or a value is out of range; nothing is saved.
    """
    _check(changes, allowed)
    if not who.strip():
        raise ValueError("say who is editing: the audit records every change by name")
    stamp = dt.datetime.now(tz=dt.UTC).isoformat(timespec="seconds")
    with connect(store) as db:
        db.execute("BEGIN IMMEDIATE")
        try:
            columns = list(changes)
            row = db.execute(
                f"SELECT version, {', '.join(columns)} FROM {TABLE} WHERE code = ?", (code,)
            ).fetchone()
            if row is None:
                msg = f"no village with code {code!r}"
                raise KeyError(msg)
            if int(row[0]) != expected_version:
                theirs = _changes(db, code, expected_version)
                msg = (
                    f"village {code} was changed by someone else since you opened it "
                    f"(version {expected_version} -> {row[0]}): review their change first"
                )
                raise EditConflictError(msg, theirs)
            new_version = expected_version + 1
            assignments = ", ".join(f"{c} = ?" for c in columns)
            db.execute(
                f"UPDATE {TABLE} SET {assignments}, version = ? WHERE code = ?",
                (*changes.values(), new_version, code),
            )
            db.executemany(
                f"INSERT INTO {AUDIT} (at, who, code, col, old, new, version) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (stamp, who, code, c, _text(old), _text(changes[c]), new_version)
                    for c, old in zip(columns, row[1:], strict=True)
                ],
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return new_version


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _check(changes: Mapping[str, object], allowed: Mapping[str, str]) -> None:
    problems = []
    for column, value in changes.items():
        kind = allowed.get(column)
        if kind is None:
            problems.append(f"`{column}` cannot be edited here")
        elif value is None:
            continue
        elif kind == "year" and not (isinstance(value, int) and 1949 <= value <= 2100):  # noqa: PLR2004
            problems.append(f"`{column}` must be a year 1949-2100 or empty, not {value!r}")
        elif kind == "count" and not (isinstance(value, int) and value >= 0):
            problems.append(f"`{column}` must be a whole number >= 0, not {value!r}")
        elif kind == "str" and not isinstance(value, str):
            problems.append(f"`{column}` must be text")
    if problems:
        raise ValueError("; ".join(problems))


def history(store: Path, code: str | None = None, limit: int = 200) -> pd.DataFrame:
    """Return the audit trail (newest first), for one village or all."""
    columns = ["id", "at", "who", "code", "column", "old", "new", "version"]
    with connect(store, write=False) as db:
        if not _has(db, AUDIT):
            return pd.DataFrame(columns=columns)
        query = f"SELECT id, at, who, code, col, old, new, version FROM {AUDIT}"
        args: tuple[object, ...] = ()
        if code is not None:
            query += " WHERE code = ?"
            args = (code,)
        rows = db.execute(query + " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
    return pd.DataFrame(rows, columns=columns)


def undo(store: Path, change_id: int, *, who: str, allowed: Mapping[str, str]) -> int:
    """Put back the old value of an audited change, as a new audited edit.

    Raises
    ------
    EditConflictError
        If the field changed again since; undo the later change first.
    """
    with connect(store, write=False) as db:
        row = (
            db.execute(
                f"SELECT code, col, old, new FROM {AUDIT} WHERE id = ?", (change_id,)
            ).fetchone()
            if _has(db, AUDIT)
            else None
        )
    if row is None:
        msg = f"no audited change {change_id}"
        raise KeyError(msg)
    code, column, old, new = row
    values, version = current(store, code, [column])
    if _text(values[column]) != new:
        msg = f"{column} of {code} changed again since change {change_id}: undo that first"
        raise EditConflictError(msg, [])
    kind = allowed.get(column, "str")
    restored = None if old is None else (int(old) if kind in ("year", "count") else old)
    return edit(
        store,
        code,
        {column: restored},
        expected_version=version,
        who=f"{who} (undo #{change_id})",
        allowed=allowed,
    )
