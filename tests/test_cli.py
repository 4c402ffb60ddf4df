"""The `village-atlas` command line: subcommands, output, and the one-line error contract."""

from __future__ import annotations

import subprocess
import sys

import layers

CLI = [sys.executable, "-m", "cli"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, check=False, timeout=300)


def test_layers_lists_the_catalogue_and_validates_the_store(demo_store):
    out = run("layers", "--validate")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert [ln.split()[0] for ln in lines] == list(layers.REGISTRY)
    assert sum(ln.endswith("  ok") for ln in lines) == 15
    assert "Municipal Water Affairs Bureau" in out.stdout


def test_build_demo_into_a_folder(tmp_path):
    out = run("build-demo", "--out", str(tmp_path), "--seed", "7")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "demo.gpkg").stat().st_size > 100_000
    assert (tmp_path / "population.tif").exists()
    villages = layers.load("villages", tmp_path / "demo.gpkg")
    assert 400 <= len(villages) <= 500


def test_usage_error_is_one_line_without_traceback():
    out = run("coverage-of-nothing")
    assert out.returncode == 2
    assert out.stderr.startswith("error: argument command: invalid choice")
    assert len(out.stderr.strip().splitlines()) == 1
    assert "Traceback" not in out.stderr


def test_runtime_error_is_one_line(tmp_path):
    target = tmp_path / "file"
    target.write_text("not a folder")
    out = run("build-demo", "--out", str(target / "sub"))
    assert out.returncode == 2
    assert out.stderr.startswith("error: ")
    assert len(out.stderr.strip().splitlines()) == 1
