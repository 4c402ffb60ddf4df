"""Benchmark the store (GeoPackage and PostGIS) against plain geopandas, measured in one run.

    .venv/bin/python benchmarks/store.py              # 100k features (about a minute)
    .venv/bin/python benchmarks/store.py --n 20000

Cases: replacing a layer of N points (ours: scratch file, backup, one transaction; the
reference: `GeoDataFrame.to_file` over a plain file, with no backup, lock or audit),
reading it back (reference: `geopandas.read_file`), and one audited, version-checked edit
(median of 50; the goal is under 50 ms; reference: rewriting the layer with `to_file`,
what an app without row edits would do). PostGIS runs on a throwaway local cluster
(needs Debian's postgresql and postgresql-15-postgis-3, as `make test` installs).
Prints times and ratios (ours / reference: below 1 is faster). Machines here are noisy:
read the ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import store
from tests.pgcluster import cluster

EDITABLE = {"cadre": "str"}


def points(n: int) -> gpd.GeoDataFrame:
    """N synthetic villages over the prefecture, with a code and a few attributes."""
    rng = np.random.default_rng(1)
    return gpd.GeoDataFrame(
        {
            "code": [f"6209{i:08d}" for i in range(n)],
            "name_zh": [f"村{i}" for i in range(n)],
            "population": rng.integers(100, 3000, n),
            "cadre": ["某某"] * n,
        },
        geometry=gpd.points_from_xy(rng.uniform(93, 100, n), rng.uniform(38.5, 42, n)),
        crs=4326,
    )


def timed(fn: Callable[[], object]) -> float:
    """Return the best of three runs, in seconds."""
    best = np.inf
    for _ in range(3):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return float(best)


def edit_ms(handle: store.Store, codes: list[str]) -> float:
    """Return the median time of 50 audited, version-checked edits, in milliseconds."""
    times = []
    for i, code in enumerate(codes[:50]):
        _, version = handle.current("villages", code, ["cadre"])
        start = time.perf_counter()
        handle.edit(
            "villages",
            code,
            {"cadre": f"张{i}"},
            expected_version=version,
            who="bench",
            allowed=EDITABLE,
        )
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def row(case: str, ours: float, reference: float, unit: str = "s") -> None:
    """Print one line of the table."""
    scale = 1000 if unit == "ms" else 1
    cells = f"{ours * scale:8.3f} {unit} | {reference * scale:8.3f} {unit}"
    print(f"| {case:44} | {cells} | {ours / reference:5.2f}x |")


def main() -> None:
    """Run every case and print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    n = parser.parse_args().n
    gdf = points(n)
    codes = gdf["code"].sample(50, random_state=2).tolist()
    print(f"| case ({n:,} points) | ours | reference | ratio |\n|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        plain = Path(folder) / "plain.gpkg"
        write_ref = timed(
            lambda: gdf.to_file(plain, layer="villages", driver="GPKG", engine="pyogrio")
        )
        read_ref = timed(lambda: gpd.read_file(plain, layer="villages", engine="pyogrio"))
        gpkg = store.create_store(Path(folder) / "atlas.gpkg")
        row(
            "GeoPackage: replace layer (with backup)",
            timed(lambda: gpkg.replace_layers({"villages": gdf}, who="bench", source="bench")),
            write_ref,
        )
        row("GeoPackage: read layer", timed(lambda: gpkg.read_layer("villages")), read_ref)
        row("GeoPackage: one edit (median of 50)", edit_ms(gpkg, codes) / 1000, write_ref, "ms")
        with cluster() as running:
            pg = store.create_store(running.new_database())
            row(
                "PostGIS: replace layer",
                timed(lambda: pg.replace_layers({"villages": gdf}, who="bench", source="bench")),
                write_ref,
            )
            row("PostGIS: read layer", timed(lambda: pg.read_layer("villages")), read_ref)
            row("PostGIS: one edit (median of 50)", edit_ms(pg, codes) / 1000, write_ref, "ms")


if __name__ == "__main__":
    main()
