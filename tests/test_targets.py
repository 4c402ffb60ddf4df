"""The targets file and board: every clause a record, scopes honoured, statuses by time limits."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

import layers
from exports.spec import read_once
from geo.errors import ProfileError, TargetsError
from geo.status import done_by
from layers import BUREAUS, targets
from layers.clauses import Provenance, Scope
from layers.profile import PROFILE
from layers.rules import RULES, evaluate
from store.register import CLEANUPS, STEPS, Register
from tests.helpers import ROOT

GEOD = pyproj.Geod(ellps="WGS84")
SEED = sorted((ROOT.parent / "shared" / "seed").glob("000_*.txt"))


class Expected:
    """What the plan says for one target: read from the seed text by hand, not from the code."""

    def __init__(
        self,
        section: str,
        goal: float | None,
        unit: str,
        scope: str,
        deadline: int,
        provenance: str,
        *,
        measured: bool = True,
    ) -> None:
        self.section, self.goal, self.unit, self.scope = section, goal, unit, scope
        self.deadline, self.provenance, self.measured = deadline, provenance, measured


#: Each item's "Responsible unit" line, read by hand: lead, whether the plan names it, and
#: the cooperating units (section 2 and the broken-off section 8 name none: the atlas's).
UNITS_OF = {
    "2": ("poverty_office", False, ("counties",)),
    "3": ("poverty_office", True, ("counties",)),
    "4": ("poverty_office", True, ("counties",)),
    "5": ("poverty_office", True, ("counties",)),
    "6(1)": ("agriculture", True, ("forestry", "poverty_office", "counties")),
    "6(2)": (
        "social_security",
        True,
        ("education", "agriculture", "poverty_office", "womens_federation", "counties"),
    ),
    "6(3)": (
        "commerce",
        True,
        (
            "tourism",
            "supply_marketing",
            "culture_press",
            "energy",
            "post_office",
            "poverty_office",
            "counties",
        ),
    ),
    "6(4)": ("agriculture", True, ("commerce", "poverty_office", "counties")),
    "6(5)": ("agriculture", True, ("land", "poverty_office", "counties")),
    "7(1)": ("water", True, ("poverty_office", "counties")),
    "7(2)": ("transport", True, ("counties",)),
    "7(3)": ("construction", True, ("poverty_office", "counties")),
    "7(4)": ("energy", True, ("poverty_office", "counties")),
    "7(5)": ("forestry", True, ("poverty_office", "counties")),
    "7(6)": ("commerce", True, ("industry_it", "postal", "counties")),
    "7(7)": ("agricultural_office", True, ("construction", "environment", "forestry", "counties")),
    "7(8)": ("land", True, ("agriculture", "agricultural_development", "counties")),
    "8": ("education", False, ("counties",)),
}

P, C, A = "plan", "plan, figure to confirm", "assumption"
_DSA = "Dunhuang City, Subei Mongol Autonomous County, Aksai Kazakh Autonomous County"
_YG = "Yumen City, Guazhou County"
#: Every clause the atlas records: section, goal, unit, scope, deadline, provenance
#: (household exits and files: as measured from the demo's household register).
CLAUSES = {
    "identify_poor": Expected("5", 100, "% of poor households", "poor households", 2015, P),
    "household_files": Expected("3", 100, "% of poor households", "poor households", 2015, A),
    "village_files": Expected("4", 100, "% of poor villages", "poor villages", 2015, A),
    "exit_poor_villages": Expected("2", 100, "% of poor villages", "poor villages", 2017, P),
    "exit_poor_households": Expected("2", 100, "% of poor households", "poor households", 2017, P),
    "exit_poor_people": Expected("2", 100, "% of poor people", "poor people", 2017, P),
    "exit_dunhuang_subei_aksai": Expected(
        "2", 100, "% of poor households", f"poor households ({_DSA})", 2015, P
    ),
    "exit_suzhou_jinta": Expected(
        "2",
        100,
        "% of poor households",
        "poor households (Suzhou District, Jinta County)",
        2016,
        C,
    ),
    "exit_yumen_guazhou_settled": Expected(
        "2",
        100,
        "% of poor households",
        f"poor households of old towns and villages (not immigrant) ({_YG})",
        2015,
        P,
    ),
    "exit_immigrant": Expected(
        "2",
        100,
        "% of poor households",
        f"poor households of immigrant villages ({_YG})",
        2017,
        C,
    ),
    "immigrant_income": Expected("2", 100, "% of people", "people of immigrant villages", 2017, A),
    "immigrant_income_level": Expected(
        "2", 9000, "yuan per person", "people of immigrant villages", 2017, C
    ),
    "immigrant_crops": Expected("6(1)", 300000, "mu", "immigrant villages", 2017, C),
    "immigrant_vegetables": Expected("6(1)", 10000, "mu", "immigrant villages", 2017, C),
    "immigrant_grapes": Expected("6(1)", 20000, "mu", "immigrant villages", 2017, C),
    "immigrant_medlar": Expected("6(1)", 30000, "mu", "immigrant villages", 2017, C),
    "immigrant_sheep": Expected("6(1)", 70000, "sheep", "immigrant villages", 2017, C),
    "immigrant_husbandry_income": Expected(
        "6(1)", 20, "% of income", "people of immigrant villages", 2017, C, measured=False
    ),
    "standardised_production": Expected("6(1)", 80, "% of farmland", "all villages", 2017, C),
    "three_products_one_standard": Expected(
        "6(1)", 90, "% of poor villages", "poor villages", 2017, C
    ),
    "professional_farmers": Expected(
        "6(2)", None, "people a year", "people", 2017, C, measured=False
    ),
    "labour_training": Expected("6(2)", 50000, "people a year", "people", 2017, C),
    "labour_transfer": Expected("6(2)", 20000, "people a year", "people", 2017, C),
    "rural_services": Expected("6(3)", None, "points", "poor villages", 2017, P, measured=False),
    "rural_tourism": Expected("6(3)", None, "projects", "poor villages", 2017, P, measured=False),
    "photovoltaic": Expected("6(3)", None, "projects", "poor villages", 2017, P, measured=False),
    "processing_conversion": Expected("6(4)", 65, "% of produce", "poor villages", 2017, P),
    "land_rights": Expected(
        "6(5)", None, "% of farmland", "poor villages", 2017, P, measured=False
    ),
    "new_business_entities": Expected(
        "6(5)", 90, "% of poor households", "poor households of poor villages", 2017, A
    ),
    "cooperatives": Expected("6(5)", 100, "% of poor villages", "poor villages", 2017, P),
    "tap_water": Expected("7(1)", 100, "% of households", "households", 2017, P),
    "channels": Expected("7(1)", 425, "km", "focus area: Immigrant poverty areas", 2017, A),
    "hardened_road": Expected("7(2)", 100, "% of all villages", "all villages", 2017, A),
    "bus": Expected("7(2)", 100, "% of all villages", "all villages", 2017, P),
    "city_bus": Expected(
        "7(2)",
        100,
        "% of villages in the area",
        "focus area: Around the city (20 km of its seat)",
        2017,
        C,
    ),
    "township_highway": Expected("7(2)", 100, "% of townships", "townships", 2017, A),
    "township_highway_2020": Expected("7(2)", 100, "% of townships", "townships", 2020, A),
    "county_expressway": Expected("7(2)", 100, "% of counties", "counties", 2020, A),
    "safe_housing": Expected("7(3)", 100, "% of all villages", "all villages", 2017, P),
    "power": Expected("7(4)", 100, "% of poor villages", "poor villages", 2017, P),
    "forest_network": Expected("7(5)", 60000, "mu", "focus area: Immigrant poverty areas", 2017, A),
    "broadband": Expected("7(6)", 100, "% of poor villages", "poor villages", 2017, P),
    "express": Expected("7(6)", 90, "% of poor villages", "poor villages", 2017, A),
    "village_appearance": Expected(
        "7(7)", None, "villages", "all villages", 2017, P, measured=False
    ),
    "land_improvement": Expected("7(8)", 180000, "mu", "whole city", 2017, C),
    "schools": Expected("8", None, "schools", "all villages", 2017, A, measured=False),
}

#: What the plan sets in figures, goals or time limits, item by item (read by hand from the
#: seed text): each phrase must be quoted by a record of its item.
MEASURABLE = (
    ("2", "lift all poor villages out of poverty"),
    ("2", "Dunhuang City, Subei County and Aksai County achieved"),
    ("2", "7% of poor households were lifted out of poverty in 215"),
    ("2", "poor households in old towns and villages in Yumen City"),
    ("2", "doubled on the basis of 214"),
    ("2", "striving to reach more than 9, yuan"),
    ("3", "five clean-ups"),
    ("4", "five possessions"),
    ("5", "five steps and one publicity"),
    ("6(1)", "3, mu of medlar"),
    ("6(1)", "more than 7,,"),
    ("6(1)", "per capita income from animal husbandry will reach more than 2%"),
    ("6(1)", "standardized coverage rate of major agricultural products will reach 8%"),
    ("6(1)", "cover more than 9% of poor villages"),
    ("6(2)", "train 1 new professional farmers every year"),
    ("6(2)", "More than 5, people are trained"),
    ("6(3)", "photovoltaic power generation"),
    ("6(4)", "reach over 65%"),
    ("6(5)", "registration and certification of land ownership"),
    ("6(5)", "one mutual fund association will be established in each poor village"),
    ("7(1)", "all households will be connected to safe drinking water"),
    ("7(1)", "425 kilometers"),
    ("7(2)", "the national provincial highway in every township"),
    ("7(2)", "the bus within 2 kilometers of the city radius"),
    ("7(2)", "By 22, the goal of connecting counties with high-speed highways"),
    ("7(3)", "eliminate dangerous houses"),
    ("7(4)", "lighting and power for poor villages"),
    ("7(5)", "6, mu of farmland forest network"),
    ("7(6)", "full coverage of broadband information networks in poor villages"),
    ("7(6)", "express delivery services will basically cover poor villages"),
    ("7(7)", "beautiful countryside"),
    ("7(8)", "18, mu of saline-alkali land"),
    ("8", "standardized primary and secondary school"),
)


def test_every_measurable_clause_of_the_plan_has_a_record():
    quoted = {(t.clause.section, t.clause.text) for t in targets.load_targets()}
    missing = [
        (section, phrase)
        for section, phrase in MEASURABLE
        if not any(s == section and phrase in text for s, text in quoted)
    ]
    assert missing == []
    assert set(CLAUSES) == {t.key for t in targets.load_targets()}


@pytest.fixture(scope="module")
def board(demo_store):
    return targets.board(targets.load_targets(), 2017, load=read_once(layers.load))


@pytest.mark.parametrize("key", list(CLAUSES))
def test_each_clause_reads_back_from_the_board(board, key):
    want, row = CLAUSES[key], board.loc[key]
    assert row["section"] == want.section
    assert (row["goal"] != row["goal"]) if want.goal is None else row["goal"] == want.goal
    assert row["unit"] == want.unit
    assert row["scope"] == want.scope
    assert row["deadline"] == want.deadline
    lead, named, cooperating = UNITS_OF[want.section]
    assert (row["lead"], row["lead_named"]) == (lead, named)
    assert tuple(row["cooperating"].split("; ")) == cooperating
    assert row["provenance"] == want.provenance
    assert (row["status"] != "not_measured") == want.measured
    assert row["current"] == row["current"] or not want.measured  # measured: a number
    if want.provenance != P:
        assert row["reason"].strip()  # an assumption or a figure to confirm says why
    if want.goal not in (None, 100) and want.provenance == P:
        assert str(int(want.goal)).rstrip("0") in row["clause"]  # the figure, lost zeros and all


def test_the_board_has_every_clause_of_the_file_and_no_other(board):
    assert set(board.index) == set(CLAUSES)


@pytest.mark.skipif(not SEED, reason="the plan's seed text is not beside this checkout")
def test_every_quote_is_the_plans_own_sentence():
    plan = " ".join(SEED[0].read_text(encoding="utf-8").split())
    for target in targets.load_targets():
        assert " ".join(target.clause.text.split()) in plan, target.key
    for rule in RULES.values():
        assert rule.clause is not None
        assert " ".join(rule.clause.text.split()) in plan, rule.key


def test_units_are_keys_of_one_bilingual_list():
    for target in targets.load_targets():
        assert BUREAUS[target.lead.key] is target.lead
        assert all(BUREAUS[u.key] is u for u in target.cooperating)
    for rule in RULES.values():
        assert all(BUREAUS[u.key] is u for u in rule.cooperating)


@pytest.mark.parametrize("unit", list(BUREAUS))
def test_every_unit_has_an_english_and_a_chinese_name(unit):
    name = BUREAUS[unit]
    assert name.name_en.strip()
    assert re.search(r"[\u4e00-\u9fff]", name.name_zh), name.name_zh
    assert name.name("zh") == name.name_zh


#: The plan's units in Chinese, as a Chinese reader writes them (not read from the profile).
CHINESE = {
    "poverty_office": "市扶贫办",
    "transport": "市交通运输局",
    "water": "市水务局",
    "commerce": "市商务局",
    "industry_it": "市工信委",
    "postal": "市邮政管理局",
    "forestry": "市林业局",
    "construction": "市住建局",
    "energy": "市能源局",
    "land": "市国土资源局",
    "agriculture": "市农牧局",
    "education": "市教育局",
    "social_security": "市人社局",
    "tourism": "市旅游局",
    "supply_marketing": "市供销社",
    "culture_press": "市文广新局",
    "post_office": "市邮政局",
    "womens_federation": "市妇联",
    "agricultural_office": "市农办",
    "environment": "市环保局",
    "agricultural_development": "市农发办",
    "counties": "各县（市、区）",
}


def test_every_unit_has_its_chinese_name():
    assert {key: unit.name_zh for key, unit in BUREAUS.items()} == CHINESE


def test_every_unit_the_plan_names_is_listed():
    plan = " ".join(SEED[0].read_text(encoding="utf-8").split()).lower() if SEED else ""
    named = {
        "social_security": "people's social security bureau",
        "tourism": "tourism bureau",
        "supply_marketing": "supply and marketing cooperative",
        "culture_press": "wenguang new bureau",
        "post_office": "municipal post office",
        "womens_federation": "women's federation",
        "agricultural_office": "agricultural office",
        "environment": "environmental protection bureau",
        "agricultural_development": "agricultural development office",
        "counties": "counties (cities, districts)",
    }
    for key, words in named.items():
        assert key in BUREAUS
        assert not plan or words in plan, words


def test_forestry_land_and_the_poverty_office_lead_targets():
    roles = targets.responsibilities(targets.load_targets())
    leads = roles[(roles["role"] == "lead") & (roles["record"] == "target")]
    for unit in ("forestry", "land", "poverty_office", "social_security", "agricultural_office"):
        assert unit in set(leads["unit"]), unit
    tourism = roles[roles["unit"] == "tourism"]
    assert list(tourism["key"]) == ["rural_services", "rural_tourism", "photovoltaic"]
    assert set(tourism["role"]) == {"cooperating"}


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "targets.toml"
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """
[[target]]
key = "a"
title_en = "A"
title_zh = "甲"
section = "7(1)"
clause = "By 217, 425 kilometers of various channels will be built or rebuilt."
kind = "rule"
rule = "tap_water"
scope = "households"
value = 100
deadline = 2017
lead = "water"
cooperating = ["counties"]
provenance = "plan"
"""


def test_a_minimal_file_loads(tmp_path):
    (target,) = targets.load_targets(_write(tmp_path, GOOD))
    assert target.scope is Scope.HOUSEHOLDS
    assert target.lead is BUREAUS["water"]
    assert target.cooperating == (BUREAUS["counties"],)
    assert target.provenance is Provenance.PLAN


def test_broken_targets_file_lists_every_problem(tmp_path):
    bad = _write(
        tmp_path,
        GOOD.replace('rule = "tap_water"', 'rule = "bus_9km"')
        .replace('lead = "water"', 'lead = "nobody"\nbureau = "water"')
        .replace('cooperating = ["counties"]', 'cooperating = ["Municipal Forestry Bureau"]')
        .replace('provenance = "plan"', 'provenance = "assumption"')
        + '[[target]]\nkey = "a"\nkind = "weird"\ntitle_en = "B"\nscope = "planets"\n'
        'deadline = 2031\nvalue = "lots"\n'
        + GOOD.replace('key = "a"', 'key = "c"')
        .replace('kind = "rule"', 'kind = "exit"')
        .replace('scope = "households"', 'scope = "all villages"\namong = "poor villages"')
        .replace("value = 100", "value = 140")
        + GOOD.replace('key = "a"', 'key = "d"')
        .replace('kind = "rule"', 'kind = "files"\nfields = ["clear_base", "ID number"]')
        .replace('scope = "households"', 'scope = "poor households"')
        + GOOD.replace('key = "a"', 'key = "e"').replace(
            'kind = "rule"', 'kind = "rule"\nfields = ["cadre"]\ncolumn = "bus_year"'
        )
        + '[[area]]\nkey = "x"\ntitle_en = "X"\ntitle_zh = "X"\nnear = "the moon"\n'
        "within_m = -5\n",
    )
    with pytest.raises(TargetsError, match="has problems") as info:
        targets.load_targets(bad)
    message = str(info.value)
    for expected in (
        "`rule` must be one of bus_2km",
        "unit 'nobody' is not a unit key",
        "unit 'Municipal Forestry Bureau' is not a unit key",
        "unknown fields bureau",
        "provenance 'assumption' needs its `reason`",
        "target 2 (a): `title_zh` must be non-empty text",
        "target 2 (a): `clause` must be non-empty text",
        (
            "`kind` must be one of rule, service, exit, identify, files, seats, length, area, "
            "indicator, clause"
        ),
        "target 4 (d): `fields` must list what a complete file holds: clear_base, ",
        "target 5 (e): `fields` go with a files target only",
        "target 5 (e): a service target, and only it, names the village file's year `column`",
        "`scope` must be one of all villages",
        "`deadline` must be a year from 2015 to 2020",
        "`value` must be a number",
        "`scope` of an exit target must be one of poor villages",
        "`among` goes with a household or people scope only",
        "`value` is a percentage",
        "area 1 (x): `near` must be one of immigrant villages | city seat",
        "`within_m` must be a distance in metres > 0",
        "target key 'a' is used twice",
    ):
        assert expected in message, expected
    assert isinstance(info.value, ProfileError)
    assert isinstance(info.value, ValueError)
    bad.write_text("[[target]\nkey=")
    with pytest.raises(TargetsError, match="is not valid TOML"):
        targets.load_targets(bad)


def test_rule_progress_equals_the_engine(demo_store):
    target = next(t for t in targets.load_targets() if t.key == "broadband")
    villages = layers.load("villages")
    covered = evaluate(RULES["broadband"], 2016)["covered"]
    expected = covered[villages["is_poor"]].mean() * 100
    assert targets.progress(target, 2016) == pytest.approx(expected)


def test_household_scopes_weigh_each_village_by_its_households(demo_store):
    plan = {t.key: t for t in targets.load_targets()}
    villages = layers.load("villages")
    water = evaluate(RULES["tap_water"], 2016)["covered"]
    connected = all_households = 0
    for row, ok in zip(villages.itertuples(), water, strict=True):  # brute force
        all_households += row.households
        connected += row.households * bool(ok)
    assert targets.progress(plan["tap_water"], 2016) == pytest.approx(
        100 * connected / all_households
    )
    out = total = 0
    for row in villages.itertuples():
        if row.is_poor and row.county_code in ("620902", "620921"):
            total += row.poor_households
            out += row.poor_households * (row.exit_year is not pd.NA and row.exit_year <= 2015)
    # without a household register, a poor village's households are out when it exits
    no_register = Register()
    assert targets.progress(plan["exit_suzhou_jinta"], 2015, register=no_register) == pytest.approx(
        100 * out / total
    )
    assert targets.expected(plan["exit_suzhou_jinta"], 2015, 0.0) == 70
    assert targets.expected(plan["exit_suzhou_jinta"], 2016, 0.0) == 100


def test_exit_scopes_split_old_and_immigrant_villages(demo_store):
    plan = {t.key: t for t in targets.load_targets()}
    v = layers.load("villages")
    in_counties = v["county_code"].isin(["620981", "620922"]) & v["is_poor"]
    for key, immigrant in (("exit_immigrant", True), ("exit_yumen_guazhou_settled", False)):
        scope = in_counties & (v["is_immigrant"] == immigrant)
        weight = v["poor_households"].where(scope, 0)
        share = weight[done_by(v["exit_year"], 2016)].sum() / weight.sum() * 100
        assert targets.progress(plan[key], 2016, register=Register()) == pytest.approx(share)


def _geodesic_near(
    geometry: shapely.Geometry, points: list[tuple[float, float]], m: float
) -> float:
    """Smallest geodesic distance from `geometry` (densified every ~50 m) to any of `points`."""
    pts = shapely.get_coordinates(shapely.segmentize(geometry, 0.0005))
    best = np.inf
    for lon, lat in points:
        d = GEOD.inv(np.full(len(pts), lon), np.full(len(pts), lat), pts[:, 0], pts[:, 1])[2]
        best = min(best, float(d.min()))
        if best <= m:
            break
    return best


def test_channels_count_in_the_immigrant_areas_only(demo_store):
    target = next(t for t in targets.load_targets() if t.key == "channels")
    assert target.area is not None
    within = target.area.within_m
    villages = layers.load("villages")
    immigrant = [(p.x, p.y) for p in villages.geometry[villages["is_immigrant"]]]
    channels = layers.load("water_channels")
    built = channels[(channels["year_built"] >= 2015) & (channels["year_built"] <= 2017)]
    distance = [_geodesic_near(g, immigrant, within) for g in built.geometry]
    clear = [abs(d - within) > 10 for d in distance]  # leave the 0.2 % boundary band aside
    assert sum(clear) >= len(clear) - 2
    inside = built["length_km"][[d <= within for d in distance]].sum()
    assert targets.progress(target, 2017) == pytest.approx(inside, abs=1e-6)
    assert 0 < inside < built["length_km"].sum()  # not every channel of the city
    assert targets.progress(target, 2014) == 0


def test_city_bus_counts_villages_around_the_city_seat(demo_store):
    target = next(t for t in targets.load_targets() if t.key == "city_bus")
    assert target.area is not None
    villages = layers.load("villages")
    lon, lat = PROFILE.city.seat
    d = GEOD.inv(np.full(len(villages), lon), np.full(len(villages), lat),
                 villages.geometry.x.to_numpy(), villages.geometry.y.to_numpy())[2]  # fmt: skip
    near = d <= target.area.within_m
    # a city bus service per village (the transport bureau's record), not a stop nearby
    assert (target.kind, target.column, target.rule) == ("service", "city_bus_year", None)
    since = villages["city_bus_year"].astype("Float64").to_numpy(na_value=np.nan)
    served = since <= 2016
    assert 0 < near.sum() < len(villages)
    assert 0 < served[near].mean() < 1
    assert targets.progress(target, 2016) == pytest.approx(100 * served[near].mean())


def test_a_changed_target_changes_the_board(demo_store, tmp_path):
    text = targets.TARGETS_PATH.read_text()
    board = targets.board(targets.load_targets(), 2017, history=False)
    current = board.loc["bus", "current"]
    assert board.loc["bus", "status"] == "overdue"
    edited = _write(
        tmp_path,
        text.replace(
            'rule = "bus_service"\nscope = "all villages"\nvalue = 100',
            f'rule = "bus_service"\nscope = "all villages"\nvalue = {int(current) - 1}',
        ),
    )
    changed = targets.board(targets.load_targets(edited), 2017, history=False)
    assert changed.loc["bus", "status"] == "done"
    assert changed.loc["bus", "goal"] == int(current) - 1


def test_a_county_board_keeps_the_targets_that_apply_to_it(demo_store):
    plan = targets.load_targets()
    aksai = targets.board(plan, 2016, county="620924", history=False)
    assert "exit_dunhuang_subei_aksai" in aksai.index
    assert "exit_suzhou_jinta" not in aksai.index
    villages = layers.load("villages")
    poor = villages[(villages["county_code"] == "620924") & villages["is_poor"]]
    out = done_by(poor["exit_year"], 2016).mean() * 100
    assert aksai.loc["exit_poor_villages", "current"] == pytest.approx(out, abs=0.05)


def test_by_county_covers_each_county_in_scope(demo_store):
    target = next(t for t in targets.load_targets() if t.key == "exit_dunhuang_subei_aksai")
    table = targets.by_county(target, 2016)
    assert list(table.index) == ["620982", "620923", "620924"]
    assert set(table["status"]) <= {"done", "overdue"}


def _seats_brute_force(lonlat: list[tuple[float, float]], roads: object, within: float) -> float:
    reached = sum(
        min(_geodesic_near(line, [(lon, lat)], within) for line in roads.geometry) <= within  # type: ignore[attr-defined]
        for lon, lat in lonlat
    )
    return 100 * reached / len(lonlat)


def test_township_highway_progress_matches_a_brute_force(demo_store):
    target = next(t for t in targets.load_targets() if t.key == "township_highway")
    towns = layers.load("townships")
    roads = layers.load("roads")
    major = roads[roads["road_class"].isin(target.classes) & (roads["year_built"] <= 2017)]
    seats = list(zip(towns["seat_lon"], towns["seat_lat"], strict=True))
    assert targets.progress(target, 2017) == pytest.approx(_seats_brute_force(seats, major, 1000))


def test_county_expressway_measures_the_county_seats(demo_store):
    target = next(t for t in targets.load_targets() if t.key == "county_expressway")
    roads = layers.load("roads")
    fast = roads[(roads["road_class"] == "expressway") & (roads["year_built"] <= 2020)]
    seats = [c.seat for c in PROFILE.counties]
    share = _seats_brute_force(seats, fast, target.within_m)
    assert targets.progress(target, 2020) == pytest.approx(share)
    assert 0 < share < 100


def test_files_and_identification_equal_a_brute_force(demo_store):
    plan = {t.key: t for t in targets.load_targets()}
    villages = layers.load("villages")
    poor = villages[villages["is_poor"]]
    filled = [
        all(pd.notna(v[f]) and str(v[f]).strip() != "" for f in plan["village_files"].fields)
        for _, v in poor.iterrows()
    ]
    assert targets.progress(plan["village_files"], 2016) == pytest.approx(100 * np.mean(filled))
    # a register where one village's files lack two clean-ups and one village is identified late
    rows = pd.DataFrame(
        {
            "households": [10, 30],
            "people": [30, 90],
            "identified": [10, 30],
            **{step: ["2015-04-01", "2015-05-01"] for step in STEPS[:-1]},
            "publicity": ["2015-05-20", "2016-02-01"],
            **{c: [10, 30] for c in CLEANUPS},
        },
        index=pd.Index(list(poor["code"].iloc[:2]), name="village_code"),
    )
    rows.loc[rows.index[0], ["clear_tasks", "clear_problems"]] = [4, 7]
    register = Register(rows)
    files = targets.progress(plan["household_files"], 2017, register=register)
    assert files == pytest.approx(100 * (5 * 40 - 6 - 3) / (5 * 40))
    identified = [
        targets.progress(plan["identify_poor"], y, register=register) for y in (2015, 2016)
    ]
    assert identified == pytest.approx([25.0, 100.0])
    # the time limit is mid-June 2015: a village publicised on 20 June is late in 2015
    rows.loc[rows.index[0], "publicity"] = "2015-06-20"
    late = targets.progress(plan["identify_poor"], 2015, register=Register(rows))
    assert late == 0.0
    assert np.isnan(targets.progress(plan["identify_poor"], 2016, register=Register()))


def test_a_county_reads_its_part_of_a_city_total_without_a_status(demo_store):
    plan = targets.load_targets()
    county = targets.board(plan, 2017, county="620902", history=False)
    for key in ("channels", "forest_network", "land_improvement", "immigrant_sheep"):
        if key in county.index:
            assert county.loc[key, "status"] == "city_part", key
    city = targets.board(plan, 2017, history=False)
    assert city.loc["channels", "status"] == "done"
    # an average per person has a goal in every county
    income = next(t for t in plan if t.key == "immigrant_income_level")
    table = targets.by_county(income, 2017)
    assert set(table["status"]) - {"not_measured"} <= {"done", "overdue"}
    assert set(table["status"]) != {"not_measured"}
    channels = next(t for t in plan if t.key == "channels")
    assert set(targets.by_county(channels, 2017)["status"]) == {"city_part"}


def test_responsibilities_give_each_lead_as_the_board_does(demo_store):
    """An exit the household register measures is the plan's there too; a lead it names not."""
    plan = targets.load_targets()
    board = targets.board(plan, 2017, history=False)
    roles = targets.responsibilities(plan)
    leads = roles[(roles["record"] == "target") & (roles["role"] == "lead")].set_index("key")
    assert list(leads.loc[board.index, "provenance"]) == list(board["provenance"])
    assert list(leads.loc[board.index, "lead_named"]) == list(board["lead_named"])
    assert not leads.loc["exit_poor_villages", "lead_named"]  # the plan names no unit
    assert leads.loc["exit_poor_households", "provenance"] == Provenance.PLAN.value
    without = targets.responsibilities(plan, register=Register()).set_index("key")
    assert without.loc["exit_poor_households", "provenance"].iloc[0] == "assumption"
    assert roles.loc[roles["role"] == "cooperating", "lead_named"].all()


def test_a_villages_file_without_the_city_bus_reads_it_empty(demo_store):
    """A file (or an older store) without `city_bus_year` is taken, and the city bus unmeasured."""
    villages = layers.load("villages").drop(columns="city_bus_year")
    checked = layers.validate("villages", villages)
    assert checked["city_bus_year"].isna().all()
    city_bus = next(t for t in targets.load_targets() if t.key == "city_bus")

    def load(key: str) -> pd.DataFrame:
        return checked if key == "villages" else layers.load(key)

    assert np.isnan(targets.progress(city_bus, 2017, load=load))
    assert targets.progress(city_bus, 2017) == pytest.approx(100.0)
