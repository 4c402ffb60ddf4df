"""The map builder: local assets only, escaped text, dropped bad features, styles."""

from __future__ import annotations

import json
import re

import geopandas as gpd
import numpy as np
import pytest
import shapely
import streamlit_folium

import layers
from layers import assets, render
from tests.helpers import HOSTILE_NAMES

URL = re.compile(r"https?://[^\s\"'<>)]+")


def build_demo_map() -> object:
    villages = layers.load("villages").assign(status="poor")
    fmap = render.base_map(layers.load("prefecture").total_bounds)
    rgb, bounds = render.relief_image(layers.raster_path("relief"))
    render.relief_overlay(rgb, bounds).add_to(fmap)
    for key, gdf in (
        ("counties", layers.load("counties")),
        ("villages", villages),
        ("roads", layers.load("roads")),
    ):
        group, _ = render.feature_group(
            layers.get_layer(key),
            gdf,
            title=key,
            tooltip={"name_zh": "名称"} if key == "villages" else {},
        )
        group.add_to(fmap)
    return fmap


def component_args(fmap) -> dict[str, object]:
    """What streamlit-folium would send to the browser for `fmap` (its own helpers)."""
    leaflet = streamlit_folium._get_map_string(fmap)
    links: list[str] = []
    for elem in [fmap, *fmap._children.values()]:
        links += [u for _, u in getattr(elem, "default_js", []) + getattr(elem, "default_css", [])]
    return {
        "script": leaflet,
        "header": streamlit_folium._get_header(fmap),
        "html": streamlit_folium._get_html(fmap),
        "links": links,
    }


def test_map_and_component_arguments_hold_no_internet_url(demo_store):
    fmap = build_demo_map()
    page = fmap.get_root().render()
    assert URL.findall(page) == []
    args = component_args(fmap)
    assert URL.findall(json.dumps(args)) == []
    assert args["links"][0] == "/app/static/vendor/leaflet/leaflet.js"
    assert "L.Icon.Default.imagePath = '/app/static/vendor/leaflet/images/'" in page
    assert not re.search(r"\bd3(\.v\d|\.min)?\.js", page)  # no branca colormap: d3 from a CDN


def test_vendor_files_install_from_packages(tmp_path):
    target = assets.install(tmp_path)
    served = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    assert "leaflet/leaflet.js" in served
    assert "leaflet/images/marker-icon.png" in served
    for _, url in assets.JS + assets.CSS + assets.CLUSTER_JS + assets.CLUSTER_CSS:
        assert (target / url.removeprefix(assets.BASE_URL + "/")).stat().st_size > 500
    assert "Leaflet 1.9" in (target / "leaflet/leaflet.js").read_text()


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_are_escaped_everywhere(name):
    gdf = gpd.GeoDataFrame({"name_zh": [name]}, geometry=[shapely.Point(95, 40)], crs=4326)
    group, _ = render.feature_group(
        layers.get_layer("villages"), gdf, title=name, tooltip={"name_zh": name}
    )
    fmap = render.base_map([94, 39, 96, 41])
    group.add_to(fmap)
    page = fmap.get_root().render()
    assert name not in page
    layer = next(iter(group._children.values()))
    assert layer.data["features"][0]["properties"]["name_zh"] == render.escape(name)
    for raw in ("<img", "<script>window", "${window", "${alert", "`${"):
        assert raw not in page


def test_non_finite_and_empty_features_are_dropped_and_counted():
    gdf = gpd.GeoDataFrame(
        {"name": ["ok", "nan", "inf", "empty", "none"]},
        geometry=[
            shapely.Point(95, 40),
            shapely.Point(np.nan, 40),
            shapely.Point(np.inf, 1),
            shapely.Point(),
            None,
        ],
        crs=4326,
    )
    group, dropped = render.feature_group(layers.get_layer("bus_stops"), gdf, title="stops")
    assert dropped == 4
    data = next(iter(group._children.values())).data
    assert [f["properties"] for f in data["features"]] == [{}]
    assert len(data["features"]) == 1


def test_coordinates_are_rounded_to_about_a_metre():
    gdf = gpd.GeoDataFrame(
        geometry=[shapely.LineString([(95.123456789, 40.987654321), (95.2, 41.0)])], crs=4326
    )
    data, _ = render.geojson(gdf)
    assert data["features"][0]["geometry"]["coordinates"][0] == (95.12346, 40.98765)


def test_styles_follow_the_catalogue():
    roads = gpd.GeoDataFrame(
        {"road_class": ["expressway", "village"]},
        crs=4326,
        geometry=[shapely.LineString([(95, 40), (95.1, 40)])] * 2,
    )
    group, _ = render.feature_group(layers.get_layer("roads"), roads, title="roads")
    layer = next(iter(group._children.values()))
    colours = [layer.style_function(f)["color"] for f in layer.data["features"]]
    assert colours == ["#b2182b", "#dfc27d"]
    villages = gpd.GeoDataFrame({"status": ["poor"]}, geometry=[shapely.Point(95, 40)], crs=4326)
    group, _ = render.feature_group(layers.get_layer("villages"), villages, title="v")
    layer = next(iter(group._children.values()))
    style = layer.style_function(layer.data["features"][0])
    assert style["fillColor"] == "#d7191c"
    assert style["fill"] is True


def test_relief_is_an_inline_image_over_the_prefecture():
    rgb, bounds = render.relief_image(layers.raster_path("relief"))
    assert rgb.shape[2] == 3
    assert rgb.min() >= 0
    assert rgb.max() <= 1
    (south, west), (north, east) = bounds
    assert west < 92.4
    assert south < 38.2
    assert east > 100.2
    assert north > 42.8
    assert rgb.std() > 0.02  # real relief, not a flat colour
