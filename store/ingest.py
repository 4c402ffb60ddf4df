"""Reading untrusted files: checks before parsing, parsing in a limited child process.

Every upload is treated as hostile. Before anything parses it: its size is capped, zip
archives are inspected from their directory (declared sizes, member count, paths) and
extracted only when they pass; tar archives likewise from their headers, in the limited
child (with the ``data`` filter, regular files and folders only); and the first bytes
must match the format its name claims (no XML where JSON or TIFF is expected: GDAL
would follow a VRT). Parsing happens in a child process with memory and CPU limits,
GDAL's file- and URL-following drivers switched off and no network. GeoJSON, CSV and
KML never reach GDAL at all.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import resource
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.errors import ImportRefusedError, IngestError
from geo.raster import MAX_CELLS as READER_MAX_CELLS

__all__ = [
    "LIMITS",
    "STALE_SECONDS",
    "IngestError",
    "Limits",
    "copy_raster",
    "file_rows",
    "header_name",
    "named_columns",
    "private_folder",
    "read_checked_table",
    "read_untrusted",
    "read_untrusted_table",
    "refusal",
    "sniff",
    "source_layers",
    "text_cells",
]


@dataclass(frozen=True)
class Limits:
    """Caps applied to every untrusted file, by the pages and the command line alike.

    Attributes
    ----------
    file_bytes
        Size of the uploaded file.
    unpacked_bytes
        Total size of an archive's files, declared and as written.
    archive_members
        Files (and folders) in a zip or tar archive.
    features
        Features in one layer.
    raster_cells
        Width x height x bands of a GeoTIFF: the cap `geo.raster` reads, so an imported
        raster is always readable.
    text_chars
        Characters in one text cell or column name.
    memory_bytes, cpu_seconds
        Address space and CPU time of the child that parses.
    parallel_reads
        Uploads checked and parsed at once, across every process of this machine.
    busy_seconds
        How long to wait for a free slot before refusing.
    slot_dir
        Where the slot lock files live (default: ``village-atlas-ingest`` in the
        system's temporary folder).
    """

    file_bytes: int = 200 * 2**20
    unpacked_bytes: int = 500 * 2**20
    archive_members: int = 2000
    features: int = 1_000_000
    raster_cells: int = READER_MAX_CELLS
    text_chars: int = 2000
    memory_bytes: int = 3 * 2**30
    cpu_seconds: int = 120
    parallel_reads: int = 2
    busy_seconds: float = 30.0
    slot_dir: Path | None = None


LIMITS = Limits()

#: Drivers that open further files or URLs: never registered in the child.
_SKIP_DRIVERS = "VRT WMS WMTS WCS WFS OAPIF PLMosaic STACIT STACTA EEDA ESRIJSON TileDB HTTP"
_MAGIC = {
    ".gpkg": (b"SQLite format 3\x00",),
    ".zip": (b"PK\x03\x04",),
    ".xlsx": (b"PK\x03\x04",),
    ".kmz": (b"PK\x03\x04",),
    ".tif": (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"),
    ".tiff": (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"),
    ".shp": (b"\x00\x00\x27\x0a",),
}
_TEXT = {".geojson", ".json", ".csv", ".kml"}
_ARCHIVES = {".zip", ".tar", ".tgz", ".gz"}
_VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".kml", ".csv", ".xlsx", ".shp")


def sniff(path: Path) -> str:
    """Return the file's kind from its name, checked against its first bytes.

    Raises
    ------
    IngestError
        If the bytes do not match the name (for example XML in a .geojson or .tif).
    """
    suffix = path.suffix.lower()
    with path.open("rb") as f:
        head = f.read(512)  # only the head: the file may be large
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if suffix in _MAGIC:
        if not any(head.startswith(m) for m in _MAGIC[suffix]):
            what = "XML (a VRT or similar)" if text.startswith(b"<") else "something else"
            msg = f"{path.name} is not a {suffix} file: it holds {what}"
            raise IngestError(msg)
        return suffix
    if suffix in {".geojson", ".json"} and not text.startswith((b"{", b"[")):
        what = "XML (a VRT or similar)" if text.startswith(b"<") else "no JSON"
        msg = f"{path.name} is not GeoJSON: it holds {what}"
        raise IngestError(msg)
    if suffix == ".kml" and not text.startswith(b"<"):
        msg = f"{path.name} is not KML: it holds no XML"
        raise IngestError(msg)
    if suffix in _TEXT or suffix in _ARCHIVES:
        return suffix
    msg = (
        f"{path.name}: unsupported file type {suffix or '(none)'}; use GeoJSON, a zipped "
        "Shapefile, GeoPackage, KML, CSV, XLSX or GeoTIFF"
    )
    raise IngestError(msg)


_MAX_DEPTH = 32  # folders inside an archive
_MAX_NAME = 255  # bytes in one file or folder name (Linux)


def _member_path(archive: str, name: str) -> PurePosixPath | None:
    """Return where an archive member goes inside its folder; None for folder-like names.

    Raises
    ------
    IngestError
        If the name leaves the folder (absolute, drive letter, ``..``) or cannot be a path.
    """
    clean = name.replace("\\", "/")
    parts = [part for part in clean.split("/") if part not in {"", "."}]
    if clean.startswith("/") or re.match(r"[A-Za-z]:", clean) or ".." in parts:
        msg = f"{archive} holds a file outside the archive ({name[:80]!r})"
        raise IngestError(msg)
    if len(parts) > _MAX_DEPTH or any(len(p.encode()) > _MAX_NAME or "\0" in p for p in parts):
        msg = f"{archive} holds a file name that is too long or too deep ({name[:80]!r})"
        raise IngestError(msg)
    return PurePosixPath(*parts) if parts and not clean.endswith("/") else None


def _zip_paths(path: Path, members: list[zipfile.ZipInfo]) -> list[tuple[zipfile.ZipInfo, str]]:
    """Pair each file member with its path inside the folder; refuse repeats and clashes."""
    out: list[tuple[zipfile.ZipInfo, str]] = []
    files: set[str] = set()
    folders: set[str] = set()
    for m in members:
        rel = _member_path(path.name, m.filename)
        if rel is None or m.is_dir():
            continue
        if str(rel) in files:
            msg = f"{path.name} holds {str(rel)[:80]!r} twice: refused (which one is meant?)"
            raise IngestError(msg)
        files.add(str(rel))
        folders.update(str(parent) for parent in rel.parents)
        out.append((m, str(rel)))
    clash = sorted(files & folders)
    if clash:
        msg = f"{path.name} holds a file and a folder both named {clash[0][:80]!r}: refused"
        raise IngestError(msg)
    return out


@contextmanager
def _zip_errors(name: str) -> Iterator[None]:
    """Turn whatever a damaged or unusual zip raises into one sentence."""
    try:
        yield
    except NotImplementedError as exc:  # before RuntimeError, which it is
        msg = (
            f"{name} uses a compression method this tool cannot read: zip it again "
            "with ordinary (deflate) compression"
        )
        raise IngestError(msg) from exc
    except RuntimeError as exc:  # zipfile asks for a password
        msg = f"{name} holds a file protected by a password: zip it again without one"
        raise IngestError(msg) from exc
    except (zipfile.BadZipFile, zlib.error, EOFError, struct.error, ValueError) as exc:
        msg = f"{name} is damaged or truncated: it is not a readable zip archive"
        raise IngestError(msg) from exc


def _check_zip(path: Path, limits: Limits) -> list[tuple[zipfile.ZipInfo, str]]:
    """Inspect a zip from its directory: member count, declared sizes, paths."""
    with _zip_errors(path.name), zipfile.ZipFile(path) as archive:
        members = archive.infolist()
    if len(members) > limits.archive_members:
        msg = f"{path.name} holds {len(members)} files (the limit is {limits.archive_members})"
        raise IngestError(msg)
    declared = sum(m.file_size for m in members)
    if declared > limits.unpacked_bytes:
        msg = (
            f"{path.name} declares {declared / 2**20:.0f} MB unpacked (the limit is "
            f"{limits.unpacked_bytes / 2**20:.0f} MB): refused without extracting"
        )
        raise IngestError(msg)
    return _zip_paths(path, members)


def _copy_capped(src: IO[bytes], dst: IO[bytes], left: int, name: str) -> int:
    """Copy `src` to `dst` while at most `left` bytes remain allowed; return what remains."""
    while chunk := src.read(2**20):
        left -= len(chunk)
        if left < 0:
            msg = f"{name} unpacks to more than it declared: refused"
            raise IngestError(msg)
        dst.write(chunk)
    return left


def _unpack(path: Path, folder: Path, limits: Limits) -> list[Path]:
    """Extract a checked archive into `folder` and return the datasets inside it."""
    if path.suffix.lower() == ".zip":
        members = _check_zip(path, limits)
        with _zip_errors(path.name), zipfile.ZipFile(path) as archive:
            left = limits.unpacked_bytes  # counted as written: one pass, never a re-scan
            for m, rel in members:  # each file keeps its folder: sidecars are never mixed
                target = folder / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(m) as src, target.open("wb") as dst:
                    left = _copy_capped(src, dst, left, path.name)
    else:  # tar headers are read in the limited child: a pax header can be any size
        request = {
            "untar": str(path),
            "folder": str(folder),
            "max_members": limits.archive_members,
            "max_bytes": limits.unpacked_bytes,
        }
        _run_worker(request, limits, path.name)
    found = _datasets(folder)
    if not found:
        msg = f"{path.name} holds no Shapefile, GeoPackage or GeoJSON"
        raise IngestError(msg)
    return found


def _datasets(folder: Path) -> list[Path]:
    """Return the datasets in an unpacked archive: its Shapefiles, else its other files."""
    found = sorted(
        (p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in _VECTOR_SUFFIXES),
        key=lambda p: p.relative_to(folder).as_posix(),
    )
    shapefiles = [p for p in found if p.suffix.lower() == ".shp"]
    return shapefiles or found


def _listed(names: list[str]) -> str:
    return ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")  # noqa: PLR2004


def _is_named(rel: str, wanted: str) -> bool:
    """Whether a dataset's path in its archive is what `wanted` names (suffix optional)."""
    wanted = wanted.replace("\\", "/").strip("/")
    return wanted in {rel, str(PurePosixPath(rel).with_suffix(""))}


def _choose(
    name: str, datasets: list[Path], folder: Path, source_layer: str | None
) -> tuple[Path, str | None]:
    """Return the dataset of an archive to read and the layer to read inside it.

    With one dataset, `source_layer` names a layer inside it (unless it names the
    dataset itself); with several, it must name one of them.
    """
    names = [p.relative_to(folder).as_posix() for p in datasets]
    hits = [p for p, rel in zip(datasets, names, strict=True) if _is_named(rel, source_layer or "")]
    if len(datasets) == 1:
        return datasets[0], None if hits else source_layer
    if source_layer is None:
        msg = (
            f"{name}: the archive holds several layers: {_listed(names)}; "
            "choose one with --source-layer NAME"
        )
        raise IngestError(msg)
    if len(hits) != 1:
        msg = f"{name} holds no layer {source_layer!r}; it holds: {_listed(names)}"
        raise IngestError(msg)
    return hits[0], None


def _limit(limits: Limits) -> None:  # runs in the child before it starts
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds))


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GDAL_", "CPL_", "OGR_"))}
    env |= {
        "GDAL_SKIP": _SKIP_DRIVERS,
        "OGR_SKIP": _SKIP_DRIVERS,
        "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".village-atlas-none",
        "GDAL_HTTP_TIMEOUT": "1",
        "GDAL_HTTP_MAX_RETRY": "0",
        "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
        "http_proxy": "http://127.0.0.1:9",
        "https_proxy": "http://127.0.0.1:9",
        "no_proxy": "",
    }
    return env


def _without_folders(message: str, *folders: Path) -> str:
    """Return `message` with these folders (and any temporary folder) cut from its paths."""
    for folder in folders:
        for form in {str(folder), str(folder.resolve())}:
            if len(Path(form).parts) > 1 and Path(form).is_absolute():  # never "." or "/"
                message = message.replace(form + os.sep, "")
    temp = re.escape(tempfile.gettempdir().rstrip(os.sep))
    return re.sub(temp + r"/(?:[^\s'\"/]+/)*", "", message)


def _check_file(path: Path, limits: Limits) -> str:
    """Check that the file exists, its size and its first bytes; return its kind."""
    if not path.is_file():
        msg = f"cannot read {path.name}: no such file"
        raise IngestError(msg)
    if path.stat().st_size > limits.file_bytes:
        size, cap = path.stat().st_size / 2**20, limits.file_bytes / 2**20
        msg = f"{path.name} is {size:.0f} MB (the limit is {cap:.0f} MB)"
        raise IngestError(msg)
    return sniff(path)


def _take_slot(folder: Path, count: int) -> int | None:
    """Lock one of `count` slot files; return its descriptor, or None when all are held."""
    for i in range(count):
        fd = os.open(folder / f"slot-{i}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return fd
    return None


@contextmanager
def _slot(limits: Limits) -> Iterator[None]:
    """Hold one of `limits.parallel_reads` reading slots, shared by every process.

    Each slot is a file locked with ``flock``: a lock belongs to one open file, so
    threads of one server and separate processes count alike, and a crashed reader's
    slot frees itself. Waits up to `limits.busy_seconds`, then refuses.
    """
    folder = limits.slot_dir or Path(tempfile.gettempdir()) / "village-atlas-ingest"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    deadline = time.monotonic() + limits.busy_seconds
    while (fd := _take_slot(folder, limits.parallel_reads)) is None:
        if time.monotonic() >= deadline:
            msg = "the server is busy reading other uploads, try again in a minute"
            raise IngestError(msg)
        time.sleep(0.2)
    try:
        yield
    finally:
        os.close(fd)  # closing the file releases its lock


#: How old a folder of `private_folder` must be before another process may remove it:
#: longer than any read lasts (a wait for a slot, twice the CPU limit, unpacking).
STALE_SECONDS = 15 * 60


@contextmanager
def private_folder(prefix: str) -> Iterator[Path]:
    """Lend a new folder in the system's temporary folder that only this user may open.

    The folder (mode 0700, named ``<prefix><pid>-<random>``) and all in it are removed
    when the block ends, whichever way it ends: the rows it held may be a household
    file's. A process killed outright (SIGKILL, the server stopped mid-read) cannot
    remove its own, so each new one first removes this user's folders of `prefix` that
    are older than `STALE_SECONDS` and whose process is gone (or unnamed: older versions).
    """
    root = Path(tempfile.gettempdir())
    _sweep_folders(root, prefix)
    folder = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=root))  # mode 0700
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _sweep_folders(root: Path, prefix: str) -> None:
    """Remove the folders of `prefix` that `private_folder` left behind when killed."""
    for folder in root.glob(f"{prefix}*"):
        try:
            found = folder.lstat()
        except OSError:
            continue
        mine = stat.S_ISDIR(found.st_mode) and found.st_uid == os.getuid()  # no link, no other's
        if not mine or time.time() - found.st_mtime < STALE_SECONDS:
            continue
        pid = folder.name.removeprefix(prefix).split("-")[0]
        if not (pid.isdigit() and _running(int(pid))):
            shutil.rmtree(folder, ignore_errors=True)


def _running(pid: int) -> bool:
    """Whether process `pid` exists (someone else's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def _session(path: Path, limits: Limits) -> Iterator[tuple[str, Path]]:
    """Check an upload and lend a private temporary folder; messages never name a folder.

    Every reader goes through here: one set of checks for the pages and the command line,
    and at most `limits.parallel_reads` uploads unpacked and parsed at a time.
    """
    unpacked = path.parent
    try:
        kind = _check_file(path, limits)
        if kind in {".xlsx", ".kmz"}:
            _check_zip(path, limits)
        with _slot(limits), private_folder("va-ingest-") as tmp:
            unpacked = tmp / "in"
            yield kind, tmp
    except IngestError as exc:
        raise IngestError(_without_folders(str(exc), unpacked, path.parent)) from exc
    except OSError as exc:  # the disk, never the file: say so without a path
        msg = f"{path.name} could not be unpacked here: {exc.strerror or type(exc).__name__}"
        raise IngestError(msg) from exc


def _check_encoding(encoding: str | None) -> None:
    """Refuse a text encoding Python does not know (GDAL would ignore it silently)."""
    if encoding is None:
        return
    try:
        "x".encode(encoding)  # also refuses codecs that are not text encodings (rot13)
    except (LookupError, UnicodeError) as exc:
        msg = (
            f"unknown text encoding {encoding[:40]!r}: use a name such as GBK, GB18030, "
            "UTF-8 or CP1252"
        )
        raise IngestError(msg) from exc


def _parse(
    target: Path, folder: Path, limits: Limits, name: str, **options: object
) -> tuple[Path, list[str]]:
    """Parse `target` in the limited child into a Parquet file in `folder`; return it, notes."""
    out = folder / "out.parquet"
    request = {
        "path": str(target),
        "out": str(out),
        "max_features": limits.features,
        "max_text": limits.text_chars,
        **options,
    }
    return out, _run_worker(request, limits, name)


def read_untrusted(
    path: Path | str,
    *,
    encoding: str | None = None,
    source_layer: str | None = None,
    limits: Limits = LIMITS,
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Read an uploaded vector file safely: its features (CRS as claimed, maybe none) and notes.

    Parameters
    ----------
    path
        The uploaded file (GeoJSON, zipped Shapefile, GeoPackage, KML, CSV, XLSX, or a
        zip or tar archive of one of them).
    encoding
        The text encoding of a Shapefile's .dbf or a CSV; by default it is worked out.
    source_layer
        Which layer to read when the file holds several (see `source_layers`).
    limits
        The caps to apply.

    Raises
    ------
    IngestError
        If the file is refused or cannot be parsed; the message says why.
    """
    path = Path(path)
    _check_encoding(encoding)
    with _session(path, limits) as (kind, folder):
        target, layer = path, source_layer
        if kind in _ARCHIVES:
            (folder / "in").mkdir()
            datasets = _unpack(path, folder / "in", limits)
            target, layer = _choose(path.name, datasets, folder / "in", source_layer)
            sniff(target)
        out, notes = _parse(target, folder, limits, path.name, encoding=encoding, layer=layer)
        return gpd.read_parquet(out), notes


def read_untrusted_table(
    path: Path | str,
    *,
    encoding: str | None = None,
    text_columns: Mapping[str, Sequence[str]] | None = None,
    limits: Limits = LIMITS,
) -> tuple[pd.DataFrame, list[str]]:
    """Read an uploaded CSV or XLSX table without coordinates safely: its rows as text, notes.

    The file passes the same checks as any upload and is parsed in the limited child;
    blank cells read as None. Nothing of it is kept once this returns. `text_columns`
    maps fields to their header spellings (as `header_name` reads them) whose cells in
    an XLSX file must be text: a number there (an ID number Excel cut to 15 digits) is
    refused, naming the rows.

    Raises
    ------
    IngestError
        If the file is refused or cannot be parsed; the message says why.
    """
    path = Path(path)
    _check_encoding(encoding)
    with _session(path, limits) as (kind, folder):
        if kind not in {".csv", ".xlsx"}:
            msg = f"{path.name} is not a table: use CSV or XLSX"
            raise IngestError(msg)
        out, notes = _parse(
            path,
            folder,
            limits,
            path.name,
            encoding=encoding,
            table=True,
            text_columns={f: list(names) for f, names in (text_columns or {}).items()},
        )
        frame = pd.DataFrame(gpd.read_parquet(out)).drop(columns="geometry")
        out.unlink()
        return frame, notes


def read_checked_table(
    path: Path,
    check: Callable[[pd.DataFrame], pd.DataFrame],
    *,
    encoding: str | None = None,
    name: str | None = None,
    text_columns: Mapping[str, Sequence[str]] | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Read a table from an untrusted file; return what `check` makes of it, and the notes.

    The raw rows live only in here (a household file's ID numbers among them).
    `text_columns`: as for `read_untrusted_table`.

    Raises
    ------
    IngestError
        If the file is refused before its rows are read.
    ImportRefusedError
        If `check` refuses the rows: the message names the file (`name`, default its own).
    """
    frame, notes = read_untrusted_table(path, encoding=encoding, text_columns=text_columns)
    try:
        return check(frame), notes
    except ImportRefusedError as exc:
        msg = f"{name or path.name} was refused: {exc}"
        raise ImportRefusedError(msg) from None


def source_layers(path: Path | str, *, limits: Limits = LIMITS) -> list[str]:
    """Return the names an upload accepts as `source_layer` (empty: nothing to choose).

    A GeoPackage gives its layers (tables and views), listed in the limited child; an
    archive of several datasets gives their paths inside it; an archive of one dataset
    gives that dataset's layers. The file passes the same checks as for reading.

    Raises
    ------
    IngestError
        If the file is refused; the message says why.
    """
    path = Path(path)
    with _session(path, limits) as (kind, folder):
        target = path
        if kind in _ARCHIVES:
            (folder / "in").mkdir()
            datasets = _unpack(path, folder / "in", limits)
            if len(datasets) > 1:
                return [p.relative_to(folder / "in").as_posix() for p in datasets]
            target = datasets[0]
        if sniff(target) not in {".gpkg", ".kmz"}:
            return []
        return _run_worker({"list_layers": str(target)}, limits, path.name)


def _run_worker(request: Mapping[str, object], limits: Limits, name: str) -> list[str]:
    """Run the parser child with the limits; return its notes or raise its reason."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "store._worker", json.dumps(request)],
            capture_output=True,
            text=True,
            timeout=limits.cpu_seconds * 2,
            env=_child_env(),
            preexec_fn=lambda: _limit(limits),
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        msg = f"{name} took too long to read: refused"
        raise IngestError(msg) from exc
    answer = (done.stdout.strip().splitlines() or [""])[-1]
    if done.returncode != 0 or not answer.startswith("ok"):
        reason = (
            answer.removeprefix("error: ")
            if answer.startswith("error:")
            else (
                "the reader ran out of memory or time"
                if done.returncode < 0 or "MemoryError" in done.stderr
                else "it could not be parsed"
            )
        )
        msg = f"{name} was refused: {reason}"
        raise IngestError(msg)
    return list(json.loads(answer.removeprefix("ok").strip() or "[]"))


def copy_raster(path: Path | str, out: Path, *, limits: Limits = LIMITS) -> list[str]:
    """Check an uploaded GeoTIFF in the limited child and write a clean copy to `out`.

    The file passes the same checks as any upload (size, first bytes); the child opens
    it with the GTiff driver only and checks width x height x bands right after opening,
    before reading a pixel; it needs a projected (metric) CRS.

    Raises
    ------
    IngestError
        If the file is refused; the message says why.
    """
    path = Path(path)
    with _session(path, limits) as (kind, _):
        if kind not in (".tif", ".tiff"):
            msg = f"{path.name} is not a GeoTIFF"
            raise IngestError(msg)
        request = {
            "path": str(path),
            "out": str(out),
            "raster": True,
            "max_cells": limits.raster_cells,
        }
        return _run_worker(request, limits, path.name)


# -- the cells of a table read from an untrusted file ---------------------------------------


def file_rows(mask: pd.Series) -> str:
    """Return the file rows of `mask` (the header is row 1), three then how many more.

    Examples
    --------
    >>> file_rows(pd.Series([False, True, True, True, True, True]))
    'rows 3, 4, 5 and 2 more'
    """
    rows = [str(i + 2) for i in np.flatnonzero(mask.to_numpy())]
    more = f" and {len(rows) - 3} more" if len(rows) > 3 else ""  # noqa: PLR2004
    return f"row{'s' if len(rows) > 1 else ''} {', '.join(rows[:3])}{more}"


def header_name(column: object) -> str:
    """Return a header as a field name: stripped, lower case, spaces and dashes as ``_``.

    Examples
    --------
    >>> header_name(" Village-Code ")
    'village_code'
    """
    return str(column).strip().lower().replace(" ", "_").replace("-", "_")


def named_columns(
    columns: Iterable[object], synonyms: Mapping[str, Sequence[str]], plain: Container[str] = ()
) -> dict[object, str]:
    """Return the columns whose header names a field, each to its field (the first column of each).

    A header names a field when, as `header_name` reads it, it is one of the field's
    spellings in `synonyms`, or is itself one of the `plain` fields.

    Examples
    --------
    >>> synonyms = {"village_code": ("code", "村代码")}
    >>> named_columns(["村代码", "Sheep", "code", "x"], synonyms, {"sheep"})
    {'村代码': 'village_code', 'Sheep': 'sheep'}
    """
    spelt: dict[object, str] = {}
    for column in columns:
        name = header_name(column)
        field = next((f for f, names in synonyms.items() if name in names), None)
        field = field or (name if name in plain else None)
        if field is not None and field not in spelt.values():
            spelt[column] = field
    return spelt


def refusal(found: Sequence[str], shown: int = 4) -> str:
    """Return a file's problems as one line: the first `shown`, each once, then how many more.

    Examples
    --------
    >>> refusal(["a", "a", "b", "c", "d", "e"], shown=3)
    'a; b (and 3 more problems)'
    """
    more = f" (and {len(found) - shown} more problems)" if len(found) > shown else ""
    return "; ".join(dict.fromkeys(found[:shown])) + more


def _cell(value: object) -> str | None:
    if value is None or (isinstance(value, float) and value != value):  # noqa: PLR0124 (NaN)
        return None
    return str(value).strip() or None


def text_cells(column: pd.Series) -> pd.Series:
    """Return a column's cells as stripped text, None when blank or missing."""
    return column.map(_cell).astype(object)
