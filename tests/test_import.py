"""Imports against a corpus of bad and awkward files built here, each with its expected outcome,
plus two people editing at once and an import killed midway."""

from __future__ import annotations

import contextlib
import http.server
import io
import json
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio

import layers
from geo import crs
from store.ingest import IngestError, Limits, copy_raster, read_untrusted, source_layers
from tests.helpers import copy_gpkg, revisions, write_tif

CLI = [sys.executable, "-m", "cli"]
NAMES = ["东泉村", "西湖村", "红柳村"]
LON, LAT = [98.50, 98.52, 98.55], [39.70, 39.72, 39.75]


def stops(**extra) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": NAMES, "year_opened": [2014, 2015, 2016], **extra},
        geometry=gpd.points_from_xy(LON, LAT),
        crs=4326,
    )


def write_shp(
    folder: Path, gdf: gpd.GeoDataFrame, *, encoding="GBK", drop=(), cpg=None, name="stops"
) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    gdf.to_file(folder / f"{name}.shp", encoding=encoding, engine="pyogrio")
    for ext in drop:
        (folder / f"{name}.{ext}").unlink(missing_ok=True)
    if cpg is not None:
        (folder / f"{name}.cpg").write_text(cpg)
    return sorted(folder.glob(f"{name}.*"))


def zipped(target: Path, files: list[Path], prefix: str = "") -> Path:
    with zipfile.ZipFile(target, "w") as z:
        for f in files:
            z.write(f, f"{prefix}{f.name}")
    return target


def shapefile_warnings(test: Callable) -> Callable:
    """Let a test write a Shapefile (its field names are cut to 10 characters)."""
    test = pytest.mark.filterwarnings("ignore:Column names longer than 10 characters")(test)
    return pytest.mark.filterwarnings("ignore:Normalized/laundered field name")(test)


def feature_collection(features: list[dict], **extra) -> str:
    return json.dumps(
        {"type": "FeatureCollection", "features": features, **extra}, ensure_ascii=False
    )


def point_feature(x, y, name="东泉村", year=2015, z=None) -> dict:
    coords = [x, y] if z is None else [x, y, z]
    return {
        "type": "Feature",
        "properties": {"name": name, "year_opened": year},
        "geometry": {"type": "Point", "coordinates": coords},
    }


def land_feature(ring: list[list[float]]) -> dict:
    """A land-improvement polygon feature with the layer's attributes."""
    return {
        "type": "Feature",
        "properties": {
            "kind": "saline_alkali",
            "area_mu": 10.0,
            "year_built": 2016,
            "county_code": "620902",
        },
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


# --- the corpus: name -> (builder(tmp) -> path, layer, --crs, expected outcome) -------------


def _zip_bomb(tmp: Path) -> Path:
    path = zipped(tmp / "bomb.zip", write_shp(tmp / "b", stops()))
    data = bytearray(path.read_bytes())
    at = data.find(b"PK\x01\x02")
    while at != -1:  # declare 1 GB for every member in the central directory
        data[at + 24 : at + 28] = (2**30).to_bytes(4, "little")
        at = data.find(b"PK\x01\x02", at + 4)
    path.write_bytes(bytes(data))
    return path


def _broken_zip(how: str) -> Callable[[Path], Path]:
    """A zip whose directory reads but whose members do not (bad data, offset, flags)."""

    def build(tmp: Path) -> Path:
        path = zipped(tmp / f"{how}.zip", write_shp(tmp / how, stops()))
        data = bytearray(path.read_bytes())
        local, central = data.find(b"PK\x03\x04"), data.find(b"PK\x01\x02")
        if how == "crc":  # flip the first member's data
            start = local + 30 + int.from_bytes(data[local + 26 : local + 28], "little")
            data[start : start + 4] = bytes(b ^ 0xFF for b in data[start : start + 4])
        elif how == "offset":  # the directory points into the middle of a member
            data[central + 42 : central + 46] = (7).to_bytes(4, "little")
        elif how == "encrypted":  # flag bit 0 in the local and central headers
            data[local + 6] |= 1
            data[central + 8] |= 1
        elif how == "method":  # compression method 99 (AES), unknown to the reader
            data[local + 8 : local + 10] = (99).to_bytes(2, "little")
            data[central + 10 : central + 12] = (99).to_bytes(2, "little")
        elif how == "truncated":
            del data[len(data) // 2 :]
        path.write_bytes(bytes(data))
        return path

    return build


def _text(name: str, content: str) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        (tmp / name).write_text(content, encoding="utf-8")
        return tmp / name

    return build


def _gk(prefix: bool) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        epsg = 4520 if prefix else 4542  # zone 32 with prefix / CM 99E without
        gdf = stops().to_crs(epsg).set_crs(4326, allow_override=True)  # mislabelled
        path = tmp / f"gk-{prefix}.geojson"
        data = json.loads(gdf.to_json())
        data.pop("crs", None)
        path.write_text(json.dumps(data))
        return path

    return build


def _shifted(system: str) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        path = tmp / f"{system}.geojson"
        crs.to_chinese_system(stops(), system).to_file(path)
        return path

    return build


def _huge_raster(tmp: Path, width: int = 1_000_000, height: int = 1_000_000) -> Path:
    path = tmp / "huge.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=1,
        dtype="uint8",
        crs="EPSG:4541",
        tiled=True,
        sparse_ok=True,
        transform=rasterio.Affine(250, 0, 400000, 0, -250, 4600000),
    ):
        pass
    return path


def _sparse_tif(tmp: Path, size: int = 300 * 2**20) -> Path:
    """A file of `size` bytes that starts like a TIFF, holding no data (sparse)."""
    path = tmp / "big.tif"
    with path.open("wb") as f:
        f.write(b"II*\x00")
        f.truncate(size)
    return path


def _two_layers(tmp: Path) -> Path:
    path = tmp / "two.gpkg"
    stops().to_file(path, layer="a")
    stops().assign(name=["一站", "二站", "三站"]).to_file(path, layer="b")
    return path


def _with_view(tmp: Path) -> Path:
    """A GeoPackage with one table and a view of it, registered as a second layer."""
    path = tmp / "view.gpkg"
    stops().to_file(path, layer="stops")
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("CREATE VIEW first_stop AS SELECT * FROM stops WHERE fid = 1")
        db.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id) "
            "VALUES ('first_stop', 'features', 'first_stop', 4326)"
        )
        db.execute(
            "INSERT INTO gpkg_geometry_columns VALUES ('first_stop', 'geom', 'POINT', 4326, 0, 0)"
        )
        db.commit()
    return path


def _tar_escape(tmp: Path) -> Path:
    inner = tmp / "evil.geojson"
    stops().to_file(inner)
    path = tmp / "evil.tar"
    with tarfile.open(path, "w") as tar:
        tar.add(inner, arcname="../../evil.geojson")
    return path


def _tar_bomb(tmp: Path) -> Path:
    """A .tgz of about 1 MB that holds a GeoJSON and 600 MB of zeros."""
    inner = tmp / "ok.geojson"
    stops().to_file(inner)
    path = tmp / "bomb.tgz"
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        tar.add(inner, arcname="ok.geojson")
        info = tarfile.TarInfo("zeros.bin")
        info.size = 600 * 2**20
        tar.addfile(info, _Zeros(info.size))
    return path


class _Zeros(io.RawIOBase):
    """A readable stream of `size` zero bytes, never held in memory at once."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def _tar_many(tmp: Path) -> Path:
    inner = tmp / "ok.geojson"
    stops().to_file(inner)
    path = tmp / "many.tar"
    with tarfile.open(path, "w") as tar:
        tar.add(inner, arcname="ok.geojson")
        for i in range(3000):
            info = tarfile.TarInfo(f"junk/{i}.txt")
            tar.addfile(info, io.BytesIO(b""))
    return path


def _two_counties(tmp: Path, *, drop_first=(), only_second=None) -> Path:
    """county1/stops.* and county2/stops.*: the same file names in two folders."""
    path = tmp / "counties.zip"
    first = write_shp(tmp / "county1", stops(), drop=drop_first)
    second = write_shp(tmp / "county2", stops().assign(name=["一站", "二站", "三站"]))
    if only_second is not None:
        second = [f for f in second if f.suffix in only_second]
    with zipfile.ZipFile(path, "w") as z:
        for f in first + second:
            z.write(f, f"{f.parent.name}/{f.name}")
    return path


FLAGS = {
    "is_poor": ["是", "否", "TRUE", "false"],
    "is_immigrant": ["Y", "n", "1", "0"],
}
FLAG_VALUES = [True, False, True, False]


def _village_table(tmp: Path, suffix: str, **flags: list[str]) -> Path:
    """Four demo villages as a table with lon/lat, their flags spelt as people spell them."""
    villages = layers.load("villages").sort_values("code").head(4)
    table = pd.DataFrame(villages.drop(columns=["geometry", "version"]))
    table = table.assign(lon=villages.geometry.x, lat=villages.geometry.y, **(FLAGS | flags))
    path = tmp / f"villages{suffix}"
    if suffix == ".csv":
        table.to_csv(path, index=False)
    else:
        table.to_excel(path, index=False)
    return path


def _xlsx(tmp: Path) -> Path:
    path = tmp / "stops.xlsx"
    pd.DataFrame(
        {"名称": NAMES, "经度": LON, "纬度": LAT, "开通年份": [2014, 2015, 2016]}
    ).to_excel(path, index=False)
    return path


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
    '<kml xmlns="http://www.opengis.net/kml/2.2"><Placemark><name>&lol2;</name>'
    "<Point><coordinates>98.5,39.7</coordinates></Point></Placemark></kml>"
)
XXE = (
    '<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    '<kml xmlns="http://www.opengis.net/kml/2.2"><Placemark><name>&x;</name>'
    "<Point><coordinates>98.5,39.7</coordinates></Point></Placemark></kml>"
)
GOOD_KML = (
    '<kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
    + "".join(
        f"<Placemark><name>{n}</name><Point><coordinates>{x},{y}</coordinates></Point></Placemark>"
        for n, x, y in zip(NAMES, LON, LAT, strict=True)
    )
    + "</Document></kml>"
)
VRT = (
    '<OGRVRTDataSource><OGRVRTLayer name="x"><SrcDataSource>/etc/passwd</SrcDataSource>'
    "</OGRVRTLayer></OGRVRTDataSource>"
)

CORPUS: dict[str, tuple[Callable[[Path], Path], str, str | None, str]] = {
    "zip bomb (declared sizes)": (_zip_bomb, "bus_stops", None, "refused: unpacked"),
    "shapefile without .shx": (
        lambda t: zipped(t / "noshx.zip", write_shp(t / "s", stops(), drop=("shx",))),
        "bus_stops",
        None,
        "ok",
    ),
    "shapefile without .dbf": (
        lambda t: zipped(t / "nodbf.zip", write_shp(t / "d", stops(), drop=("dbf", "cpg"))),
        "bus_stops",
        None,
        "refused: lacks column",
    ),
    "shapefile without .prj": (
        lambda t: zipped(t / "noprj.zip", write_shp(t / "p", stops(), drop=("prj",))),
        "bus_stops",
        None,
        "refused: no CRS",
    ),
    "shapefile without .prj, CRS given": (
        lambda t: zipped(t / "noprj2.zip", write_shp(t / "p2", stops(), drop=("prj",))),
        "bus_stops",
        "EPSG:4490",
        "ok",
    ),
    "shapefile in a sub-folder": (
        lambda t: zipped(t / "sub.zip", write_shp(t / "q", stops()), prefix="a/b/c/"),
        "bus_stops",
        None,
        "ok",
    ),
    "two shapefiles in one zip": (
        lambda t: zipped(
            t / "two.zip", write_shp(t / "m", stops()) + write_shp(t / "m", stops(), name="other")
        ),
        "bus_stops",
        None,
        "refused: the archive holds several layers: other.shp, stops.shp",
    ),
    "same shapefile name in two folders": (
        _two_counties,
        "bus_stops",
        None,
        "refused: the archive holds several layers: county1/stops.shp, county2/stops.shp",
    ),
    "sidecar files split across folders": (
        lambda t: _two_counties(t, drop_first=("dbf", "cpg"), only_second={".dbf", ".cpg"}),
        "bus_stops",
        None,
        "refused: lacks column",
    ),
    "GBK without .cpg": (
        lambda t: zipped(t / "gbk.zip", write_shp(t / "g", stops(), drop=("cpg",))),
        "bus_stops",
        None,
        "ok: names",
    ),
    "wrong .cpg (says UTF-8)": (
        lambda t: zipped(t / "cpg.zip", write_shp(t / "w", stops(), cpg="UTF-8")),
        "bus_stops",
        None,
        "ok: names",
    ),
    "unclosed ring": (
        _text(
            "ring.geojson",
            feature_collection([land_feature([[98.5, 39.7], [98.51, 39.7], [98.51, 39.71]])]),
        ),
        "land_improvement",
        None,
        "ok",
    ),
    "bow-tie polygon": (
        _text(
            "bowtie.geojson",
            feature_collection(
                [
                    land_feature(
                        [[98.5, 39.7], [98.51, 39.71], [98.51, 39.7], [98.5, 39.71], [98.5, 39.7]]
                    )
                ]
            ),
        ),
        "land_improvement",
        None,
        "ok: repaired",
    ),
    "NaN coordinates": (
        _text(
            "nan.geojson",
            feature_collection(
                [point_feature(98.5, 39.7), point_feature(float("nan"), 39.7)]
            ).replace("NaN", "NaN"),
        ),
        "bus_stops",
        None,
        "ok: dropped",
    ),
    "infinite coordinates": (
        _text(
            "inf.geojson",
            feature_collection([point_feature(98.5, 39.7), point_feature(float("inf"), 39.7)]),
        ),
        "bus_stops",
        None,
        "ok: dropped",
    ),
    "huge coordinates": (
        _text(
            "huge.geojson",
            feature_collection([point_feature(98.5, 39.7), point_feature(1e20, 1e20)]),
        ),
        "bus_stops",
        None,
        "ok: dropped",
    ),
    "swapped lat/lon": (
        _text(
            "swap.geojson",
            feature_collection([point_feature(y, x) for x, y in zip(LON, LAT, strict=True)]),
        ),
        "bus_stops",
        None,
        "refused: swapped",
    ),
    "projected labelled WGS84 (zone prefix)": (
        _gk(prefix=True),
        "bus_stops",
        None,
        "refused: EPSG:4520",
    ),
    "Gauss-Kruger with zone prefix, CRS given": (_gk(prefix=True), "bus_stops", "EPSG:4520", "ok"),
    "Gauss-Kruger without prefix, CRS given": (_gk(prefix=False), "bus_stops", "EPSG:4542", "ok"),
    "mixed geometries": (
        _text(
            "mixed.geojson",
            feature_collection(
                [
                    point_feature(98.5, 39.7),
                    {
                        "type": "Feature",
                        "properties": {"name": "线", "year_opened": 2015},
                        "geometry": {
                            "type": "LineString",
                            "coordinates": [[98.5, 39.7], [98.6, 39.8]],
                        },
                    },
                ]
            ),
        ),
        "bus_stops",
        None,
        "ok: dropped",
    ),
    "3D geometries": (
        _text("z.geojson", feature_collection([point_feature(98.5, 39.7, z=1500.0)])),
        "bus_stops",
        None,
        "ok",
    ),
    "VRT disguised as .geojson": (_text("vrt.geojson", VRT), "bus_stops", None, "refused: XML"),
    "VRT disguised as .tif": (_text("vrt.tif", VRT), "population", None, "refused: XML"),
    "KML with an external entity": (_text("xxe.kml", XXE), "bus_stops", None, "refused: DOCTYPE"),
    "KML billion laughs": (_text("lol.kml", BILLION_LAUGHS), "bus_stops", None, "refused: DOCTYPE"),
    "CSV with formula cells": (
        _text(
            "formula.csv",
            '名称,经度,纬度,开通年份\n"=HYPERLINK(""http://x"",""y"")",98.5,39.7,2015\n',
        ),
        "bus_stops",
        "EPSG:4490",
        "ok",
    ),
    "a 10 MB name": (
        _text(
            "long.geojson",
            feature_collection(
                [point_feature(98.5, 39.7), point_feature(98.5, 39.7, "村" * 10**7)]
            ),
        ),
        "bus_stops",
        None,
        "refused: column `name` holds text longer than 2,000 characters in 1 feature(s) (2; ",
    ),
    "HTML in names": (
        _text(
            "html.geojson",
            feature_collection([point_feature(98.5, 39.7, name="<img src=x onerror=alert(1)>")]),
        ),
        "bus_stops",
        None,
        "ok",
    ),
    "raster of 1,000,000 x 1,000,000 pixels": (
        _huge_raster,
        "population",
        None,
        "refused: declares",
    ),
    "GeoTIFF of 300 MB": (_sparse_tif, "population", None, "refused: the limit is 200 MB"),
    "AMap export (GCJ-02)": (_shifted("gcj02"), "bus_stops", "gcj02", "ok: shifted"),
    "Baidu export (BD-09)": (_shifted("bd09"), "bus_stops", "bd09", "ok: shifted"),
    "XLSX with Chinese headers": (_xlsx, "bus_stops", "EPSG:4490", "ok"),
    "CSV with true/false as 是/否, TRUE, Y, 1": (
        lambda t: _village_table(t, ".csv"),
        "villages",
        "EPSG:4326",
        "ok: flags",
    ),
    "XLSX with true/false as 是/否, TRUE, Y, 1": (
        lambda t: _village_table(t, ".xlsx"),
        "villages",
        "EPSG:4326",
        "ok: flags",
    ),
    "CSV with a true/false of 'maybe'": (
        lambda t: _village_table(t, ".csv", is_poor=["是", "maybe", "也许", "否"]),
        "villages",
        "EPSG:4326",
        (
            "refused: column `is_poor` must hold true/false (true/false, 1/0, 是/否, y/n, "
            "yes/no, t/f): 2 row(s) hold 'maybe', '也许'"
        ),
    ),
    "KML placemarks": (
        _text("good.kml", GOOD_KML),
        "express_outlets",
        None,
        "refused: lacks column",
    ),
    "GeoPackage with two layers": (
        _two_layers,
        "bus_stops",
        None,
        "refused: the file holds several layers: a, b; choose one with --source-layer NAME",
    ),
    "GeoPackage with a table and a view": (
        _with_view,
        "bus_stops",
        None,
        "refused: several layers: stops, first_stop; choose one with --source-layer",
    ),
    "tar escaping its folder": (_tar_escape, "bus_stops", None, "refused: outside"),
    "tar bomb (1 MB .tgz, 600 MB inside)": (_tar_bomb, "bus_stops", None, "refused: unpacked"),
    "tar with 3,000 members": (_tar_many, "bus_stops", None, "refused: the limit is 2000"),
    "empty file": (_text("empty.geojson", ""), "bus_stops", None, "refused: no JSON"),
    "not a zip": (_text("fake.zip", "hello"), "bus_stops", None, "refused: not a .zip"),
    "zip cut in half": (_broken_zip("truncated"), "bus_stops", None, "refused: damaged"),
    "zip with a bad checksum": (_broken_zip("crc"), "bus_stops", None, "refused: damaged"),
    "zip pointing into a member": (_broken_zip("offset"), "bus_stops", None, "refused: damaged"),
    "zip with a password": (_broken_zip("encrypted"), "bus_stops", None, "refused: password"),
    "zip with AES compression": (_broken_zip("method"), "bus_stops", None, "refused: method"),
    "unknown format": (_text("notes.txt", "hi"), "bus_stops", None, "refused: unsupported"),
}


@pytest.fixture
def store(demo_store, tmp_path) -> Path:
    copy = copy_gpkg(demo_store, tmp_path / "store" / "demo.gpkg")
    shutil.copy(layers.raster_path("population"), copy.parent / "population.tif")
    return copy


def run_import(path: Path, layer: str, store: Path, crs_: str | None, *more: str):
    args = [*CLI, "import", str(path), "--layer", layer, "--store", str(store), *more]
    if crs_:
        args += ["--crs", crs_]
    return subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)


def test_the_corpus_is_large_enough():
    assert len(CORPUS) >= 30


@pytest.mark.filterwarnings("ignore:Column names longer than 10 characters")
@pytest.mark.filterwarnings("ignore:Normalized/laundered field name")
@pytest.mark.parametrize("case", list(CORPUS))
def test_corpus(case, tmp_path, store):
    build, layer, given, expected = CORPUS[case]
    (tmp_path / "in").mkdir()
    path = build(tmp_path / "in")
    before = revisions(store)
    out = run_import(path, layer, store, given)
    outcome, _, detail = expected.partition(": ")
    if outcome == "refused":
        assert out.returncode == 2, out.stdout
        assert out.stderr.startswith("error: "), out.stderr
        assert detail in out.stderr, out.stderr
        assert len(out.stderr.strip().splitlines()) == 1
        assert revisions(store) == before
        return
    assert out.returncode == 0, out.stderr
    assert f"wrote layer '{layer}'" in out.stdout
    written = layers.load(layer, store)
    assert layers.problems(layer, written) == []
    if detail == "names":
        assert sorted(written["name"]) == sorted(NAMES)
    if detail == "repaired":
        assert "repaired:" in out.stdout
    if detail == "dropped":
        assert "dropped:" in out.stdout
    if detail == "flags":
        written = written.sort_values("code")
        assert list(written["is_poor"]) == FLAG_VALUES
        assert list(written["is_immigrant"]) == FLAG_VALUES
        said = "column `is_poor`: read 'TRUE', 'false', '否', '是' as true/false (2 true, 2 false)"
        assert said in out.stdout
    if detail == "shifted":
        got = written.sort_values("name").geometry
        want = stops().sort_values("name").geometry
        assert np.allclose(got.x, want.x, atol=1e-6)
        assert np.allclose(got.y, want.y, atol=1e-6)


def test_dry_run_writes_nothing(tmp_path, store):
    path = tmp_path / "ok.geojson"
    stops().to_file(path)
    before = revisions(store)
    out = run_import(path, "bus_stops", store, None, "--dry-run")
    assert out.returncode == 0, out.stderr
    assert "3 features read, 3 ready to write" in out.stdout
    assert "dry run: nothing written" in out.stdout
    assert revisions(store) == before
    assert not (store.parent / "demo-backups").exists()


def test_import_backs_up_first_and_keeps_other_layers(tmp_path, store):
    path = tmp_path / "ok.geojson"
    stops().to_file(path)
    roads = len(layers.load("roads", store))
    assert run_import(path, "bus_stops", store, None).returncode == 0
    assert len(layers.load("bus_stops", store)) == 3
    assert len(layers.load("roads", store)) == roads
    backups = list((store.parent / "demo-backups").glob("*.gpkg"))
    assert len(backups) == 1
    assert len(layers.load("bus_stops", backups[0])) > 3


def test_geojson_crs_link_is_never_fetched(tmp_path):
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            del args

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/crs.wkt"
    path = tmp_path / "link.geojson"
    path.write_text(
        feature_collection(
            [point_feature(98.5, 39.7)],
            crs={"type": "link", "properties": {"href": url, "type": "ogcwkt"}},
        )
    )
    try:
        gdf, notes = read_untrusted(path)
    finally:
        server.shutdown()
        server.server_close()
    assert seen == []
    assert len(gdf) == 1
    assert "never fetched" in notes[0]


def test_size_cap_and_memory_limit(tmp_path):
    path = tmp_path / "big.geojson"
    path.write_text(feature_collection([point_feature(98.5, 39.7)] * 2000))
    with pytest.raises(IngestError, match="the limit is 0 MB"):
        read_untrusted(path, limits=Limits(file_bytes=1000))
    with pytest.raises(IngestError, match="the limit is 10"):
        read_untrusted(path, limits=Limits(features=10))


def test_column_suggestions_and_crs_advice():
    from store.importer import crs_problems, suggest_columns  # noqa: PLC0415

    assert suggest_columns(["村名", "代码", "户数"], ["code", "name_zh", "households"]) == {
        "村名": "name_zh",
        "代码": "code",
        "户数": "households",
    }
    gk = stops().to_crs(4520)
    assert crs_problems(gk) == []
    assert "EPSG:4520" in crs_problems(gk.set_crs(None, allow_override=True))[0]


def test_a_multi_part_feature_stays_one_feature_with_its_code():
    import shapely  # noqa: PLC0415

    from store.importer import prepare  # noqa: PLC0415

    town, exclave = shapely.box(98.5, 39.7, 98.51, 39.71), shapely.box(98.6, 39.7, 98.61, 39.71)
    gdf = gpd.GeoDataFrame(
        {"code": ["620902100", "620902101"]},
        geometry=[shapely.MultiPolygon([town, exclave]), shapely.box(98.7, 39.7, 98.71, 39.71)],
        crs=4326,
        index=[7, 3],
    )
    kinds = layers.GeometryKind.POLYGON.shapely_types
    out, report = prepare(gdf, columns={"code": "str"}, geometry_kinds=kinds)
    assert out["code"].tolist() == ["620902100", "620902101"]
    assert out.index.tolist() == [7, 3]
    assert out.geometry.iloc[0].equals(shapely.MultiPolygon([town, exclave]))
    assert report.duplicates == []


def test_raster_import_checks_in_the_child_and_replaces_atomically(tmp_path, store):
    good = write_tif(
        tmp_path / "pop.tif",
        np.full((30, 40), 2.5, dtype="float32"),
        crs="EPSG:4541",
        transform=rasterio.Affine(250, 0, 400000, 0, -250, 4500000),
    )
    out = run_import(good, "population", store, None)
    assert out.returncode == 0, out.stderr
    assert "40 x 30 cells, EPSG:4541" in out.stdout
    with rasterio.open(store.parent / "demo.rasters" / "population.tif") as written:
        assert written.read(1).sum() == pytest.approx(40 * 30 * 2.5)
    lonlat = write_tif(
        tmp_path / "lonlat.tif",
        np.zeros((3, 4), dtype="uint8"),
        crs="EPSG:4326",
        transform=rasterio.Affine(0.1, 0, 95, 0, -0.1, 41),
    )
    refused = run_import(lonlat, "population", store, None)
    assert refused.returncode == 2
    assert "needs a projected (metric) CRS" in refused.stderr
    with rasterio.open(store.parent / "demo.rasters" / "population.tif") as kept:
        assert kept.width == 40


def test_tar_caps_are_checked_from_the_headers_before_extracting(tmp_path):
    inner = tmp_path / "ok.geojson"
    stops().to_file(inner)
    path = tmp_path / "pad.tgz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(inner, arcname="ok.geojson")
        info = tarfile.TarInfo("pad.bin")
        info.size = 3 * 2**20
        tar.addfile(info, _Zeros(info.size))
    with pytest.raises(IngestError, match=r"declares more than 2 MB unpacked"):
        read_untrusted(path, limits=Limits(unpacked_bytes=2 * 2**20))
    with pytest.raises(IngestError, match=r"holds more than 1 files \(the limit is 1\)"):
        read_untrusted(path, limits=Limits(archive_members=1))
    gdf, _ = read_untrusted(path)
    assert sorted(gdf["name"]) == sorted(NAMES)


@shapefile_warnings
def test_zip_size_check_is_linear_in_the_member_count(tmp_path):
    path = zipped(tmp_path / "many.zip", write_shp(tmp_path / "s", stops()))
    with zipfile.ZipFile(path, "a") as z:
        for i in range(1985):
            z.writestr(f"notes/{i}.txt", b"x" * 100)
    started = time.process_time()
    gdf, _ = read_untrusted(path)
    spent = time.process_time() - started  # this process only: unpacking, not the child
    assert sorted(gdf["name"]) == sorted(NAMES)
    assert spent < 3.0, f"{spent:.1f} s of CPU to unpack 1,990 members"


@shapefile_warnings
@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_zip_members_keep_their_folders_and_are_never_mixed(tmp_path):
    files = write_shp(tmp_path / "s", stops())
    twice = zipped(tmp_path / "twice.zip", files)
    with zipfile.ZipFile(twice, "a") as z:
        z.writestr("stops.dbf", b"another table")
    with pytest.raises(IngestError, match=r"holds 'stops.dbf' twice"):
        read_untrusted(twice)
    clash = zipped(tmp_path / "clash.zip", files)
    with zipfile.ZipFile(clash, "a") as z:
        z.writestr("stops.shp/x.txt", b"")
    with pytest.raises(IngestError, match=r"a file and a folder both named 'stops.shp'"):
        read_untrusted(clash)
    drive = zipped(tmp_path / "drive.zip", files, prefix="C:\\data\\")
    with pytest.raises(IngestError, match="outside the archive"):
        read_untrusted(drive)
    windows = zipped(tmp_path / "windows.zip", files, prefix="county1\\")
    gdf, _ = read_untrusted(windows)
    assert sorted(gdf["name"]) == sorted(NAMES)


@shapefile_warnings
@pytest.mark.parametrize(
    ("how", "said"),
    [
        ("truncated", "is damaged or truncated"),
        ("crc", "is damaged or truncated"),
        ("offset", "is damaged or truncated"),
        ("encrypted", "holds a file protected by a password"),
        ("method", "uses a compression method"),
    ],
)
def test_a_broken_zip_is_refused_in_one_sentence(tmp_path, how, said):
    path = _broken_zip(how)(tmp_path)
    with pytest.raises(IngestError) as refused:
        read_untrusted(path)
    message = str(refused.value)
    assert message.startswith(f"{path.name} ")
    assert said in message
    assert "\n" not in message
    assert str(tmp_path) not in message


def test_messages_never_show_a_temporary_folder(tmp_path):
    with zipfile.ZipFile(tmp_path / "dot.zip", "w") as z:
        z.writestr(".", b"x")
        z.writestr("./", b"")
        z.writestr("folder/", b"")
    short = b"SQLite format 3\x00"  # passes the sniff, then GDAL names the full path
    with zipfile.ZipFile(tmp_path / "short.zip", "w") as z:
        z.writestr("county1/a.gpkg", short)
    (tmp_path / "short.gpkg").write_bytes(short)
    said = {}
    for name in ("dot.zip", "short.zip", "short.gpkg"):
        with pytest.raises(IngestError) as refused:
            read_untrusted(tmp_path / name)
        said[name] = str(refused.value)
    for message in said.values():
        assert str(tmp_path) not in message
        assert "va-ingest" not in message
        assert tempfile.gettempdir() not in message
    assert said["dot.zip"] == "dot.zip holds no Shapefile, GeoPackage or GeoJSON"
    assert "'county1/a.gpkg' not recognized" in said["short.zip"]
    assert "'short.gpkg' not recognized" in said["short.gpkg"]
    with pytest.raises(IngestError, match=r"^cannot read gone.geojson: no such file$"):
        read_untrusted(tmp_path / "gone.geojson")
    with contextlib.chdir(tmp_path), pytest.raises(IngestError) as refused:
        read_untrusted("short.gpkg")  # a relative path, as on the command line
    assert str(refused.value).startswith("short.gpkg was refused: 'short.gpkg' not recognized")


def test_sniff_reads_the_head_only(tmp_path):
    path = _sparse_tif(tmp_path, 2 * 2**30)
    code = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "from store.ingest import sniff\n"
        "status = Path('/proc/self/status').read_text().splitlines()\n"
        "vm = int(next(s for s in status if s.startswith('VmSize')).split()[1]) * 1024\n"
        "resource.setrlimit(resource.RLIMIT_AS, (vm + 2**28, vm + 2**28))\n"
        "print(sniff(Path(sys.argv[1])))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-300:]
    assert out.stdout.strip() == ".tif"


def test_import_takes_the_raster_readers_cell_limit(tmp_path):
    from geo.raster import read_band  # noqa: PLC0415

    path = _huge_raster(tmp_path, width=15_000, height=14_000)  # 210 million cells
    with pytest.raises(ValueError, match="more than this tool reads"):
        read_band(path)  # what the Coverage page would do with it
    with pytest.raises(IngestError, match=r"15000 x 14000 x 1 cells \(the limit is 200,000,000\)"):
        copy_raster(path, tmp_path / "copy.tif")
    assert not (tmp_path / "copy.tif").exists()


@shapefile_warnings
def test_the_source_layer_is_chosen_by_name(tmp_path):
    two = _two_layers(tmp_path)
    assert source_layers(two) == ["a", "b"]
    gdf, _ = read_untrusted(two, source_layer="b")
    assert sorted(gdf["name"]) == sorted(["一站", "二站", "三站"])
    with pytest.raises(IngestError, match=r"has no layer 'c'; it holds: a, b"):
        read_untrusted(two, source_layer="c")
    view = _with_view(tmp_path)
    assert source_layers(view) == ["stops", "first_stop"]
    assert len(read_untrusted(view, source_layer="first_stop")[0]) == 1
    counties = _two_counties(tmp_path)
    assert source_layers(counties) == ["county1/stops.shp", "county2/stops.shp"]
    for name in ("county2/stops.shp", "county2/stops", "county2\\stops.shp"):
        gdf, _ = read_untrusted(counties, source_layer=name)
        assert sorted(gdf["name"]) == sorted(["一站", "二站", "三站"])
    with pytest.raises(IngestError, match=r"holds no layer 'stops'; it holds: county1/stops.shp"):
        read_untrusted(counties, source_layer="stops")  # both are called stops
    single = zipped(tmp_path / "single.zip", [two], prefix="data/")
    assert source_layers(single) == ["a", "b"]
    assert len(read_untrusted(single, source_layer="a")[0]) == 3
    plain = tmp_path / "plain.geojson"
    stops().to_file(plain)
    assert source_layers(plain) == []


def test_the_command_line_takes_a_source_layer(tmp_path, store):
    two = _two_layers(tmp_path)
    out = run_import(two, "bus_stops", store, None, "--source-layer", "b")
    assert out.returncode == 0, out.stderr
    assert sorted(layers.load("bus_stops", store)["name"]) == sorted(["一站", "二站", "三站"])


@pytest.mark.parametrize(
    "namespace",
    [
        "http://www.opengis.net/kml/2.2",
        "http://earth.google.com/kml/2.2",
        "http://earth.google.com/kml/2.1",
        "http://earth.google.com/kml/2.0",
        None,
    ],
)
def test_kml_of_every_known_namespace_is_read(tmp_path, namespace):
    opening = f'<kml xmlns="{namespace}">' if namespace else "<kml>"
    path = tmp_path / "placemarks.kml"
    path.write_text(GOOD_KML.replace('<kml xmlns="http://www.opengis.net/kml/2.2">', opening))
    gdf, _ = read_untrusted(path)
    assert list(gdf["name"]) == NAMES
    assert np.allclose(gdf.geometry.x, LON)


def test_kml_of_an_unknown_namespace_is_refused(tmp_path):
    path = tmp_path / "odd.kml"
    path.write_text(GOOD_KML.replace("www.opengis.net/kml/2.2", "example.com/kml/9"))
    with pytest.raises(IngestError, match=r"unknown KML namespace 'http://example.com/kml/9'"):
        read_untrusted(path)


HOLD_SLOTS = """
import sys, time
from pathlib import Path
from store.ingest import Limits, _slot
limits = Limits(slot_dir=Path(sys.argv[1]))
with _slot(limits), _slot(limits):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _hold_slots(folder: Path, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_SLOTS, str(folder), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_at_most_two_uploads_are_read_at_once(tmp_path):
    from store.ingest import _slot  # noqa: PLC0415

    path = tmp_path / "ok.geojson"
    stops().to_file(path)
    limits = Limits(slot_dir=tmp_path / "slots", busy_seconds=1.0)
    holder = _hold_slots(tmp_path / "slots", 60)  # another process reads two uploads
    try:
        started = time.monotonic()
        with pytest.raises(
            IngestError, match="the server is busy reading other uploads, try again"
        ):
            read_untrusted(path, limits=limits)
        assert time.monotonic() - started >= 1.0
        with pytest.raises(IngestError, match="busy"):
            source_layers(_two_layers(tmp_path), limits=limits)
    finally:
        holder.kill()
        holder.communicate()
    with _slot(limits):  # this process reads one: a second may go ahead, not a third
        assert len(read_untrusted(path, limits=limits)[0]) == 3
        with _slot(limits), pytest.raises(IngestError, match="busy"):
            read_untrusted(path, limits=limits)
    holder = _hold_slots(tmp_path / "slots", 1.0)  # freed within the wait: the read goes ahead
    try:
        gdf, _ = read_untrusted(path, limits=Limits(slot_dir=tmp_path / "slots", busy_seconds=30))
        assert len(gdf) == 3
    finally:
        holder.communicate(timeout=60)


STATIONS = ["站A", "站B", "站C"]  # in GBK these bytes are valid UTF-8 too: 'վA', ...


@shapefile_warnings
def test_gbk_that_happens_to_be_valid_utf8_is_read_as_gbk(tmp_path):
    assert "站A".encode("gbk").decode("utf-8") == "վA"
    files = write_shp(tmp_path / "s", stops(name=STATIONS), drop=("cpg",))
    gdf, notes = read_untrusted(zipped(tmp_path / "stations.zip", files))
    assert sorted(gdf["name"]) == STATIONS
    assert "text read as GBK (no .cpg; UTF-8 gave implausible characters)" in notes


@shapefile_warnings
@pytest.mark.parametrize(
    ("cpg", "encoding", "note"),
    [
        ("ISO-8859-1", "GBK", "text read as GBK (the .cpg says ISO-8859-1, which gave implausible"),
        ("1252", "GBK", "text read as GBK (the .cpg says 1252, which gave implausible"),
        ("8859-1", "GBK", "text read as GBK (the .cpg says 8859-1, which gave implausible"),
        ("936", "GBK", "text read as CP936 (the .cpg says 936)"),
        ("CP936", "GBK", "text read as CP936 (the .cpg says CP936)"),
        ("GBK", "GBK", "text read as GBK (the .cpg says GBK)"),
        ("65001", "UTF-8", "text read as UTF-8 (the .cpg says 65001)"),
        ("UTF-8", "GBK", "text read as GBK (the .cpg says UTF-8, which does not fit the bytes)"),
        ("NOPE", "GBK", "text read as GBK (the .cpg names an unknown encoding 'NOPE'"),
    ],
)
def test_the_cpg_is_read_as_gdal_reads_it_and_checked(tmp_path, cpg, encoding, note):
    files = write_shp(tmp_path / "s", stops(), encoding=encoding, cpg=cpg)
    gdf, notes = read_untrusted(zipped(tmp_path / "cpg.zip", files))
    assert sorted(gdf["name"]) == sorted(NAMES)
    assert any(n.startswith(note) for n in notes), notes


@shapefile_warnings
def test_an_unknown_encoding_is_refused(tmp_path, store):
    path = zipped(tmp_path / "s.zip", write_shp(tmp_path / "s", stops()))
    for name in ("NOPE", "rot13"):
        with pytest.raises(IngestError, match=rf"unknown text encoding '{name}': use a name"):
            read_untrusted(path, encoding=name)
    out = run_import(path, "bus_stops", store, None, "--encoding", "NOPE")
    assert out.returncode == 2
    assert "unknown text encoding 'NOPE'" in out.stderr
    gdf, notes = read_untrusted(path, encoding="gbk")
    assert sorted(gdf["name"]) == sorted(NAMES)
    assert "text read as gbk (as asked)" in notes


def test_a_gbk_csv_is_read_as_gbk(tmp_path):
    path = tmp_path / "stations.csv"
    text = "名称,经度,纬度\n" + "".join(
        f"{n},{x},{y}\n" for n, x, y in zip(STATIONS, LON, LAT, strict=True)
    )
    path.write_bytes(text.encode("gbk"))
    gdf, notes = read_untrusted(path)
    assert list(gdf["名称"]) == STATIONS
    assert "text read as GBK (UTF-8 does not fit the bytes)" in notes
    english = text.replace("名称,经度,纬度", "name,lon,lat")
    path.write_bytes(english.encode("gbk"))  # 站A, 站B, 站C alone are valid UTF-8 too
    gdf, notes = read_untrusted(path)
    assert list(gdf["name"]) == STATIONS
    assert "text read as GBK (UTF-8 gave implausible characters)" in notes
    path.write_bytes(text.encode("utf-8-sig"))
    gdf, notes = read_untrusted(path)
    assert list(gdf["名称"]) == STATIONS
    assert "text read as UTF-8" in notes


def test_long_text_is_refused_listing_the_first_features(tmp_path):
    names = ["short", "x" * 30, "y" * 31, "ok", *["z" * 40] * 6]
    path = tmp_path / "long.geojson"
    path.write_text(feature_collection([point_feature(98.5, 39.7, n) for n in names]))
    with pytest.raises(IngestError) as refused:
        read_untrusted(path, limits=Limits(text_chars=20))
    assert str(refused.value) == (
        "long.geojson was refused: column `name` holds text longer than 20 characters in "
        "8 feature(s) (2, 3, 5, 6, 7 ...; counting from 1): shorten it"
    )
    assert len(read_untrusted(path, limits=Limits(text_chars=40))[0]) == 10
    wide = tmp_path / "wide.csv"
    wide.write_text(f"lon,lat,{'名' * 50}\n98.5,39.7,1\n", encoding="utf-8")
    with pytest.raises(IngestError, match="a column name is longer than 20 characters"):
        read_untrusted(wide, limits=Limits(text_chars=20))
