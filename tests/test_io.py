"""The GeoPackage store: listing, reading, atomic writes that never damage what is there."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

from geo import io
from geo.errors import StoreError


def _points(n: int) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": [f"p{i}" for i in range(n)]},
        geometry=[shapely.Point(95 + i / 10, 40) for i in range(n)],
        crs=4326,
    )


def test_round_trip(tmp_path):
    path = io.write_layers({"a": _points(3), "b": _points(2)}, tmp_path / "s.gpkg")
    assert io.list_layers(path) == ["a", "b"]
    back = io.read_layer("b", path)
    assert back["name"].tolist() == ["p0", "p1"]
    assert back.crs == "EPSG:4326"


def test_missing_store_and_layer_say_what_to_do(tmp_path):
    with pytest.raises(
        StoreError, match="does not exist: build the demo data with `village-atlas build-demo`"
    ):
        io.list_layers(tmp_path / "none.gpkg")
    path = io.write_layers({"a": _points(1)}, tmp_path / "s.gpkg")
    with pytest.raises(StoreError, match=r"layer 'roads' is not in .* \(it holds: a\)"):
        io.read_layer("roads", path)


def test_not_a_geopackage(tmp_path):
    bogus = tmp_path / "s.gpkg"
    bogus.write_text("<VRTDataset></VRTDataset>")
    with pytest.raises(StoreError, match="not a readable GeoPackage"):
        io.list_layers(bogus)


def test_failed_write_leaves_the_old_store_intact(tmp_path):
    path = io.write_layers({"a": _points(3)}, tmp_path / "s.gpkg")
    before = path.read_bytes()
    broken = _points(2)
    broken["bad"] = [1 + 2j, 3j]  # complex numbers cannot be written: the write fails midway
    with pytest.raises(NotImplementedError, match="complex128"):
        io.write_layers({"new": _points(2), "broken": broken}, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["s.gpkg"]
