"""Coverage rules: declared once, evaluated as of any year, register checked against the map."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

import layers
from geo.coverage import summarize
from geo.errors import UnknownLayerError
from layers.clauses import Provenance, Scope
from layers.rules import (
    RULES,
    CoverageRule,
    evaluate,
    evaluate_many,
    facilities_for,
    gap_list,
    gaps_by_bureau,
    get_rule,
    population_coverage,
    provenance_note,
)
from tests.helpers import in_scope_by_hand, uncovered_by_hand

#: The rules whose clause names poor villages only.
POOR_ONLY = [key for key, rule in RULES.items() if rule.scope is Scope.POOR_VILLAGES]


#: Our map measures that repeat a measure of the plan (read by hand: the plan asks for a
#: service in the village and gives no distance to a stop, an outlet or a fibre line).
REPEATS = {"bus_2km": "bus_service", "express_5km": "express_service", "fibre_1km": "broadband"}


def test_every_rule_of_the_plan_is_declared_with_its_bureau():
    for rule in RULES.values():  # what matters of each, not a frozen list of keys
        assert rule.bureau.key in layers.BUREAUS
        assert 2015 <= rule.target_year <= 2020
        assert rule.is_distance == (rule.within_m is not None)
        assert rule.is_distance or rule.village_column is not None
        for key in rule.facilities:
            assert not layers.get_layer(key).is_raster
        assert rule.clause is not None
        assert rule.clause.section[0].isdigit()
        assert rule.provenance is Provenance.PLAN or rule.reason.strip()
    assert {"bus_2km", "tap_water", "power", "broadband", "safe_housing"} <= set(RULES)
    assert get_rule("bus_2km").within_m == 2000
    assert get_rule("bus_2km").bureau.key == "transport"
    assert get_rule("tap_water").bureau.key == "water"
    assert get_rule("fibre_1km").facilities == ("fibre_lines", "fibre_access_points")
    with pytest.raises(UnknownLayerError, match="Valid rules: bus_2km"):
        get_rule("bus_3km")


def test_measures_the_plan_does_not_give_are_marked_as_assumptions():
    """The plan gives no distance to a road, fibre, school or bus stop, nor a date for schools."""
    for key in ("hardened_road", "fibre_1km", "school_3km", "bus_2km", "express_5km"):
        assert get_rule(key).provenance is Provenance.ASSUMPTION, key
    assert "2017" in get_rule("school_3km").reason
    bus = get_rule("bus_service")  # the plan's "bus in every village": a service per village
    assert not bus.is_distance
    assert bus.provenance is Provenance.PLAN
    assert "the bus in every village" in bus.clause.text  # type: ignore[union-attr]
    for key in ("cooperative", "broadband", "express_5km", "express_service", "power"):
        assert get_rule(key).scope is Scope.POOR_VILLAGES, key
    assert get_rule("tap_water").scope is Scope.HOUSEHOLDS


def test_a_rule_is_one_declaration():
    rule = CoverageRule(
        "water_works_5km",
        "Water works within 5 km",
        "5公里内有供水工程",
        layers.BUREAUS["water"],
        2017,
        within_m=5000,
        facilities=("water_works",),
        provenance=Provenance.ASSUMPTION,
        reason="a trial measure",
        reason_zh="试行测度",
    )
    out = evaluate(rule, 2017)
    assert out["covered"].any()
    assert not out["covered"].all()
    with pytest.raises(ValueError, match="needs a `village_column`"):
        CoverageRule("x", "x", "x", layers.BUREAUS["water"], 2017)
    with pytest.raises(
        ValueError, match=r"needs its `clause`.*needs its `reason`|needs its `clause`"
    ):
        CoverageRule("x", "x", "x", layers.BUREAUS["water"], 2017, village_column="power_year")
    with pytest.raises(ValueError, match="marked 'assumption' needs its `reason`"):
        CoverageRule(
            "x", "x", "x", layers.BUREAUS["water"], 2017, village_column="power_year",
            provenance=Provenance.ASSUMPTION,
        )  # fmt: skip
    with pytest.raises(ValueError, match="`scope` must be one of"):
        CoverageRule(
            "x", "x", "x", layers.BUREAUS["water"], 2017, village_column="power_year",
            scope=Scope.TOWNSHIPS, provenance=Provenance.ASSUMPTION, reason="r", reason_zh="理由",
        )  # fmt: skip


@pytest.mark.parametrize("key", list(RULES))
def test_coverage_only_grows_over_the_years(demo_store, key):
    rule = get_rule(key)
    counts = [int(evaluate(rule, y)["covered"].sum()) for y in (2014, 2015, 2016, 2017, 2019)]
    assert counts == sorted(counts)
    assert counts[0] < counts[-1]
    assert counts[1] < 440  # the plan's first year had gaps to close


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
    out = evaluate(get_rule("tap_water"), 2015)
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


def _brute_gaps(villages, measures):
    """Village codes left out, per rule, counted over the villages frame one row at a time."""
    gaps = {}
    for key, result in measures.items():
        rows = zip(villages.itertuples(), result["covered"], strict=True)
        gaps[key] = {r.code for r, ok in rows if not ok and in_scope_by_hand(r, RULES[key].scope)}
    return gaps


@pytest.fixture(scope="module")
def measures_2017(demo_store):
    return {key: evaluate(rule, 2017) for key, rule in RULES.items()}


def test_gaps_by_bureau_count_each_rule_in_its_scope(demo_store, measures_2017):
    table = gaps_by_bureau(2017)
    brute = _brute_gaps(layers.load("villages"), measures_2017)
    ours = set(REPEATS)
    assert {k for k, r in RULES.items() if r.repeats is not None} == ours
    assert all(RULES[k].repeats == v for k, v in REPEATS.items())
    assert table["gaps"].sum() == sum(len(c) for k, c in brute.items() if k not in ours)
    assert table["assumed_gaps"].sum() == sum(len(c) for k, c in brute.items() if k in ours)
    commerce = table.loc["Municipal Bureau of Commerce"]
    assert commerce["gaps"] == len(brute["express_service"]) + len(brute["broadband"])
    assert commerce["assumed_gaps"] == len(brute["express_5km"]) + len(brute["fibre_1km"])
    assert commerce["gaps"] == commerce["poor_gaps"]  # its clauses name poor villages only
    transport = table.loc["Municipal Transportation Bureau"]
    assert transport["unit"] == "transport"
    assert transport["rules"] == "bus_service, hardened_road"  # ours, but its only measure
    assert transport["assumed_rules"] == "bus_2km"
    villages = layers.load("villages")
    assert table.loc["Municipal Agriculture and Animal Husbandry Bureau", "checks"] == int(
        villages["is_poor"].sum()
    )
    assert table["share_of_gaps"].sum() == pytest.approx(1.0, abs=1e-3)
    assert (table["poor_gaps"] <= table["gaps"]).all()


def test_gaps_by_bureau_count_a_village_once_in_the_plans_totals(demo_store):
    """2016: a village without a bus service is a gap of bus_service and of our bus_2km."""
    bus, stop = uncovered_by_hand("bus_service", 2016), uncovered_by_hand("bus_2km", 2016)
    assert set(bus) & set(stop)  # the same villages, by two measures
    table = gaps_by_bureau(2016, lang="zh")
    transport = table.loc["市交通运输局"]  # named in the workbook's language
    road = uncovered_by_hand("hardened_road", 2016)  # our distance, the plan's only measure
    assert transport["gaps"] == len(bus) + len(road)
    assert transport["assumed_gaps"] == len(stop)  # our repeat of the bus service, apart
    education = table.loc["市教育局"]  # its one measure is ours, and repeats nothing
    assert education["gaps"] == len(uncovered_by_hand("school_3km", 2016))
    assert education["assumed_gaps"] == 0


def test_gap_list_is_every_uncovered_village_in_scope_per_rule(demo_store, measures_2017):
    villages = layers.load("villages")
    gaps = gap_list(villages, measures_2017, 2017)
    for key, expected in _brute_gaps(villages, measures_2017).items():
        assert set(gaps.loc[gaps["rule"] == key, "code"]) == expected, key
    poor_only = gaps[gaps["rule"].isin(["cooperative", "broadband", "express_5km", "power"])]
    assert poor_only["is_poor"].all()
    uncovered_rich = (~measures_2017["cooperative"]["covered"] & ~villages["is_poor"]).sum()
    assert uncovered_rich > 0  # the scope is what keeps them out, not the data
    assert set(gaps["provenance"]) == {"plan", "assumption"}
    overdue = gaps[gaps["deadline"] < 2017]
    assert (overdue["days_overdue"] > 0).all()
    assert (gaps.loc[gaps["deadline"] >= 2017, "days_overdue"] == 0).all()


@pytest.mark.parametrize("key", POOR_ONLY)
def test_a_poor_village_rule_has_gaps_in_poor_villages_only(demo_store, key):
    """2016, when many villages that are not poor still lack the service: they are no gaps."""
    left_out = uncovered_by_hand(key, 2016)
    gaps = {code for code, asked in left_out.items() if asked}
    assert len(gaps) < len(left_out)  # the scope decides, not the data
    rule = RULES[key]
    villages = layers.load("villages")
    listed = gap_list(villages, {key: evaluate(rule, 2016)}, 2016, rules=[rule])
    assert len(listed) == len(gaps)
    assert set(listed["code"]) == gaps
    chosen = evaluate_many([rule], 2016)  # what the Coverage page counts
    assert set(villages.loc[chosen["in_scope"] & ~chosen["covered"], "code"]) == gaps
    assert int(chosen["in_scope"].sum()) == int(villages["is_poor"].sum())
    assert not (chosen["covered"] & ~chosen["in_scope"]).any()


def test_rules_together_hold_each_village_to_the_rules_that_ask_about_it(demo_store):
    bus, broadband = uncovered_by_hand("bus_2km", 2016), uncovered_by_hand("broadband", 2016)
    expected = set(bus) | {code for code, asked in broadband.items() if asked}
    assert len(expected) < len(set(bus) | set(broadband))
    out = evaluate_many([RULES["bus_2km"], RULES["broadband"]], 2016)
    villages = layers.load("villages")
    assert out["in_scope"].all()  # the bus asks about every village
    assert set(villages.loc[~out["covered"], "code"]) == expected
    assert (out["broadband"] == ~villages["code"].isin(broadband)).all()  # raw, whatever the scope


@pytest.mark.parametrize("key", [k for k, r in RULES.items() if r.reason])
def test_a_rules_reason_is_said_in_chinese_on_a_chinese_map(key):
    rule = RULES[key]
    note = provenance_note(rule, "zh")
    assert rule.reason_zh in note
    assert re.search(r"[\u4e00-\u9fff]{8}", rule.reason_zh)
    assert rule.reason not in note
    assert provenance_note(rule, "en").endswith(rule.reason)


def test_a_rule_with_a_reason_in_one_language_only_is_refused():
    with pytest.raises(ValueError, match=r"`reason` is given in English and Chinese"):
        dataclasses.replace(RULES["bus_2km"], reason_zh="")
