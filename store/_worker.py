"""Child process that parses one untrusted file (see `store.ingest`); never import it.

Usage: ``python -m store._worker '{"path": ..., "out": ..., ...}'``. Prints one line:
``ok {notes}`` after writing the features to ``out`` (GeoParquet), or ``error: why``.
Other requests: ``{"raster": true, ...}`` checks and copies a GeoTIFF, ``{"untar": ...}``
checks a tar archive from its headers and extracts it, ``{"list_layers": path}`` lists
a dataset's layers (``ok [names]``).
"""

from __future__ import annotations

import codecs
import json
import re
import resource
import signal
import sys
import tarfile
import warnings
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import shapely

from store.ingest import file_rows, header_name  # the parent's own wording of headers and rows

_LON = ("lon", "lng", "long", "longitude", "经度", "x", "东经")
_LAT = ("lat", "latitude", "纬度", "y", "北纬")
#: KML namespaces in use: OGC 2.2, Google Earth's 2.0 to 2.2, and none at all.
_KML_NAMESPACES = (
    "http://www.opengis.net/kml/2.2",
    "http://earth.google.com/kml/2.2",
    "http://earth.google.com/kml/2.1",
    "http://earth.google.com/kml/2.0",
    "",
)


class RefusedError(Exception):
    """The file is refused; the message is the reason shown to the user."""


def _geojson(path: Path) -> tuple[gpd.GeoDataFrame, list[str]]:
    notes = []
    data = json.loads(path.read_text(encoding="utf-8-sig"))
    features = data.get("features", []) if isinstance(data, dict) else data
    if isinstance(data, dict) and data.get("type") == "Feature":
        features = [data]
    crs: object = "EPSG:4326"
    declared = data.get("crs") if isinstance(data, dict) else None
    if isinstance(declared, dict):
        if declared.get("type") == "name":
            crs = pyproj.CRS.from_user_input(declared["properties"]["name"])
        else:
            notes.append("the file's `crs` link was ignored (never fetched)")
    rows, geoms = [], []
    for f in features:
        geom = f.get("geometry")
        geoms.append(shapely.geometry.shape(geom) if geom else None)
        rows.append(f.get("properties") or {})
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=crs), notes


def _points_from_table(frame: pd.DataFrame) -> gpd.GeoDataFrame:
    lower = {str(c).strip().lower(): c for c in frame.columns}
    lon = next((lower[k] for k in _LON if k in lower), None)
    lat = next((lower[k] for k in _LAT if k in lower), None)
    if lon is None or lat is None:
        msg = "no coordinate columns: name them lon/lat (经度/纬度) or x/y; found " + ", ".join(
            map(str, frame.columns[:12])
        )
        raise RefusedError(msg)
    x = pd.to_numeric(frame[lon], errors="coerce")
    y = pd.to_numeric(frame[lat], errors="coerce")
    return gpd.GeoDataFrame(
        frame.drop(columns=[lon, lat]), geometry=gpd.points_from_xy(x, y), crs=None
    )


def _kml_namespace(root: ET.Element) -> str:
    """Return the ``{namespace}`` prefix of a KML document's tags, if it is a known one."""
    namespace = root.tag[1:].partition("}")[0] if root.tag.startswith("{") else ""
    if namespace not in _KML_NAMESPACES:
        known = ", ".join(n for n in _KML_NAMESPACES if n)
        msg = f"unknown KML namespace {namespace[:100]!r} (known: {known})"
        raise RefusedError(msg)
    return f"{{{namespace}}}" if namespace else ""


def _kml(path: Path) -> gpd.GeoDataFrame:
    text = path.read_text(encoding="utf-8", errors="strict")
    if re.search(r"<!(DOCTYPE|ENTITY)", text, flags=re.IGNORECASE):
        msg = "the KML declares a DOCTYPE or entities (external or expanding ones): refused"
        raise RefusedError(msg)
    root = ET.fromstring(text)  # noqa: S314 (no DOCTYPE, so no entities)
    kml = _kml_namespace(root)
    rows, geoms = [], []
    for mark in root.iter(f"{kml}Placemark"):
        name = mark.findtext(f"{kml}name") or ""
        coords = [c.text for c in mark.iter(f"{kml}coordinates") if c.text]
        if not coords:
            continue
        pts = [tuple(float(v) for v in p.split(",")[:2]) for p in coords[0].split()]
        has = {el.tag.removeprefix(kml) for el in mark.iter()}
        if "Polygon" in has:
            geoms.append(shapely.Polygon(pts))
        elif "LineString" in has:
            geoms.append(shapely.LineString(pts))
        else:
            geoms.append(shapely.Point(pts[0]))
        rows.append({"name": name})
    return gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4326")


_SAMPLE = 16 * 2**20  # bytes of text looked at to choose an encoding
_DBF_HEAD = 32  # bytes of a .dbf header, and of each field descriptor after it
#: Characters of Chinese text: CJK ideographs (and extensions), CJK and full-width punctuation.
_CJK = (
    (0x3000, 0x303F),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0xFF00, 0xFFEF),
    (0x20000, 0x323AF),
)
#: Non-ASCII characters that fit any text: middle dot, degree, general punctuation, BOM.
_NEUTRAL = re.compile("[\u00b0\u00b7\u00d7\u2000-\u206f\ufeff]")
#: dBase language-driver ids GDAL maps to code pages (``LDID/77`` in a .cpg).
_LDID = {1: 437, 2: 850, 3: 1252, 77: 936, 78: 949, 79: 950, 80: 874, 87: 1252, 88: 1252}


def cpg_encoding(claimed: str) -> str:
    """Return the encoding a .cpg names, mapped the way GDAL maps code pages.

    Examples
    --------
    >>> [cpg_encoding(c) for c in ("936", "CP936", "GBK", "65001", "utf8", "8859-1", "LDID/77")]
    ['CP936', 'CP936', 'GBK', 'UTF-8', 'UTF-8', 'ISO-8859-1', 'CP936']
    """
    text = claimed.strip()
    upper = text.upper()
    if upper.startswith("LDID/") and text[5:].isdigit():
        text = str(_LDID.get(int(text[5:]), text))
    number = int(digits.group()) if (digits := re.match(r"\d+", text)) else 0
    if number == 65001 or upper.startswith(("UTF-8", "UTF8")):  # noqa: PLR2004 (UTF-8's code page)
        return "UTF-8"
    if 437 <= number <= 950 or 1250 <= number <= 1258:  # noqa: PLR2004 (GDAL's ranges)
        return f"CP{number}"
    if upper.startswith("8859"):
        return "ISO-8859-" + text[4:].lstrip("-")
    return text


def plausible(text: str) -> bool:
    """Whether decoded text looks like this city's: its non-ASCII characters are Chinese.

    Examples
    --------
    >>> plausible("站A"), plausible("վA"), plausible("Õ¾A"), plausible("No. 3")
    (True, False, False, True)
    """
    wide = [ch for ch in _NEUTRAL.sub("", text) if ord(ch) > 0x7F]  # noqa: PLR2004
    cjk = sum(any(lo <= ord(ch) <= hi for lo, hi in _CJK) for ch in wide)
    return cjk >= 0.9 * len(wide)


def _decoded(raw: bytes, encoding: str) -> str | None:
    try:
        return raw.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def choose_encoding(raw: bytes, claimed: str | None, *, what: str) -> tuple[str, str]:
    """Return the encoding of `raw` text and a note saying why it was chosen.

    Tried in turn: the `claimed` one (from a .cpg), UTF-8, GBK, GB18030; the first that
    decodes to plausible text wins, else the first that decodes at all.

    Raises
    ------
    RefusedError
        If none of them decodes the bytes.

    Examples
    --------
    >>> choose_encoding("站A".encode("gbk"), None, what="no .cpg")
    ('GBK', 'text read as GBK (no .cpg; UTF-8 gave implausible characters)')
    >>> choose_encoding("站A".encode("gbk"), "GBK", what="")
    ('GBK', 'text read as GBK (the .cpg says GBK)')
    >>> choose_encoding("站A".encode("gbk"), "1252", what="")[1]  # doctest: +ELLIPSIS
    'text read as GBK (the .cpg says 1252, which gave implausible characters; UTF-8 gave ...)'

    """
    tried: list[tuple[str, str]] = []  # (encoding, how it is described)
    if claimed:
        tried.append((cpg_encoding(claimed), f"the .cpg says {claimed}"))
    tried += [("UTF-8", "UTF-8"), ("GBK", "GBK"), ("GB18030", "GB18030")]
    reasons = [what] if what else []
    seen: set[str] = set()
    fallback: str | None = None
    for encoding, label in tried:
        try:
            codec = codecs.lookup(encoding).name
        except LookupError:
            reasons.append(f"the .cpg names an unknown encoding {(claimed or '')[:40]!r}")
            continue
        if codec in seen:
            continue
        seen.add(codec)
        text = _decoded(raw, encoding)
        if text is not None and plausible(text):
            why = "; ".join(reasons or ([label] if label != encoding else []))
            return encoding, f"text read as {encoding}" + (f" ({why})" if why else "")
        fallback = fallback or (encoding if text is not None else None)
        which = ", which" if label != encoding else ""
        reasons.append(
            f"{label}{which} gave implausible characters"
            if text is not None
            else f"{label}{which} does not fit the bytes"
        )
    if fallback is None:
        msg = "its text is in no encoding tried (UTF-8, GBK, GB18030): give --encoding"
        raise RefusedError(msg)
    return fallback, f"text read as {fallback} ({'; '.join(reasons)})"


def _dbf_text(dbf: Path) -> bytes:
    """Return the text of a .dbf (field names, then records) as bytes, at most a sample."""
    with dbf.open("rb") as f:
        head = f.read(_DBF_HEAD)
        size = int.from_bytes(head[8:10], "little") if len(head) == _DBF_HEAD else _DBF_HEAD
        fields = f.read(max(size - _DBF_HEAD, 0))
        records = f.read(_SAMPLE)
    names = []
    for at in range(0, len(fields) - _DBF_HEAD + 1, _DBF_HEAD):  # 32-byte field descriptors
        if fields[at] == 0x0D:  # noqa: PLR2004 (end of the field descriptors)
            break
        names.append(fields[at : at + 11].split(b"\0")[0])
    if len(records) == _SAMPLE:  # cut at a space: never inside a character
        records = records[: records.rfind(b" ") + 1]
    return b" ".join(names) + b" " + records


def _sidecar(shp: Path, suffix: str) -> Path | None:
    return next(
        (p for p in shp.parent.iterdir() if p.stem == shp.stem and p.suffix.lower() == suffix),
        None,
    )


def _dbf_encoding(shp: Path, asked: str | None) -> tuple[str, list[str]]:
    """Return a Shapefile's .dbf encoding and a note: as asked, else as `choose_encoding`."""
    if asked:
        return asked, [f"text read as {asked} (as asked)"]
    dbf, cpg = _sidecar(shp, ".dbf"), _sidecar(shp, ".cpg")
    if dbf is None:
        return "UTF-8", []
    claimed = cpg.read_bytes()[:100].decode("ascii", "ignore").strip() if cpg else ""
    raw = _dbf_text(dbf)
    encoding, note = choose_encoding(raw, claimed, what="" if claimed else "no .cpg")
    return encoding, [] if raw.isascii() else [note]


def _csv(
    path: Path, asked: str | None, *, table: bool = False
) -> tuple[gpd.GeoDataFrame, list[str]]:
    if asked:
        encoding, notes = asked, [f"text read as {asked} (as asked)"]
    else:
        with path.open("rb") as f:
            raw = f.read(_SAMPLE)
        if len(raw) == _SAMPLE:  # cut at a line end: never inside a character
            raw = raw[: raw.rfind(b"\n") + 1]
        raw = raw.removeprefix(b"\xef\xbb\xbf")
        encoding, note = choose_encoding(raw, None, what="")
        notes = [] if raw.isascii() else [note]
        encoding = "utf-8-sig" if encoding == "UTF-8" else encoding
    if table:  # blank cells are empty; "NA" or "null" stay text, for the checks to refuse
        frame = pd.read_csv(path, encoding=encoding, dtype=str, keep_default_na=False)
        return _plain_table(frame.replace("", None)), notes
    frame = pd.read_csv(path, encoding=encoding, dtype=str)
    return _points_from_table(frame), notes


def _gdal_encoding(encoding: str) -> str:
    """Return Python's name of an encoding spelt as GDAL (iconv) knows it: ``euc-kr``."""
    return codecs.lookup(encoding).name.replace("_", "-")


def _plain_table(frame: pd.DataFrame) -> gpd.GeoDataFrame:
    """Return a table without coordinates as a frame with an empty geometry column."""
    return gpd.GeoDataFrame(frame, geometry=[None] * len(frame), crs=None)


_NOT_TEXT = "\x00not text\x00"  # what `_text_or_mark` makes of a cell that is not text


def _text_or_mark(value: object) -> object:
    """Return a cell as read if it is text or empty (NaN), else a mark: it held a number."""
    return value if isinstance(value, str) or value != value else _NOT_TEXT  # noqa: PLR0124


def _excel_table(path: Path, text_columns: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Read the first sheet of an XLSX file as text; refuse numbers in `text_columns`.

    A number in Excel keeps 15 significant digits, so an 18-digit ID number typed as a
    number has lost its last ones before anyone reads the file: reading it back as text
    would store a wrong number. `text_columns` maps a field to its header spellings; the
    refusal names the field and the rows, never a cell's content.
    """
    header = pd.read_excel(path, nrows=0).columns if text_columns else []
    fields = {
        i: field
        for i, name in enumerate(header)
        for field, spellings in text_columns.items()
        if header_name(name) in spellings
    }
    with warnings.catch_warnings():  # a converter instead of `dtype` for those: as meant
        warnings.simplefilter("ignore", pd.errors.ParserWarning)
        frame = pd.read_excel(path, dtype=str, converters=dict.fromkeys(fields, _text_or_mark))
    found: dict[str, pd.Series] = {}
    for i, field in fields.items():
        marked = frame.iloc[:, i] == _NOT_TEXT
        found[field] = found[field] | marked if field in found else marked
    problems = [
        f"`{field}` holds numbers, not text ({file_rows(rows)}): an ID number stored as a "
        "number in Excel keeps only 15 digits, so its last digits are lost; format the "
        "column as text and enter those ID numbers again from the source"
        for field, rows in found.items()
        if rows.any()
    ]
    if problems:
        raise RefusedError("; ".join(problems))
    return frame


def _table(
    path: Path, encoding: str | None, text_columns: Mapping[str, Sequence[str]]
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Read a CSV or XLSX table that has no coordinates (a household register), all as text.

    In an XLSX file, the cells of `text_columns` (field -> header spellings) must be text.
    """
    suffix = path.suffix.lower()
    if suffix == ".csv":
        points, notes = _csv(path, encoding, table=True)
        return points, notes
    if suffix == ".xlsx":
        return _plain_table(_excel_table(path, text_columns)), []
    msg = f"a table must be CSV or XLSX, not {suffix or 'a file without extension'}"
    raise RefusedError(msg)


def _read(request: dict[str, object]) -> tuple[gpd.GeoDataFrame, list[str]]:
    path = Path(str(request["path"]))
    suffix = path.suffix.lower()
    encoding = request.get("encoding")
    if request.get("table"):
        wanted = request.get("text_columns")
        text_columns = (
            {str(f): tuple(map(str, names)) for f, names in wanted.items()}
            if isinstance(wanted, dict)
            else {}
        )
        return _table(path, str(encoding) if encoding else None, text_columns)
    if suffix in {".geojson", ".json"}:
        return _geojson(path)
    if suffix == ".csv":
        return _csv(path, str(encoding) if encoding else None)
    if suffix == ".xlsx":
        return _points_from_table(pd.read_excel(path, dtype=str)), []
    if suffix == ".kml":
        return _kml(path), []
    notes: list[str] = []
    options: dict[str, object] = {}
    if suffix == ".shp":
        enc, notes = _dbf_encoding(path, str(encoding) if encoding else None)
        options["encoding"] = _gdal_encoding(enc)
        pyogrio.set_gdal_config_options({"SHAPE_RESTORE_SHX": "YES"})
    layers = [str(name) for name, _ in pyogrio.list_layers(path)]
    layer = request.get("layer")
    if layer is None and len(layers) > 1:
        msg = (
            f"the file holds several layers: {', '.join(layers[:10])}; "
            "choose one with --source-layer NAME"
        )
        raise RefusedError(msg)
    if layer is not None and layer not in layers:
        msg = f"the file has no layer {layer!r}; it holds: {', '.join(layers[:10])}"
        raise RefusedError(msg)
    gdf = gpd.read_file(path, layer=layer, engine="pyogrio", **options)
    return gdf, notes


def _long_text(gdf: gpd.GeoDataFrame, limit: int) -> list[str]:
    """List the column names and text cells longer than `limit` characters."""
    found = [
        f"a column name is longer than {limit:,} characters ({str(c)[:40]!r}...)"
        for c in gdf.columns
        if len(str(c)) > limit
    ]
    for column in gdf.columns.drop(gdf.geometry.name):
        lengths = gdf[column].map(lambda v: len(v) if isinstance(v, str) else 0).to_numpy()
        over = np.flatnonzero(lengths > limit)
        if len(over):
            rows = ", ".join(str(i + 1) for i in over[:5])
            more = " ..." if len(over) > 5 else ""  # noqa: PLR2004
            found.append(
                f"column `{str(column)[:40]}` holds text longer than {limit:,} characters in "
                f"{len(over)} feature(s) ({rows}{more}; counting from 1): shorten it"
            )
    return found


def _tar_members(
    archive: tarfile.TarFile, max_members: int, max_bytes: int
) -> list[tarfile.TarInfo]:
    """Check a tar from its headers (count, declared sizes, paths, kinds), reading no data."""
    members: list[tarfile.TarInfo] = []
    total = 0
    for member in archive:
        if len(members) == max_members:
            msg = f"it holds more than {max_members} files (the limit is {max_members})"
            raise RefusedError(msg)
        name = member.name.replace("\\", "/")
        if name.startswith("/") or ".." in name.split("/"):
            msg = f"it holds a file outside the archive ({member.name[:80]!r})"
            raise RefusedError(msg)
        if not (member.isfile() or member.isdir()):
            msg = f"it holds a link or a special file ({member.name[:80]!r})"
            raise RefusedError(msg)
        total += member.size if member.isfile() else 0
        if total > max_bytes:
            msg = (
                f"it declares more than {max_bytes / 2**20:.0f} MB unpacked (the limit): "
                "refused without extracting"
            )
            raise RefusedError(msg)
        members.append(member)
    return members


def _untar(request: dict[str, object]) -> list[str]:
    """Extract a tar archive whose headers pass the caps; no written file may exceed them."""
    max_bytes = int(str(request["max_bytes"]))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the cap fails, never kills
    resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))
    try:
        with tarfile.open(str(request["untar"])) as archive:
            members = _tar_members(archive, int(str(request["max_members"])), max_bytes)
            archive.extractall(str(request["folder"]), members=members, filter="data")
    except tarfile.FilterError as exc:
        msg = f"it holds a file outside the archive or a link ({exc})"
        raise RefusedError(msg) from exc
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        msg = "it is not a readable tar archive (damaged or truncated)"
        raise RefusedError(msg) from exc
    return []


def _raster(request: dict[str, object]) -> list[str]:
    """Check a GeoTIFF's size and CRS before reading a pixel, then write a clean copy."""
    import rasterio  # noqa: PLC0415 (only for rasters)

    limit = int(str(request["max_cells"]))
    with rasterio.open(str(request["path"]), driver="GTiff") as src:
        cells = src.width * src.height * src.count
        if cells > limit:
            msg = (
                f"it declares {src.width} x {src.height} x {src.count} cells "
                f"(the limit is {limit:,})"
            )
            raise RefusedError(msg)
        if src.crs is None or not src.crs.is_projected:
            msg = "it needs a projected (metric) CRS"
            raise RefusedError(msg)
        profile = src.profile | {"driver": "GTiff", "compress": "deflate"}
        with rasterio.open(str(request["out"]), "w", **profile) as dst:
            dst.write(src.read())
        return [f"{src.width} x {src.height} cells, {src.crs.to_string()}"]


def main() -> None:
    """Parse the requested file and write it to GeoParquet; say ok or why not."""
    request = json.loads(sys.argv[1])
    try:
        if request.get("raster"):
            print("ok " + json.dumps(_raster(request), ensure_ascii=False))
            return
        if request.get("list_layers"):
            names = [str(name) for name, _ in pyogrio.list_layers(request["list_layers"])]
            print("ok " + json.dumps(names, ensure_ascii=False))
            return
        if request.get("untar"):
            print("ok " + json.dumps(_untar(request), ensure_ascii=False))
            return
        gdf, notes = _read(request)
        if len(gdf) > int(request["max_features"]):
            msg = f"{len(gdf)} features (the limit is {request['max_features']})"
            raise RefusedError(msg)
        too_long = _long_text(gdf, int(request["max_text"]))
        if too_long:
            raise RefusedError("; ".join(too_long[:5]))
        gdf.columns = [str(c) for c in gdf.columns]
        gdf.to_parquet(str(request["out"]))
    except RefusedError as exc:
        print(f"error: {exc}")
        sys.exit(2)
    except (
        ValueError,
        KeyError,
        TypeError,
        OSError,
        UnicodeDecodeError,
        ET.ParseError,
        zipfile.BadZipFile,
        pyogrio.errors.DataSourceError,
        pyogrio.errors.DataLayerError,
        pyproj.exceptions.CRSError,
        shapely.errors.GEOSException,
        RuntimeError,
        OverflowError,
    ) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"error: {first[:300]}")
        sys.exit(2)
    print("ok " + json.dumps(notes, ensure_ascii=False))


if __name__ == "__main__":
    main()
