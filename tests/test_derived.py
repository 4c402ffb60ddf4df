"""The road graph kept on disk beside the store: reused, invalidated, never trusted."""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

import layers
import store
from geo import network
from layers import rules
from store import derived
from tests.helpers import read_only_copy


def _roads(extra: bool = False) -> gpd.GeoDataFrame:
    """A grid of winding roads near Guazhou (several vertices per link), one added if `extra`."""
    geoms = []
    for i in range(4):
        for j in range(4):
            x, y = 95.7 + i * 0.01, 40.5 + j * 0.01
            if i < 3:
                geoms.append(shapely.LineString([(x, y), (x + 0.005, y + 0.001), (x + 0.01, y)]))
            if j < 3:
                geoms.append(shapely.LineString([(x, y), (x - 0.001, y + 0.005), (x, y + 0.01)]))
    if extra:
        geoms.append(shapely.LineString([(95.71, 40.51), (95.73, 40.53)]))
    n = len(geoms)
    return gpd.GeoDataFrame(
        {
            "name": [f"r{i}" for i in range(n)],
            "road_class": "village",
            "surface": "asphalt",
            "all_season": True,
            "year_built": [2010 + i % 10 for i in range(n)],
            "year_hardened": 2015,
        },
        geometry=geoms,
        crs=4326,
    )


@pytest.fixture
def small_store(tmp_path: Path) -> store.Store:
    return store.write_store(tmp_path / "s.gpkg", {"roads": _roads()}, who="t", source="t")


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the graphs built from roads (not read back from disk)."""
    calls: list[int] = []
    real = network.build_graph

    def counted(roads: gpd.GeoDataFrame, **kwargs: object) -> network.RoadGraph:
        calls.append(len(roads))
        return real(roads, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(network, "build_graph", counted)
    return calls


def _graph(handle: store.Store, year: int = 2019) -> network.RoadGraph:
    def load(key: str) -> gpd.GeoDataFrame:
        return layers.load(key, handle.location)

    return rules.road_graph(year, load, cache_in=handle)


def _distances(graph: network.RoadGraph) -> np.ndarray:
    villages = gpd.GeoDataFrame(
        geometry=shapely.points([(95.703, 40.502), (95.722, 40.521), (95.735, 40.534)]), crs=4326
    )
    stop = gpd.GeoDataFrame(geometry=[shapely.Point(95.711, 40.507)], crs=4326)
    return network.network_distance(graph, villages, stop)["network_distance_m"].to_numpy()


def test_second_build_is_read_from_disk(small_store, builds):
    first = _graph(small_store)
    kept = small_store.derived_dir() / "road_graph-2019.npz"
    assert kept.is_file()
    assert kept.parent == Path(small_store.location).with_name("s.cache")
    second = _graph(small_store)
    assert builds == [len(_roads())]  # built once, then read back
    np.testing.assert_array_equal(_distances(second), _distances(first))
    assert np.isfinite(_distances(first)).all()
    _graph(small_store, 2012)  # another year is another graph
    assert builds == [len(_roads()), int((_roads()["year_built"] <= 2012).sum())]


def test_a_changed_roads_layer_builds_again(small_store, builds):
    before = _distances(_graph(small_store))
    small_store.replace_layers({"roads": _roads(extra=True)}, who="t", source="t2")
    after = _distances(_graph(small_store))
    assert builds == [len(_roads()), len(_roads()) + 1]
    assert after[2] < before[2]  # the new diagonal road is a shortcut
    _graph(small_store)
    assert len(builds) == 2  # and the new graph is kept in turn


@pytest.mark.parametrize("damage", ["garbage", "truncated", "flipped", "empty", "other_arrays"])
def test_a_damaged_file_is_rebuilt_not_trusted(small_store, builds, damage):
    expected = _distances(_graph(small_store))
    kept = small_store.derived_dir() / "road_graph-2019.npz"
    data = kept.read_bytes()
    if damage == "garbage":
        kept.write_bytes(os.urandom(len(data)))
    elif damage == "truncated":
        kept.write_bytes(data[: len(data) * 2 // 3])
    elif damage == "flipped":  # one byte inside an array: its checksum no longer matches
        middle = len(data) // 2
        kept.write_bytes(data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :])
    elif damage == "empty":
        kept.write_bytes(b"")
    else:  # a well-formed file of the right version holding arrays that are not a graph
        with np.load(kept) as archive:
            version = str(archive["__version__"])
        derived.write_arrays(small_store, "road_graph-2019", version, {"x": np.zeros(3)})
    again = _graph(small_store)
    assert len(builds) == 2
    np.testing.assert_array_equal(_distances(again), expected)
    assert derived.read_arrays(small_store, "road_graph-2019", "nope") is None
    _graph(small_store)
    assert len(builds) == 2  # the rebuilt graph replaced the damaged file


def test_a_store_that_cannot_be_written_still_answers(demo_store, tmp_path, builds):
    with read_only_copy(demo_store, tmp_path / "ro") as path:
        handle = store.open_store(path)
        first, second = _graph(handle, 2017), _graph(handle, 2017)
        assert not handle.derived_dir().exists()
    assert len(builds) == 2  # nothing kept: built each time
    assert len(first.seg_a) == len(second.seg_a) > 0


def test_the_default_reader_uses_the_configured_store(tmp_path, builds, monkeypatch):
    handle = store.write_store(tmp_path / "c.gpkg", {"roads": _roads()}, who="t", source="t")
    monkeypatch.setenv("VILLAGE_ATLAS_STORE", handle.location)
    rules.road_graph(2019)
    rules.road_graph(2019)
    assert len(builds) == 1
    rules.road_graph(2019, lambda key: layers.load(key, handle.location))
    assert len(builds) == 2  # another reader: no disk cache


def test_read_and_write_arrays(small_store):
    arrays = {"a": np.arange(5), "b": np.linspace(0, 1, 3)}
    assert derived.read_arrays(small_store, "thing", "v1") is None
    assert derived.write_arrays(small_store, "thing", "v1", arrays)
    back = derived.read_arrays(small_store, "thing", "v1")
    assert back is not None
    assert sorted(back) == ["a", "b"]
    np.testing.assert_array_equal(back["b"], arrays["b"])
    assert derived.read_arrays(small_store, "thing", "v2") is None
    with pytest.raises(ValueError, match="not a name"):
        derived.read_arrays(small_store, "../x", "v1")
    for i in range(derived.KEEP_FILES + 2):
        derived.write_arrays(small_store, f"n{i}", "v", arrays)
    kept = sorted(p.name for p in small_store.derived_dir().iterdir())
    assert len(kept) == derived.KEEP_FILES
    assert "thing.npz" not in kept  # the oldest went first
    assert not [name for name in kept if not name.endswith(".npz")]  # no temporary file left
