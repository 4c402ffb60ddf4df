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
    node = component[graph.seg_a[snaps.segment]]
    assert set(node[440:]) <= set(node[:440])


def test_a_grown_demo_needs_a_folder_and_at_least_the_demo(tmp_path):
    no_out = cli("build-demo", "--villages", "2000")
    assert no_out.returncode == 2
    assert "--villages needs --out" in no_out.stderr
    small = cli("build-demo", "--villages", "100", "--out", str(tmp_path))
    assert small.returncode == 2
    assert "at least the demo's own 440" in small.stderr
    assert not (tmp_path / "demo.gpkg").exists()  # refused before anything is written
