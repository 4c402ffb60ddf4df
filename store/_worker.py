"""Child process that parses one untrusted file (see `geo.ingest`); never import it.

Usage: ``python -m store._worker '{"path": ..., "out": ..., ...}'``. Prints one line:
``ok {notes}`` after writing the features to ``out`` (GeoParquet), or ``error: why``.
"""

from __future__ import annotations

import json
import re
import resource
import signal
import sys
import tarfile
import xml.etree.ElementTree as ET
import zipfile
import zlib
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pyproj
import shapely

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


def _dbf_encoding(shp: Path, asked: str | None) -> tuple[str, list[str]]:
    """Return a Shapefile's .dbf encoding: asked, else the .cpg if it decodes, else GB18030."""
    if asked:
        return asked, []
    dbf = next(
        (p for p in shp.parent.iterdir() if p.stem == shp.stem and p.suffix.lower() == ".dbf"), None
    )
    cpg = next(
        (p for p in shp.parent.iterdir() if p.stem == shp.stem and p.suffix.lower() == ".cpg"), None
    )
    claimed = cpg.read_text(errors="ignore").strip() if cpg else ""
    raw = dbf.read_bytes()[32:] if dbf else b""
    for candidate in [c for c in (claimed, "UTF-8") if c]:
        try:
            raw.decode(candidate)
        except (UnicodeDecodeError, LookupError):
            continue
        return candidate, []
    note = (
        f"the .cpg says {claimed} but the text is not: read as GB18030"
        if claimed
        else "no .cpg: the text was read as GB18030 (give --encoding to override)"
    )
    return "GB18030", [note]


def _read(request: dict[str, object]) -> tuple[gpd.GeoDataFrame, list[str]]:
    path = Path(str(request["path"]))
    suffix = path.suffix.lower()
    encoding = request.get("encoding")
    if suffix in {".geojson", ".json"}:
        return _geojson(path)
    if suffix == ".csv":
        frame = pd.read_csv(path, encoding=str(encoding or "utf-8-sig"), dtype=str)
        return _points_from_table(frame), []
    if suffix == ".xlsx":
        return _points_from_table(pd.read_excel(path, dtype=str)), []
    if suffix == ".kml":
        return _kml(path), []
    notes: list[str] = []
    options: dict[str, object] = {}
    if suffix == ".shp":
        enc, notes = _dbf_encoding(path, str(encoding) if encoding else None)
        options["encoding"] = enc
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
