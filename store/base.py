"""The interface every store backend implements, and what the backends share.

A store holds every vector layer, the audit trail of edits, the log of imports and the
per-layer revision counters the app's caches are keyed on. Writers are serialised (one
at a time, with a busy timeout); readers never block and see a layer before or after a
write, never a mix.
"""

from __future__ import annotations

import abc
import contextlib
import datetime as dt
import hashlib
import math
import os
import re
import time
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import EditConflictError, StoreError
from store.indicator_columns import COLUMNS as INDICATOR_COLUMNS
from store.indicator_columns import INDICATORS_KEY, TABLE_COLUMNS
from store.register import (
    CLEANUPS,
    EXIT_COLUMNS,
    HOUSEHOLD_FIELDS,
    REGISTER_KEY,
    STEPS,
    VILLAGE_COLUMNS,
    Register,
)

__all__ = [
    "ACCOUNT_COLUMNS",
    "AUDIT_COLUMNS",
    "LAYER_RECORD_COLUMNS",
    "PROVENANCE",
    "RETIRED_TABLES",
    "SHARED_TABLES",
    "Change",
    "Origin",
    "Store",
    "bump",
    "busy_seconds",
    "check_columns",
    "check_values",
    "conflict",
    "generation",
    "layer_checksum",
    "missing_layer",
    "note_write",
    "now",
    "origin_of",
    "table_name",
    "upgrade_layer_records",
]

_writes = [0]  # write transactions committed by this process, any store


def note_write() -> None:
    """Count a committed write transaction (the backends call it after each commit)."""
    _writes[0] += 1


def generation() -> int:
    """Return how many write transactions this process has committed: a cheap "changed?"."""
    return _writes[0]


#: Runs one query in a write transaction and returns its rows.
Run = Callable[..., list[tuple[object, ...]]]
#: Columns of `Store.accounts`.
ACCOUNT_COLUMNS = ["name", "role", "bureau", "disabled", "failures", "locked_until", "created"]
#: The tables every backend shares, in portable SQL (`{p}`: schema prefix, `{id}`: serial key).
SHARED_TABLES = (
    (
        "CREATE TABLE IF NOT EXISTS {p}va_users (name TEXT PRIMARY KEY, role TEXT NOT NULL, "
        "bureau TEXT, hash TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0, failures INTEGER "
        "NOT NULL DEFAULT 0, locked_until DOUBLE PRECISION NOT NULL DEFAULT 0, created TEXT, "
        "email TEXT)"
    ),
    (
        "CREATE TABLE IF NOT EXISTS {p}va_events ({id}, at TEXT NOT NULL, who TEXT NOT NULL, "
        "action TEXT NOT NULL, target TEXT, detail TEXT)"
    ),
    (
        "CREATE TABLE IF NOT EXISTS {p}va_scenarios (name TEXT PRIMARY KEY, owner TEXT NOT NULL, "
        "rule TEXT NOT NULL, base_year INTEGER NOT NULL, changes TEXT NOT NULL, at TEXT NOT NULL)"
    ),
    # the poor-household register (`store.register`): counts per village, exits per year,
    # hashed household rows (the key they are hashed with is never in a store:
    # `store.households.household_key`)
    (
        "CREATE TABLE IF NOT EXISTS {p}va_register (village_code TEXT PRIMARY KEY, "
        "households INTEGER NOT NULL, people INTEGER NOT NULL, identified INTEGER NOT NULL, "
        + ", ".join(f"{s} TEXT" for s in STEPS)
        + ", "
        + ", ".join(f"{c} INTEGER NOT NULL" for c in CLEANUPS)
        + ")"
    ),
    (
        "CREATE TABLE IF NOT EXISTS {p}va_register_exits (village_code TEXT NOT NULL, "
        "year INTEGER NOT NULL, households INTEGER NOT NULL, people INTEGER NOT NULL, "
        "PRIMARY KEY (village_code, year))"
    ),
    (
        "CREATE TABLE IF NOT EXISTS {p}va_households (id_hash TEXT PRIMARY KEY, "
        "village_code TEXT NOT NULL, people INTEGER NOT NULL, "
        + ", ".join(f"{s} TEXT" for s in STEPS)
        + ", exit_year INTEGER, "
        + ", ".join(f"{c} INTEGER NOT NULL" for c in CLEANUPS)
        + ")"
    ),
    # village indicators of industry, labour and income (`store.indicators`): NULL = not
    # reported
    (
        "CREATE TABLE IF NOT EXISTS {p}va_indicators (village_code TEXT NOT NULL, "
        "year INTEGER NOT NULL, "
        + ", ".join(f"{c} DOUBLE PRECISION" for c in INDICATOR_COLUMNS)
        + ", PRIMARY KEY (village_code, year))"
    ),
)
#: Tables of older stores that an upgrade drops: ``va_secrets`` held the key household ID
#: numbers were hashed with, next to the hashes (`store.households.household_key`).
RETIRED_TABLES = ("va_secrets",)
#: Columns of `Store.history`.
AUDIT_COLUMNS = ["id", "at", "who", "code", "column", "old", "new", "version"]
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
MAX_TEXT = 2000  # characters in one edited text field


def busy_seconds() -> float:
    """Seconds a writer waits for the write lock: ``VILLAGE_ATLAS_BUSY_SECONDS``, default 10."""
    return float(os.environ.get("VILLAGE_ATLAS_BUSY_SECONDS", "10"))


def now() -> str:
    """Return the current UTC time as ISO 8601 to the second, as stored in the audit."""
    return dt.datetime.now(tz=dt.UTC).isoformat(timespec="seconds")


def table_name(key: str) -> str:
    """Return `key` if it is a safe table name (lower-case letters, digits, underscores).

    Raises
    ------
    StoreError
        If it is not: layer keys come from the catalogue and never need quoting.

    Examples
    --------
    >>> table_name("bus_stops")
    'bus_stops'
    """
    if not _NAME.match(key) or key.startswith(("va_", "gpkg_", "rtree_", "sqlite_")):
        msg = f"{key!r} is not a layer name the store accepts"
        raise StoreError(msg)
    return key


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


@dataclass(frozen=True)
class Origin:
    """Where a stored layer came from, as the store records it (`Store.origin`).

    Attributes
    ----------
    layer
        The layer's key.
    source
        What was written: ``"villages.geojson (imported)"``, the demo build's description of
        its generated data, ``"copied from ..."``.
    synthetic
        Whether the rows are synthetic demo data (generated, not real records).
    who, at
        Who wrote the layer, and when (UTC, ISO 8601); None if the store never said.
    rows
        How many features were written (None for a raster, or if the store never said).
    edits, edited_at, edited_by
        Record edits since the layer was written: how many, the last one's time and author.
    """

    layer: str
    source: str
    synthetic: bool
    who: str | None = None
    at: str | None = None
    rows: int | None = None
    edits: int = 0
    edited_at: str | None = None
    edited_by: str | None = None


def check_values(changes: Mapping[str, object], allowed: Mapping[str, str]) -> None:
    """Check edited values against the editable fields' kinds; list every problem.

    Raises
    ------
    ValueError
        If a field may not be edited or a value is out of range.

    Examples
    --------
    >>> check_values({"bus_year": 2016}, {"bus_year": "year"})
    >>> check_values({"bus_year": 1800}, {"bus_year": "year"})
    Traceback (most recent call last):
    ...
    ValueError: `bus_year` must be a year 1949-2100 or empty, not 1800
    """
    problems = []
    if not changes:
        problems.append("nothing to change")
    for column, value in changes.items():
        kind = allowed.get(column)
        if kind is None:
            problems.append(f"`{column}` cannot be edited here")
        elif value is None:
            continue
        elif kind == "year" and not (
            isinstance(value, int) and not isinstance(value, bool) and 1949 <= value <= 2100  # noqa: PLR2004
        ):
            problems.append(f"`{column}` must be a year 1949-2100 or empty, not {value!r}")
        elif kind == "count" and not (
            isinstance(value, int) and not isinstance(value, bool) and value >= 0
        ):
            problems.append(f"`{column}` must be a whole number >= 0, not {value!r}")
        elif kind == "str" and not isinstance(value, str):
            problems.append(f"`{column}` must be text")
        elif kind == "str" and len(str(value)) > MAX_TEXT:
            problems.append(f"`{column}` is longer than {MAX_TEXT} characters")
    if problems:
        raise ValueError("; ".join(problems))


def _canonical(value: object) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "\x00"
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (np.integer,)):
        return str(int(value))
    return str(value)


def layer_checksum(gdf: gpd.GeoDataFrame, *, skip: tuple[str, ...] = ("version",)) -> str:
    """Return a checksum of a layer's rows (attributes and geometry), independent of backend.

    Integers stored as floats, booleans as 0/1 and the column order do not change it;
    the row order and every value do.
    """
    digest = hashlib.sha256()
    columns = sorted(c for c in gdf.columns if c != gdf.geometry.name and c not in skip)
    digest.update("\x1f".join(columns).encode())
    wkb = shapely.to_wkb(shapely.force_2d(gdf.geometry.to_numpy()), byte_order=1)
    values = [gdf[c].astype(object).tolist() for c in columns]
    for i, geometry in enumerate(wkb):
        digest.update(b"\x1e" + (geometry or b""))
        digest.update("\x1f".join(_canonical(v[i]) for v in values).encode())
    return digest.hexdigest()


class Store(abc.ABC):
    """A place that keeps layers, edits and their audit: a GeoPackage or a PostGIS database."""

    #: Where the store is (a path or a URL without its password), for messages.
    location: str
    #: False when the store can only be read (a read-only file, a read-only account).
    writable: bool

    @abc.abstractmethod
    def list_layers(self) -> list[str]:
        """Return the names of the stored vector layers."""

    @abc.abstractmethod
    def read_layer(self, key: str) -> gpd.GeoDataFrame:
        """Return stored layer `key` as a GeoDataFrame in the storage CRS.

        Raises
        ------
        StoreError
            If the layer is not in the store.
        """

    @abc.abstractmethod
    def replace_layers(
        self,
        layers: Mapping[str, gpd.GeoDataFrame],
        *,
        who: str,
        source: str | Mapping[str, str],
        synthetic: bool | AbstractSet[str] = False,
    ) -> None:
        """Replace (or add) each layer in one transaction: readers see all old or all new.

        Rows of a layer with a ``code`` column keep their edit version (plus one), so a
        form opened before the import reports a conflict instead of overwriting it. The
        store records where each layer came from (`origin_of`): `source` for all, or per
        layer; `synthetic` for all, or the set of layers that are synthetic demo data.
        """

    @abc.abstractmethod
    def _table_columns(self, table: str) -> list[str]:
        """Return the columns of a table of the store (empty: no such table)."""

    def revisions(self) -> dict[str, int]:
        """Return each layer's revision: it grows with every import or edit of the layer."""
        rows = self._read_sql("SELECT layer, revision FROM {p}va_layers")
        return {str(k): int(str(v)) for k, v in rows}

    def provenance(self) -> pd.DataFrame:
        """Return one row per layer: revision, rows, source, who, when, synthetic, edits since.

        A store written before a column existed reads it as empty (edits as 0).
        """
        known = set(self._table_columns("va_layers"))
        present = [c for c in PROVENANCE if c in known]
        rows = (
            self._read_sql(f"SELECT {', '.join(present)} FROM {{p}}va_layers ORDER BY layer")
            if "layer" in known
            else []
        )
        frame = pd.DataFrame(rows, columns=present)
        for column in PROVENANCE:
            if column not in frame:
                frame[column] = 0 if column in ("edits", "synthetic") else None
        frame = frame[PROVENANCE]
        return frame.assign(
            rows=pd.to_numeric(frame["rows"]).astype("Int64"),
            synthetic=frame["synthetic"].fillna(0).astype(bool),
            edits=frame["edits"].fillna(0).astype(int),
        )

    def origins(self) -> dict[str, Origin]:
        """Return where each layer recorded in the store came from, by layer key."""
        found: dict[str, Origin] = {}
        for row in self.provenance().to_dict("records"):
            found[str(row["layer"])] = Origin(
                layer=str(row["layer"]),
                source=_or_none(row["source"]) or "",
                synthetic=bool(row["synthetic"]),
                who=_or_none(row["who"]),
                at=_or_none(row["at"]),
                rows=None if _or_none(row["rows"]) is None else int(str(row["rows"])),
                edits=int(row["edits"]),
                edited_at=_or_none(row["edited_at"]),
                edited_by=_or_none(row["edited_by"]),
            )
        return found

    def origin(self, key: str) -> Origin | None:
        """Return where layer `key` came from (None: the store holds no record of it)."""
        return self.origins().get(key)

    def record_origin(self, key: str, *, source: str, who: str, synthetic: bool = False) -> None:
        """Record where a layer kept beside the store came from (an imported raster).

        Vector layers are recorded by `replace_layers` as they are written; this also
        raises the layer's revision, so what was drawn from the old file is redrawn.
        """
        with self._write_sql() as run:
            bump(
                run,
                table_name(key),
                {"rows": None, "source": source, "who": who, "synthetic": synthetic},
            )

    def current(self, key: str, code: str, columns: list[str]) -> tuple[dict[str, object], int]:
        """Return a record's values for `columns` and its version.

        Raises
        ------
        KeyError
            If no record of layer `key` has that code.
        """
        table = table_name(key)
        known = self._table_columns(table)
        check_columns(columns, known, table)
        version = "version" if "version" in known else "0"
        rows = self._read_sql(
            f'SELECT {version}, {_quoted(columns)} FROM {{p}}"{table}" WHERE code = ?', (code,)
        )
        if not rows:
            msg = f"no record with code {code!r} in {table}"
            raise KeyError(msg)
        return dict(zip(columns, rows[0][1:], strict=True)), int(str(rows[0][0]))

    def edit(
        self,
        key: str,
        code: str,
        changes: Mapping[str, object],
        *,
        expected_version: int,
        who: str,
        allowed: Mapping[str, str],
    ) -> int:
        """Save `changes` if the record is still at `expected_version`; return the new version.

        Only the given fields are written; the version check and the update are one
        statement (``UPDATE ... WHERE code = ? AND version = ?``), and the audit rows are
        written in the same transaction.

        Raises
        ------
        EditConflictError
            If someone saved first; it carries their changes.
        ValueError
            If a field may not be edited or a value is out of range; nothing is saved.
        KeyError
            If there is no such record.
        """
        check_values(changes, allowed)
        if not who.strip():
            raise ValueError("say who is editing: the audit records every change by name")
        table, columns = table_name(key), list(changes)
        known = self._table_columns(table)
        check_columns(columns, known, table)
        with self._write_sql() as run:
            if "version" not in known:  # a layer written before versions existed
                run(f'ALTER TABLE {{p}}"{table}" ADD COLUMN version INTEGER NOT NULL DEFAULT 0')
            old = run(
                f'SELECT version, {_quoted(columns)} FROM {{p}}"{table}" WHERE code = ?', (code,)
            )
            if not old:
                msg = f"no record with code {code!r} in {table}"
                raise KeyError(msg)
            assignments = ", ".join(f'"{c}" = ?' for c in columns)
            updated = run(
                f'UPDATE {{p}}"{table}" SET {assignments}, version = version + 1 '
                "WHERE code = ? AND version = ? RETURNING version",
                (*changes.values(), code, expected_version),
            )
            if not updated:
                raise conflict(
                    code, expected_version, old[0][0], _changes(run, code, expected_version)
                )
            stamp, new_version = now(), expected_version + 1
            for column, before in zip(columns, old[0][1:], strict=True):
                run(
                    "INSERT INTO {p}va_audit (at, who, code, col, old, new, version) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (stamp, who, code, column, _text(before), _text(changes[column]), new_version),
                )
            bump(run, table, edited_by=who)
        return new_version

    def history(self, code: str | None = None, limit: int = 200) -> pd.DataFrame:
        """Return the audit trail, newest first, for one record or all."""
        where, args = (" WHERE code = ?", (code, limit)) if code is not None else ("", (limit,))
        rows = self._read_sql(_AUDIT + where + " ORDER BY id DESC LIMIT ?", args)
        return pd.DataFrame(rows, columns=AUDIT_COLUMNS)

    def change(self, change_id: int) -> Change:
        """Return one audited change.

        Raises
        ------
        KeyError
            If there is no such change.
        """
        rows = self._read_sql(_AUDIT + " WHERE id = ?", (change_id,))
        if not rows:
            msg = f"no audited change {change_id}"
            raise KeyError(msg)
        return Change(*rows[0])  # type: ignore[arg-type]

    def changes_since(self, code: str, version: int) -> list[Change]:
        """Return the audited changes of `code` made after `version`."""
        return _changes(self._read_sql, code, version)

    @abc.abstractmethod
    def check(self) -> None:
        """Run the backend's integrity check.

        Raises
        ------
        StoreDamagedError
            If it fails; the message says how to restore.
        """

    @abc.abstractmethod
    def raster_dir(self) -> Path:
        """Return the folder where this store keeps imported rasters."""

    def derived_dir(self) -> Path:
        """Return the folder for what is derived from this store and can be rebuilt (caches).

        By default a folder per store location under ``VILLAGE_ATLAS_CACHE`` (default
        ``~/.cache/village-atlas``); a GeoPackage keeps its own beside its file.
        """
        root = os.environ.get("VILLAGE_ATLAS_CACHE") or Path.home() / ".cache" / "village-atlas"
        return Path(root) / hashlib.sha256(self.location.encode()).hexdigest()[:16]

    # -- generic SQL, for the small tables every backend shares -------------------------------
    # Queries use `?` for parameters and `{p}` before table names (the PostGIS schema).

    @abc.abstractmethod
    def _read_sql(self, query: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        """Run a read query; a table that does not exist yet reads as empty."""

    @abc.abstractmethod
    def _write_sql(self) -> contextlib.AbstractContextManager[Run]:
        """Open a write transaction holding the store's write lock; yield a query runner."""

    # -- accounts and events ---------------------------------------------------------------

    def accounts(self) -> pd.DataFrame:
        """Return every account (never the password hash), by name."""
        rows = self._read_sql(
            "SELECT name, role, bureau, disabled, failures, locked_until, created "
            "FROM {p}va_users ORDER BY name"
        )
        return pd.DataFrame(rows, columns=ACCOUNT_COLUMNS)

    def account(self, name: str) -> dict[str, object] | None:
        """Return one account with its password hash, or None."""
        rows = self._read_sql(
            "SELECT name, role, bureau, disabled, failures, locked_until, created, hash "
            "FROM {p}va_users WHERE name = ?",
            (name,),
        )
        return dict(zip([*ACCOUNT_COLUMNS, "hash"], rows[0], strict=True)) if rows else None

    def account_for_email(self, email: str) -> dict[str, object] | None:
        """Return the enabled account whose (single sign-on) e-mail is `email`, or None."""
        rows = self._read_sql(
            "SELECT name, role, bureau, disabled, failures, locked_until, created "
            "FROM {p}va_users WHERE lower(email) = lower(?) AND disabled = 0",
            (email,),
        )
        return dict(zip(ACCOUNT_COLUMNS, rows[0], strict=True)) if len(rows) == 1 else None

    def save_account(
        self,
        name: str,
        *,
        role: str,
        bureau: str | None,
        password_hash: str | None,
        who: str,
        email: str | None = None,
    ) -> None:
        """Add an account, or change its role, bureau or password; audited as an event.

        Raises
        ------
        ValueError
            If a new account has no password.
        """
        with self._write_sql() as run:
            found = run("SELECT role, bureau FROM {p}va_users WHERE name = ?", (name,))
            if not found:
                if password_hash is None:
                    raise ValueError(f"a new account needs a password: {name!r}")
                run(
                    "INSERT INTO {p}va_users (name, role, bureau, hash, disabled, failures, "
                    "locked_until, created, email) VALUES (?, ?, ?, ?, 0, 0, 0, ?, ?)",
                    (name, role, bureau, password_hash, now(), email),
                )
                detail = f"role {role}" + (f", bureau {bureau}" if bureau else "")
                self._event(run, who, "account added", name, detail)
                return
            run(
                "UPDATE {p}va_users SET role = ?, bureau = ?, email = COALESCE(?, email) "
                "WHERE name = ?",
                (role, bureau, email, name),
            )
            if password_hash is not None:
                run(
                    "UPDATE {p}va_users SET hash = ?, failures = 0, locked_until = 0 "
                    "WHERE name = ?",
                    (password_hash, name),
                )
            self._event(
                run,
                who,
                "account changed",
                name,
                f"role {role}, bureau {bureau}" + (", password reset" if password_hash else ""),
            )

    def set_disabled(self, name: str, *, disabled: bool, who: str) -> None:
        """Disable (or enable again) an account; audited.

        Raises
        ------
        KeyError
            If there is no such account.
        """
        with self._write_sql() as run:
            if not run("SELECT 1 FROM {p}va_users WHERE name = ?", (name,)):
                msg = f"no account {name!r}"
                raise KeyError(msg)
            run("UPDATE {p}va_users SET disabled = ? WHERE name = ?", (int(disabled), name))
            self._event(run, who, "account disabled" if disabled else "account enabled", name, "")

    def record_login(
        self, name: str, *, ok: bool, lock_after: int, lock_seconds: float, fresh: bool = False
    ) -> None:
        """Count a failed login (locking the account after `lock_after`), or reset on success.

        `fresh`: a lock has expired, so counting starts again from this failure.
        """
        with self._write_sql() as run:
            if ok:
                run("UPDATE {p}va_users SET failures = 0, locked_until = 0 WHERE name = ?", (name,))
                self._event(run, name, "login", name, "")
                return
            if fresh:
                run("UPDATE {p}va_users SET failures = 0, locked_until = 0 WHERE name = ?", (name,))
            run(
                "UPDATE {p}va_users SET failures = failures + 1, locked_until = CASE WHEN "
                "failures + 1 >= ? THEN ? ELSE locked_until END WHERE name = ?",
                (lock_after, time.time() + lock_seconds, name),
            )
            self._event(run, name, "login failed", name, "")

    def log_event(self, who: str, action: str, target: str, detail: str = "") -> None:
        """Record something done or refused (imports, account changes, refused edits)."""
        with self._write_sql() as run:
            self._event(run, who, action, target, detail)

    def copy_records_from(self, source: Store, *, who: str) -> None:
        """Copy `source`'s accounts, audit trail, event log and layer provenance into this store.

        Accounts already here are kept as they are; audit and events are appended. The
        household register (counts and hashed household rows) and the village indicators
        replace this store's, if `source` holds them. The key the rows were hashed with is
        not in a store and is not copied (nor a ``va_secrets`` table of an older `source`).
        """
        users = source._read_sql(f"SELECT {_USER_FIELDS} FROM {{p}}va_users")
        audit = source._read_sql(f"SELECT {_AUDIT_FIELDS} FROM {{p}}va_audit ORDER BY id")
        events = source._read_sql(f"SELECT {_EVENT_FIELDS} FROM {{p}}va_events ORDER BY id")
        origin = source.provenance().drop(columns="revision")
        register = {
            table: source._read_sql(f"SELECT {fields} FROM {{p}}{table}")
            for table, fields in _REGISTER_TABLES.items()
        }
        indicators = {
            table: source._read_sql(f"SELECT {fields} FROM {{p}}{table}")
            for table, fields in _INDICATOR_TABLES.items()
        }
        with self._write_sql() as run:
            for table, fields in _INDICATOR_TABLES.items() if indicators["va_indicators"] else ():
                run(f"DELETE FROM {{p}}{table}")
                for row in indicators[table]:
                    run(_insert(table, fields), row)
            for table, fields in _REGISTER_TABLES.items() if register["va_register"] else ():
                run(f"DELETE FROM {{p}}{table}")
                for row in register[table]:
                    run(_insert(table, fields), row)
            for row in users:
                run(_insert("va_users", _USER_FIELDS) + " ON CONFLICT (name) DO NOTHING", row)
            for row in audit:
                run(_insert("va_audit", _AUDIT_FIELDS), row)
            for row in events:
                run(_insert("va_events", _EVENT_FIELDS), row)
            for record in origin.to_dict("records"):
                values = {k: _plain(v) for k, v in record.items()}
                run(_COPY_ORIGIN, tuple(values[c] for c in _COPIED))
            self._event(run, who, "store copied", source.location, "")

    @staticmethod
    def _event(run: Run, who: str, action: str, target: str, detail: str) -> None:
        run(
            "INSERT INTO {p}va_events (at, who, action, target, detail) VALUES (?, ?, ?, ?, ?)",
            (now(), who, action, target, detail[:2000]),
        )

    def events(self, limit: int = 200) -> pd.DataFrame:
        """Return the log of imports, account changes and refusals, newest first."""
        rows = self._read_sql(
            "SELECT id, at, who, action, target, detail FROM {p}va_events ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return pd.DataFrame(rows, columns=["id", "at", "who", "action", "target", "detail"])

    # -- scenarios -------------------------------------------------------------------------

    def save_scenario(
        self, name: str, *, owner: str, rule: str, base_year: int, changes: str
    ) -> None:
        """Store a scenario (its planned changes as JSON); only its owner may overwrite it.

        Raises
        ------
        PermissionError
            If another account owns a scenario of that name.
        """
        with self._write_sql() as run:
            found = run("SELECT owner FROM {p}va_scenarios WHERE name = ?", (name,))
            if found and found[0][0] != owner:
                msg = f"scenario {name!r} belongs to {found[0][0]}: choose another name"
                raise PermissionError(msg)
            run("DELETE FROM {p}va_scenarios WHERE name = ?", (name,))
            run(
                "INSERT INTO {p}va_scenarios (name, owner, rule, base_year, changes, at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (name, owner, rule, base_year, changes, now()),
            )
            self._event(run, owner, "scenario saved", name, rule)

    def delete_scenario(self, name: str, *, who: str, admin: bool = False) -> None:
        """Delete a scenario: its owner may, and an administrator (`admin`).

        Raises
        ------
        KeyError
            If there is no scenario of that name.
        PermissionError
            If `who` neither owns it nor is an administrator.
        """
        with self._write_sql() as run:
            found = run("SELECT owner, rule FROM {p}va_scenarios WHERE name = ?", (name,))
            if not found:
                raise KeyError(f"no scenario {name!r} (see `village-atlas scenario list`)")
            if found[0][0] != who and not admin:
                raise PermissionError(f"scenario {name!r} belongs to {found[0][0]}")
            run("DELETE FROM {p}va_scenarios WHERE name = ?", (name,))
            self._event(run, who, "scenario deleted", name, str(found[0][1]))

    def scenarios(self) -> pd.DataFrame:
        """Return every stored scenario: name, owner, rule, base year, changes (JSON), when."""
        rows = self._read_sql(
            "SELECT name, owner, rule, base_year, changes, at FROM {p}va_scenarios ORDER BY name"
        )
        return pd.DataFrame(rows, columns=["name", "owner", "rule", "base_year", "changes", "at"])

    # -- the poor-household register --------------------------------------------------------

    def replace_register(
        self,
        register: Register,
        *,
        households: pd.DataFrame | None = None,
        who: str,
        source: str,
        synthetic: bool = False,
    ) -> None:
        """Replace the whole register in one transaction: counts, exits and household rows.

        `households` are rows of `HOUSEHOLD_FIELDS` whose ID numbers are already hashed
        (`id_hash`, 64 hex digits); nothing else of them is written. Without it (the demo,
        an aggregated register) the stored household rows are removed.

        Raises
        ------
        ValueError
            If a household row's `id_hash` is not a hash (a raw ID number is never stored).
        """
        rows = _household_rows(households)
        villages = register.villages
        with self._write_sql() as run:
            for table in ("va_register", "va_register_exits", "va_households"):
                run(f"DELETE FROM {{p}}{table}")
            for code, row in villages.iterrows():
                values = [_plain(row[c]) for c in VILLAGE_COLUMNS]
                run(_insert("va_register", ", ".join(("village_code", *VILLAGE_COLUMNS))),
                    (str(code), *values))  # fmt: skip
            for row in register.exits[list(EXIT_COLUMNS)].itertuples(index=False):
                run(_insert("va_register_exits", ", ".join(EXIT_COLUMNS)), tuple(map(_plain, row)))
            for record in rows:
                run(_insert("va_households", ", ".join(HOUSEHOLD_FIELDS)), record)
            provenance = {
                "rows": len(villages),
                "source": source,
                "who": who,
                "synthetic": synthetic,
            }
            bump(run, REGISTER_KEY, provenance)
            detail = f"{len(villages)} villages, {len(rows)} household rows (ID numbers hashed)"
            self._event(run, who, "register replaced", source[:200], detail)

    def register(self) -> Register:
        """Return the aggregated register (empty when the store holds none): counts only."""
        columns = ("village_code", *VILLAGE_COLUMNS)
        rows = self._read_sql(
            f"SELECT {', '.join(columns)} FROM {{p}}va_register ORDER BY village_code"
        )
        villages = pd.DataFrame(rows, columns=list(columns)).set_index("village_code")
        for column in ("households", "people", "identified", *CLEANUPS):
            villages[column] = villages[column].astype("int64")
        for step in STEPS:
            villages[step] = villages[step].astype(object).where(villages[step].notna(), None)
        exits = pd.DataFrame(
            self._read_sql(
                f"SELECT {', '.join(EXIT_COLUMNS)} FROM {{p}}va_register_exits "
                "ORDER BY village_code, year"
            ),
            columns=list(EXIT_COLUMNS),
        )
        exits = exits.astype({"year": "int64", "households": "int64", "people": "int64"})
        return Register(villages=villages, exits=exits)

    def household_rows(self) -> int:
        """Return how many (hashed) household rows the store keeps: a count, never the rows."""
        found = self._read_sql("SELECT COUNT(*) FROM {p}va_households")
        return int(str(found[0][0])) if found else 0

    # -- village indicators of industry, labour and income -----------------------------------

    def replace_indicators(
        self,
        rows: pd.DataFrame,
        *,
        years: tuple[int, ...] | None = None,
        columns: tuple[str, ...] | None = None,
        who: str,
        source: str,
        synthetic: bool = False,
    ) -> None:
        """Replace village indicators in one transaction: `columns` of `years`, or everything.

        `rows` hold `village_code`, `year` and indicator columns (NaN: not reported).
        With `years` and `columns`, those columns of those years are cleared for every
        village and then written from `rows`, and the rest of the table stays; without
        them, the whole table is replaced. The write is recorded under
        ``village_indicators`` (source, who, rows) and in the event log. The record stays
        synthetic while values of a synthetic record are left in the table (`synthetic`
        says whether `rows` are).
        """
        chosen = tuple(INDICATOR_COLUMNS if columns is None else columns)
        unknown = sorted(set(chosen) - set(INDICATOR_COLUMNS))
        if unknown:
            raise ValueError(f"no indicator column {', '.join(unknown)}")
        keys = ("village_code", "year", *chosen)
        frame = rows.reindex(columns=list(keys))
        records = [tuple(map(_plain, row)) for row in frame.itertuples(index=False)]
        update = ", ".join(f"{c} = excluded.{c}" for c in chosen)
        with self._write_sql() as run:
            before = run(
                "SELECT synthetic, source FROM {p}va_layers WHERE layer = ?", (INDICATORS_KEY,)
            )
            if years is None and columns is None:
                run("DELETE FROM {p}va_indicators")
            else:
                cleared = ", ".join(f"{c} = NULL" for c in chosen)
                for year in years or sorted({int(str(r[1])) for r in records}):
                    run(f"UPDATE {{p}}va_indicators SET {cleared} WHERE year = ?", (int(year),))
            insert = _insert("va_indicators", ", ".join(keys))
            for record in records:
                run(insert + f" ON CONFLICT (village_code, year) DO UPDATE SET {update}", record)
            left = _indicator_values_left(run, chosen, years)
            if before and bool(before[0][0]) and left and not synthetic:
                source = f"{source}; {left} other values kept from {before[0][1]}"
                synthetic = True
            provenance = {"rows": len(records), "source": source, "who": who}
            bump(run, INDICATORS_KEY, {**provenance, "synthetic": synthetic})
            which = "every year" if years is None else ", ".join(map(str, years))
            detail = f"{len(records)} rows, {which}: {', '.join(chosen)}"
            self._event(run, who, "indicators replaced", source[:200], detail[:2000])

    def indicators(self) -> pd.DataFrame:
        """Return the village indicators: one row per village and year (NaN: not reported)."""
        rows = self._read_sql(
            f"SELECT {', '.join(TABLE_COLUMNS)} FROM {{p}}va_indicators ORDER BY village_code, year"
        )
        frame = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
        return frame.astype({"village_code": str, "year": "int64"} | dict.fromkeys(
            INDICATOR_COLUMNS, "float64"))  # fmt: skip

    def undo(self, key: str, change_id: int, *, who: str, allowed: Mapping[str, str]) -> int:
        """Put back the old value of an audited change, as a new audited edit.

        Raises
        ------
        EditConflictError
            If the field changed again since; undo the later change first.
        KeyError
            If there is no such change.
        """
        done = self.change(change_id)
        code, column, old, new = done.code, done.column, done.old, done.new
        values, version = self.current(key, code, [column])
        if _text(values[column]) != new:
            msg = f"{column} of {code} changed again since change {change_id}: undo that first"
            raise EditConflictError(msg)
        kind = allowed.get(column, "str")
        restored = None if old is None else (int(str(old)) if kind in ("year", "count") else old)
        return self.edit(
            key,
            code,
            {column: restored},
            expected_version=version,
            who=f"{who} (undo #{change_id})",
            allowed=allowed,
        )


_AUDIT = "SELECT id, at, who, code, col, old, new, version FROM {p}va_audit"
_HASH = re.compile(r"^[0-9a-f]{64}$")
#: The register's tables and columns, copied with a store (`Store.copy_records_from`).
_REGISTER_TABLES = {
    "va_register": ", ".join(("village_code", *VILLAGE_COLUMNS)),
    "va_register_exits": ", ".join(EXIT_COLUMNS),
    "va_households": ", ".join(HOUSEHOLD_FIELDS),
}
#: The indicators table and its columns, copied with a store.
_INDICATOR_TABLES = {"va_indicators": ", ".join(TABLE_COLUMNS)}


def _indicator_values_left(
    run: Run, written: tuple[str, ...], years: tuple[int, ...] | None
) -> int:
    """Return how many reported values a write of `written` columns of `years` left as they were."""
    others = [c for c in INDICATOR_COLUMNS if c not in written]
    found = 0
    if others:
        count = " + ".join(f"COUNT({c})" for c in others)
        found += int(str(run(f"SELECT {count} FROM {{p}}va_indicators")[0][0] or 0))
    if years is not None and written:
        count = " + ".join(f"COUNT({c})" for c in written)
        marks = ", ".join("?" * len(years))
        query = f"SELECT {count} FROM {{p}}va_indicators WHERE year NOT IN ({marks})"
        found += int(str(run(query, tuple(int(y) for y in years))[0][0] or 0))
    return found


def _household_rows(households: pd.DataFrame | None) -> list[tuple[object, ...]]:
    """Return household rows to store, checking that every ID number is hashed."""
    if households is None:
        return []
    hashes = households["id_hash"].astype(str)
    if not hashes.map(lambda h: bool(_HASH.match(h))).all():
        raise ValueError("household rows must carry hashed ID numbers (`id_hash`), never raw ones")
    frame = households[list(HOUSEHOLD_FIELDS)]
    return [tuple(map(_plain, row)) for row in frame.itertuples(index=False)]


_USER_FIELDS = "name, role, bureau, hash, disabled, failures, locked_until, created, email"
_AUDIT_FIELDS = "at, who, code, col, old, new, version"
_EVENT_FIELDS = "at, who, action, target, detail"


def _insert(table: str, fields: str) -> str:
    """Return a portable INSERT of `fields` into `table`."""
    marks = ", ".join("?" * len(fields.split(",")))
    return f"INSERT INTO {{p}}{table} ({fields}) VALUES ({marks})"


#: Columns of `Store.provenance`.
PROVENANCE = [
    "layer",
    "revision",
    "rows",
    "source",
    "who",
    "at",
    "synthetic",
    "edits",
    "edited_at",
    "edited_by",
]
#: Columns of ``va_layers`` added after the first stores were written: name -> portable type.
LAYER_RECORD_COLUMNS = {
    "edits": "INTEGER NOT NULL DEFAULT 0",
    "edited_at": "TEXT",
    "edited_by": "TEXT",
}
_COPIED = [c for c in PROVENANCE if c != "revision"]
_COPY_ORIGIN = (
    f"INSERT INTO {{p}}va_layers (revision, {', '.join(_COPIED)}) "
    f"VALUES (1, {', '.join('?' * len(_COPIED))}) ON CONFLICT (layer) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _COPIED if c != "layer")
)


def upgrade_layer_records(run: Run, columns: list[str]) -> None:
    """Add the columns of `LAYER_RECORD_COLUMNS` that a store's ``va_layers`` lacks.

    `columns` are the table's columns now; runs in the write transaction that upgrades.
    """
    for name, kind in LAYER_RECORD_COLUMNS.items():
        if name not in columns:
            run(f"ALTER TABLE {{p}}va_layers ADD COLUMN {name} {kind}")


def origin_of(
    table: str, source: str | Mapping[str, str], synthetic: bool | AbstractSet[str]
) -> tuple[str, bool]:
    """Return the source and synthetic flag `replace_layers` records for `table`.

    Examples
    --------
    >>> origin_of("roads", "demo", {"roads"})
    ('demo', True)
    >>> origin_of("counties", {"counties": "boundaries"}, {"roads"})
    ('boundaries', False)
    """
    text = source if isinstance(source, str) else source[table]
    flag = synthetic if isinstance(synthetic, bool) else table in synthetic
    return text, flag


def _or_none(value: object) -> str | None:
    """Return a stored value as text, None when it is missing."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def _plain(value: object) -> object:
    """Return a value read into a DataFrame as a plain Python value for a query (None: NaN)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def _quoted(columns: list[str]) -> str:
    """Return column names quoted for SQL (names already checked against the table)."""
    return ", ".join(f'"{c}"' for c in columns)


def _changes(run: Run, code: str, version: int) -> list[Change]:
    rows = run(_AUDIT + " WHERE code = ? AND version > ? ORDER BY id", (code, version))
    return [Change(*row) for row in rows]  # type: ignore[arg-type]


def bump(
    run: Run,
    table: str,
    provenance: Mapping[str, object] | None = None,
    *,
    edited_by: str | None = None,
) -> None:
    """Raise a layer's revision; a write also records where the layer came from.

    `provenance` holds ``rows``, ``source``, ``who`` and ``synthetic``; recording it
    starts the count of edits again. `edited_by`: an edit by that person, counted.
    """
    run(
        "INSERT INTO {p}va_layers (layer, revision) VALUES (?, 1) "
        "ON CONFLICT (layer) DO UPDATE SET revision = va_layers.revision + 1",
        (table,),
    )
    if provenance is not None:
        run(
            "UPDATE {p}va_layers SET rows = ?, source = ?, who = ?, at = ?, synthetic = ?, "
            "edits = 0, edited_at = NULL, edited_by = NULL WHERE layer = ?",
            (
                provenance["rows"],
                provenance["source"],
                provenance["who"],
                now(),
                bool(provenance["synthetic"]),
                table,
            ),
        )
    elif edited_by is not None:
        run(
            "UPDATE {p}va_layers SET edits = edits + 1, edited_at = ?, edited_by = ? "
            "WHERE layer = ?",
            (now(), edited_by, table),
        )


def _text(value: object) -> str | None:
    """Return a value as the audit stores it (text, or None; 2016.0 as 2016)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def missing_layer(key: str, location: str, names: list[str]) -> str:
    """Return the message for a layer that is not in the store, listing what it holds."""
    return f"layer {key!r} is not in {location} (it holds: {', '.join(names) or 'nothing'})"


def check_columns(columns: list[str], known: list[str], table: str) -> None:
    """Refuse fields the table does not have (and a table that is not there).

    Raises
    ------
    StoreError
        If the table is missing.
    ValueError
        If a field is unknown.
    """
    if not known:
        msg = f"layer {table!r} is not in the store"
        raise StoreError(msg)
    unknown = [c for c in columns if c not in known]
    if unknown:
        msg = f"{table} has no field {', '.join(map(repr, unknown))}"
        raise ValueError(msg)


def conflict(code: str, expected: int, found: object, theirs: list[Change]) -> Exception:
    """Return the error for an edit that lost the race, carrying the other person's changes."""
    msg = (
        f"record {code} was changed by someone else since you opened it "
        f"(version {expected} -> {found}): review their change first"
    )
    return EditConflictError(msg, theirs)
