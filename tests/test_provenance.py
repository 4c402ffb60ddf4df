"""Provenance of data: synthetic exactly when the store says so, and said wherever that is so.

The demo store is synthetic demo data (but for its real boundaries); a copy into which every
importable layer and the village indicators were imported from files through the command
line is not. Every view and
every export kind is read back as a reader would see it (a PDF's text, a cell of a
workbook, a CSV line, a GeoPackage layer's description) in both cases.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pypdf
import pytest
from openpyxl import load_workbook
from PIL import Image
from streamlit.delta_generator import DeltaGenerator
from streamlit.testing.v1 import AppTest

import exports as export
import layers
import store
from geo import settings
from geo.raster import read_band
from layers import households
from layers.scenarios import Scenario
from store.indicator_columns import INDICATORS_KEY
from store.register import REGISTER_KEY
from tests.helpers import ROOT, cli, copy_gpkg, write_tif
from tests.test_households import household_file, write_csv

APP = str(ROOT / "app.py")
PHRASE = {"en": "Synthetic demo data", "zh": "合成演示数据"}
#: What the meeting map of one county by the bus rule reads (the counties are real).
MAP_LAYERS = ("townships", "villages", "roads", "bus_stops")


def _imports(path: str, folder: Path, keys: list[str]) -> None:
    """Import layers `keys` into the store at `path` from files, each with the command line."""
    folder.mkdir(exist_ok=True)
    for key in keys:
        spec = layers.get_layer(key)
        if spec.is_raster:
            band, transform, crs = read_band(settings.population_path)
            source = write_tif(
                folder / "census-grid.tif", band.astype("float32"), crs=crs, transform=transform
            )
        else:
            source = folder / f"{key}.gpkg"
            layers.load(key, path).drop(columns="version").to_file(source)
        done = cli("import", str(source), "--layer", key, "--store", path)
        assert done.returncode == 0, done.stderr


def _copy_store(source: Path, target: Path) -> Path:
    """Copy a GeoPackage store with the rasters imported beside it."""
    path = copy_gpkg(source, target)
    rasters = source.with_name(f"{source.stem}.rasters")
    if rasters.is_dir():
        shutil.copytree(rasters, path.with_name(f"{path.stem}.rasters"))
    return path


@pytest.fixture(scope="module")
def layers_imported_store(demo_store, tmp_path_factory) -> Path:
    """A copy of the demo store with every importable layer imported from a file (the CLI).

    Its household register and village indicators are still the demo's: synthetic.
    """
    folder = tmp_path_factory.mktemp("layers-imported")
    path = _copy_store(demo_store, folder / "atlas.gpkg")
    keys = [k for k, s in layers.REGISTRY.items() if s.importable and k != "relief"]
    _imports(str(path), folder / "files", keys)
    return path


@pytest.fixture(scope="module")
def imported_store(layers_imported_store, tmp_path_factory) -> Path:
    """A copy of the store of imported layers with real indicators and register imported too.

    Nothing synthetic is left in it.
    """
    folder = tmp_path_factory.mktemp("imported")
    path = _copy_store(layers_imported_store, folder / "atlas.gpkg")
    (folder / "files").mkdir()
    indicators = folder / "files" / "indicators.csv"  # they measure part of the board
    store.open_store(path).indicators().to_csv(indicators, index=False)
    done = cli("import-indicators", str(indicators), "--store", str(path))
    assert done.returncode == 0, done.stderr
    codes = list(layers.load("villages", path)["code"][:20])  # a real (small) register too
    register = write_csv(household_file(codes), folder / "files" / "households.csv")
    done = cli("import-households", str(register), "--store", str(path))
    assert done.returncode == 0, done.stderr
    return path


#: The stores served: the demo; its layers imported but the household register and the
#: village indicators still the demo's ("records"); everything imported.
STORES = {"demo": "demo_store", "records": "layers_imported_store", "imported": "imported_store"}


def _serve(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    path = request.getfixturevalue(STORES[request.param])  # built only when asked for
    monkeypatch.setenv("VILLAGE_ATLAS_STORE", str(path))
    return str(request.param)


@pytest.fixture(params=["demo", "imported"])
def kind(request, monkeypatch) -> str:
    """Serve the demo store, or the store of imported files; return which."""
    return _serve(request, monkeypatch)


@pytest.fixture(params=list(STORES))
def sources(request, monkeypatch) -> str:
    """Serve the demo, the store of imported layers with the demo's records, or all imported."""
    return _serve(request, monkeypatch)


def _says_it(text: str, lang: str = "en") -> bool:
    return PHRASE[lang].lower() in " ".join(text.split()).lower()


def test_the_store_records_every_import(imported_store, monkeypatch):
    monkeypatch.setenv("VILLAGE_ATLAS_STORE", str(imported_store))
    for key, spec in layers.REGISTRY.items():
        origin = layers.origin(key)
        if key == "relief":
            assert origin is None  # shipped: the catalogue describes it
        elif not spec.importable:
            assert origin is not None
            assert not origin.synthetic, key  # the demo's real boundaries
        else:
            assert origin is not None
            assert not origin.synthetic, key
            expected = "census-grid.tif" if spec.is_raster else f"{key}.gpkg"
            assert origin.source == f"{expected} (imported)", key
            assert origin.at is not None


def test_the_demo_is_synthetic_but_for_its_boundaries_and_relief(demo_store, monkeypatch):
    monkeypatch.setenv("VILLAGE_ATLAS_STORE", str(demo_store))
    synthetic = {k for k in layers.REGISTRY if (o := layers.origin(k)) is not None and o.synthetic}
    assert synthetic == set(layers.REGISTRY) - {"prefecture", "counties", "relief"}


# --- exports ----------------------------------------------------------------------------------


def _pdf_pages(path: Path) -> list[str]:
    return [p.extract_text() for p in pypdf.PdfReader(path).pages]


def _as_read(path: Path) -> str:
    """Return what a reader finds in a file: its text, cells and sheet names, a map layer's
    description, an image's description."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        return " ".join(_pdf_pages(path))
    if suffix == ".png":
        with Image.open(path) as image:
            return str(image.text.get("Description", ""))  # type: ignore[attr-defined]
    if suffix == ".xlsx":
        book = load_workbook(path)
        cells = [str(c.value) for sheet in book for row in sheet.iter_rows() for c in row]
        return " ".join([*book.sheetnames, *cells])
    if suffix == ".gpkg":
        return _gpkg_description(path.read_bytes(), path.parent / "read")
    if suffix == ".geojson":
        return str(json.loads(path.read_text(encoding="utf-8")).get("description", ""))
    return path.read_text(encoding="utf-8")  # .csv, .html


#: Export kinds besides the meeting map's PDF, and the file each writes.
EXPORT_KINDS = (("map", ".png"), ("atlas", ".pdf"), ("html", ".html"), ("xlsx", ".xlsx"))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_meeting_map(kind, lang, tmp_path):
    spec = export.MapSpec(county="620924", dpi=72, lang=lang)
    out = export.save_figure(export.meeting_map(spec), tmp_path / "map.pdf")
    (text,) = _pdf_pages(out)
    assert _says_it(text, lang) == (kind == "demo")
    if kind == "imported":
        assert "villages.gpkg (imported)" in " ".join(text.split())  # its source, as recorded


def test_atlas_maps_and_tables(kind, tmp_path):
    out = export.atlas(export.MapSpec(dpi=72, lang="en"), tmp_path / "a.pdf", counties=["620924"])
    pages = _pdf_pages(out)
    assert len(pages) >= 3  # a map, the targets, the gaps
    assert [_says_it(p) for p in pages] == [kind == "demo"] * len(pages)


def test_standalone_html(kind):
    html = export.html_map(export.MapSpec(rule="bus_2km", lang="zh"))
    assert (PHRASE["zh"] in html) == (kind == "demo")
    assert ('class="va-synthetic"' in html) == (kind == "demo")


def test_bureau_workbook(kind, tmp_path):
    book = load_workbook(export.bureau_workbook(2017, tmp_path / "w.xlsx", lang="en"))
    cells = [str(c.value) for sheet in book for row in sheet.iter_rows() for c in row]
    if kind == "demo":
        assert book.sheetnames[:2] == ["About the data", "Summary"]
        about = book["About the data"]
        assert str(about["A1"].value).startswith(PHRASE["en"])
        lines = [str(c.value) for c in about["A"]]
        assert any(v.startswith("Administrative villages: Synthetic demo data") for v in lines)
    else:
        assert book.sheetnames[0] == "Summary"
        assert not [c for c in cells if "synthetic" in c.lower()]


@pytest.mark.parametrize(("what", "suffix"), list(EXPORT_KINDS))
def test_the_export_command(kind, what, suffix, tmp_path):
    out = tmp_path / f"out{suffix}"
    args = ["--county", "620924", "--dpi", "72", "--lang", "en", "--out", str(out)]
    done = cli("export", what, *args)
    assert done.returncode == 0, done.stderr
    assert _says_it(_as_read(out)) == (kind == "demo")


# --- what the command line prints and writes --------------------------------------------------


def _csv_says_it(rows: list[list[str]]) -> bool:
    """Whether a CSV carries the note: its last column, the label on every row."""
    if rows[0][-1] != "About the data":
        return False
    assert {r[-1] for r in rows[1:]} == {"synthetic demo data"}, rows[:3]
    return True


@pytest.mark.parametrize("suffix", [".csv", ".gpkg", ".geojson"])
def test_planned_sites_from_the_command_line(kind, suffix, tmp_path):
    out = tmp_path / f"sites{suffix}"
    args = ["--add", "2", "--candidates", "villages", "--out", str(out)]
    done = cli("plan", "--rule", "bus_2km", *args)
    assert done.returncode == 0, done.stderr
    demo = kind == "demo"
    if suffix == ".csv":
        rows = _csv_rows(out.read_bytes())
        assert len(rows) == 3
        assert _csv_says_it(rows) == demo
    assert _says_it(_as_read(out)) == demo
    assert ("note: Synthetic demo data" in done.stderr) == demo
    if not demo:
        assert "synthetic" not in out.read_bytes().decode("utf-8", "replace").lower()


@pytest.mark.parametrize("suffix", ["", ".csv", ".xlsx", ".gpkg"])
def test_coverage_of_a_rule(kind, suffix, tmp_path):
    out = tmp_path / f"gaps{suffix}"
    done = cli(
        "coverage", "--rule", "bus_2km", "--year", "2016", *(["--out", str(out)] * bool(suffix))
    )
    assert done.returncode == 0, done.stderr
    demo = kind == "demo"
    if suffix in ("", ".csv"):
        rows = _csv_rows(out.read_bytes() if suffix else done.stdout.encode())
        assert len(rows) == 1 + len(layers.load("villages"))
        assert _csv_says_it(rows) == demo
    assert _says_it(_as_read(out) if suffix else done.stdout) == demo
    assert ("note: Synthetic demo data" in done.stderr) == demo
    if demo:  # what the rule reads: the villages and the bus stops
        assert "Administrative villages, Bus stops." in done.stderr


#: Tables the command line prints, and the format each is asked in.
PRINTED = {
    "targets csv": ["targets", "--year", "2017", "--format", "csv"],
    "targets json": ["targets", "--year", "2017", "--format", "json"],
    "indicators csv": ["indicators", "--by", "township", "--format", "csv"],
    "indicators json": ["indicators", "--format", "json"],
    "history": ["history"],
    "scenario show": ["scenario", "show", "two sites", "--by", "county"],
}


@pytest.fixture
def copied(kind, tmp_path, monkeypatch) -> str:
    """Serve a copy of the store with a scenario ("two sites") and an edit in its audit trail."""
    path = _copy_store(Path(os.environ["VILLAGE_ATLAS_STORE"]), tmp_path / "s" / "atlas.gpkg")
    handle = store.open_store(path)
    villages = layers.load("villages", path).query("county_code == '620924'").to_crs(4326)
    added = tuple((p.x, p.y) for p in villages.geometry.iloc[:2])
    scenario = Scenario("two sites", "bus_2km", 2017, added=added)
    handle.save_scenario(
        scenario.name, owner="t", rule="bus_2km", base_year=2017, changes=scenario.changes_json()
    )
    code = str(villages["code"].iloc[0])
    _, version = handle.current("villages", code, ["bus_year"])
    editable = layers.editable_fields("villages")
    handle.edit("villages", code, {"bus_year": 2016}, expected_version=version, who="t",
                allowed=editable)  # fmt: skip
    monkeypatch.setenv("VILLAGE_ATLAS_STORE", str(path))
    return kind


@pytest.mark.parametrize("command", list(PRINTED))
def test_tables_printed_by_the_command_line(copied, command):
    done = cli(*PRINTED[command])
    assert done.returncode == 0, done.stderr
    demo = copied == "demo"
    if command.endswith("json"):
        printed = json.loads(done.stdout)
        assert printed["rows"]
        assert (printed["note"] is not None) == demo
        if demo:
            assert printed["note"]["label"] == "synthetic demo data"
            assert _says_it(printed["note"]["lines"][0])
    else:
        rows = _csv_rows(done.stdout.encode())
        assert len(rows) > 1
        assert _csv_says_it(rows) == demo
    assert _says_it(done.stderr) == demo
    if not demo:
        assert "synthetic" not in (done.stdout + done.stderr).lower()


@pytest.mark.parametrize("suffix", [".xlsx", ".pdf"])
def test_scenario_export(copied, suffix, tmp_path):
    out = tmp_path / f"two{suffix}"
    done = cli("scenario", "export", "two sites", "--county", "620924", "--lang", "en",
               "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert _says_it(_as_read(out)) == (copied == "demo")


# --- the app ----------------------------------------------------------------------------------


@pytest.fixture
def captured(monkeypatch):
    """Every file the app offers for download: (file name, bytes)."""
    files: list[tuple[str, bytes]] = []

    def keep(_self, _label, data, file_name=None, **_kwargs):
        files.append((str(file_name), bytes(data() if callable(data) else data)))  # a click
        return False

    monkeypatch.setattr(DeltaGenerator, "download_button", keep)
    monkeypatch.setattr("streamlit.download_button", lambda *a, **k: keep(None, *a, **k))
    return files


def _app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.run()
    assert not at.exception
    return at


@pytest.fixture
def app(kind):
    return _app()


def _plain(text: str) -> str:
    """Return a caption's Markdown without its escapes."""
    return text.replace("\\", "")


RECORD_SOURCES = {
    REGISTER_KEY: ("Synthetic demo household register", "households.csv (imported household"),
    INDICATORS_KEY: ("Synthetic demo indicators", "indicators.csv (imported indicators)"),
}


def test_sidebar_overview_catalogue_and_map(sources):
    app = _app()
    demo, records = sources == "demo", sources != "imported"
    sidebar = " ".join(_plain(c.value) for c in app.sidebar.caption)
    assert _says_it(sidebar) == records
    assert ("Administrative villages" in sidebar) == demo
    assert ("Poor-household register: Synthetic demo household register" in sidebar) == records
    assert ("Village indicators of industry, labour and income: Synthetic" in sidebar) == records
    assert any(_says_it(c.value) for c in app.main.caption) == demo  # the map's layers
    app.switch_page("pages/overview.py").run()
    assert not app.exception
    (info,) = [_plain(i.value) for i in app.info if _says_it(i.value)] or [""]
    assert ("Poor-household register" in info) == records  # the exits on the page
    assert ("Administrative villages" in info) == demo
    assert "Village indicators" not in info  # the page shows none
    app.switch_page("pages/catalogue.py").run()
    assert not app.exception
    table = app.dataframe[0].value.set_index("key")
    assert list(table.index) == [*layers.REGISTRY, REGISTER_KEY, INDICATORS_KEY]
    synthetic = set(table.index[table["Synthetic"] == "yes"])
    both = {REGISTER_KEY, INDICATORS_KEY}
    if demo:
        assert synthetic == set(layers.REGISTRY) - {"prefecture", "counties", "relief"} | both
        assert table.loc["villages", "Source"].startswith("Synthetic demo data")
    else:
        assert synthetic == (both if records else set())
        assert table.loc["villages", "Source"] == "villages.gpkg (imported)"
        assert table.loc["villages", "Licence"] == "—"
    for key, (made, imported) in RECORD_SOURCES.items():
        assert table.loc[key, "Source"].startswith(made if records else imported)
        assert table.loc[key, "Features"] > 0  # the rows the store holds
    assert table.loc["relief", "Source"] == layers.get_layer("relief").source


def test_the_board_and_the_village_register_name_their_synthetic_sources(sources):
    app = _app()
    demo, records = sources == "demo", sources != "imported"
    register = households.read_register()
    code = register.villages.index[3]
    village = layers.load("villages").set_index("code").loc[code]
    app.text_input[0].input(village["pinyin"].split()[0]).run()
    app.selectbox[0].select(code).run()
    assert not app.exception
    captions = [_plain(c.value) for c in app.main.caption]
    assert any("Poor-household register: " in c and _says_it(c) for c in captions) == records
    for page, bureau in (
        ("pages/targets.py", None),
        ("pages/bureaus.py", "poverty_office"),  # leads the targets the register measures
        ("pages/changes.py", None),  # the deadlines missed
    ):
        app.switch_page(page).run()
        if bureau is not None:
            app.selectbox(key="bureau_pick").set_value(bureau).run()
        assert not app.exception
        (board,) = [_plain(c.value) for c in app.main.caption if _says_it(c.value)] or [""]
        assert ("Poor-household register: Synthetic demo" in board) == records, page
        assert ("Village indicators of industry, labour and income: Synthetic" in board) == records
        assert ("Administrative villages" in board) == demo, page  # a layer of the board


def _csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"))))


def _gpkg_description(data: bytes, folder: Path) -> str:
    folder.mkdir(exist_ok=True)
    path = folder / "download.gpkg"
    path.write_bytes(data)
    with sqlite3.connect(path) as db:
        (description,) = db.execute("SELECT description FROM gpkg_contents").fetchone()
    return str(description)


def test_downloads_of_the_coverage_and_bureau_pages(kind, app, captured, tmp_path):
    app.switch_page("pages/coverage.py").run()
    assert not app.exception
    app.switch_page("pages/bureaus.py").run()
    app.selectbox[0].set_value("transport").run()
    assert not app.exception
    names = [name for name, _ in captured]
    assert {Path(n).suffix for n in names} == {".csv", ".xlsx", ".gpkg"}
    for name, data in captured:
        suffix = Path(name).suffix
        if kind == "demo":
            assert name.endswith(f"-synthetic-demo-data{suffix}")
        else:
            assert "synthetic" not in name
            assert b"ynthetic" not in data
        if suffix == ".csv":
            rows = _csv_rows(data)
            assert (rows[0][-1] == "About the data") == (kind == "demo")
            if kind == "demo":
                assert {r[-1] for r in rows[1:]} == {"synthetic demo data"}
        elif suffix == ".xlsx":
            path = tmp_path / "download.xlsx"
            path.write_bytes(data)
            book = load_workbook(path)
            assert (book.sheetnames[0] == "About the data") == (kind == "demo")
            assert book.sheetnames[-1] == "data"
        else:
            assert _says_it(_gpkg_description(data, tmp_path)) == (kind == "demo")


@pytest.mark.parametrize(("what", "suffix"), [("map", ".pdf"), *EXPORT_KINDS])
def test_the_export_page_makes_what_it_says(kind, what, suffix, app, captured, tmp_path):
    app.switch_page("pages/export.py").run()
    assert not app.exception
    app.radio(key="exp_kind").set_value(what).run()
    app.selectbox(key="exp_county").set_value("620924").run()
    app.select_slider(key="exp_dpi").set_value(150).run()
    if what == "map":
        app.radio(key="exp_format").set_value(suffix).run()
    next(b for b in app.button if b.key == "exp_go").click().run()
    assert not app.exception
    ((name, data),) = captured
    demo = kind == "demo"
    stem = f"village-atlas-{what}-2017"
    assert name == (f"{stem}-synthetic-demo-data{suffix}" if demo else f"{stem}{suffix}")
    path = tmp_path / name
    path.write_bytes(data)
    assert _says_it(_as_read(path)) == demo


def test_the_plan_pages_files_are_named_for_what_they_hold(kind, app, captured, tmp_path):
    app.switch_page("pages/plan.py").run()
    assert not app.exception
    next(b for b in app.button if b.label == "Prepare the map and workbook").click().run()
    assert not app.exception
    demo = kind == "demo"
    stem = "scenario-synthetic-demo-data" if demo else "scenario"
    assert sorted(name for name, _ in captured) == [f"{stem}.pdf", f"{stem}.xlsx"]
    for name, data in captured:
        (tmp_path / name).write_bytes(data)
        assert _says_it(_as_read(tmp_path / name)) == demo


def test_the_targets_and_overview_tables_have_labelled_downloads(sources, captured, tmp_path):
    app = _app()
    for page in ("pages/targets.py", "pages/overview.py"):
        app.switch_page(page).run()
        assert not app.exception
    names = [name for name, _ in captured]
    assert [n.split("-20")[0] for n in names] == ["targets"] * 2 + ["by-county"] * 2
    # the board is measured from the register and indicators too; the county table is not
    labelled = [sources != "imported"] * 2 + [sources == "demo"] * 2
    assert [
        n.endswith(("-synthetic-demo-data.csv", "-synthetic-demo-data.xlsx")) for n in names
    ] == labelled
    for (name, data), says in zip(captured, labelled, strict=True):
        (tmp_path / name).write_bytes(data)
        assert _says_it(_as_read(tmp_path / name)) == says, name
        if name.endswith(".xlsx") and name.startswith("targets") and sources == "records":
            assert "Poor-household register" in _as_read(tmp_path / name)


def test_streamlit_offers_no_unlabelled_download_of_a_table():
    shown = subprocess.run(
        [sys.executable, "-m", "streamlit", "config", "show"],
        capture_output=True, text=True, check=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert "\ndisableDataExport = true\n" in shown.stdout  # set, and a name this version knows


# --- exactly when -----------------------------------------------------------------------------


def test_only_the_synthetic_layers_used_are_named(imported_store, tmp_path, monkeypatch):
    path = copy_gpkg(imported_store, tmp_path / "atlas.gpkg")
    handle = store.open_store(path)
    schools = handle.read_layer("schools").drop(columns="version")
    handle.replace_layers({"schools": schools}, who="t", source="demo schools", synthetic=True)
    monkeypatch.setenv("VILLAGE_ATLAS_STORE", str(path))
    spec = export.MapSpec(county="620924", dpi=72, lang="en")  # the bus rule: no schools
    out = export.save_figure(export.meeting_map(spec), tmp_path / "map.pdf")
    assert not _says_it(_pdf_pages(out)[0])
    book = load_workbook(export.bureau_workbook(2017, tmp_path / "w.xlsx", lang="en"))
    assert book["About the data"]["A1"].value == (
        "Synthetic demo data (generated, not real records): Schools."
    )


def test_importing_a_maps_layers_turns_its_notice_off_in_both_backends(
    backend_store, tmp_path, monkeypatch
):
    monkeypatch.setenv("VILLAGE_ATLAS_STORE", backend_store)
    spec = export.MapSpec(county="620924", dpi=72, lang="zh", rule="bus_2km")

    def says_it() -> bool:
        out = export.save_figure(export.meeting_map(spec), tmp_path / "map.pdf")
        return _says_it(_pdf_pages(out)[0], "zh")

    assert says_it()
    _imports(backend_store, tmp_path / "files", list(MAP_LAYERS[:-1]))
    assert says_it()  # the bus stops are still the demo's
    _imports(backend_store, tmp_path / "files", [MAP_LAYERS[-1]])
    assert not says_it()
    origin = store.open_store(backend_store).origin("bus_stops")
    assert origin is not None
    assert (origin.source, origin.synthetic) == ("bus_stops.gpkg (imported)", False)
