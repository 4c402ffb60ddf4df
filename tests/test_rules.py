"""Coverage rules: declared once, evaluated as of any year, register checked against the map."""

from __future__ import annotations

import numpy as np
import pytest

import layers
from geo.coverage import summarize
from geo.errors import UnknownLayerError
from layers.rules import (
    RULES,
    CoverageRule,
    evaluate,
    facilities_for,
    gaps_by_bureau,
    get_rule,
    population_coverage,
)


def test_every_rule_of_the_plan_is_declared_with_its_bureau():
    for rule in RULES.values():  # what matters of each, not a frozen list of keys
        assert rule.bureau.key in layers.BUREAUS
        assert 2015 <= rule.target_year <= 2020
        assert rule.is_distance == (rule.within_m is not None)
        assert rule.is_distance or rule.village_column is not None
        for key in rule.facilities:
            assert not layers.get_layer(key).is_raster
    assert {"bus_2km", "tap_water", "power", "broadband", "safe_housing"} <= set(RULES)
    assert get_rule("bus_2km").within_m == 2000
    assert get_rule("bus_2km").bureau.key == "transport"
    assert get_rule("tap_water").bureau.key == "water"
    assert get_rule("fibre_1km").facilities == ("fibre_lines", "fibre_access_points")
    with pytest.raises(UnknownLayerError, match="Valid rules: bus_2km"):
        get_rule("bus_3km")


def test_a_rule_is_one_declaration():
    rule = CoverageRule(
        "water_works_5km",
        "Water works within 5 km",
        "5公里内有供水工程",
        layers.BUREAUS["water"],
        2017,
        within_m=5000,
        facilities=("water_works",),
    )
    out = evaluate(rule, 2017)
    assert out["covered"].any()
    assert not out["covered"].all()
    with pytest.raises(ValueError, match="needs a `village_column`"):
        CoverageRule("x", "x", "x", layers.BUREAUS["water"], 2017)


@pytest.mark.parametrize("key", list(RULES))
def test_coverage_only_grows_over_the_years(demo_store, key):
    rule = get_rule(key)
    counts = [int(evaluate(rule, y)["covered"].sum()) for y in (2014, 2015, 2016, 2017, 2019)]
    assert counts == sorted(counts)
    assert counts[0] < counts[-1]
    assert counts[-2] < 440  # real gaps remain at the target year


def test_facilities_respect_year_and_filter(demo_store):
    roads = layers.load("roads")
    hard = facilities_for(get_rule("hardened_road"), 2015)
    expected = roads["surface"].isin(["asphalt", "cement"]) & (roads["year_hardened"] <= 2015)
    assert len(hard) == int(expected.sum())


def test_bus_rule_matches_a_brute_force_count(demo_store):
    from tests.test_coverage import brute_force  # noqa: PLC0415

    villages = layers.load("villages")
    stops = layers.load("bus_stops")
    stops = stops[stops["year_opened"] <= 2016]
    out = evaluate(get_rule("bus_2km"), 2016)
    assert out["covered"].sum() == int((brute_force(villages, stops) <= 2000).sum())


def test_register_vs_map_lists_contradictions(demo_store):
    out = evaluate(get_rule("bus_2km"), 2017, along_roads=True)
    c = out[out["contradiction"]]
    assert len(c) > 0
    assert (c["register"] != c["network_covered"]).all()
    claims_but_missing = c[c["register"] & ~c["network_covered"]]
    assert (claims_but_missing["network_distance_m"].fillna(np.inf) > 2000).all()
    # straight-line covered but not along roads: the detour is real
    detour = out[out["covered"] & ~out["network_covered"]]
    assert (detour["network_distance_m"].fillna(np.inf) > detour["distance_m"]).all()
    assert (
        out["network_distance_m"].dropna()
        >= out["distance_m"][out["network_distance_m"].notna()] - 0.01
    ).all()


def test_hardened_road_counts_the_village_flag(demo_store):
    out = evaluate(get_rule("hardened_road"), 2017)
    assert (out["covered"] == (out["distance_m"] <= 500) | out["register"]).all()


def test_summaries_per_county_and_bureau(demo_store):
    villages = layers.load("villages")
    out = evaluate(get_rule("tap_water"), 2017)
    by_county = summarize(out["covered"], villages, by="county_code")
    assert by_county["villages"].sum() == len(villages)
    assert by_county["covered"].sum() == out["covered"].sum()
    assert (by_county["covered"] < by_county["villages"]).sum() >= 4


def test_population_weighted_coverage_per_county(demo_store):
    out = population_coverage(get_rule("bus_2km"), 2017)
    assert list(out.index) == sorted(layers.load("counties")["code"])
    assert ((out["share"] > 0.2) & (out["share"] < 1)).all()
    with pytest.raises(ValueError, match="attribute rule"):
        population_coverage(get_rule("tap_water"), 2017)


def test_gaps_by_bureau_add_up_to_every_rule(demo_store):
    table = gaps_by_bureau(2017)
    total = sum(int((~evaluate(r, 2017)["covered"]).sum()) for r in RULES.values())
    assert table["gaps"].sum() == total
    assert table.loc["Municipal Transportation Bureau", "rules"] == "bus_2km, hardened_road"
    assert table["share_of_gaps"].sum() == pytest.approx(1.0, abs=1e-3)
    assert (table["poor_gaps"] <= table["gaps"]).all()


def test_gap_list_is_every_uncovered_village_per_rule(demo_store):
    from layers.rules import gap_list  # noqa: PLC0415

    villages = layers.load("villages")
    measures = {key: evaluate(rule, 2017) for key, rule in RULES.items()}
    gaps = gap_list(villages, measures, 2017)
    for key, result in measures.items():  # brute force: count the uncovered villages
        expected = {c for c, ok in zip(villages["code"], result["covered"], strict=True) if not ok}
        assert set(gaps.loc[gaps["rule"] == key, "code"]) == expected
    overdue = gaps[gaps["deadline"] < 2017]
    assert (overdue["days_overdue"] > 0).all()
    assert (gaps.loc[gaps["deadline"] >= 2017, "days_overdue"] == 0).all()
