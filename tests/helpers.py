"""Helpers the tests share (not fixtures): copying stores, running the CLI."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
from pathlib import Path

CLI = [sys.executable, "-m", "cli"]


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
