"""The layer catalogue: required keys and fields, lookup, validation reporting every problem."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

import layers
from geo.errors import SchemaError, UnknownLayerError
from layers.i18n import STRINGS, t

REQUIRED_KEYS = [
    "prefecture",
    "counties",
    "townships",
    "villages",
    "roads",
    "bus_stops",
    "water_channels",
    "water_works",
    "fibre_lines",
    "fibre_access_points",
    "power_lines",
    "forest_network",
    "land_improvement",
    "express_outlets",
    "schools",
    "population",
    "relief",
]


def test_catalogue_has_every_required_layer():
    missing = set(REQUIRED_KEYS) - set(layers.REGISTRY)
    assert not missing


@pytest.mark.parametrize("key", list(layers.REGISTRY))
def test_every_entry_is_complete(key):
    spec = layers.get_layer(key)
    assert spec.title_en
    assert spec.title_zh
    assert any("\u4e00" <= ch <= "\u9fff" for ch in spec.title_zh)
    assert spec.bureau.name_en.startswith("Municipal")
    assert spec.source
    assert spec.licence
    assert spec.date
    assert isinstance(spec.theme, layers.Theme)
    assert spec.is_raster == (spec.path is not None)
    assert spec.is_raster or spec.columns


def test_lead_bureaus_follow_the_plan():
    lead = {k: layers.get_layer(k).bureau.key for k in REQUIRED_KEYS}
    assert lead["roads"] == lead["bus_stops"] == "transport"
    assert lead["water_channels"] == lead["water_works"] == "water"
    assert lead["fibre_lines"] == lead["express_outlets"] == "commerce"
    assert lead["forest_network"] == "forestry"
    assert lead["power_lines"] == "energy"
    assert lead["land_improvement"] == "land"
    assert lead["villages"] == "poverty_office"
    assert layers.BUREAUS["postal"] in layers.get_layer("express_outlets").cooperating


def test_unknown_key_lists_the_valid_ones():
    with pytest.raises(
        UnknownLayerError, match=r"No layer matching 'busstops'\. Valid keys: prefecture"
    ):
        layers.get_layer("busstops")
    assert layers.get_layer("Water-Channels").key == "water_channels"


def test_enums_accept_loose_spelling():
    assert layers.Theme("Transport") is layers.Theme.TRANSPORT
    assert layers.GeometryKind("polygon") is layers.GeometryKind.POLYGON


def test_invalid_spec_is_refused_listing_every_problem():
    base = layers.get_layer("bus_stops")
    with pytest.raises(ValueError, match=r"must be a lower-case identifier.*unknown column types"):
        layers.LayerSpec(
            key="Bus Stops",
            title_en="x",
            title_zh="x",
            theme=base.theme,
            geometry=base.geometry,
            columns={"name": "text"},
            style=base.style,
            bureau=base.bureau,
            cooperating=(),
            source="x",
            licence="x",
            date="x",
        )


def test_validate_reports_every_problem_at_once():
    bad = gpd.GeoDataFrame(
        {"name": ["A", 5, None], "year_opened": [2015, 1800, None]},
        geometry=[shapely.Point(95, 40), shapely.LineString([(0, 0), (1, 1)]), None],
        crs="EPSG:4326",
    )
    with pytest.raises(SchemaError) as info:
        layers.validate("bus_stops", bad)
    message = str(info.value)
    assert "column `name` must hold text: 1 bad row(s) (1)" in message
    assert (
        "column `year_opened` must hold year 1949-2100, or empty (not yet): 1 bad row(s) (1)"
        in message
    )
    assert "1 empty or missing geometries (rows 2)" in message
    assert "geometries of type LineString; expected MultiPoint, Point" in message
    assert message.count("\n- ") == 4


def test_validate_casts_years_to_nullable_integers():
    gdf = gpd.GeoDataFrame(
        {"name": ["A", "B"], "year_opened": [2015.0, float("nan")]},
        geometry=[shapely.Point(95, 40), shapely.Point(95.1, 40)],
        crs=4326,
    )
    out = layers.validate("bus_stops", gdf)
    assert str(out["year_opened"].dtype) == "Int64"
    assert out["year_opened"].isna().tolist() == [False, True]


def test_translation_table_is_complete_in_both_languages():
    for key, (en, zh) in STRINGS.items():
        assert en.strip(), key
        assert zh.strip(), key
        assert en.count("{") == zh.count("{"), key
    assert t("county", "zh") == "县（市、区）"
