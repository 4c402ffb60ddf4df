"""The city server's store: PostgreSQL with PostGIS, through psycopg 3.

Each layer is a table in the schema ``village_atlas`` (``fid``, its attributes, ``version``
and ``geom geometry(Geometry, 4326)`` with a GiST index). Every write is one transaction:
an import drops and recreates its tables (PostgreSQL's DDL is transactional, so readers
see the old layer until the commit), an edit is one ``UPDATE ... WHERE code = %s AND
version = %s`` touching only the changed fields, with its audit rows. Writers take one
transaction-scoped advisory lock, waiting at most the busy timeout (``lock_timeout``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
from collections.abc import Iterator, Mapping
from collections.abc import Set as AbstractSet
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import shapely
from psycopg import sql

from geo import settings
from geo.errors import StoreBusyError, StoreError
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

__all__ = ["PostGISStore", "redact"]

SCHEMA = "village_atlas"
SRID = 4326
_LOCK = 7_310_431  # the advisory lock every writer takes
_SCHEMA_VERSION = "3"  # 3: no household key in the store (va_secrets dropped)
_SCHEMA_SQL = (
    "CREATE TABLE IF NOT EXISTS {s}.va_meta (key text PRIMARY KEY, value text)",
    (
        "CREATE TABLE IF NOT EXISTS {s}.va_layers (layer text PRIMARY KEY, "
        "revision bigint NOT NULL, "
        "rows bigint, source text, who text, at text, synthetic boolean NOT NULL DEFAULT false, "
        "dtypes jsonb, edits integer NOT NULL DEFAULT 0, edited_at text, edited_by text)"
    ),
    (
        "CREATE TABLE IF NOT EXISTS {s}.va_audit (id bigserial PRIMARY KEY, at text NOT NULL, "
        "who text NOT NULL, code text NOT NULL, col text NOT NULL, old text, new text, "
        "version integer NOT NULL)"
    ),
    "CREATE INDEX IF NOT EXISTS va_audit_code ON {s}.va_audit (code, version)",
)


_SHARED = tuple(s.format(p=f"{SCHEMA}.", id="id bigserial PRIMARY KEY") for s in SHARED_TABLES)


def redact(url: str) -> str:
    """Return `url` without its password, for messages and logs.

    Examples
    --------
    >>> redact("postgresql://atlas:secret@db.local:5432/city")
    'postgresql://atlas:***@db.local:5432/city'
    >>> redact("postgresql://atlas@db/city?password=secret&sslmode=require")
    'postgresql://atlas@db/city?password=***&sslmode=require'
    """
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(f":{parts.password}@", ":***@", 1)
    query = re.sub(r"(?i)(password=)[^&]*", r"\1***", parts.query)
    return urlunsplit(parts._replace(netloc=netloc, query=query))


_BUSY = "the store {where} is busy (another import or edit is writing): try again in a moment"
#: (error class or words in the message, what to tell the user), first match wins.
_MEANINGS: tuple[tuple[type[psycopg.Error] | str, str], ...] = (
    (psycopg.errors.LockNotAvailable, _BUSY),
    (
        "password authentication failed",
        "PostgreSQL refused the login for {where}: check user and password",
    ),
    (
        "no password supplied",
        "PostgreSQL asks a password for {where}: put it in the URL or ~/.pgpass",
    ),
    ("does not exist", "{where}: {text}; create the database first, then `store init`"),
    (psycopg.errors.DiskFull, "the database server's disk is full: nothing was changed ({text})"),
    (psycopg.errors.InsufficientPrivilege, "the account of {where} may not do this: {text}"),
    (
        psycopg.errors.ReadOnlySqlTransaction,
        "the store {where} is read-only: editing is unavailable",
    ),
    (
        psycopg.OperationalError,
        "cannot reach PostgreSQL at {where} ({text}): is the server running and the address right?",
    ),
)


def _explain(exc: psycopg.Error, location: str) -> StoreError:
    """Turn a PostgreSQL error into one sentence saying what happened and what to do."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    for cause, message in _MEANINGS:
        hit = cause in text.lower() if isinstance(cause, str) else isinstance(exc, cause)
        if hit:
            kind = StoreBusyError if message is _BUSY else StoreError
            return kind(message.format(where=location, text=text))
    return StoreError(f"the store {location} could not do this: {text}")


def _portable(query: str) -> sql.SQL:
    """Turn a portable query (`?` parameters, `{p}` schema prefix) into PostgreSQL's."""
    return sql.SQL(query.format(p=f"{SCHEMA}.").replace("?", "%s"))


def _runner(conn: psycopg.Connection[tuple[object, ...]]) -> Run:
    """Return a runner of portable queries (``{p}`` prefix, ``?`` parameters) on `conn`."""

    def run(query: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        cursor = conn.execute(_portable(query), params)
        return cursor.fetchall() if cursor.description else []

    return run


def _pg_type(dtype: object) -> str:
    """Return the PostgreSQL column type for a pandas dtype (text for anything else)."""
    types = pd.api.types
    if types.is_bool_dtype(dtype):
        return "boolean"
    if types.is_integer_dtype(dtype):
        return "bigint"
    if types.is_float_dtype(dtype):
        return "double precision"
    return "text"


def _plain(values: pd.Series) -> list[object]:
    """Return a column as Python values with None for missing (what COPY can write)."""
    if values.dtype.kind == "M":
        values = values.dt.strftime("%Y-%m-%dT%H:%M:%S")
    out = values.astype(object).where(values.notna(), None).tolist()
    return [v.item() if isinstance(v, np.generic) else v for v in out]


class PostGISStore(Store):
    """A store in a PostgreSQL database with PostGIS (see the module docstring)."""

    def __init__(self, url: str) -> None:
        """Connect to `url` and check that it holds a Village Atlas store.

        Raises
        ------
        StoreError
            If the server is unreachable, refuses the login, or holds no store.
        """
        self.url = url
        self.location = redact(url)
        self._shared_ready = False
        self._upgraded = False
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[psycopg.Connection[tuple[object, ...]]] = []
        with self._conn() as conn:
            found = conn.execute(
                "SELECT to_regclass(%s) IS NOT NULL", (f"{SCHEMA}.va_meta",)
            ).fetchone()
            if not (found and found[0]):
                msg = (
                    f"{self.location} holds no Village Atlas store: create one with "
                    f"`village-atlas store init {self.location}`"
                )
                raise StoreError(msg)
            row = conn.execute(
                "SELECT has_table_privilege(%s, 'INSERT') "
                "AND current_setting('transaction_read_only') = 'off'",
                (f"{SCHEMA}.va_audit",),
            ).fetchone()
        self.writable = bool(row and row[0])

    def close(self) -> None:
        """Close every connection this handle opened (in any thread)."""
        with self._lock:
            for conn in self._open:
                conn.close()
            self._open.clear()

    def __del__(self) -> None:
        """Close the connections when the handle goes away."""
        try:  # noqa: SIM105 (at interpreter exit, contextlib may be gone already)
            self.close()
        except Exception:  # noqa: BLE001, S110
            pass

    @classmethod
    def init(cls, url: str) -> PostGISStore:
        """Create the store's schema in the database at `url` (PostGIS enabled if needed).

        Raises
        ------
        StoreError
            If a store is already there, or the server refuses.
        """
        location = redact(url)
        try:
            with psycopg.connect(url, connect_timeout=5, autocommit=False) as conn:
                exists = conn.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.va_meta",)).fetchone()
                if exists and exists[0]:
                    msg = f"{location} already holds a store: `store init` never overwrites one"
                    raise StoreError(msg)
                conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
                conn.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(SCHEMA))
                )
                for statement in _SCHEMA_SQL:
                    conn.execute(sql.SQL(statement).format(s=sql.Identifier(SCHEMA)))
                for shared in _SHARED:
                    conn.execute(sql.SQL(shared))
                conn.execute(
                    sql.SQL("INSERT INTO {}.va_meta VALUES ('schema', {})").format(
                        sql.Identifier(SCHEMA), sql.Literal(_SCHEMA_VERSION)
                    )
                )
        except psycopg.Error as exc:
            raise _explain(exc, location) from exc
        return cls(url)

    @contextlib.contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
        """Lend this thread's connection (autocommit; opened once, again if it broke).

        Logging in costs more than an edit, so each thread keeps one connection; writes
        and multi-statement reads wrap themselves in a transaction.
        """
        conn = getattr(self._local, "conn", None)
        try:
            if conn is None or conn.closed or conn.broken:
                conn = psycopg.connect(self.url, connect_timeout=5, autocommit=True)
                self._local.conn = conn
                with self._lock:
                    self._open.append(conn)
            yield conn
        except psycopg.Error as exc:
            raise _explain(exc, self.location) from exc

    @contextlib.contextmanager
    def _write(self) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
        """Open a transaction holding the store's write lock (waits at most the busy timeout)."""
        if not self.writable:
            msg = f"the store {self.location} is read-only: editing is unavailable"
            raise StoreError(msg)
        with self._conn() as conn:
            with conn.transaction():
                conn.execute(f"SET LOCAL lock_timeout = '{int(busy_seconds() * 1000)}ms'")
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
                if not self._upgraded:
                    self._upgrade(conn)
                yield conn
            note_write()

    def _upgrade(self, conn: psycopg.Connection[tuple[object, ...]]) -> None:
        """Bring a store written by an older version up to date (under the write lock)."""
        run = _runner(conn)
        if run("SELECT value FROM {p}va_meta WHERE key = 'schema'") != [(_SCHEMA_VERSION,)]:
            upgrade_layer_records(run, self._columns(conn, "va_layers"))
            for table in RETIRED_TABLES:
                run(f"DROP TABLE IF EXISTS {{p}}{table}")
            run("DELETE FROM {p}va_meta WHERE key = 'schema'")
            run("INSERT INTO {p}va_meta VALUES ('schema', ?)", (_SCHEMA_VERSION,))
        self._upgraded = True

    def _read_sql(self, query: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        """Run a read query (see `Store._read_sql`)."""
        with self._conn() as conn:
            try:
                return conn.execute(_portable(query), params).fetchall()
            except psycopg.errors.UndefinedTable:
                return []

    @contextlib.contextmanager
    def _write_sql(self) -> Iterator[Run]:
        """Open a write transaction holding the write lock (see `Store._write_sql`)."""
        with self._write() as conn:
            if not self._shared_ready:
                for shared in _SHARED:
                    conn.execute(sql.SQL(shared))
                self._shared_ready = True

            yield _runner(conn)

    @staticmethod
    def _t(table: str) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(SCHEMA), sql.Identifier(table))

    # -- reading -----------------------------------------------------------------------------

    def list_layers(self) -> list[str]:
        """Return the names of the stored vector layers."""
        with self._conn() as conn:
            rows = conn.execute(
                sql.SQL("SELECT layer FROM {} WHERE dtypes IS NOT NULL ORDER BY layer").format(
                    self._t("va_layers")
                )
            ).fetchall()
        return [str(r[0]) for r in rows]

    def read_layer(self, key: str) -> gpd.GeoDataFrame:
        """Return stored layer `key` in fid order (see `Store.read_layer`)."""
        table = table_name(key)
        with self._conn() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")  # one snapshot
            found = conn.execute(
                sql.SQL("SELECT dtypes FROM {} WHERE layer = %s").format(self._t("va_layers")),
                (table,),
            ).fetchone()
            if found is None or found[0] is None:
                names = self.list_layers()
                msg = missing_layer(key, self.location, names)
                raise StoreError(msg)
            dtypes: dict[str, str] = dict(found[0])  # type: ignore[call-overload]
            columns = [*dtypes, "version"]
            rows = conn.execute(
                sql.SQL("SELECT {}, ST_AsBinary(geom) FROM {} ORDER BY fid").format(
                    sql.SQL(", ").join(map(sql.Identifier, columns)), self._t(table)
                )
            ).fetchall()
        frame = pd.DataFrame(rows, columns=[*columns, "geometry"])
        for column, dtype in dtypes.items():
            with contextlib.suppress(TypeError, ValueError):
                frame[column] = frame[column].astype(dtype)
        geometry = shapely.from_wkb(
            [None if g is None else bytes(g) for g in frame.pop("geometry")]
        )
        return gpd.GeoDataFrame(frame, geometry=geometry, crs=settings.storage_crs)

    def _table_columns(self, table: str) -> list[str]:
        """Return the columns of `table` (empty: no such table)."""
        with self._conn() as conn:
            return self._columns(conn, table)

    def _columns(self, conn: psycopg.Connection[tuple[object, ...]], table: str) -> list[str]:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s",
            (SCHEMA, table),
        ).fetchall()
        return [str(r[0]) for r in rows]

    def check(self) -> None:
        """Check that the server answers and PostGIS is installed in the database."""
        with self._conn() as conn:
            conn.execute("SELECT postgis_version()")

    def raster_dir(self) -> Path:
        """Return the server-side folder for rasters (``VILLAGE_ATLAS_RASTERS``)."""
        default = Path.home() / ".local" / "share" / "village-atlas" / "rasters"
        name = urlsplit(self.url).path.strip("/") or "default"
        return Path(os.environ.get("VILLAGE_ATLAS_RASTERS", default / name))

    # -- writing -----------------------------------------------------------------------------

    def replace_layers(
        self,
        layers: Mapping[str, gpd.GeoDataFrame],
        *,
        who: str,
        source: str | Mapping[str, str],
        synthetic: bool | AbstractSet[str] = False,
    ) -> None:
        """Replace each layer in one transaction (see `Store.replace_layers`)."""
        tables = {table_name(k): gdf for k, gdf in layers.items()}
        with self._write() as conn:
            for table, gdf in tables.items():
                dtypes = self._replace(conn, table, gdf.to_crs(settings.storage_crs))
                text, flag = origin_of(table, source, synthetic)
                origin = {"rows": len(gdf), "source": text, "who": who, "synthetic": flag}
                bump(_runner(conn), table, origin)
                conn.execute(
                    sql.SQL("UPDATE {} SET dtypes = %s WHERE layer = %s").format(
                        self._t("va_layers")
                    ),
                    (json.dumps(dtypes), table),
                )

    def _replace(
        self, conn: psycopg.Connection[tuple[object, ...]], table: str, gdf: gpd.GeoDataFrame
    ) -> dict[str, str]:
        attributes = [c for c in gdf.columns if c not in (gdf.geometry.name, "version", "fid")]
        keep_versions = {"code", "version"} <= set(self._columns(conn, table))
        if keep_versions:
            conn.execute(
                sql.SQL(
                    "CREATE TEMP TABLE va_old ON COMMIT DROP AS SELECT code, version FROM {}"
                ).format(self._t(table))
            )
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(self._t(table)))
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} (fid bigint PRIMARY KEY, {}, version integer NOT NULL DEFAULT 0, "
                "geom geometry(Geometry, {}))"
            ).format(
                self._t(table),
                sql.SQL(", ").join(
                    sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(_pg_type(gdf[c].dtype)))
                    for c in attributes
                ),
                sql.Literal(SRID),
            )
            if attributes
            else sql.SQL(
                "CREATE TABLE {} (fid bigint PRIMARY KEY, version integer NOT NULL DEFAULT 0, "
                "geom geometry(Geometry, {}))"
            ).format(self._t(table), sql.Literal(SRID))
        )
        attributes_copied = [*attributes, "version"] if "version" in gdf.columns else attributes
        geometry = shapely.to_wkb(
            shapely.set_srid(shapely.force_2d(gdf.geometry.to_numpy()), SRID),
            hex=True,
            include_srid=True,
        )
        columns = [_plain(gdf[c]) for c in attributes_copied]
        target = sql.SQL("COPY {} ({}) FROM STDIN").format(
            self._t(table),
            sql.SQL(", ").join(map(sql.Identifier, ["fid", *attributes_copied, "geom"])),
        )
        with conn.cursor() as cur, cur.copy(target) as copy:
            for i, geom in enumerate(geometry):
                copy.write_row((i + 1, *(col[i] for col in columns), geom))
        if keep_versions:
            conn.execute(
                sql.SQL(
                    "UPDATE {} t SET version = 1 + o.version FROM va_old o WHERE o.code = t.code"
                ).format(self._t(table))
            )
        conn.execute(
            sql.SQL("CREATE INDEX {} ON {} USING gist (geom)").format(
                sql.Identifier(f"{table}_geom_gist"), self._t(table)
            )
        )
        return {c: str(gdf[c].dtype) for c in attributes}
