"""Many writers at once, and writers killed or starved mid-write, in separate processes.

Each test runs real processes of the command line (or of its `main` in a loop, where a
hundred process start-ups would only measure Python's import time) against one store,
both backends, and then checks what every process said against what the store holds.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest

import layers
import store
from tests.helpers import CLI, cli, copy_gpkg, integrity

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def files(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Import files: the demo's roads and bus stops (slightly changed), and 30k stops."""
    folder = tmp_path_factory.mktemp("files")
    roads = layers.load("roads", demo_store).drop(columns="version", errors="ignore")
    stops = layers.load("bus_stops", demo_store).drop(columns="version", errors="ignore")
    rng = np.random.default_rng(3)
    n = 30_000
    big = gpd.GeoDataFrame(
        {"name": [f"站{i}" for i in range(n)], "year_opened": rng.integers(2000, 2018, n)},
        geometry=gpd.points_from_xy(rng.uniform(94, 99, n), rng.uniform(39.5, 41, n)),
        crs=4326,
    )
    out = {
        "roads": folder / "roads.gpkg",
        "bus_stops": folder / "stops.gpkg",
        "big": folder / "big.gpkg",
    }
    roads.iloc[:-5].to_file(out["roads"])
    stops.iloc[:-3].to_file(out["bus_stops"])
    big.to_file(out["big"])
    return out


def _layer_rows(where: str, key: str) -> int:
    return len(store.open_store(where, recheck=True).read_layer(key))


def test_two_imports_of_different_layers_at_once(backend_store, files, demo_store):
    demo = {key: len(layers.load(key, demo_store)) for key in ("roads", "bus_stops")}
    expected = {"roads": demo["roads"] - 5, "bus_stops": demo["bus_stops"] - 3}  # the files
    written = {"roads": 0, "bus_stops": 0}
    for _ in range(20):
        procs = {
            key: subprocess.Popen(
                [*CLI, "import", str(files[key]), "--layer", key, "--store", backend_store],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for key in ("roads", "bus_stops")
        }
        for key, proc in procs.items():
            out, err = proc.communicate(timeout=300)
            if proc.returncode == 0:
                assert f"wrote layer '{key}'" in out
                written[key] += 1
            else:
                assert proc.returncode == 2
                assert err.startswith("error: the store") and "is busy" in err, err
    assert written["roads"] > 0
    assert written["bus_stops"] > 0
    handle = store.open_store(backend_store, recheck=True)
    assert len(handle.list_layers()) == 16  # the demo's 15 layers and its project register
    for key, rows in expected.items():
        assert len(handle.read_layer(key)) == rows
    if not backend_store.startswith("postgresql"):
        assert integrity(Path(backend_store)) == "ok"


_EDITOR = """
import contextlib, io, json, random, sys
import cli, store
where, name, codes, n = sys.argv[1], sys.argv[2], sys.argv[3].split(","), int(sys.argv[4])
rng = random.Random(name)
handle = store.open_store(where)
for i in range(n):
    code = rng.choice(codes)
    value = f"{name}-{i}"
    _, version = handle.current("villages", code, ["cadre"])  # the form is opened
    out, err = io.StringIO(), io.StringIO()
    args = ["edit", code, "--set", f"cadre={value}", "--user", name, "--store", where,
            "--expect-version", str(version)]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(args)
    print(json.dumps({"code": code, "value": value, "status": status,
                      "out": out.getvalue().strip(), "err": err.getvalue().strip()}), flush=True)
"""


def _editors(where: str, codes: list[str], count: int, edits: int) -> list[subprocess.Popen[str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return [
        subprocess.Popen(
            [sys.executable, "-c", _EDITOR, where, f"editor{i}", ",".join(codes), str(edits)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in range(count)
    ]


def _check_reports(where: str, reports: list[dict[str, object]]) -> None:
    """Every reported save is in the store and its audit; no version was used twice."""
    handle = store.open_store(where)
    trail = handle.history(limit=1_000_000)
    trail = trail[trail["column"] == "cadre"]
    saved = [r for r in reports if r["status"] == 0]
    refused = [r for r in reports if r["status"] != 0]
    assert saved, "no edit went through"
    for report in refused:
        assert report["status"] == 2
        assert "changed by someone else" in str(report["err"]) or "busy" in str(report["err"])
    audited = {
        (c, v, int(ver)) for c, v, ver in trail[["code", "new", "version"]].itertuples(index=False)
    }
    for report in saved:
        assert (report["code"], report["value"], int(str(report["out"]))) in audited
    assert len(trail) == len(saved)
    assert not trail.duplicated(["code", "version"]).any()
    villages = handle.read_layer("villages").set_index("code")
    for code, rows in trail.groupby("code"):
        last = rows.sort_values("version").iloc[-1]
        assert villages.loc[code, "cadre"] == last["new"]
        assert int(villages.loc[code, "version"]) == int(last["version"])


def test_eight_editors_never_lose_an_edit(backend_store):
    codes = layers.load("villages", backend_store)["code"].iloc[:20].tolist()
    procs = _editors(backend_store, codes, 8, 100)
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        reports += [json.loads(line) for line in out.splitlines()]
    assert len(reports) == 800
    assert any(r["status"] == 2 for r in reports), "20 villages, 8 editors: some must conflict"
    _check_reports(backend_store, reports)


def test_imports_and_edits_interleaved(backend_store, files):
    codes = layers.load("villages", backend_store)["code"].iloc[:20].tolist()
    editors = _editors(backend_store, codes, 3, 400)
    imports = 0
    while any(p.poll() is None for p in editors):
        key = ("roads", "bus_stops")[imports % 2]
        done = cli("import", str(files[key]), "--layer", key, "--store", backend_store)
        assert done.returncode == 0 or "is busy" in done.stderr, done.stderr
        imports += 1
    reports = []
    for proc in editors:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        reports += [json.loads(line) for line in out.splitlines()]
    assert imports >= 2
    _check_reports(backend_store, reports)


def _gpkg_leftovers(folder: Path) -> set[str]:
    names = {p.name for p in folder.iterdir()} - {"demo.gpkg", "demo.gpkg-wal", "demo.gpkg-shm"}
    names -= {"demo-backups"}
    partial = {p.name for p in (folder / "demo-backups").glob("*.partial")}
    return names | partial


def test_kill_an_import_at_random_moments(demo_store, files, tmp_path):
    path = copy_gpkg(demo_store, tmp_path / "store" / "demo.gpkg")
    old = _layer_rows(str(path), "bus_stops")
    rng = random.Random(7)
    outcomes = set()
    for _ in range(20):
        proc = subprocess.Popen(
            [*CLI, "import", str(files["big"]), "--layer", "bus_stops", "--store", str(path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.8, 4.0))
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        rows = _layer_rows(str(path), "bus_stops")  # opens and passes its check
        assert rows in (old, 30_000)
        outcomes.add(rows)
        assert integrity(path) == "ok"
    final = cli("import", str(files["bus_stops"]), "--layer", "bus_stops", "--store", str(path))
    assert final.returncode == 0, final.stderr
    assert _gpkg_leftovers(path.parent) == set()
    scratch = [  # those of killed imports; a live process elsewhere may have its own
        p
        for p in Path(tempfile.gettempdir()).glob("village-atlas-import-*")
        if not Path(f"/proc/{p.name.split('-')[3]}").exists()
    ]
    assert scratch == [], scratch
    assert len(outcomes) >= 1


def test_kill_an_editor_at_random_moments(backend_store):
    codes = layers.load("villages", backend_store)["code"].iloc[:5].tolist()
    rng = random.Random(11)
    reported: list[dict[str, object]] = []
    for _ in range(20 if not backend_store.startswith("postgresql") else 5):
        (proc,) = _editors(backend_store, codes, 1, 10_000)
        time.sleep(rng.uniform(1.0, 2.5))
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        reported += [json.loads(line) for line in out.splitlines() if line.endswith("}")]
        store.open_store(backend_store, recheck=True)  # opens and passes its check
    handle = store.open_store(backend_store)
    trail = handle.history(limit=1_000_000)
    villages = handle.read_layer("villages").set_index("code")
    for code in codes:  # each edit bumped the version once and wrote one audit row: no half edit
        assert int(villages.loc[code, "version"]) == int((trail["code"] == code).sum())
    audited = set(zip(trail["code"], trail["new"], strict=True))
    for report in reported:
        if report["status"] == 0:
            assert (report["code"], report["value"]) in audited


@contextlib.contextmanager
def small_disk(folder: Path, megabytes: int) -> Iterator[Path]:
    """A real filesystem of `megabytes` (tmpfs; needs root), removed afterwards."""
    if os.geteuid() != 0:
        pytest.skip("a small real disk (tmpfs) needs root; CI runs as root")
    folder.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(folder)], check=True
    )
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


@pytest.mark.parametrize("scratch_on_full_disk", [False, True])
def test_disk_full_during_an_import(demo_store, files, tmp_path, scratch_on_full_disk):
    size = demo_store.stat().st_size // 2**20 + 4
    with small_disk(tmp_path / "disk", size) as disk:
        path = copy_gpkg(demo_store, disk / "demo.gpkg")
        before = store.layer_checksum(store.open_store(path, recheck=True).read_layer("bus_stops"))
        env = {**os.environ, "TMPDIR": str(disk if scratch_on_full_disk else tmp_path)}
        done = cli(
            "import", str(files["big"]), "--layer", "bus_stops", "--store", str(path), env=env
        )
        assert done.returncode == 2
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "disk" in done.stderr and "full" in done.stderr, done.stderr
        after = store.open_store(path, recheck=True).read_layer("bus_stops")
        assert store.layer_checksum(after) == before
        assert integrity(path) == "ok"
        backups = (
            list((disk / "demo-backups").glob("*")) if (disk / "demo-backups").exists() else []
        )
        assert all(b.stat().st_size > 0 for b in backups)
        assert not [b for b in backups if b.suffix == ".partial"]
