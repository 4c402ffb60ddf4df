"""The poor-household register: demo counts, exits measured on the board, hashed imports."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import sqlite3
import stat
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import pandas as pd
import psycopg
import pypdf
import pytest
from psycopg import sql

import cli
import layers
import store
from exports import MapSpec, html_map, meeting_map, save_figure
from geo.errors import ImportRefusedError, StoreError
from geo.status import done_by
from layers import households, targets
from layers.clauses import Provenance
from store import households as importer
from store import ingest
from store.gpkg import backups as gpkg_backups
from store.postgis import SCHEMA
from store.register import CLEANUPS, STEPS, Register
from store.tables import table_bytes

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def resident_id(n: int) -> str:
    """A well-formed resident ID number (region, birth date, serial, check digit)."""
    body = f"620902{19600101 + n * 37:08d}{n % 1000:03d}"[:17]
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True)) % 11]


def household_file(codes: list[str], n: int = 30) -> pd.DataFrame:
    """A household file: `n` households over `codes`, with steps, exits and clean-ups."""
    rows = []
    for i in range(n):
        row = {
            "身份证号": resident_id(i),
            "村代码": codes[i % len(codes)],
            "家庭人口": str(1 + i % 5),
            "脱贫年份": "" if i % 7 == 0 else str(2015 + i % 3),
        }
        for k, step in enumerate(STEPS):
            row[step] = f"2015-{3 + k // 2:02d}-{1 + (i % 9) + 10 * (k % 2):02d}"
        for j, cleanup in enumerate(CLEANUPS):
            row[cleanup] = "是" if (i + j) % 4 else "否"
        rows.append(row)
    return pd.DataFrame(rows)


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


# --- the demo register and the board ----------------------------------------------------------


def test_demo_register_follows_the_villages(demo_store):
    villages = layers.load("villages").set_index("code")
    register = store.open_store(demo_store).register()
    poor = villages[villages["poor_households"] > 0]
    assert sorted(register.villages.index) == sorted(poor.index)
    joined = register.villages.join(poor[["poor_households", "poor_people", "exit_year"]])
    assert (joined["households"] == joined["poor_households"]).all()
    assert (joined["people"] == joined["poor_people"]).all()
    # a poor village that exited has all its households out by its exit year, none later
    exits = register.exits.merge(villages[["exit_year", "is_poor"]], left_on="village_code",
                                 right_index=True)  # fmt: skip
    exited = exits[exits["is_poor"] & exits["exit_year"].notna()]
    assert (exited["year"] <= exited["exit_year"]).all()
    out = exited.groupby("village_code")["households"].sum()
    assert (out == register.villages.loc[out.index, "households"]).all()
    assert register.exits["year"].between(2015, 2017).all()
    for cleanup in CLEANUPS:
        assert (register.villages[cleanup] <= register.villages["households"]).all()
    assert 0 < households.late(register).sum() < len(register.villages) * 0.2


def _brute_force(target: targets.Target, year: int, register: Register, people: bool) -> float:
    """Share out of the register, by a loop over its villages and exits."""
    villages = layers.load("villages").set_index("code")
    total = out = 0
    for code, row in register.villages.iterrows():
        v = villages.loc[code]
        if target.counties and v["county_code"] not in target.counties:
            continue
        if target.among.value == "immigrant villages" and not v["is_immigrant"]:
            continue
        if target.among.value == "old villages" and v["is_immigrant"]:
            continue
        total += row["people" if people else "households"]
        for exit_row in register.exits.itertuples():
            if exit_row.village_code == code and exit_row.year <= year:
                out += exit_row.people if people else exit_row.households
    return 100 * out / total


@pytest.mark.parametrize("year", [2015, 2016, 2017])
def test_board_exits_in_households_and_people_equal_a_brute_force(demo_store, year):
    register = store.open_store(demo_store).register()
    plan = targets.load_targets()
    board = targets.board(plan, year, history=False)
    measured = [t for t in plan if t.in_households]
    assert {t.key for t in measured} >= {
        "exit_poor_households",
        "exit_poor_people",
        "exit_suzhou_jinta",
        "exit_immigrant",
        "exit_yumen_guazhou_settled",
    }
    for target in measured:
        people = target.scope.value == "poor people"
        want = _brute_force(target, year, register, people)
        assert board.loc[target.key, "current"] == pytest.approx(want, abs=0.05), target.key
        assert board.loc[target.key, "provenance"] == target.register_provenance.value
    counts = board.loc["exit_poor_people", "counts"]
    out_h, out_p = households.out_by(register, year)
    all_h, all_p = households.registered(register)
    assert f"{out_h:,} of {all_h:,} households" in counts
    assert f"{out_p:,} of {all_p:,} people" in counts
    villages = layers.load("villages")
    poor = villages["is_poor"].astype(bool)
    out_v = int((poor & done_by(villages["exit_year"], year)).sum())
    assert f"{out_v:,} of {int(poor.sum()):,} poor villages out" in counts


def test_without_a_register_household_exits_are_our_assumption(demo_store):
    plan = targets.load_targets()
    board = targets.board(plan, 2017, history=False, register=Register())
    row = board.loc["exit_poor_households"]
    assert row["provenance"] == Provenance.ASSUMPTION.value
    assert "households" not in row["counts"]
    assert "poor villages out" in row["counts"]


# --- importing a household file -----------------------------------------------------------------


def _store_text(where: str) -> str:
    """Everything a store holds, as text: the GeoPackage's bytes, or every PostGIS row."""
    if not where.startswith("postgresql"):
        blobs = [p.read_bytes() for p in Path(where).parent.glob(Path(where).name + "*")]
        return b"".join(blobs).decode("latin-1")
    found = []
    with psycopg.connect(where) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (SCHEMA,)
        ).fetchall()
        for (table,) in tables:
            query = sql.SQL("SELECT t::text FROM {}.{} t").format(
                sql.Identifier(SCHEMA), sql.Identifier(table)
            )
            found += [str(r[0]) for r in conn.execute(query).fetchall()]
    return "\n".join(found)


def test_import_stores_counts_and_hashes_never_an_id_number(backend_store, tmp_path, capsys):
    handle = store.open_store(backend_store, recheck=True)
    codes = handle.read_layer("villages")["code"].head(4).tolist()
    frame = household_file(codes)
    path = write_csv(frame, tmp_path / "households.csv")
    assert cli.main(["import-households", str(path), "--store", backend_store]) == 0
    assert "30 households" in capsys.readouterr().out
    register = handle.register()
    assert sorted(register.villages.index) == sorted(codes)
    people = frame["家庭人口"].astype(int)
    for code in codes:
        mine = frame["村代码"] == code
        assert register.villages.loc[code, "households"] == mine.sum()
        assert register.villages.loc[code, "people"] == people[mine].sum()
        assert register.villages.loc[code, "publicity"] == frame.loc[mine, "publicity"].max()
        assert (
            register.villages.loc[code, "clear_base"]
            == (frame.loc[mine, "clear_base"] == "是").sum()
        )
    exited = frame["脱贫年份"] != ""
    assert register.exits["households"].sum() == exited.sum()
    assert register.exits["people"].sum() == people[exited].sum()
    assert handle.household_rows() == len(frame)
    origin = handle.origin("household_register")
    assert origin is not None and not origin.synthetic
    text = _store_text(backend_store)
    key = importer.household_key()
    assert key.hex() not in text
    for number in frame["身份证号"]:
        assert number not in text
        assert importer.hash_id(number, key) in text  # kept, hashed, in the store only


def test_reimport_replaces_the_register(backend_store, tmp_path):
    handle = store.open_store(backend_store, recheck=True)
    codes = handle.read_layer("villages")["code"].tolist()
    first = write_csv(household_file(codes[:3], 12), tmp_path / "a.csv")
    second = write_csv(household_file(codes[5:7], 5), tmp_path / "b.csv")
    assert cli.main(["import-households", str(first), "--store", backend_store]) == 0
    assert cli.main(["import-households", str(second), "--store", backend_store]) == 0
    register = handle.register()
    assert sorted(register.villages.index) == sorted(codes[5:7])
    assert register.villages["households"].sum() == 5
    assert handle.household_rows() == 5


def test_a_bad_file_is_refused_in_one_line_and_changes_nothing(backend_store, tmp_path, capsys):
    handle = store.open_store(backend_store, recheck=True)
    before = handle.register()
    frame = household_file(handle.read_layer("villages")["code"].head(2).tolist(), 6)
    frame.loc[2, "身份证号"] = frame.loc[2, "身份证号"][:-1] + "0"  # a wrong check digit
    frame.loc[3, "身份证号"] = frame.loc[4, "身份证号"]
    frame.loc[5, "村代码"] = "=HYPERLINK(1)"
    frame.loc[1, "group_review"] = "2014-01-01"  # before its application
    path = write_csv(frame, tmp_path / "bad.csv")
    assert cli.main(["import-households", str(path), "--store", backend_store]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: bad.csv was refused: ")
    for part in ("row 4", "rows 5, 6", "`village_code`", "`group_review` is dated before"):
        assert part in err
    for number in frame["身份证号"]:
        assert number[:12] not in err  # no ID number is repeated back
    after = handle.register()
    pd.testing.assert_frame_equal(after.villages, before.villages)
    assert handle.household_rows() == 0


def test_a_file_without_the_required_columns_is_refused(tmp_path):
    frame = pd.DataFrame({"name": ["张三"], "village": ["620902100200"]})
    with pytest.raises(ImportRefusedError, match=r"missing column.*`id_number`.*`people`"):
        importer.prepare(frame, key=b"k" * 32, villages=["620902100200"])


def test_an_excel_file_imports(demo_store, tmp_path):
    from tests.helpers import copy_gpkg  # noqa: PLC0415

    where = copy_gpkg(demo_store, tmp_path / "s" / "demo.gpkg")
    handle = store.open_store(where, recheck=True)
    frame = household_file(handle.read_layer("villages")["code"].head(2).tolist(), 4)
    frame.to_excel(tmp_path / "households.xlsx", index=False)
    done = importer.import_households(
        tmp_path / "households.xlsx", handle=handle, who="test", name="贫困户.xlsx"
    )
    assert done.households == 4
    assert handle.register().villages["households"].sum() == 4
    origin = handle.origin("household_register")
    assert origin is not None and origin.source.startswith("贫困户.xlsx (imported")


def test_an_id_number_in_the_file_name_is_not_recorded(demo_store, tmp_path, capsys):
    from tests.helpers import copy_gpkg  # noqa: PLC0415

    where = str(copy_gpkg(demo_store, tmp_path / "s" / "demo.gpkg"))
    handle = store.open_store(where, recheck=True)
    frame = household_file(handle.read_layer("villages")["code"].head(2).tolist(), 4)
    number = resident_id(7)
    named = write_csv(frame, tmp_path / f"{number}_张三.csv")
    assert cli.main(["import-households", str(named), "--store", where]) == 0
    frame.loc[1, "家庭人口"] = "99"
    refused = write_csv(frame, tmp_path / f"户主{number.lower()}.csv")
    assert cli.main(["import-households", str(refused), "--store", where]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: 户主….csv was refused: ")
    origin = handle.origin("household_register")
    assert origin is not None
    assert origin.source.startswith("…_张三.csv (imported household register")
    events = handle.events()
    assert "…_张三.csv (imported household register" in events["target"].iloc[0]
    for text in (err, origin.source, *events["target"], *events["detail"], _store_text(where)):
        assert number[:15] not in text


def _workbook(frame: pd.DataFrame, path: Path, numbers_on: tuple[int, ...] = ()) -> Path:
    """Write `frame` with openpyxl: people as numbers, ID numbers as text but on `numbers_on`."""
    import openpyxl  # noqa: PLC0415

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(list(frame.columns))
    for i, row in enumerate(frame.to_dict("records")):
        values = {**row, "家庭人口": int(row["家庭人口"])}
        if i in numbers_on:
            values["身份证号"] = int(row["身份证号"])  # what Excel keeps of a typed number
        sheet.append(list(values.values()))
    book.save(path)
    return path


def test_an_id_number_stored_as_a_number_in_excel_is_refused(demo_store, tmp_path, capsys):
    from tests.helpers import copy_gpkg  # noqa: PLC0415

    where = str(copy_gpkg(demo_store, tmp_path / "s" / "demo.gpkg"))
    handle = store.open_store(where, recheck=True)
    codes = handle.read_layer("villages")["code"].head(2).tolist()
    frame = household_file(codes, 12)
    frame = frame[~frame["身份证号"].str.endswith("X")].head(5).reset_index(drop=True)
    assert len(frame) == 5
    good = _workbook(frame, tmp_path / "good.xlsx")
    assert cli.main(["import-households", str(good), "--store", where]) == 0
    assert handle.household_rows() == 5
    capsys.readouterr()
    bad = _workbook(frame, tmp_path / "bad.xlsx", numbers_on=(1, 3))
    assert cli.main(["import-households", str(bad), "--store", where]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: bad.xlsx was refused: `id_number` holds numbers, not text ")
    assert "(rows 3, 5): " in err and "format the column as text" in err
    for number in frame["身份证号"]:
        assert number[:12] not in err
    hashes = _stored_hashes(where)  # the register of the good file, untouched
    assert hashes == {importer.hash_id(n, importer.household_key()) for n in frame["身份证号"]}
    # refused by the reader itself, the file named after a person: the name is left out too
    number = frame.loc[0, "身份证号"]
    named = _workbook(frame, tmp_path / f"{number}.xlsx", numbers_on=(1,))
    not_a_table = tmp_path / f"{number}.txt"
    not_a_table.write_text("not a table", encoding="utf-8")
    for path in (named, not_a_table):
        assert cli.main(["import-households", str(path), "--store", where]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: …."), err
        assert number[:15] not in err


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """The system's temporary folder, as this test's own: what other processes leave is not seen."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_a_private_folder_is_0700_and_gone_after_an_error(private_tmp):
    seen = []

    def read_and_fail() -> None:
        with ingest.private_folder("va-ingest-") as folder:
            seen.append((folder, stat.S_IMODE(folder.stat().st_mode)))
            (folder / "in").mkdir()
            (folder / "in" / "out.parquet").write_bytes(b"raw rows")
            raise RuntimeError("stopped")  # a refusal, a stopped page: it goes all the same

    with pytest.raises(RuntimeError, match="stopped"):
        read_and_fail()
    ((folder, mode),) = seen
    assert folder.parent == private_tmp
    assert folder.name.startswith(f"va-ingest-{os.getpid()}-")
    assert mode == 0o700
    assert list(private_tmp.iterdir()) == []


def test_no_household_import_leaves_its_rows_in_a_temporary_folder(
    demo_store, tmp_path, private_tmp
):
    from tests.helpers import copy_gpkg  # noqa: PLC0415

    where = str(copy_gpkg(demo_store, tmp_path / "s" / "demo.gpkg"))
    codes = store.open_store(where, recheck=True).read_layer("villages")["code"].head(2).tolist()
    frame = household_file(codes, 12)
    frame = frame[~frame["身份证号"].str.endswith("X")].head(5).reset_index(drop=True)
    bad_rows = frame.assign(家庭人口=["2", "99", "3", "1", "4"])
    not_a_workbook = tmp_path / "not.xlsx"
    not_a_workbook.write_text("id_number,people\n")
    files = {
        write_csv(frame, tmp_path / "good.csv"): 0,
        write_csv(bad_rows, tmp_path / "refused-by-the-checks.csv"): 2,
        _workbook(frame, tmp_path / "refused-by-the-reader.xlsx", numbers_on=(2,)): 2,
        not_a_workbook: 2,  # refused before it is read
    }
    for path, status in files.items():
        assert cli.main(["import-households", str(path), "--store", where]) == status, path.name
        left = sorted(p.name for p in private_tmp.iterdir())
        assert left == ["village-atlas-ingest"], path.name  # the reading slots' lock files only


def test_folders_of_killed_readers_are_removed_by_the_next(demo_store, tmp_path, private_tmp):
    from tests.helpers import copy_gpkg  # noqa: PLC0415

    where = str(copy_gpkg(demo_store, tmp_path / "s" / "demo.gpkg"))
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead = int(done.stdout)  # a process that is gone
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("not ours to remove")
    names = {
        "killed, old": f"va-ingest-{dead}-a1b2",
        "killed, recent": f"va-ingest-{dead}-c3d4",
        "running, old": f"va-ingest-{os.getpid()}-e5f6",
        "an older version's, old": "va-ingest-q7z_k2x9",
        "another kind, old": f"va-upload-{dead}-g7h8",
    }
    old = time.time() - ingest.STALE_SECONDS - 60
    for kind, name in names.items():
        (private_tmp / name).mkdir()
        (private_tmp / name / "out.parquet").write_bytes(b"raw rows")
        if kind.endswith("old"):
            os.utime(private_tmp / name, (old, old))
    link = private_tmp / f"va-ingest-{dead}-link"
    link.symlink_to(outside)
    os.utime(link, (old, old), follow_symlinks=False)
    path = write_csv(household_file(["not a village"], 2), tmp_path / "refused.csv")
    assert cli.main(["import-households", str(path), "--store", where]) == 2
    left = {p.name for p in private_tmp.iterdir()}
    assert names["killed, old"] not in left
    assert names["an older version's, old"] not in left
    for kind in ("killed, recent", "running, old", "another kind, old"):
        assert names[kind] in left, kind
    assert link.is_symlink() and (outside / "keep").exists()


def _output_text(path: Path) -> tuple[str, bytes]:
    """What an output holds, as text to search (its words, metadata, members) and raw bytes."""
    raw = b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))
    parts = [raw.decode("latin-1")]
    if path.suffix == ".pdf":
        reader = pypdf.PdfReader(io.BytesIO(raw))
        parts += [page.extract_text() for page in reader.pages]
        parts.append(str(reader.metadata))
    elif path.suffix == ".png":
        from PIL import Image  # noqa: PLC0415

        with Image.open(path) as image:
            parts.append(str(image.info))
    elif path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as z:
            parts += [z.read(n).decode("utf-8") for n in z.namelist()]
    elif path.suffix in {".csv", ".json", ".html"}:
        parts.append(raw.decode("utf-8"))
    return "\n".join(parts), raw


def test_no_export_holds_an_id_number_raw_or_hashed(demo_store, tmp_path, monkeypatch, capsys):
    from tests.helpers import copy_gpkg  # noqa: PLC0415

    where = copy_gpkg(demo_store, tmp_path / "s" / "demo.gpkg")
    monkeypatch.setenv("VILLAGE_ATLAS_STORE", str(where))
    county = "620924"  # one small county: every output below draws or counts its households
    villages = store.open_store(where, recheck=True).read_layer("villages")
    frame = household_file(villages.loc[villages["county_code"] == county, "code"].tolist())
    numbers = frame["身份证号"].tolist()
    path = write_csv(frame, tmp_path / f"{numbers[0]}_households.csv")  # named after a person
    assert cli.main(["import-households", str(path), "--store", str(where)]) == 0
    key = importer.household_key()
    hashed = [importer.hash_id(n, key) for n in numbers]
    plain = [hashlib.sha256(n.encode()).hexdigest() for n in numbers]
    secrets = [*numbers, *(n.lower() for n in numbers), *hashed, *plain, key.hex()]
    secrets += [s.upper() for s in (*hashed, *plain, key.hex())]
    assert all(h in _store_text(str(where)) for h in hashed)  # what the store keeps, and no more
    out = tmp_path / "out"
    out.mkdir()
    capsys.readouterr()
    printed = {}
    commands = {
        "atlas.pdf": ["export", "atlas", "--county", county, "--dpi", "72", "--lang", "en"],
        "map.png": ["export", "map", "--county", county, "--dpi", "72", "--lang", "en"],
        "workbook.xlsx": ["export", "xlsx", "--lang", "en"],
        **{f"coverage.{s}": ["coverage", "--rule", "bus_2km"] for s in ("csv", "xlsx", "gpkg")},
        "targets.csv": ["targets", "--county", county, "--format", "csv"],
        "targets.json": ["targets", "--format", "json"],
        "bureaus.json": ["bureaus", "--format", "json"],
        "bureaus.csv": ["bureaus", "--format", "csv"],
    }
    for name, args in commands.items():
        file_out = args[0] in ("export", "coverage")
        assert cli.main([*args, *(["--out", str(out / name)] if file_out else [])]) == 0, name
        if not file_out:
            (out / name).write_text(capsys.readouterr().out, encoding="utf-8")
        printed[name] = capsys.readouterr().err
    save_figure(meeting_map(MapSpec(lang="en", county=county, dpi=72)), out / "map.pdf")
    (out / "map.html").write_text(html_map(MapSpec(lang="en", county=county)), encoding="utf-8")
    shown = layers.load("villages")
    (out / "villages.csv").write_bytes(table_bytes(shown.drop(columns="geometry"), ".csv"))
    (out / "villages.gpkg").write_bytes(table_bytes(shown, ".gpkg", geometry=shown.geometry))
    outputs = {p.name: _output_text(p) for p in sorted(out.iterdir())}
    assert len(outputs) == 14
    # the outputs do hold the imported register: its counts, never its rows
    exited = int((frame["脱贫年份"] != "").sum())
    counts = f"{exited} of {len(frame)} households out"
    assert counts in outputs["targets.csv"][0] and counts in outputs["workbook.xlsx"][0]
    atlas = " ".join(outputs["atlas.pdf"][0].split())  # the table wraps its long cells
    share = f"{100 * exited / len(frame):.1f}"
    row = atlas[atlas.index("Every registered poor household") :][:400]
    assert f" {share} " in f"{row} ", row
    for name, (text, raw) in outputs.items():
        for secret in secrets:
            assert secret not in text, name
        assert key not in raw, name
    for name, err in printed.items():
        assert not any(secret in err for secret in secrets), name


# --- the key that hashes ID numbers: outside every store ---------------------------------------


def _gpkg_bytes(path: Path) -> bytes:
    """A GeoPackage's file with its write-ahead log and shared memory, as raw bytes."""
    return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))


def _stored_hashes(where: str) -> set[str]:
    """The `id_hash` of every household row of a store."""
    query = "SELECT id_hash FROM {p}va_households"
    if where.startswith("postgresql"):
        with psycopg.connect(where) as conn:
            return {r[0] for r in conn.execute(query.format(p=f"{SCHEMA}."))}
    with contextlib.closing(sqlite3.connect(f"{Path(where).as_uri()}?mode=ro", uri=True)) as db:
        return {r[0] for r in db.execute(query.format(p=""))}


def _tables(where: str) -> set[str]:
    if where.startswith("postgresql"):
        with psycopg.connect(where) as conn:
            found = conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (SCHEMA,),
            )
            return {r[0] for r in found}
    with contextlib.closing(sqlite3.connect(f"{Path(where).as_uri()}?mode=ro", uri=True)) as db:
        return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _import(where: str, tmp_path: Path, codes: list[str], n: int = 12) -> pd.DataFrame:
    frame = household_file(codes, n)
    path = write_csv(frame, tmp_path / f"households-{n}.csv")
    assert cli.main(["import-households", str(path), "--store", where]) == 0
    return frame


def _copy_to_gpkg(where: str, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    assert cli.main(["store", "init", str(target)]) == 0
    assert cli.main(["store", "copy", where, "--to", str(target)]) == 0
    return target


def test_the_key_is_in_no_store_copy_or_backup(backend_store, tmp_path, household_key_file):
    handle = store.open_store(backend_store, recheck=True)
    frame = _import(backend_store, tmp_path, handle.read_layer("villages")["code"].head(3).tolist())
    key = importer.household_key()
    assert household_key_file.read_text().strip() == key.hex()
    hashes = {importer.hash_id(n, key) for n in frame["身份证号"]}
    assert _stored_hashes(backend_store) == hashes
    assert "va_secrets" not in _tables(backend_store)
    assert key.hex() not in _store_text(backend_store)
    kept = {"copy": _gpkg_bytes(_copy_to_gpkg(backend_store, tmp_path / "copy" / "c.gpkg"))}
    if not backend_store.startswith("postgresql"):
        kept["store"] = _gpkg_bytes(Path(backend_store))
        assert cli.main(["store", "backup", backend_store]) == 0
        (backup,) = gpkg_backups(Path(backend_store))[:1]
        kept["backup"] = _gpkg_bytes(backup)
    for kind, raw in kept.items():
        assert key.hex().encode() not in raw, kind
        assert key.hex().upper().encode() not in raw, kind
        assert key not in raw, kind
        assert all(h.encode() in raw for h in hashes), kind  # the hashes did come along


def _as_an_older_store(where: str, frame: pd.DataFrame, key: bytes) -> None:
    """Make `where` what an earlier version left: rows hashed under a key kept beside them."""
    handle = store.open_store(where, recheck=True)
    codes = handle.read_layer("villages")["code"]
    rows = importer.prepare(frame, key=key, villages=codes)
    handle.replace_register(importer.aggregate(rows), households=rows, who="old", source="old")
    create = "CREATE TABLE {p}va_secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL)"
    insert = "INSERT INTO {p}va_secrets VALUES ('household_key', %s)"
    if where.startswith("postgresql"):
        with psycopg.connect(where) as conn:
            conn.execute(create.format(p=f"{SCHEMA}."))
            conn.execute(insert.format(p=f"{SCHEMA}."), (key.hex(),))
            conn.execute(sql.SQL("UPDATE {}.va_meta SET value = '2' WHERE key = 'schema'").format(
                sql.Identifier(SCHEMA)))  # fmt: skip
        return
    with contextlib.closing(sqlite3.connect(where)) as db, db:
        db.execute(create.format(p=""))
        db.execute(insert.format(p="").replace("%s", "?"), (key.hex(),))
        db.execute("UPDATE va_meta SET value = '6' WHERE key = 'schema'")


def test_an_older_stores_key_is_gone_after_its_next_write(backend_store, tmp_path):
    handle = store.open_store(backend_store, recheck=True)
    frame = household_file(handle.read_layer("villages")["code"].head(3).tolist(), 6)
    old = bytes(range(32))
    _as_an_older_store(backend_store, frame, old)
    assert "va_secrets" in _tables(backend_store)
    assert old.hex() in _store_text(backend_store)
    gpkg = not backend_store.startswith("postgresql")
    if gpkg:  # a backup the earlier version made
        folder = Path(backend_store).with_name("demo-backups")
        folder.mkdir(exist_ok=True)
        before = tmp_path / "before.gpkg"
        with (
            contextlib.closing(sqlite3.connect(backend_store)) as src,
            contextlib.closing(sqlite3.connect(before)) as dst,
        ):
            src.backup(dst)
        before.rename(folder / "demo-20200101T000000000000-1.gpkg")
        assert old.hex().encode() in _gpkg_bytes(folder / "demo-20200101T000000000000-1.gpkg")
    # a copy of the older store, not written to yet, does not carry its key
    copy = _gpkg_bytes(_copy_to_gpkg(backend_store, tmp_path / "copy" / "c.gpkg"))
    assert old.hex().encode() not in copy
    assert importer.hash_id(frame["身份证号"][0], old).encode() in copy
    store.open_store(backend_store, recheck=True).log_event("test", "a write", "anything")
    assert "va_secrets" not in _tables(backend_store)
    assert old.hex() not in _store_text(backend_store)
    if gpkg:
        for backup in gpkg_backups(Path(backend_store)):
            assert old.hex().encode() not in _gpkg_bytes(backup), backup.name
            assert "va_secrets" not in _tables(str(backup))
    assert store.open_store(backend_store).household_rows() == 6  # the register itself stays


def test_a_backup_upgrades_an_older_store_first(demo_store, tmp_path):
    from tests.helpers import copy_gpkg  # noqa: PLC0415

    where = copy_gpkg(demo_store, tmp_path / "s" / "demo.gpkg")
    frame = household_file(store.open_store(where).read_layer("villages")["code"].head(2).tolist())
    old = bytes(range(1, 33))
    _as_an_older_store(str(where), frame, old)
    assert cli.main(["store", "backup", str(where)]) == 0
    (backup,) = gpkg_backups(where)
    assert old.hex().encode() not in _gpkg_bytes(backup)
    assert old.hex().encode() not in _gpkg_bytes(where)


def test_the_key_file_is_made_private_once(tmp_path, monkeypatch):
    monkeypatch.delenv("VILLAGE_ATLAS_HOUSEHOLD_KEY_FILE")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    path = tmp_path / "config" / "village-atlas" / "household.key"
    keys: list[bytes] = []
    start = threading.Barrier(8)

    def make() -> None:
        start.wait()
        keys.append(importer.household_key())

    threads = [threading.Thread(target=make) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 8 and len(set(keys)) == 1  # every import at once agreed on one key
    assert len(keys[0]) == 32 and path.read_text() == keys[0].hex() + "\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert sorted(p.name for p in path.parent.iterdir()) == ["household.key"]  # no drafts left
    assert importer.household_key() == keys[0]
    path.chmod(0o640)
    with pytest.raises(StoreError, match=r"may be read by other users: .*chmod 600"):
        importer.household_key()
    path.chmod(0o600)
    path.write_text("not a key\n")
    with pytest.raises(StoreError, match=r"is not a key \(64 hex digits\)"):
        importer.household_key()


def test_the_store_alone_cannot_reproduce_a_hash(backend_store, tmp_path, monkeypatch):
    handle = store.open_store(backend_store, recheck=True)
    frame = _import(backend_store, tmp_path, handle.read_layer("villages")["code"].head(3).tolist())
    number = frame["身份证号"][0]
    stored = _stored_hashes(backend_store)
    assert importer.hash_id(number, importer.household_key()) in stored  # with the key file: yes
    text = _store_text(backend_store)
    candidates = set()
    for run in re.findall(r"[0-9a-fA-F]{64,}", text):  # every key the store could be hiding
        candidates |= {run[i : i + 64] for i in range(len(run) - 63)}
    assert len(candidates) >= len(stored)
    for candidate in candidates:
        for key in (bytes.fromhex(candidate), candidate.encode()):
            assert importer.hash_id(number, key) not in stored
    assert hashlib.sha256(number.encode()).hexdigest() not in stored
    monkeypatch.setenv("VILLAGE_ATLAS_HOUSEHOLD_KEY_FILE", str(tmp_path / "lost" / "k.key"))
    assert importer.hash_id(number, importer.household_key()) not in stored  # a new key


# --- the pages ---------------------------------------------------------------------------------


@pytest.fixture
def app(demo_store):
    from streamlit.testing.v1 import AppTest  # noqa: PLC0415

    from tests.helpers import ROOT  # noqa: PLC0415

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception
    return at


def test_overview_shows_households_and_people_out_per_year(app, demo_store):
    register = store.open_store(demo_store).register()
    app.switch_page("pages/overview.py").run()
    assert not app.exception
    metrics = {m.label: int(m.value) for m in app.metric}
    assert (metrics["Households out"], metrics["People out"]) == households.out_by(register, 2017)
    assert metrics["Poor households registered (2014)"] == register.villages["households"].sum()
    per_year = next(f.value for f in app.dataframe if "2016" in map(str, f.value.columns))
    assert (
        per_year.loc["Households out", "2016"]
        == households.exits_by_year(register).loc[2016, "households"]
    )


def test_the_village_file_shows_its_register(app, demo_store):
    register = store.open_store(demo_store).register()
    code = register.villages.index[3]
    village = layers.load("villages").set_index("code").loc[code]
    app.text_input[0].input(village["pinyin"].split()[0]).run()
    app.selectbox[0].select(code).run()
    assert not app.exception
    shown = {}
    for frame in app.dataframe:
        if frame.value.shape[1] == 2:
            shown.update(dict(frame.value.itertuples(index=False, name=None)))
    row = register.villages.loc[code]
    assert shown["Poor households registered (2014)"] == str(row["households"])
    assert shown["Publicity"].startswith(str(row["publicity"]))
    assert shown["Clear tasks"] == f"{row['clear_tasks']} / {row['households']}"


def test_a_copied_store_keeps_the_register(backend_store, demo_store):
    want = store.open_store(demo_store).register()
    got = store.open_store(backend_store, recheck=True).register()
    pd.testing.assert_frame_equal(got.villages, want.villages)
    pd.testing.assert_frame_equal(got.exits, want.exits)
    origin = store.open_store(backend_store).origin("household_register")
    assert origin is not None and origin.synthetic


def test_the_data_page_offers_the_register_import(app):
    app.switch_page("pages/data.py").run()
    assert not app.exception
    assert "Household register" in [h.value for h in app.subheader]


def test_yumen_and_guazhou_schedules_share_every_poor_household(demo_store):
    """The plan's two schedules split the two counties' poor households: none left out."""
    register = store.open_store(demo_store).register()
    plan = {t.key: t for t in targets.load_targets()}
    board = targets.board(tuple(plan.values()), 2017, history=False)
    villages = layers.load("villages").set_index("code")
    county = villages.loc[register.villages.index, "county_code"]
    mine = register.villages[county.isin(["620981", "620922"]).to_numpy()]
    assert (~villages.loc[mine.index, "is_poor"]).any()  # some live outside poor villages
    split = [
        board.loc[k, "of_households"] for k in ("exit_yumen_guazhou_settled", "exit_immigrant")
    ]
    assert sum(split) == mine["households"].sum()
    assert min(split) > 0
