"""Workbooks: the bureau workbook (gaps per lead bureau) and a scenario's sites and effect."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

import layers
from exports.spec import read_once
from geo.crs import metric_crs
from layers import scenarios
from layers.i18n import t
from layers.provenance import Reading
from layers.rules import RULES, Loader, evaluate, gaps_by_bureau
from store import tables

__all__ = ["bureau_workbook", "scenario_workbook"]


def bureau_workbook(year: int, path: Path, *, load: Loader = layers.load, lang: str = "zh") -> Path:
    """Write an .xlsx with a summary sheet and one sheet per lead bureau with its gap list.

    When a layer it was made from is synthetic demo data, a first sheet says so and lists
    the source of every layer (`store.tables.Note`).
    """
    read = Reading(read_once(load))
    villages = read("villages")
    summary = gaps_by_bureau(year, load=read).reset_index()
    sheets = {t("summary", lang): summary}
    for rule in RULES.values():
        name = rule.bureau.name(lang)
        covered = evaluate(rule, year, load=read)["covered"]
        gaps = villages.loc[~covered, ["code", "name_zh", "county", "township", "is_poor"]]
        gaps = pd.DataFrame(gaps).assign(missing=rule.title(lang), deadline=rule.target_year)
        sheets[name] = pd.concat([sheets.get(name, pd.DataFrame()), gaps], ignore_index=True)
    return tables.write_workbook(sheets, path, note=read.note(lang))


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
