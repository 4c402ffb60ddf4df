"""`build-demo --villages N`: a demo of any size whose new villages hang on the road network."""

from __future__ import annotations

import shapely
from scipy.sparse.csgraph import connected_components

import layers
from geo import network
from tests.helpers import cli


def test_a_grown_demo_keeps_codes_townships_and_roads_whole(tmp_path):
    done = cli("build-demo", "--villages", "1500", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    where = tmp_path / "demo.gpkg"
    villages = layers.load("villages", where)
    assert len(villages) == 1500
    assert villages["code"].is_unique
    assert villages["code"].str.fullmatch(r"\d{12}").all()
    assert (villages["code"].str[:9] == villages["township_code"]).all()
    towns = layers.load("townships", where).set_index("code")
    new = villages.iloc[440:]
    inside = shapely.contains(towns.geometry.loc[new["township_code"]].to_numpy(), new.geometry)
    assert inside.mean() > 0.99  # all but points on a border line
    assert not layers.problems("villages", villages)
    # every new village reaches the network by its spur: same component as an old village
    graph = network.build_graph(layers.load("roads", where))
    _, component = connected_components(graph.matrix[:-1, :-1], directed=False)
    snaps = network.snap(graph, villages)
    assert snaps.distance.max() < 1.0  # each village sits at the start of its own spur
    node = component[graph.edge_a[graph.seg_edge[snaps.segment]]]  # the matrix joins junctions
    assert set(node[440:]) <= set(node[:440])


def test_a_grown_demo_needs_a_folder_and_at_least_the_demo(tmp_path):
    no_out = cli("build-demo", "--villages", "2000")
    assert no_out.returncode == 2
    assert "--villages needs --out" in no_out.stderr
    small = cli("build-demo", "--villages", "100", "--out", str(tmp_path))
    assert small.returncode == 2
    assert "at least the demo's own 440" in small.stderr
    assert not (tmp_path / "demo.gpkg").exists()  # refused before anything is written


def test_the_map_groups_villages_by_zoom_when_there_are_too_many(tmp_path, monkeypatch):
    import re  # noqa: PLC0415

    import streamlit_folium  # noqa: PLC0415
    from streamlit.testing.v1 import AppTest  # noqa: PLC0415

    from layers import render  # noqa: PLC0415
    from tests.helpers import ROOT  # noqa: PLC0415

    done = cli("build-demo", "--villages", "3000", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    monkeypatch.setenv("VILLAGE_ATLAS_STORE", str(tmp_path / "demo.gpkg"))
    sent: list[dict[str, object]] = []
    answer: dict[str, object] = {}  # what the map in the browser reports back

    def record(**kwargs: object) -> object:
        sent.append(kwargs)
        return answer or kwargs["default"]

    monkeypatch.setattr(streamlit_folium, "_component_func", record)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception
    script = str(sent[-1]["feature_group"])
    groups = [int(n) for n in re.findall(r'"name_zh": "(\d+) villages \(zoom in', script)]
    assert sum(groups) == 3000  # every village in one group or another
    assert len(groups) <= render.POINTS_MAX
    # zoomed in on one village's surroundings, the villages there are drawn one by one
    village = layers.load("villages", tmp_path / "demo.gpkg").iloc[100]
    x, y = village.geometry.x, village.geometry.y
    answer.update(
        zoom=12,
        bounds={
            "_southWest": {"lng": x - 0.05, "lat": y - 0.03},
            "_northEast": {"lng": x + 0.05, "lat": y + 0.03},
        },
        last_object_clicked=None,
    )  # the user zoomed in there
    at.run()
    at.run()
    assert not at.exception
    script = str(sent[-1]["feature_group"])
    assert f'"code": "{village["code"]}"' in script
    assert "zoom in to see each" not in script
