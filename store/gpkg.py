"""The embedded store: one GeoPackage file, written in place, one transaction per change.

The live file is never renamed, unlinked or copied over. An import lets GDAL write the
new layer into a private scratch GeoPackage, then moves it into the live database in one
SQLite transaction (``BEGIN IMMEDIATE``: drop the old table, its spatial index and
metadata rows; create and fill the new ones; commit), so readers see the old layer or
the new one. WAL mode lets readers go on while one writer writes; other writers wait up
to the busy timeout and are then told the store is busy. Backups use SQLite's online
backup API and are pruned to ``VILLAGE_ATLAS_BACKUPS`` (default 10). A store is upgraded
before its first write or backup; an upgrade that drops a table of `RETIRED_TABLES` (an
older store's household key) overwrites its pages with zeros, empties the write-ahead log
and drops it from the store's backups too.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import logging
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator, Mapping
from collections.abc import Set as AbstractSet
from pathlib import Path

import geopandas as gpd
import pyogrio
import pyproj
import shapely

from geo import settings
from geo.errors import StoreBusyError, StoreDamagedError, StoreError
from store.base import (
    RETIRED_TABLES,
    SHARED_TABLES,
    Run,
    Store,
    bump,
    busy_seconds,
    missing_layer,
    note_write,
    origin_of,
    table_name,
    upgrade_layer_records,
)

__all__ = ["GeoPackageStore", "backups", "restore"]

log = logging.getLogger(__name__)

_HEADER = b"SQLite format 3\x00"
_GPKG_APPLICATION_ID = 0x47504B47  # "GPKG"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS va_meta (key TEXT PRIMARY KEY, value TEXT)",
    (
        "CREATE TABLE IF NOT EXISTS va_layers (layer TEXT PRIMARY KEY, revision INTEGER NOT NULL, "
        "rows INTEGER, source TEXT, who TEXT, at TEXT, synthetic INTEGER NOT NULL DEFAULT 0, "
        "edits INTEGER NOT NULL DEFAULT 0, edited_at TEXT, edited_by TEXT)"
    ),
    (
        "CREATE TABLE IF NOT EXISTS va_audit (id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "at TEXT NOT NULL, who TEXT NOT NULL, code TEXT NOT NULL, col TEXT NOT NULL, "
        "old TEXT, new TEXT, version INTEGER NOT NULL)"
    ),
    "CREATE INDEX IF NOT EXISTS va_audit_code ON va_audit (code, version)",
)
_TABLES = (
    *_SCHEMA,
    *(s.format(p="", id="id INTEGER PRIMARY KEY AUTOINCREMENT") for s in SHARED_TABLES),
)
_SCHEMA_VERSION = "7"  # 7: no household key in the store (va_secrets dropped, wiped)
_GPKG_CORE = (
    (
        "CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, "
        "organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL, "
        "definition TEXT NOT NULL, description TEXT)"
    ),
    (
        "CREATE TABLE gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY, "
        "data_type TEXT NOT NULL, "
        "identifier TEXT UNIQUE, description TEXT DEFAULT '', last_change DATETIME NOT NULL "
        "DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')), min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, "
        "max_y DOUBLE, srs_id INTEGER, CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) "
        "REFERENCES gpkg_spatial_ref_sys(srs_id))"
    ),
    (
        "CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL, "
        "geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL, "
        "m TINYINT NOT NULL, CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name), "
        "CONSTRAINT uk_gc_table_name UNIQUE (table_name))"
    ),
    (
        "CREATE TABLE gpkg_extensions (table_name TEXT, column_name TEXT, "
        "extension_name TEXT NOT NULL, definition TEXT NOT NULL, scope TEXT NOT NULL, "
        "CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name))"
    ),
    (
        "CREATE TABLE gpkg_ogr_contents (table_name TEXT NOT NULL PRIMARY KEY, "
        "feature_count INTEGER DEFAULT NULL)"
    ),
)
_SCRATCH = "village-atlas-import-"
_META_TABLES = ("gpkg_contents", "gpkg_geometry_columns", "gpkg_extensions", "gpkg_ogr_contents")


def _keep_backups() -> int:
    """How many backups to keep (``VILLAGE_ATLAS_BACKUPS``, 10; never fewer than 2)."""
    return max(2, int(os.environ.get("VILLAGE_ATLAS_BACKUPS", "10")))


def _explain(exc: sqlite3.Error, location: str) -> StoreError:
    """Turn an SQLite error into one sentence saying what happened and what to do."""
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return StoreBusyError(
            f"the store {location} is busy (another import or edit is writing): try again "
            "in a moment"
        )
    if "full" in text:
        return StoreError(f"the disk holding {location} is full: nothing was changed; free space")
    if "readonly" in text or "read-only" in text:
        return StoreError(f"the store {location} is read-only: editing is unavailable")
    if "malformed" in text or "not a database" in text or "corrupt" in text:
        return StoreDamagedError(
            f"the store {location} is damaged ({exc}): {_restore_hint(location)}"
        )
    return StoreError(f"the store {location} could not be written: {exc}")


def _restore_hint(location: str) -> str:
    good = next((b for b in backups(Path(location)) if _quick_check(b) is None), None)
    if good is None:
        return "no good backup was found; rebuild it or restore from your own copies"
    return f"restore the newest good backup with `village-atlas store restore {good}`"


def _read_uri(path: Path) -> str:
    """Return the URI that opens `path` for reading, on a read-only disk too.

    SQLite needs a shared-memory file beside a WAL database; where it cannot create one
    (a read-only folder or disk) and none exists, nobody can be writing the file, so it
    is opened as immutable.
    """
    uri = f"{path.absolute().as_uri()}?mode=ro"
    shm = path.with_name(path.name + "-shm")
    if not shm.exists() and not os.access(path.parent, os.W_OK):
        uri += "&immutable=1"
    return uri


def _write_uri(path: Path) -> str:
    """Return the URI that opens `path` for writing and never creates it.

    A store that vanished while the app had it open must not come back as an empty file.
    """
    return f"{path.absolute().as_uri()}?mode=rw"


def _quick_check(path: Path) -> str | None:
    """Return None if `path` passes SQLite's quick check, else what it found."""
    try:
        with contextlib.closing(sqlite3.connect(_read_uri(path), uri=True)) as db:
            rows = db.execute("PRAGMA quick_check").fetchall()
    except sqlite3.Error as exc:
        return str(exc)
    found = "; ".join(str(r[0]) for r in rows)
    return None if found == "ok" else found


def backups(path: Path) -> list[Path]:
    """Return the backups of the store at `path`, newest first."""
    folder = _backup_dir(path)
    if not folder.is_dir():
        return []
    return sorted(folder.glob(f"{path.stem}-*.gpkg"), reverse=True)


def _backup_dir(path: Path) -> Path:
    return path.parent / f"{path.stem}-backups"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def _sweep(paths: Iterator[Path]) -> None:
    """Remove scratch files and folders left by processes that were killed (name holds the pid).

    Names are ``<prefix><pid>-...`` (scratch folders) or ``<stem>-<stamp>-<pid>.partial``.
    """
    for path in paths:
        digits = [p for p in path.stem.replace(_SCRATCH, "").split("-") if p.isdigit()]
        pid = int(digits[0] if path.name.startswith(_SCRATCH) else digits[-1]) if digits else 0
        if pid and pid != os.getpid() and not _pid_alive(pid):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


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


def _runner(db: sqlite3.Connection) -> Run:
    """Return a runner of portable queries (``{p}`` prefix, ``?`` parameters) on `db`."""

    def run(query: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        return db.execute(query.format(p=""), params).fetchall()

    return run


def _has_table(db: sqlite3.Connection, name: str, schema: str = "main") -> bool:
    query = f"SELECT 1 FROM {schema}.sqlite_master WHERE type = 'table' AND name = ?"
    return db.execute(query, (name,)).fetchone() is not None


def _columns(db: sqlite3.Connection, table: str, schema: str = "main") -> list[str]:
    return [row[1] for row in db.execute(f'PRAGMA {schema}.table_info("{table}")')]


def _drop_retired(db: sqlite3.Connection) -> bool:
    """Drop the `RETIRED_TABLES` present, their pages overwritten with zeros; say if any was."""
    present = [t for t in RETIRED_TABLES if _has_table(db, t)]
    if present:
        db.execute("PRAGMA secure_delete = ON")  # freed pages zeroed, on any SQLite build
        for table in present:
            db.execute(f"DROP TABLE main.{table}")
    return bool(present)


def _retire_in_backups(path: Path) -> None:
    """Drop the `RETIRED_TABLES` from the store's backups too (they were copies of it).

    A backup that cannot be changed is named in the log; it still holds what was retired.
    """
    for backup in backups(path):
        try:
            with contextlib.closing(
                sqlite3.connect(_write_uri(backup), uri=True, isolation_level=None)
            ) as db:
                if not any(_has_table(db, t) for t in RETIRED_TABLES):
                    continue
                db.execute("BEGIN IMMEDIATE")
                _drop_retired(db)
                db.execute("COMMIT")
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            log.warning("could not drop the old household key from backup %s: %s", backup, exc)


class GeoPackageStore(Store):
    """A store in one GeoPackage file (see the module docstring)."""

    def __init__(self, path: Path | str) -> None:
        """Open the GeoPackage at `path`; refuse anything that is not one, with the fix.

        Raises
        ------
        StoreError
            If `path` is a folder, missing, not a GeoPackage or unreadable.
        StoreDamagedError
            If it fails SQLite's quick check.
        """
        self.path = Path(path).expanduser().absolute()
        self.location = str(self.path)
        self._check_file()
        self.writable = os.access(self.path, os.W_OK) and os.access(self.path.parent, os.W_OK)
        self.check()

    def _check_file(self) -> None:
        path = self.path
        if path.is_dir():
            msg = (
                f"{path} is a folder, not a store: give the .gpkg file, or create one with "
                f"`village-atlas store init {path / 'atlas.gpkg'}`"
            )
            raise StoreError(msg)
        if not path.parent.is_dir():
            msg = f"folder {path.parent} does not exist: check the store path (nothing was created)"
            raise StoreError(msg)
        if not path.exists():
            msg = (
                f"no store at {path}: create one with `village-atlas store init {path}`, or "
                "build the demo with `village-atlas build-demo`"
            )
            raise StoreError(msg)
        try:
            with path.open("rb") as handle:
                head = handle.read(16)
        except OSError as exc:
            msg = f"cannot read the store {path}: {exc.strerror}"
            raise StoreError(msg) from exc
        if head != _HEADER:
            msg = f"{path} is not a GeoPackage (not an SQLite database): give a .gpkg store"
            raise StoreError(msg)

    @classmethod
    def init(cls, path: Path | str) -> GeoPackageStore:
        """Create an empty GeoPackage store at `path` (the folder must exist).

        Raises
        ------
        StoreError
            If something is already there, or the folder is missing.
        """
        path = Path(path).expanduser().absolute()
        if path.exists():
            msg = f"{path} already exists: `store init` never overwrites a store"
            raise StoreError(msg)
        if not path.parent.is_dir():
            msg = f"folder {path.parent} does not exist: create it first"
            raise StoreError(msg)
        wgs84 = pyproj.CRS(settings.storage_crs)
        try:
            with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
                db.execute(f"PRAGMA application_id = {_GPKG_APPLICATION_ID}")
                db.execute("PRAGMA user_version = 10400")
                db.execute("PRAGMA journal_mode = WAL")
                db.execute("BEGIN")
                for statement in (*_GPKG_CORE, *_TABLES):
                    db.execute(statement)
                db.executemany(
                    "INSERT INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        ("WGS 84 geodetic", 4326, "EPSG", 4326, wgs84.to_wkt("WKT1_GDAL"), ""),
                        ("Undefined cartesian SRS", -1, "NONE", -1, "undefined", ""),
                        ("Undefined geographic SRS", 0, "NONE", 0, "undefined", ""),
                    ],
                )
                db.execute("INSERT INTO va_meta VALUES ('schema', ?)", (_SCHEMA_VERSION,))
                db.execute("COMMIT")
        except sqlite3.Error as exc:
            path.unlink(missing_ok=True)
            raise _explain(exc, str(path)) from exc
        return cls(path)

    # -- connections -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _db(self, *, write: bool, attach: Path | None = None) -> Iterator[sqlite3.Connection]:
        """One connection for one operation; writers get the write lock with ``BEGIN IMMEDIATE``.

        The transaction commits when the block ends and rolls back on any error. `attach`
        is a scratch GeoPackage attached as ``incoming`` before the transaction starts.
        """
        if write and not self.writable:
            msg = f"the store {self.location} is read-only: editing is unavailable"
            raise StoreError(msg)
        uri = _write_uri(self.path) if write else _read_uri(self.path)
        try:
            db = sqlite3.connect(uri, uri=True, timeout=busy_seconds(), isolation_level=None)
        except sqlite3.Error as exc:
            raise _explain(exc, self.location) from exc
        try:
            _register_gpkg_functions(db)
            if attach is not None:
                db.execute("ATTACH DATABASE ? AS incoming", (str(attach),))
            retired = False
            if write:
                db.execute("PRAGMA journal_mode = WAL")
                db.execute("BEGIN IMMEDIATE")
                retired = self._ensure_schema(db)
            yield db
            if write:
                db.execute("COMMIT")
                note_write()
            if retired:  # the wiped pages into the file now, and no old frame left in the WAL
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                _retire_in_backups(self.path)
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise _explain(exc, self.location) from exc
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    @staticmethod
    def _ensure_schema(db: sqlite3.Connection) -> bool:
        """Create or upgrade the app's tables; runs under the write lock, so never races.

        Returns whether tables of `RETIRED_TABLES` were dropped (an older store's household
        key): their pages are overwritten with zeros, not merely freed.
        """
        if _has_table(db, "va_meta"):
            found = db.execute("SELECT value FROM va_meta WHERE key = 'schema'").fetchone()
            if found is not None and found[0] == _SCHEMA_VERSION:
                return False
        for statement in _TABLES:
            db.execute(statement)
        upgrade_layer_records(_runner(db), _columns(db, "va_layers"))
        retired = _drop_retired(db)
        db.execute("INSERT OR REPLACE INTO va_meta VALUES ('schema', ?)", (_SCHEMA_VERSION,))
        return retired

    def upgrade(self) -> None:
        """Bring a store written by an older version up to date now, if it is not.

        Every write does it first; a backup does it before copying, so no backup carries
        what an upgrade removes (`RETIRED_TABLES`).
        """
        with self._db(write=False) as db:
            found = (
                db.execute("SELECT value FROM va_meta WHERE key = 'schema'").fetchone()
                if _has_table(db, "va_meta")
                else None
            )
        if (found is None or found[0] != _SCHEMA_VERSION) and self.writable:
            with self._db(write=True):
                pass

    def _read_sql(self, query: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        """Run a read query (see `Store._read_sql`)."""
        with self._db(write=False) as db:
            try:
                return _runner(db)(query, params)
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):
                    return []
                raise

    @contextlib.contextmanager
    def _write_sql(self) -> Iterator[Run]:
        """Open a write transaction (see `Store._write_sql`)."""
        with self._db(write=True) as db:
            yield _runner(db)

    def _table_columns(self, table: str) -> list[str]:
        """Return the columns of `table` (empty: no such table)."""
        with self._db(write=False) as db:
            return _columns(db, table)

    # -- reading -----------------------------------------------------------------------------

    def list_layers(self) -> list[str]:
        """Return the names of the stored vector layers (not the app's own tables)."""
        with self._db(write=False) as db:
            rows = db.execute(
                "SELECT table_name FROM gpkg_contents WHERE data_type = 'features' "
                "ORDER BY table_name"
            ).fetchall()
        return [str(r[0]) for r in rows if not str(r[0]).startswith("va_")]

    def read_layer(self, key: str) -> gpd.GeoDataFrame:
        """Return stored layer `key` (see `Store.read_layer`)."""
        names = self.list_layers()
        if key not in names:
            msg = missing_layer(key, self.location, names)
            raise StoreError(msg)
        try:
            immutable = {"IMMUTABLE": "YES"} if "immutable" in _read_uri(self.path) else {}
            return gpd.read_file(self.path, layer=key, engine="pyogrio", **immutable)
        except pyogrio.errors.DataSourceError as exc:
            msg = f"layer {key!r} of {self.location} could not be read: {exc}"
            raise StoreError(msg) from exc

    def check(self) -> None:
        """Run SQLite's quick check (see `Store.check`)."""
        found = _quick_check(self.path)
        if found is not None:
            msg = (
                f"the store {self.location} failed its integrity check ({found[:200]}): "
                f"{_restore_hint(self.location)}"
            )
            raise StoreDamagedError(msg)

    def raster_dir(self) -> Path:
        """Return ``<store>.rasters/`` beside the GeoPackage: never the source tree's data."""
        return self.path.with_name(f"{self.path.stem}.rasters")

    def derived_dir(self) -> Path:
        """Return ``<store>.cache/`` beside the GeoPackage (rebuilt whenever it is missing)."""
        return self.path.with_name(f"{self.path.stem}.cache")

    # -- writing -----------------------------------------------------------------------------

    def replace_layers(
        self,
        layers: Mapping[str, gpd.GeoDataFrame],
        *,
        who: str,
        source: str | Mapping[str, str],
        synthetic: bool | AbstractSet[str] = False,
    ) -> None:
        """Replace each layer inside one transaction of the live file (see module docstring)."""
        tables = {table_name(k): gdf for k, gdf in layers.items()}
        _sweep(Path(tempfile.gettempdir()).glob(f"{_SCRATCH}*"))
        with tempfile.TemporaryDirectory(prefix=f"{_SCRATCH}{os.getpid()}-") as folder:
            scratch = Path(folder) / "incoming.gpkg"
            try:
                for table, gdf in tables.items():
                    with_version = gdf.assign(version=0) if "version" not in gdf else gdf
                    with_version.to_file(scratch, layer=table, driver="GPKG", engine="pyogrio")
            except (OSError, pyogrio.errors.DataSourceError, RuntimeError) as exc:
                full = "No space left" in str(exc) or getattr(exc, "errno", None) == errno.ENOSPC
                if full:
                    msg = "the disk is full: nothing was changed; free space and try again"
                    raise StoreError(msg) from exc
                raise
            if self.list_layers():
                self.backup()
            with self._db(write=True, attach=scratch) as db:
                for table, gdf in tables.items():
                    _transplant(db, table)
                    text, flag = origin_of(table, source, synthetic)
                    origin = {"rows": len(gdf), "source": text, "who": who, "synthetic": flag}
                    bump(_runner(db), table, origin)

    def backup(self) -> Path:
        """Copy the store with SQLite's online backup API; keep the newest few.

        The copy is written under a temporary name and renamed only when complete, so
        a backup is never empty or partial.

        Raises
        ------
        StoreError
            If the disk is full (the partial copy is removed).
        """
        self.upgrade()
        folder = _backup_dir(self.path)
        folder.mkdir(exist_ok=True)
        stamp = dt.datetime.now(tz=dt.UTC).strftime("%Y%m%dT%H%M%S%f")
        target = folder / f"{self.path.stem}-{stamp}-{os.getpid()}.gpkg"
        partial = target.with_suffix(".partial")
        _sweep(folder.glob("*.partial"))
        try:
            with (
                contextlib.closing(
                    sqlite3.connect(_write_uri(self.path), uri=True, timeout=busy_seconds())
                ) as source,
                contextlib.closing(sqlite3.connect(partial)) as copy,
            ):
                source.backup(copy)
            partial.rename(target)
        except (sqlite3.Error, OSError) as exc:
            partial.unlink(missing_ok=True)
            if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
                msg = "the disk is full: no backup could be made, so nothing was changed"
                raise StoreError(msg) from exc
            raise _explain(exc, self.location) if isinstance(exc, sqlite3.Error) else exc from exc
        for old in backups(self.path)[_keep_backups() :]:
            old.unlink(missing_ok=True)
        return target


def _drop(db: sqlite3.Connection, table: str) -> None:
    """Drop a layer with its spatial index and its rows in GeoPackage's metadata tables."""
    if _has_table(db, "gpkg_geometry_columns"):
        for (column,) in db.execute(
            "SELECT column_name FROM main.gpkg_geometry_columns WHERE table_name = ?", (table,)
        ).fetchall():
            db.execute(f'DROP TABLE IF EXISTS main."rtree_{table}_{column}"')
    db.execute(f'DROP TABLE IF EXISTS main."{table}"')  # unqualified, it could find `incoming`'s
    for meta in _META_TABLES:
        if _has_table(db, meta):
            db.execute(f"DELETE FROM main.{meta} WHERE lower(table_name) = lower(?)", (table,))


def _transplant(db: sqlite3.Connection, table: str) -> None:
    """Move `table` from the attached scratch GeoPackage into the live one (in a transaction).

    Rows keep their edit version plus one when the layer has codes, so no version is
    ever reused. The spatial index is copied, not rebuilt row by row.
    """
    keep_versions = {"code", "version"} <= set(_columns(db, table))
    if keep_versions:
        db.execute("DROP TABLE IF EXISTS temp.va_old")
        db.execute(f'CREATE TEMP TABLE va_old AS SELECT code, version FROM main."{table}"')
    _drop(db, table)
    (create,) = db.execute(
        "SELECT sql FROM incoming.sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).fetchone()
    db.execute(create)
    db.execute(f'INSERT INTO main."{table}" SELECT * FROM incoming."{table}"')
    if keep_versions:
        db.execute(
            f'UPDATE main."{table}" SET version = 1 + COALESCE('
            f'(SELECT o.version FROM temp.va_old o WHERE o.code = "{table}".code), -1)'
        )
        db.execute("DROP TABLE temp.va_old")
    rtrees = [
        f"rtree_{table}_{column}"
        for (column,) in db.execute(
            "SELECT column_name FROM incoming.gpkg_geometry_columns WHERE table_name = ?", (table,)
        )
    ]
    for rtree in rtrees:
        found = db.execute(
            "SELECT sql FROM incoming.sqlite_master WHERE name = ?", (rtree,)
        ).fetchone()
        if found is not None:
            db.execute(found[0])
            db.execute(f'INSERT INTO main."{rtree}" SELECT * FROM incoming."{rtree}"')
    for (statement,) in db.execute(
        "SELECT sql FROM incoming.sqlite_master WHERE type IN ('index', 'trigger') "
        "AND sql IS NOT NULL AND tbl_name IN (" + ", ".join("?" * (1 + len(rtrees))) + ")",
        (table, *rtrees),
    ).fetchall():
        db.execute(statement)
    _copy_metadata(db, table)


def _copy_metadata(db: sqlite3.Connection, table: str) -> None:
    """Copy the layer's rows of GeoPackage's metadata tables (and its CRS, if new)."""
    srs = _columns(db, "gpkg_spatial_ref_sys", "incoming")
    common = [c for c in srs if c in _columns(db, "gpkg_spatial_ref_sys")]
    db.execute(
        f"INSERT OR IGNORE INTO main.gpkg_spatial_ref_sys ({', '.join(common)}) "
        f"SELECT {', '.join(common)} FROM incoming.gpkg_spatial_ref_sys WHERE srs_id IN "
        "(SELECT srs_id FROM incoming.gpkg_contents WHERE table_name = ?)",
        (table,),
    )
    for meta in _META_TABLES:
        if not (_has_table(db, meta) and _has_table(db, meta, "incoming")):
            continue
        shared = [c for c in _columns(db, meta, "incoming") if c in _columns(db, meta)]
        names = ", ".join(shared)
        db.execute(
            f"INSERT OR REPLACE INTO main.{meta} ({names}) SELECT {names} FROM incoming.{meta} "
            "WHERE lower(table_name) = lower(?)",
            (table,),
        )


def _is_store(path: Path) -> bool:
    """Whether `path` is a GeoPackage written by Village Atlas (it has the app's tables)."""
    try:
        with contextlib.closing(sqlite3.connect(_read_uri(path), uri=True)) as db:
            return _has_table(db, "gpkg_contents") and _has_table(db, "va_meta")
    except sqlite3.Error:
        return False


def restore(backup: Path | str, path: Path | str) -> Path:
    """Copy a checked backup into the store at `path` in place, with the online backup API.

    The live file is written through SQLite (never replaced on disk), so connections
    that have it open stay valid and see the restored content. A backup of an older
    version is upgraded once restored (`GeoPackageStore.upgrade`).

    Raises
    ------
    StoreError
        If the backup is missing or fails its own check.
    """
    backup, path = Path(backup).absolute(), Path(path).absolute()
    if not backup.is_file():
        msg = f"no backup at {backup}"
        raise StoreError(msg)
    if not path.is_file():
        msg = f"no store at {path} to restore into (create one with `village-atlas store init`)"
        raise StoreError(msg)
    found = _quick_check(backup)
    if found is not None:
        msg = f"the backup {backup} is damaged too ({found[:200]}): choose an older one"
        raise StoreError(msg)
    if not _is_store(backup):
        msg = f"{backup} is not a Village Atlas store (no layers, no va_meta): nothing restored"
        raise StoreError(msg)
    if _quick_check(path) is None:  # keep what is there now, in case the restore was a mistake
        GeoPackageStore(path).backup()
    try:
        with (
            contextlib.closing(sqlite3.connect(f"{backup.as_uri()}?mode=ro", uri=True)) as source,
            contextlib.closing(
                sqlite3.connect(_write_uri(path), uri=True, timeout=busy_seconds())
            ) as live,
        ):
            source.backup(live)
    except sqlite3.Error as exc:
        raise _explain(exc, str(path)) from exc
    note_write()
    GeoPackageStore(path).upgrade()  # a backup of an older version: upgraded like its store
    return path
