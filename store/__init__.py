"""Everything persistent: the store of layers, edits and audit, behind one interface.

`open_store` picks the backend from one setting, ``VILLAGE_ATLAS_STORE``: a path to a
GeoPackage (the default is the demo store) or a ``postgresql://`` URL. Opening checks the
store and refuses, with one sentence saying what to do, anything that is not one; it
never creates a store (that is `create_store`, ``village-atlas store init``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from pathlib import Path

import geopandas as gpd

from geo import settings
from store.base import Change, Origin, Store, layer_checksum

__all__ = [
    "Change",
    "Origin",
    "Store",
    "backup",
    "copy_store",
    "create_store",
    "layer_checksum",
    "location",
    "open_store",
    "restore",
    "write_store",
]

_OPENED: dict[str, Store] = {}


def location() -> str:
    """Return the configured store: ``VILLAGE_ATLAS_STORE``, else the demo GeoPackage."""
    return os.environ.get("VILLAGE_ATLAS_STORE") or str(settings.store_path)


def _is_url(where: str) -> bool:
    return where.startswith(("postgresql:", "postgres:", "postgresql+"))


def open_store(where: str | Path | None = None, *, recheck: bool = False) -> Store:
    """Open the store at `where` (a GeoPackage path or a PostgreSQL URL; default: `location`).

    A store is checked when this process first opens it (or with `recheck`); later calls
    return the same handle, which opens a connection per operation.

    Raises
    ------
    StoreError
        If it is missing, not a store, unreachable, or damaged (with what to do).
    """
    where = str(where or location())
    if recheck or where not in _OPENED or not _still_there(_OPENED[where]):
        _OPENED[where] = _open(where)
    return _OPENED[where]


def _still_there(handle: Store) -> bool:
    path = getattr(handle, "path", None)
    return path is None or Path(path).is_file()


def _open(where: str) -> Store:
    if _is_url(where):
        from store.postgis import PostGISStore  # noqa: PLC0415 (psycopg only when used)

        return PostGISStore(where)
    from store.gpkg import GeoPackageStore  # noqa: PLC0415

    return GeoPackageStore(where)


def create_store(where: str | Path) -> Store:
    """Create an empty store at `where`; never overwrites one.

    Raises
    ------
    StoreError
        If a store is already there or it cannot be created.
    """
    where = str(where)
    if _is_url(where):
        from store.postgis import PostGISStore  # noqa: PLC0415

        return PostGISStore.init(where)
    from store.gpkg import GeoPackageStore  # noqa: PLC0415

    return GeoPackageStore.init(where)


def write_store(
    where: str | Path,
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    who: str,
    source: str | Mapping[str, str],
    synthetic: bool | AbstractSet[str] = False,
) -> Store:
    """Write `layers` into the store at `where` in one transaction, creating the store if absent.

    For building a store on purpose (the demo, a test); the app and CLI only ever open one.
    `source` and `synthetic` are recorded for every layer, or per layer (see
    `Store.replace_layers`).
    """
    where = str(where)
    handle = (
        open_store(where, recheck=True)
        if _is_url(where) or Path(where).exists()
        else create_store(where)
    )
    handle.replace_layers(layers, who=who, source=source, synthetic=synthetic)
    return handle


def backup(handle: Store) -> Path:
    """Make an online backup of a GeoPackage store and return its path.

    Raises
    ------
    StoreError
        For a PostGIS store: back it up with PostgreSQL's own tools or `store copy`.
    """
    from geo.errors import StoreError  # noqa: PLC0415
    from store.gpkg import GeoPackageStore  # noqa: PLC0415

    if not isinstance(handle, GeoPackageStore):
        msg = (
            "a PostGIS store is backed up with pg_dump, or copied to a GeoPackage with "
            "`village-atlas store copy URL --to backup.gpkg`"
        )
        raise StoreError(msg)
    return handle.backup()


def restore(backup_file: Path | str, where: Path | str) -> Path:
    """Restore a GeoPackage backup into the store at `where`, in place (see `gpkg.restore`)."""
    from geo.errors import StoreError  # noqa: PLC0415
    from store import gpkg  # noqa: PLC0415

    if _is_url(str(where)):
        msg = "`store restore` restores GeoPackage backups; restore PostGIS with pg_restore"
        raise StoreError(msg)
    return gpkg.restore(backup_file, where)


def copy_store(source: Store, target: Store, *, who: str) -> dict[str, tuple[int, str]]:
    """Copy a whole store into `target` (a new one): layers in one transaction, then verify.

    The layers keep their edit versions and where they came from; the audit trail, the
    accounts and the event log come along (`Store.copy_records_from`). Each layer is read
    back from the target and compared with the source by row count and a checksum of
    every row.

    Returns
    -------
    dict
        Layer -> (rows, checksum).

    Raises
    ------
    StoreError
        If a layer read back differs from the source.
    """
    from geo.errors import StoreError  # noqa: PLC0415

    read = {key: source.read_layer(key) for key in source.list_layers()}
    target.replace_layers(read, who=who, source=f"copied from {source.location}")
    target.copy_records_from(source, who=who)
    done: dict[str, tuple[int, str]] = {}
    for key, gdf in read.items():
        back = target.read_layer(key)
        want, got = layer_checksum(gdf), layer_checksum(back)
        if len(back) != len(gdf) or want != got:
            msg = f"layer {key!r} differs after the copy ({len(gdf)} rows -> {len(back)})"
            raise StoreError(msg)
        done[key] = (len(gdf), want)
    return done
