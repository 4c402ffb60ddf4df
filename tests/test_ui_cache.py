"""The versioned cache: a rerun is a look-up; an import or edit, or new targets, recompute."""

from __future__ import annotations

import layers
import store
from tests.helpers import copy_gpkg
from ui.cache import versioned

calls: list[tuple[str, int]] = []


@versioned(max_entries=4)
def _counted(name: str, year: int) -> int:
    calls.append((name, year))
    return len(calls)


def test_cached_until_the_store_changes(demo_store, tmp_path, monkeypatch):
    path = copy_gpkg(demo_store, tmp_path / "demo.gpkg")
    monkeypatch.setenv("VILLAGE_ATLAS_STORE", str(path))
    calls.clear()
    assert _counted("a", 2016) == _counted("a", 2016) == 1
    assert _counted("a", 2017) == 2  # other arguments, another entry
    handle = store.open_store(path)
    code = layers.load("villages", path)["code"].iloc[0]
    _, version = handle.current("villages", code, ["bus_year"])
    handle.edit(
        "villages",
        code,
        {"bus_year": 2016},
        expected_version=version,
        who="t",
        allowed=layers.editable_fields("villages"),
    )
    assert _counted("a", 2016) == 3  # the edit changed the villages' revision
    assert _counted("a", 2016) == 3
    assert calls == [("a", 2016), ("a", 2017), ("a", 2016)]


def test_a_click_picks_the_village_within_50_metres():
    import geopandas as gpd  # noqa: PLC0415
    import pyproj  # noqa: PLC0415

    from ui import village_at  # noqa: PLC0415

    villages = gpd.GeoDataFrame(
        {"code": ["a", "b"]}, geometry=gpd.points_from_xy([96.0, 96.1], [40.0, 40.0]), crs=4326
    )
    geod = pyproj.Geod(ellps="WGS84")
    for metres, expected in ((40.0, "a"), (60.0, None)):
        lng, lat, _ = geod.fwd(96.0, 40.0, 30.0, metres)  # north-east of "a"
        assert village_at(villages, lat, lng) == expected


def test_revisions_are_read_once_per_rerun_and_another_process_is_seen_soon(
    demo_store, tmp_path, monkeypatch
):
    import time  # noqa: PLC0415

    from tests.helpers import cli  # noqa: PLC0415
    from ui import cache  # noqa: PLC0415

    path = copy_gpkg(demo_store, tmp_path / "demo.gpkg")
    monkeypatch.setenv("VILLAGE_ATLAS_STORE", str(path))
    handle = store.open_store(path)
    reads = []
    real = type(handle).revisions
    monkeypatch.setattr(type(handle), "revisions", lambda self: reads.append(1) or real(self))
    first = cache.revisions()
    for _ in range(20):  # a page's dozen loaders in one rerun: one query
        assert cache.revisions() == first
    assert len(reads) == 1
    code = layers.load("villages", path)["code"].iloc[0]
    done = cli("edit", code, "--set", "bus_year=2016", "--user", "t", "--store", str(path))
    assert done.returncode == 0, done.stderr
    time.sleep(cache.FRESH_S + 0.1)  # another process's edit: seen once the read goes stale
    second = cache.revisions()
    assert second != first
    _, version = handle.current("villages", code, ["bus_year"])
    handle.edit(
        "villages", code, {"bus_year": 2015}, expected_version=version, who="t",
        allowed=layers.editable_fields("villages"),
    )  # fmt: skip
    assert cache.revisions() != second  # this process's own edit: seen at once


def _features(script: str) -> list[object]:
    """The GeoJSON features a group's script hands to Leaflet (its one ``_add({...})`` call)."""
    import json  # noqa: PLC0415
    import re  # noqa: PLC0415

    (data,) = re.findall(r"^\s*geo_json_\w+_add\((\{.*\})\);$", script, flags=re.MULTILINE)
    return json.loads(data)["features"]


def test_a_prerendered_group_draws_what_the_group_draws(demo_store):
    import folium  # noqa: PLC0415
    from streamlit_folium import _get_feature_group_string  # noqa: PLC0415

    from layers import render  # noqa: PLC0415
    from ui.groups import PrerenderedGroup, group_script  # noqa: PLC0415

    spec = layers.get_layer("bus_stops")
    stops = layers.load("bus_stops", demo_store).head(5)
    tooltip = {"name": "Name"}
    plain, _ = render.feature_group(spec, stops, title="Stops", tooltip=tooltip)
    cached = PrerenderedGroup("Stops", group_script(render.feature_group(
        spec, stops, title="Stops", tooltip=tooltip, show=False
    )[0]))  # fmt: skip
    for_plain = _get_feature_group_string(plain, folium.Map(), idx=0)
    for_cached = _get_feature_group_string(cached, folium.Map(), idx=1)
    assert "\u01c2" not in for_cached  # every placeholder filled
    assert "var feature_group_feature_group_1 = L.featureGroup(" in for_cached
    assert ".addTo(feature_group_feature_group_1)" in for_cached  # its layer joins it
    assert "map_div.addLayer(feature_group_feature_group_1);" in for_cached
    assert _features(for_cached) == _features(for_plain)
    assert len(_features(for_cached)) == 5
    assert for_cached.count("bindTooltip") == for_plain.count("bindTooltip") == 1


def test_a_group_script_is_the_same_each_time_and_leaves_data_alone(demo_store):
    from layers import render  # noqa: PLC0415
    from ui.groups import PrerenderedGroup, group_script  # noqa: PLC0415

    spec = layers.get_layer("bus_stops")
    stops = layers.load("bus_stops", demo_store).head(3).copy()
    tricky = ["\u01c2map\u01c2", "va\u01c2base_0", "\u01c2group\u01c2 </script>"]
    stops["name"] = tricky  # the placeholders' own text, as data

    def script() -> str:
        group, _ = render.feature_group(spec, stops, title="S", tooltip={"name": "N"}, show=False)
        return group_script(group)

    first = script()
    assert script() == first  # same names each time: the browser keeps the map
    import folium  # noqa: PLC0415

    fmap = folium.Map()
    cached = PrerenderedGroup("S", first).add_to(fmap)
    filled = cached.filled_script()
    names = [f["properties"]["name"] for f in _features(filled)]
    assert names == [render.escape(t) for t in tricky]  # escaped as always, never replaced
    assert filled.rstrip().endswith(f"{cached.get_name()}.addTo({fmap.get_name()});")


def test_an_uploaded_table_is_saved_privately_under_its_kind_and_removed_after():
    from streamlit.proto.Common_pb2 import FileURLs  # noqa: PLC0415
    from streamlit.runtime.uploaded_file_manager import UploadedFile, UploadedFileRec  # noqa: PLC0415

    import ui  # noqa: PLC0415

    hostile = "../../" + "x" * 300 + ".XLSX"
    upload = UploadedFile(
        UploadedFileRec("f1", hostile, "application/octet-stream", b"PK\x03\x04"), FileURLs()
    )
    with ui.saved_table(upload, "indicators") as saved:
        assert saved is not None
        path, name = saved
        assert path.name == "indicators.xlsx"  # its kind's name, never the upload's
        assert path.read_bytes() == b"PK\x03\x04"
        assert name == ("x" * 300 + ".XLSX")[:200]  # no folders, cut for the record
        assert "/" not in name
    assert not path.exists()
    plain = UploadedFile(UploadedFileRec("f2", "counts.csv", "text/csv", b"a,b\n"), FileURLs())
    with ui.saved_table(plain, "households") as saved:
        assert saved is not None and saved[0].name == "households.csv"
