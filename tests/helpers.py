"""Helpers the tests share (not fixtures): copying stores, running the CLI."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

CLI = [sys.executable, "-m", "cli"]
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"

HOSTILE_NAMES = [
    '<img src=x onerror="window.__xss=1;alert(1)">',
    "</script><script>window.__xss=2;alert(2)</script>",
    "${window.__xss=3}",
    "`${alert(4)}`\\u0060",
]
#: Names that are harmless in HTML but would fetch an image or make a link in Markdown.
MARKDOWN_NAMES = [
    "![__xss va-markdown](http://va-markdown.test/t.png)",
    "[__xss va-markdown link](http://va-markdown.test/click)",
]


def copy_gpkg(source: Path, target: Path) -> Path:
    """Copy a GeoPackage store consistently (SQLite's backup API, WAL included)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with (
        contextlib.closing(sqlite3.connect(source)) as src,
        contextlib.closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)
    return target


def cli(
    *args: str,
    timeout: float = 300,
    env: dict[str, str] | None = None,
    input_text: str = "",
) -> subprocess.CompletedProcess[str]:
    """Run ``village-atlas ARGS`` in a separate process (stdin: `input_text`)."""
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
        input=input_text,
    )


def integrity(path: Path) -> str:
    """Return SQLite's full integrity check of a GeoPackage ("ok" when sound)."""
    with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as db:
        return "; ".join(str(r[0]) for r in db.execute("PRAGMA integrity_check"))


def revisions(path: Path) -> list[tuple[str, int]]:
    """Return each layer's revision in a GeoPackage store: any write changes them."""
    with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as db:
        return sorted(db.execute("SELECT layer, revision FROM va_layers").fetchall())


def log_in(at: object, name: str, password: str) -> object:
    """Fill in and submit the app's login form (an AppTest); return it."""
    at.text_input(key="login_name").input(name)  # type: ignore[attr-defined]
    at.text_input(key="login_password").input(password)  # type: ignore[attr-defined]
    next(b for b in at.button if b.label == "Log in").click().run()  # type: ignore[attr-defined]
    assert not at.exception  # type: ignore[attr-defined]
    return at


@contextlib.contextmanager
def read_only_copy(demo_store: Path, folder: Path) -> Iterator[Path]:
    """A copy of the demo store that cannot be written: on a read-only disk when root (root
    ignores file modes), else in a read-only folder."""
    folder.mkdir()
    if os.geteuid() != 0:
        path = copy_gpkg(demo_store, folder / "demo.gpkg")
        path.chmod(0o444)
        folder.chmod(0o555)
        yield path
        folder.chmod(0o755)
        return
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(folder)], check=True)
    try:
        path = copy_gpkg(demo_store, folder / "demo.gpkg")
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        yield path
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def write_tif(path: Path, data: object, *, crs: str, transform: object, **profile: object) -> Path:
    """Write a small single-band GeoTIFF for a test (`data`: a 2-D array)."""
    import numpy as np  # noqa: PLC0415
    import rasterio  # noqa: PLC0415

    band = np.asarray(data)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=band.shape[1],
        height=band.shape[0],
        count=1,
        dtype=band.dtype,
        crs=crs,
        transform=transform,
        **profile,
    ) as dst:
        dst.write(band, 1)
    return path


def in_scope_by_hand(row: object, scope: object) -> bool:
    """The plan's words, by hand: whether a clause of `scope` asks about the village `row`."""
    from layers.clauses import Scope  # noqa: PLC0415

    if scope is Scope.POOR_VILLAGES:
        return bool(row.is_poor)  # type: ignore[attr-defined]
    if scope is Scope.IMMIGRANT_VILLAGES:
        return bool(row.is_immigrant)  # type: ignore[attr-defined]
    assert scope in (Scope.ALL_VILLAGES, Scope.HOUSEHOLDS, Scope.PEOPLE)
    return True


def uncovered_by_hand(key: str, year: int) -> dict[str, bool]:
    """Each village left out by rule `key` as of `year` (code -> in the rule's scope).

    Read one row at a time from the villages table (the rule's year column, `is_poor`)
    and, for a distance rule, the distances the coverage engine measures to the
    facilities of the year; nothing from the gap code under test.
    """
    import pandas as pd  # noqa: PLC0415

    import layers  # noqa: PLC0415
    from geo.coverage import nearest_distance  # noqa: PLC0415
    from geo.status import year_of  # noqa: PLC0415
    from layers.rules import RULES, facilities_for  # noqa: PLC0415

    rule = RULES[key]
    villages = layers.load("villages")
    claimed = year_of(villages, rule.village_column) if rule.village_column else None
    distance = None
    if rule.within_m is not None:
        facilities = facilities_for(rule, year)
        distance = nearest_distance(villages, facilities)["distance_m"].to_numpy()
    out = {}
    for i, row in enumerate(villages.itertuples()):
        when = None if claimed is None else claimed.iloc[i]
        by_file = when is not None and not pd.isna(when) and int(when) <= year
        if distance is None:
            ok = by_file
        else:
            ok = distance[i] <= rule.within_m or (rule.flag_counts and by_file)
        if not ok:
            out[row.code] = in_scope_by_hand(row, rule.scope)
    return out
