"""Arrays derived from a store's layers (the road graph), kept in files beside the store.

A derived file is named by what it holds (``road_graph-2017.npz`` in
`Store.derived_dir`) and records the version of the layers it was derived from
(`layer_version`: the store's location, each layer's revision, row count and import
time). It is read back only while that version is current, and a new version replaces
it. Nothing here is trusted: a missing, truncated or corrupt file, or one from another
version, reads as absent (the caller rebuilds), files are written whole or not at all
(a temporary file renamed into place), and a folder that cannot be written keeps nothing.
Arrays are plain ``.npz`` archives read with ``allow_pickle=False``: no objects.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from store.base import Store, table_name

__all__ = ["KEEP_FILES", "layer_version", "read_arrays", "write_arrays"]

log = logging.getLogger(__name__)

#: Derived files kept per store (the least recently written go first).
KEEP_FILES = 8
_VERSION = "__version__"
_UNREADABLE = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error)


def layer_version(handle: Store, *keys: str) -> str:
    """Return the version of layers `keys` in the store: it changes with any import or edit.

    Each layer's revision grows with every import or edit; its row count and import
    time tell a store rebuilt from scratch (whose revisions start again) from the old one.
    """
    table = handle.provenance().set_index("layer")
    parts = [handle.location]
    for key in keys:
        name = table_name(key)
        if name in table.index:
            row = table.loc[name]
            parts.append(f"{name}:{row['revision']}:{row['rows']}:{row['at']}")
        else:
            parts.append(f"{name}:absent")
    return "|".join(parts)


def _path(handle: Store, name: str) -> Path:
    if not name.replace("-", "_").replace(".", "_").isidentifier():
        raise ValueError(f"{name!r} is not a name for a derived file")
    return handle.derived_dir() / f"{name}.npz"


def read_arrays(handle: Store, name: str, version: str) -> dict[str, NDArray[np.generic]] | None:
    """Return the arrays derived as `name` if they were derived from `version`, else None.

    None too when the file is missing, unreadable, truncated or corrupt (each array's
    checksum is verified as it is read).
    """
    path = _path(handle, name)
    try:
        with path.open("rb") as file, np.load(file, allow_pickle=False) as archive:
            if str(archive[_VERSION]) != version:
                return None
            return {key: archive[key] for key in archive.files if key != _VERSION}
    except FileNotFoundError:
        return None
    except _UNREADABLE as exc:
        log.warning("ignoring the unreadable derived file %s (%s): it is rebuilt", path, exc)
        return None


def write_arrays(
    handle: Store, name: str, version: str, arrays: Mapping[str, NDArray[np.generic]]
) -> bool:
    """Keep `arrays` as `name`, derived from `version`; return whether they were written.

    Written whole or not at all; a folder that cannot be written (a read-only store,
    a full disk) keeps nothing and is not an error.
    """
    path = _path(handle, name)
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{name}-", suffix=".part", dir=path.parent)
        contents = {_VERSION: np.array(version), **arrays}
        with os.fdopen(fd, "wb") as out:
            np.savez(out, allow_pickle=False, **contents)
        Path(tmp).replace(path)
        tmp = None
    except OSError as exc:
        log.info("derived file %s not kept (%s)", path, exc)
        return False
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                Path(tmp).unlink()
    _prune(path.parent)
    return True


def _prune(folder: Path) -> None:
    """Keep the `KEEP_FILES` most recently written derived files of a folder."""
    with contextlib.suppress(OSError):
        files = sorted(folder.glob("*.npz"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
        for old in files[KEEP_FILES:]:
            old.unlink(missing_ok=True)
