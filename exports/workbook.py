"""Workbooks: the bureau workbook (targets and gaps per lead bureau) and a scenario's sites.

In the bureau workbook every target row and every gap says its provenance: the plan's
figure, a figure to confirm, or the atlas's own assumption; every gap says which project
serves it (`layers.projects.link`) and how far along it is. Gaps count only in a rule's
scope (a clause that names poor villages has gaps in poor villages only).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

import layers
from exports.spec import read_once
from geo.crs import metric_crs
from layers import bureaus, projects, provenance, scenarios
from layers.clauses import Provenance
from layers.i18n import t
from layers.provenance import Reading
from layers.rules import RULES, Loader, evaluate, gap_list, gaps_by_bureau
from layers.targets import board, counts_text, load_targets
from store import tables

__all__ = ["bureau_workbook", "scenario_workbook"]


def _targets_sheet(year: int, load: Loader, lang: str) -> pd.DataFrame:
    """Return the board with the clause, scope, lead and cooperating units and provenance."""
    plan = load_targets()
    rows = board(plan, year, load=load, history=False)
    return pd.DataFrame(
        {
            "key": rows.index,
            t("target", lang): [p.title(lang) for p in plan],
            t("scope", lang): [p.scope_text(lang) for p in plan],
            t("unit_of_goal", lang): [p.unit_text(lang) for p in plan],
            t("goal", lang): rows["goal"].to_numpy(),
            t("deadline", lang): rows["deadline"].to_numpy(),
            t("current", lang): rows["current"].to_numpy(),
            t("counts", lang): [counts_text(r, lang) for r in rows.to_dict("records")],
            t("target_status", lang): [t("st_" + s, lang) for s in rows["status"]],
            t("lead_bureau", lang): [p.lead_text(lang) for p in plan],
            t("cooperating", lang): [bureaus.names(p.cooperating, lang) for p in plan],
            t("provenance", lang): [Provenance(p).label(lang) for p in rows["provenance"]],
            t("reason", lang): rows["reason"].to_numpy(),
            t("section", lang): rows["section"].to_numpy(),
            t("clause", lang): rows["clause"].to_numpy(),
        }
    )


#: The summary's columns (`gaps_by_bureau`) -> their headings: the plan's, then ours.
_SUMMARY_HEADINGS = {
    "bureau": "bureau",
    "unit": "unit_key",
    "rules": "plan_rules",
    "checks": "plan_checks",
    "gaps": "open_gaps",
    "poor_gaps": "poor_gaps",
    "share_of_gaps": "share_of_gaps",
    "assumed_rules": "our_rules",
    "assumed_checks": "our_checks",
    "assumed_gaps": "gaps_ours",
    "assumed_poor_gaps": "our_poor_gaps",
}


def _summary_sheet(year: int, load: Loader, lang: str) -> pd.DataFrame:
    """Return each lead bureau (named in `lang`) with its gaps: the plan's measures, then ours.

    Our own measures (assumptions) are counted apart, never in the plan's totals.
    """
    table = gaps_by_bureau(year, load=load, lang=lang).reset_index()
    return table.rename(columns={c: t(k, lang) for c, k in _SUMMARY_HEADINGS.items()})


def bureau_workbook(year: int, path: Path, *, load: Loader = layers.load, lang: str = "zh") -> Path:
    """Write an .xlsx: a summary, the targets board, the projects, each lead bureau's gaps.

    When a layer it was made from is synthetic demo data, a first sheet says so and lists
    the source of every layer (`store.tables.Note`).
    """
    read = Reading(read_once(load))
    villages = read("villages")
    measures = {key: evaluate(rule, year, load=read) for key, rule in RULES.items()}
    gaps = gap_list(villages, measures, year)
    register = projects.register(read)
    plan = load_targets()
    linked = projects.link(gaps, register, projects.measure_rules(plan))
    sheets = {
        t("summary", lang): _summary_sheet(year, read, lang),
        t("page_targets", lang): _targets_sheet(year, read, lang),
        t("theme_projects", lang): projects.listing(register, lang, plan),
    }
    counties = villages.set_index("code")["county"]
    for rule in RULES.values():
        mine = gaps[gaps["rule"] == rule.key]
        served = linked.loc[mine.index]
        rows = pd.DataFrame(
            {
                "code": mine["code"],
                "name_zh": mine["name_zh"],
                "county": mine["code"].map(counties),
                "township": mine["township"],
                "is_poor": mine["is_poor"],
                "missing": rule.title(lang),
                "scope": rule.scope.label(lang),
                "deadline": rule.target_year,
                "provenance": rule.provenance.label(lang),
                "project": served["project"],
                "project_status": served["project_status"].map(
                    lambda s: projects.status_text(s, lang)
                ),
                "project_year": served["project_year"],
                "budget_wan_yuan": served["budget_wan_yuan"],
                "fund_source": served["fund_source"].map(lambda s: projects.fund_text(s, lang)),
            }
        )
        name = rule.bureau.name(lang)
        sheets[name] = pd.concat([sheets.get(name, pd.DataFrame()), rows], ignore_index=True)
    note = provenance.board_note(read.note(lang), None, lang)  # register, indicators
    return tables.write_workbook(sheets, path, note=note)


def _links(scenario: scenarios.Scenario) -> pd.DataFrame:
    """One row per planned road link: its vertices and true length in km."""
    lines = [shapely.LineString(line) for line in scenario.roads]
    if not lines:
        return pd.DataFrame(columns=["link", "vertices", "length_km", "wkt"])
    links = gpd.GeoSeries(lines, crs=4326)
    metric = links.to_crs(metric_crs(links.total_bounds))
    return pd.DataFrame(
        {
            "link": [f"planned road link {i + 1}" for i in range(len(lines))],
            "vertices": [len(line) for line in scenario.roads],
            "length_km": (metric.length / 1000).round(3).to_numpy(),
            "wkt": [line.wkt for line in lines],
        }
    )


def scenario_workbook(
    scenario: scenarios.Scenario,
    path: Path,
    *,
    load: Loader = layers.load,
    lang: str = "zh",
    owner: str = "",
) -> Path:
    """Write an .xlsx of a scenario: its sites, removals, road links and effect.

    Sheets: the scenario (rule, base year, owner, counts), the new sites (CGCS2000 lon/lat,
    the county's Gauss-Kruger easting and northing, township, villages each one serves and
    newly covers), the sites removed, the road links (length in km), and what the scenario
    changes per county and per township, straight line and along roads side by side.
    """
    read = Reading(read_once(load))
    rule = RULES[scenario.rule]
    effect = scenarios.effect(scenario, read)
    about = pd.DataFrame(
        {
            "field": ["scenario", "rule", "base_year", "owner", "sites_added", "sites_removed",
                      "road_links", "distance_m"],
            "value": [scenario.name, rule.title(lang), scenario.base_year, owner,
                      len(scenario.added), len(scenario.removed), len(scenario.roads),
                      rule.within_m],
        }
    )  # fmt: skip
    removed = pd.DataFrame(scenario.removed, columns=["layer", "lon", "lat"])
    sheets = {
        t("scenario", lang): about,
        t("new_sites", lang): scenarios.site_table(scenario, read),
        t("removed_sites", lang): removed,
        t("planned_roads", lang): _links(scenario),
        t("by_county", lang): scenarios.summary(effect, "county_code").reset_index(),
        t("by_township", lang): scenarios.summary(effect, "township_code").reset_index(),
    }
    return tables.write_workbook(sheets, path, note=read.note(lang))
