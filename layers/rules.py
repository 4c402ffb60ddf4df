"""Coverage rules: one declarative entry per measure of the plan, and their evaluation.

A distance rule covers a village when a facility built by the year lies within
`within_m` (straight, or along roads); an attribute rule when the village file
records the service by the year. Adding a rule is one entry in `_RULES`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import geopandas as gpd
import pandas as pd

import layers
import store
from geo import network, raster
from geo.coverage import coverage
from geo.errors import UnknownLayerError
from geo.status import done_by, year_of
from layers.bureaus import BUREAUS
from layers.clauses import Clause, Provenance, Scope, scope_mask
from layers.i18n import t
from layers.spec import Bureau, Titled
from store import derived

__all__ = [
    "GAP_COLUMNS",
    "RULES",
    "CoverageRule",
    "Loader",
    "apart",
    "evaluate",
    "evaluate_many",
    "facilities_for",
    "gap_list",
    "gaps_by_bureau",
    "get_rule",
    "population_coverage",
    "provenance_note",
    "road_graph",
    "scope_text",
]

#: Reads a catalogue layer by key (default `layers.load`: the demo store).
Loader = Callable[[str], gpd.GeoDataFrame]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CoverageRule(Titled):
    """A coverage measure of the plan.

    Attributes
    ----------
    key, title_en, title_zh
        Identity and titles.
    bureau
        The lead bureau.
    target_year
        The year by which every village must be covered.
    within_m
        Distance rules: the service radius in metres. ``None`` for attribute rules.
    facilities
        Distance rules: the catalogue layers that serve (for example fibre lines and
        access points).
    facility_filter
        Distance rules: column -> accepted values (for example hardened surfaces).
    facility_year
        Distance rules: the facilities' year column, if not the layer's own `year_column`.
    village_column
        The village file's year column: the register's claim (distance rules) or the
        measure itself (attribute rules).
    flag_counts
        Distance rules: a village whose own file records the service is covered too.
    scope
        Which villages the clause asks about (gaps count only there); a household or
        people scope takes in every village.
    clause
        The plan's clause the rule measures (required unless the rule is an assumption).
    cooperating
        The units the clause names as cooperating.
    provenance, reason, reason_zh
        Whether the measure (distance, deadline, lead) is the plan's or ours, and why (in
        English and Chinese: a rule that gives a reason gives both).
    repeats
        Our map measure of a need a rule of the plan measures already (a stop within 2 km,
        beside a bus service in the village): the key of that rule. Its gaps are counted
        apart from the totals, so no need is counted twice.
    """

    key: str
    title_en: str
    title_zh: str
    bureau: Bureau
    target_year: int
    within_m: float | None = None
    facilities: tuple[str, ...] = ()
    facility_filter: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    facility_year: str | None = None
    village_column: str | None = None
    flag_counts: bool = False
    scope: Scope = Scope.ALL_VILLAGES
    clause: Clause | None = None
    cooperating: tuple[Bureau, ...] = ()
    provenance: Provenance = Provenance.PLAN
    reason: str = ""
    repeats: str | None = None
    reason_zh: str = ""

    def reason_text(self, lang: str = "en") -> str:
        """Return why the rule is not the plan's own, in ``"en"`` or ``"zh"`` ("" if it is)."""
        return self.reason_zh if lang == "zh" else self.reason

    def __post_init__(self) -> None:
        """Check the rule completely; raise `ValueError` listing every problem."""
        problems = []
        if self.within_m is None and (self.facilities or self.village_column is None):
            problems.append("an attribute rule needs a `village_column` and no facilities")
        if self.within_m is not None and not self.facilities:
            problems.append("a distance rule needs `facilities`")
        if self.scope not in _RULE_SCOPES:
            problems.append(f"`scope` must be one of {', '.join(s.value for s in _RULE_SCOPES)}")
        if self.provenance is Provenance.PLAN and self.clause is None:
            problems.append("a rule from the plan needs its `clause`")
        if self.provenance is not Provenance.PLAN and not self.reason.strip():
            problems.append(f"a rule marked {self.provenance.value!r} needs its `reason`")
        if bool(self.reason.strip()) != bool(self.reason_zh.strip()):
            problems.append("a rule's `reason` is given in English and Chinese (`reason_zh`)")
        if self.repeats is not None and self.provenance is not Provenance.ASSUMPTION:
            problems.append("only our own measure (an assumption) `repeats` a rule of the plan")
        if problems:
            msg = f"rule {self.key!r}: " + "; ".join(problems)
            raise ValueError(msg)

    @property
    def is_distance(self) -> bool:
        """Whether the rule measures a distance to facilities."""
        return self.within_m is not None

    def in_scope(self, villages: pd.DataFrame) -> pd.Series:
        """Return which villages the rule's clause asks about (where its gaps count)."""
        return scope_mask(villages, self.scope)


#: Scopes a coverage rule may have: its gaps are villages.
_RULE_SCOPES = tuple(s for s in Scope if s.is_village_set and s is not Scope.FOCUS_AREA) + tuple(
    s for s in Scope if s.weight_column is not None
)


_HARD = ("asphalt", "cement")
_COUNTIES = (BUREAUS["counties"],)
_WITH_POVERTY_OFFICE = (BUREAUS["poverty_office"], BUREAUS["counties"])
_ROADS_7_2 = Clause(
    "7(2)",
    "By 217, the city will realize the national provincial highway in every township, the "
    "asphalt (cement) road in every village, the bus in every village, and the bus within 2 "
    "kilometers of the city radius;",
)
_EXPRESS_7_6 = Clause(
    "7(6)", "By 217, express delivery services will basically cover poor villages."
)
_BROADBAND_7_6 = Clause(
    "7(6)",
    'According to the "Implementation Plan for Accurate Poverty Alleviation E-commerce Support '
    'Plan", we will speed up the construction of broadband networks in immigrant villages, '
    "promote the entry of optical cables into villages and households, and achieve full coverage "
    "of broadband information networks in poor villages by the end of 217.",
)
_E_COMMERCE_UNITS = (BUREAUS["industry_it"], BUREAUS["postal"], BUREAUS["counties"])
_RULES = (
    CoverageRule(
        "bus_2km",
        "Bus stop within 2 km",
        "2公里内有公交站点",
        BUREAUS["transport"],
        2017,
        within_m=2000,
        facilities=("bus_stops",),
        village_column="bus_year",
        clause=_ROADS_7_2,
        cooperating=_COUNTIES,
        provenance=Provenance.ASSUMPTION,
        reason="A map measure, not the plan's: the plan asks for a bus service in every village "
        "(rule bus_service) and gives no distance to a stop; a stop within 2 km is our reading "
        'of a village served. Its "2 kilometers of the city radius" is the city bus (target '
        "city_bus), not this.",
        reason_zh="本图的地图测度，并非规划原文：规划要求村村通客车（规则 bus_service），"
        "未给出到站点的距离；2公里内有站点是本图对“通客车”的解读。规划“城市半径2公里”（20公里）指城市公交"
        "（目标 city_bus），不是此项。",
        repeats="bus_service",
    ),
    CoverageRule(
        "bus_service",
        "Bus service in the village",
        "村通客车",
        BUREAUS["transport"],
        2017,
        village_column="bus_year",
        clause=_ROADS_7_2,
        cooperating=_COUNTIES,
    ),
    CoverageRule(
        "express_5km",
        "Express outlet within 5 km",
        "5公里内有快递网点",
        BUREAUS["commerce"],
        2017,
        within_m=5000,
        facilities=("express_outlets",),
        village_column="express_year",
        scope=Scope.POOR_VILLAGES,
        clause=_EXPRESS_7_6,
        cooperating=_E_COMMERCE_UNITS,
        provenance=Provenance.ASSUMPTION,
        reason="A map measure, not the plan's: the plan gives no distance; an outlet within "
        "5 km is our reading of a poor village covered by express delivery.",
        reason_zh="本图的地图测度，并非规划原文：规划未给出距离；5公里内有快递网点是本图对"
        "“快递覆盖贫困村”的解读。",
        repeats="express_service",
    ),
    CoverageRule(
        "express_service",
        "Express delivery service in the village",
        "快递服务到村",
        BUREAUS["commerce"],
        2017,
        village_column="express_year",
        scope=Scope.POOR_VILLAGES,
        clause=_EXPRESS_7_6,
        cooperating=_E_COMMERCE_UNITS,
    ),
    CoverageRule(
        "school_3km",
        "School within 3 km",
        "3公里内有学校",
        BUREAUS["education"],
        2017,
        within_m=3000,
        facilities=("schools",),
        clause=Clause(
            "8",
            "Implement standardized primary and secondary school construction projects, "
            "improve the conditions for running schools in rural areas, and consolidate",
        ),
        cooperating=_COUNTIES,
        provenance=Provenance.ASSUMPTION,
        reason="The plan sets no distance and no date for schools, and its text breaks off in "
        "section 8 before naming a unit: a school within 3 km, the 2017 deadline (the end of "
        "the plan period) and the Education Bureau as lead are ours.",
        reason_zh="规划未给出学校的距离和期限，且第8条文字在列出牵头单位前中断：3公里内有学校、"
        "2017年期限（规划期末）和市教育局牵头均为本图假设。",
    ),
    CoverageRule(
        "fibre_1km",
        "Fibre line or access point within 1 km",
        "1公里内有光纤",
        BUREAUS["commerce"],
        2017,
        within_m=1000,
        facilities=("fibre_lines", "fibre_access_points"),
        village_column="broadband_year",
        scope=Scope.POOR_VILLAGES,
        clause=_BROADBAND_7_6,
        cooperating=_E_COMMERCE_UNITS,
        provenance=Provenance.ASSUMPTION,
        reason="A map measure, not the plan's: the plan asks for broadband in every poor "
        "village (rule broadband) and gives no distance; fibre within 1 km is ours.",
        reason_zh="本图的地图测度，并非规划原文：规划要求贫困村宽带全覆盖（规则 broadband），"
        "未给出距离；1公里内有光纤为本图假设。",
        repeats="broadband",
    ),
    CoverageRule(
        "hardened_road",
        "Asphalt or cement road within 500 m",
        "500米内有硬化路",
        BUREAUS["transport"],
        2017,
        within_m=500,
        facilities=("roads",),
        facility_filter={"surface": _HARD},
        facility_year="year_hardened",
        village_column="hardened_road_year",
        flag_counts=True,
        clause=_ROADS_7_2,
        cooperating=_COUNTIES,
        provenance=Provenance.ASSUMPTION,
        reason='The plan asks for an asphalt (cement) road "in every village" and gives no '
        "distance: a hardened road within 500 m, or the village file's record of one, is ours.",
        reason_zh="规划要求“村村通沥青（水泥）路”，未给出距离：500米内有硬化路，或村档案记载"
        "已通硬化路，为本图假设。",
    ),
    CoverageRule(
        "tap_water",
        "Safe tap water",
        "安全自来水",
        BUREAUS["water"],
        2017,
        village_column="tap_water_year",
        scope=Scope.HOUSEHOLDS,
        clause=Clause(
            "7(1)",
            "In 217, all households will be connected to safe drinking water, and the rural safe "
            "drinking water penetration rate will reach 1%.",
        ),
        cooperating=_WITH_POVERTY_OFFICE,
    ),
    CoverageRule(
        "power",
        "Power supply",
        "通动力电",
        BUREAUS["energy"],
        2017,
        village_column="power_year",
        scope=Scope.POOR_VILLAGES,
        clause=Clause(
            "7(4)",
            'According to the "Implementation Plan of Power and Electricity Coverage Support '
            'Plan for Accurate Poverty Alleviation in Poor Villages", we will speed up the '
            "upgrading of rural power grids and ensure the normal supply of lighting and power for "
            "poor villages and poor households.",
        ),
        cooperating=_WITH_POVERTY_OFFICE,
    ),
    CoverageRule(
        "broadband",
        "Broadband fibre to the village",
        "宽带光纤入村",
        BUREAUS["commerce"],
        2017,
        village_column="broadband_year",
        scope=Scope.POOR_VILLAGES,
        clause=_BROADBAND_7_6,
        cooperating=_E_COMMERCE_UNITS,
    ),
    CoverageRule(
        "cooperative",
        "A cooperative or mutual fund association",
        "有合作社或互助资金协会",
        BUREAUS["agriculture"],
        2017,
        village_column="cooperative_year",
        scope=Scope.POOR_VILLAGES,
        clause=Clause(
            "6(5)",
            "By 217, at least one farmer's professional cooperative organization or one mutual "
            "fund association will be established in each poor village, so as to basically "
            "realize the full coverage of poor farmers' participation in various new business "
            "entities.",
        ),
        cooperating=(BUREAUS["land"], BUREAUS["poverty_office"], BUREAUS["counties"]),
    ),
    CoverageRule(
        "safe_housing",
        "No dangerous houses left",
        "危房清零",
        BUREAUS["construction"],
        2017,
        village_column="safe_housing_year",
        clause=Clause(
            "7(3)",
            'According to the provincial "Implementation Plan on the Support Plan for the '
            'Renovation of Dangerous Houses in Rural Areas for Accurate Poverty Alleviation", we '
            "will speed up the renovation of dilapidated houses for immigrants and eliminate "
            "dangerous houses in rural areas by 217.",
        ),
        cooperating=_WITH_POVERTY_OFFICE,
    ),
)

#: Every rule by key.
RULES = MappingProxyType({rule.key: rule for rule in _RULES})
_STRAY = [r.key for r in _RULES if r.repeats is not None and r.repeats not in RULES]
if _STRAY:  # pragma: no cover (a mistake in this file)
    raise ValueError(f"rules {_STRAY} repeat a rule that does not exist")


def apart(rules: pd.Series) -> pd.Series:
    """Return which gaps (by their rule's key) are counted apart: our repeat of a plan rule.

    Examples
    --------
    >>> apart(pd.Series(["bus_2km", "bus_service", "hardened_road"])).tolist()
    [True, False, False]
    """
    return rules.map(lambda key: RULES[key].repeats is not None).astype(bool)


def get_rule(key: str) -> CoverageRule:
    """Return rule `key`, or raise listing the valid keys.

    Examples
    --------
    >>> get_rule("bus_2km").within_m
    2000
    """
    wanted = key.strip().lower().replace("-", "_")
    if wanted in RULES:
        return RULES[wanted]
    msg = f"No rule matching {key!r}. Valid rules: {', '.join(RULES)}"
    raise UnknownLayerError(msg)


def scope_text(rules: Sequence[CoverageRule], lang: str = "en") -> str:
    """Return where `rules` count their gaps, in words: their one scope, or each rule's.

    Examples
    --------
    >>> scope_text([RULES["broadband"], RULES["power"]])
    'poor villages'
    >>> scope_text([RULES["bus_2km"], RULES["broadband"]])
    'Bus stop within 2 km: all villages; Broadband fibre to the village: poor villages'
    """
    if len({rule.scope for rule in rules}) == 1:
        return rules[0].scope.label(lang)
    return "; ".join(f"{rule.title(lang)}: {rule.scope.label(lang)}" for rule in rules)


def provenance_note(rule: CoverageRule, lang: str = "en") -> str:
    """Return the rule's provenance in a sentence: the plan's measure, or ours and why.

    Examples
    --------
    >>> provenance_note(RULES["power"])
    "The plan's measure (section 7(4))"
    >>> provenance_note(RULES["bus_2km"]).startswith("Our assumption, not the plan's figure: ")
    True
    """
    section = rule.clause.section if rule.clause is not None else ""
    key = {
        Provenance.PLAN: "rule_plan_note",
        Provenance.TO_CONFIRM: "rule_to_confirm_note",
        Provenance.ASSUMPTION: "rule_assumption_note",
    }[rule.provenance]
    return t(key, lang, section=section, reason=rule.reason_text(lang))


def facilities_for(rule: CoverageRule, year: int, load: Loader = layers.load) -> gpd.GeoDataFrame:
    """Return the facilities that serve `rule` and exist by the end of `year`."""
    parts = []
    for key in rule.facilities:
        spec = layers.get_layer(key)
        gdf = load(key)
        column = rule.facility_year or spec.year_column
        if column is not None:
            gdf = gdf[done_by(gdf[column], year)]
        for col, allowed in rule.facility_filter.items():
            gdf = gdf[gdf[col].isin(allowed)]
        parts.append(gdf[["geometry"]].assign(layer=key))
    merged = pd.concat(parts, ignore_index=True)
    return gpd.GeoDataFrame(merged, geometry="geometry", crs=parts[0].crs)


def road_graph(
    year: int, load: Loader = layers.load, *, cache_in: store.Store | None = None
) -> network.RoadGraph:
    """Return the graph of the roads that exist by the end of `year`.

    Building it is the slow part of measuring along roads, so it is kept on disk beside
    the store it comes from (`store.derived`) and read back while the roads layer has
    not changed since (an import or an edit of the roads builds it again).

    Parameters
    ----------
    year
        Roads built by the end of this year.
    load
        Reads a layer by key; default the configured store.
    cache_in
        The store `load` reads, beside which the graph is kept. Default: the configured
        store when `load` is `layers.load`; none (build every time) for another reader.
    """
    if cache_in is None and load is layers.load:
        cache_in = store.open_store()
    if cache_in is None:
        return _build_road_graph(year, load)
    name = f"road_graph-{year}"
    roads_version = derived.layer_version(cache_in, "roads")
    version = f"{roads_version}|year<={year}|format {network.GRAPH_FORMAT}"
    arrays = derived.read_arrays(cache_in, name, version)
    if arrays is not None:
        try:
            return network.graph_from_arrays(arrays)
        except ValueError as exc:
            log.warning("rebuilding the road graph of %d: its stored copy is bad (%s)", year, exc)
    graph = _build_road_graph(year, load)
    if derived.layer_version(cache_in, "roads") == roads_version:  # not changed meanwhile
        derived.write_arrays(cache_in, name, version, network.graph_to_arrays(graph))
    return graph


def _build_road_graph(year: int, load: Loader) -> network.RoadGraph:
    roads = load("roads")
    return network.build_graph(roads[done_by(roads["year_built"], year)])


def evaluate(
    rule: CoverageRule,
    year: int,
    *,
    along_roads: bool = False,
    within_m: float | None = None,
    load: Loader = layers.load,
    graph: network.RoadGraph | None = None,
) -> pd.DataFrame:
    """Evaluate `rule` for every village as of the end of `year`.

    Parameters
    ----------
    rule, year
        What to evaluate, as of the end of which year.
    along_roads
        Also measure along roads (`graph`, default the roads built by `year`).
    within_m
        The distance in metres; default the rule's own.
    load
        Reads a layer by key; default the demo store (the app passes a cached reader).
    graph
        A prebuilt road graph for `along_roads`.

    Returns
    -------
    pandas.DataFrame
        Indexed like the villages: `distance_m`, `covered`, `nearest` (distance rules),
        with `network_distance_m`, `snap_distance_m`, `network_covered` when
        `along_roads`; `register` (what the village file claims) and
        `contradiction` (the file disagrees with the map) where the rule has a flag.
    """
    villages = load("villages")
    register = (
        done_by(year_of(villages, rule.village_column), year) if rule.village_column else None
    )
    if not rule.is_distance:
        assert register is not None  # noqa: S101 (guaranteed by CoverageRule)
        return pd.DataFrame({"covered": register}, index=villages.index)
    within_m = float(within_m if within_m is not None else rule.within_m)  # type: ignore[arg-type]
    facilities = facilities_for(rule, year, load)
    if facilities.empty:
        msg = f"no facilities for rule {rule.key!r} exist by {year}: every village is a gap"
        raise ValueError(msg)
    out = coverage(villages, facilities, within_m=within_m)
    mapped = out["covered"]
    if along_roads:
        graph = graph or road_graph(year, load)
        out = out.join(network.network_distance(graph, villages, facilities))
        out["network_covered"] = (out["network_distance_m"] <= within_m).fillna(value=False)
        mapped = out["network_covered"]
    if register is not None:
        out["register"] = register
        out["contradiction"] = register != mapped
        if rule.flag_counts:
            out["covered"] = out["covered"] | register
            if along_roads:
                out["network_covered"] = out["network_covered"] | register
    return out


def population_coverage(
    rule: CoverageRule,
    year: int,
    *,
    within_m: float | None = None,
    load: Loader = layers.load,
    raster_file: Path | None = None,
) -> pd.DataFrame:
    """Return the share of the population grid within the rule's distance, per county."""
    if not rule.is_distance:
        msg = f"rule {rule.key!r} is an attribute rule: it has no distance to weight by"
        raise ValueError(msg)
    return raster.population_within(
        raster_file or layers.raster_path("population"),
        facilities_for(rule, year, load),
        float(within_m if within_m is not None else rule.within_m),  # type: ignore[arg-type]
        zones=load("counties"),
        zone_key="code",
    )


GAP_COLUMNS = [
    "code", "name_zh", "county_code", "township", "rule", "bureau", "scope", "deadline",
    "days_overdue", "is_poor", "provenance",
]  # fmt: skip


def gap_list(
    villages: pd.DataFrame,
    measures: Mapping[str, pd.DataFrame],
    year: int,
    *,
    rules: Sequence[CoverageRule] | None = None,
) -> pd.DataFrame:
    """Return one row per open gap (a village in a rule's scope it leaves out) as of `year`.

    The one place gaps are listed: the Bureaus page, `gaps_by_bureau` and the workbook
    all read it. `measures` maps each rule's key to its `evaluate` result. A rule whose
    clause names poor villages has gaps in poor villages only.

    Columns: `code`, `name_zh`, `county_code`, `township`, `rule`, `bureau` (key),
    `scope`, `deadline` (the rule's target year), `days_overdue` (0 before the deadline),
    `is_poor` and `provenance` (of the rule: the plan's measure or our assumption).
    """
    as_of = dt.date(year, 12, 31)
    parts = []
    for rule in rules if rules is not None else RULES.values():
        uncovered = ~measures[rule.key]["covered"].to_numpy(dtype=bool)
        missing = villages[uncovered & rule.in_scope(villages).to_numpy(dtype=bool)]
        parts.append(
            pd.DataFrame(
                {
                    "code": missing["code"],
                    "name_zh": missing["name_zh"],
                    "county_code": missing["county_code"],
                    "township": missing["township"],
                    "rule": rule.key,
                    "bureau": rule.bureau.key,
                    "scope": rule.scope.value,
                    "deadline": rule.target_year,
                    "days_overdue": max((as_of - dt.date(rule.target_year, 12, 31)).days, 0),
                    "is_poor": missing["is_poor"].astype(bool),
                    "provenance": rule.provenance.value,
                },
                columns=GAP_COLUMNS,
            )
        )
    if not parts:
        return pd.DataFrame(columns=GAP_COLUMNS)
    return pd.concat(parts, ignore_index=True)


def gaps_by_bureau(year: int, *, load: Loader = layers.load, lang: str = "en") -> pd.DataFrame:
    """Return, per lead bureau, its open gaps (village x rule) as of `year`, each need once.

    Each rule checks the villages of its scope only. A village without a bus service is a
    gap of the plan's `bus_service` and of our `bus_2km` too, so the totals leave out our
    map measures that repeat a rule of the plan (`CoverageRule.repeats`) and count them
    apart: no need is counted twice. A rule that is our only measure of a clause (a
    hardened road within 500 m) counts in the totals, still marked as ours.

    Returns
    -------
    pandas.DataFrame
        Indexed by the bureau's name in `lang` (``"en"`` or ``"zh"``): `unit` (its key);
        the rules it leads, but our repeats: `rules` (their keys), `checks` (villages in
        scope x rules), `gaps`, `poor_gaps` (gaps in registered poor villages),
        `share_of_gaps` (of the city's open gaps); and our repeats of the plan's rules (in
        no total): `assumed_rules`, `assumed_checks`, `assumed_gaps`, `assumed_poor_gaps`.
    """
    villages = load("villages")
    measures = {key: evaluate(rule, year, load=load) for key, rule in RULES.items()}
    gaps = gap_list(villages, measures, year)
    rows = {}
    for unit in dict.fromkeys(rule.bureau for rule in RULES.values()):
        row: dict[str, object] = {"unit": unit.key}
        for prefix, ours in (("", False), ("assumed_", True)):
            mine = [
                r for r in RULES.values() if r.bureau == unit and (r.repeats is not None) == ours
            ]
            found = gaps[gaps["rule"].isin([r.key for r in mine])]
            row[f"{prefix}rules"] = ", ".join(r.key for r in mine)
            row[f"{prefix}checks"] = sum(int(r.in_scope(villages).sum()) for r in mine)
            row[f"{prefix}gaps"] = len(found)
            row[f"{prefix}poor_gaps"] = int(found["is_poor"].sum())
        rows[unit.name(lang)] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "bureau"
    total = int(table["gaps"].sum())
    share = (table["gaps"] / total).round(4) if total else 0.0
    table.insert(table.columns.get_loc("poor_gaps") + 1, "share_of_gaps", share)
    return table


def evaluate_many(
    rules: list[CoverageRule],
    year: int,
    *,
    within_m: Mapping[str, float] | None = None,
    along_roads: bool = False,
    load: Loader = layers.load,
    graph: network.RoadGraph | None = None,
) -> pd.DataFrame:
    """Evaluate several rules at once: a village passes only if it passes all of them.

    Each rule judges the villages of its scope only (`CoverageRule.in_scope`): a village
    outside a rule's scope is not held to it, and a village outside the scope of every
    rule is neither covered nor a gap (`in_scope` false).

    Returns
    -------
    pandas.DataFrame
        Indexed like the villages: `in_scope` (in the scope of at least one rule),
        `covered` (in scope and passes every rule whose scope takes it in; along roads
        when `along_roads`), `straight_covered` (the same, straight line), and per rule
        ``<key>`` (passes, whatever the scope), ``<key>_distance_m`` and
        ``<key>_network_m`` (distance rules), ``<key>_contradiction`` (rules with a
        register flag).
    """
    distances = dict(within_m or {})
    if along_roads and graph is None and any(r.is_distance for r in rules):
        graph = road_graph(year, load)
    villages = load("villages")
    scopes = pd.DataFrame({r.key: r.in_scope(villages).to_numpy(bool) for r in rules})
    scopes.index = villages.index
    parts = {}
    for rule in rules:
        result = evaluate(
            rule,
            year,
            within_m=distances.get(rule.key),
            load=load,
            graph=graph,
            along_roads=along_roads and rule.is_distance,
        )
        passes = result["network_covered"] if "network_covered" in result else result["covered"]
        parts[rule.key] = passes.rename(rule.key)
        parts[f"{rule.key}_straight"] = result["covered"].rename(f"{rule.key}_straight")
        for column, suffix in (
            ("distance_m", "distance_m"),
            ("network_distance_m", "network_m"),
            ("contradiction", "contradiction"),
        ):
            if column in result:
                parts[f"{rule.key}_{suffix}"] = result[column].rename(f"{rule.key}_{suffix}")
    out = pd.DataFrame(parts)
    keys = [r.key for r in rules]
    in_scope = scopes[keys].any(axis=1)
    not_asked = ~scopes[keys].to_numpy()  # a rule holds no village outside its scope
    passes = out[keys].to_numpy(bool) | not_asked
    straight = out[[f"{k}_straight" for k in keys]].to_numpy(bool) | not_asked
    out.insert(0, "in_scope", in_scope)
    out.insert(1, "covered", in_scope & passes.all(axis=1))
    out.insert(2, "straight_covered", in_scope & straight.all(axis=1))
    return out.drop(columns=[f"{k}_straight" for k in keys])
