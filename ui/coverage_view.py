"""The Coverage page's views: controls, the map of covered and uncovered villages, tables."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

import layers
import ui
from geo.coverage import coverage_class, service_area, summarize
from layers import provenance, render
from layers.clauses import Provenance, Scope, weakest
from layers.rules import RULES, facilities_for, provenance_note, scope_text
from layers.spec import Style
from ui.cache import versioned
from ui.groups import PrerenderedGroup, group_script
from ui.tables import downloads, labelled

__all__ = [
    "CLASSES",
    "classified",
    "contradictions",
    "controls",
    "draw",
    "gap_table",
    "people",
    "scope_caption",
    "service_areas",
    "tables",
    "why",
]

CLASSES = {  # how each kind of village is drawn, in this order
    # first, small and grey: a village the rules do not ask about is neither covered nor a gap
    "out_of_scope": Style(color="#969696", radius=3, weight=1, fill_opacity=0.5),
    "covered": Style(color="#1a9641", radius=5, fill_opacity=0.9),
    "straight_only": Style(color="#fdae61", radius=6, fill_opacity=0.95),
    # drawn last, as rings: the covered villages under them stay visible
    "uncovered": Style(
        color="#d7191c", fill_color="#d7191c", radius=7, weight=2.5, fill_opacity=0.15
    ),
}
SERVICE = Style(color="#2c7bb6", fill_opacity=0.12, weight=1)


def controls(lang: str) -> tuple[list[str], dict[str, float], bool]:
    """Rules, their distances and the measuring mode, from the page's widgets."""
    keys = st.multiselect(
        ui.tr("rules"),
        list(RULES),
        default=["bus_2km"],
        format_func=lambda k: f"{RULES[k].title(lang)} · {RULES[k].provenance.label(lang)}",
        key="cov_rules",
    )
    within_m = {}
    for key in keys:
        rule = RULES[key]
        if rule.provenance is not Provenance.PLAN:  # never shown as the plan's
            st.caption(f"{rule.title(lang)}: {provenance_note(rule, lang)}")
        if rule.is_distance:
            default = int(rule.within_m or 0)
            within_m[key] = float(
                st.slider(
                    ui.tr("within", rule=rule.title(lang)),
                    100,
                    max(4 * default, 1000),
                    default,
                    step=100,
                    key=f"cov_within_{key}",
                )
            )
    mode = st.radio(
        ui.tr("mode"),
        ["straight", "network"],
        horizontal=True,
        format_func=lambda m: ui.tr(f"mode_{m}"),
        key="cov_mode",
    )
    return keys, within_m, mode == "network"


def service_areas(keys: list[str], within_m: dict[str, float], year: int) -> gpd.GeoDataFrame:
    """Return the service area of the first distance rule's facilities (empty if none)."""
    key = next((k for k in keys if k in within_m), None)
    if key is None:
        return gpd.GeoDataFrame(geometry=[], crs=4326)
    return _service_area(key, year, within_m[key])


@versioned(max_entries=32)
def _service_area(key: str, year: int, within_m: float) -> gpd.GeoDataFrame:
    """One rule's service area as of `year` (cached: buffering is the page's dearest step)."""
    return service_area(facilities_for(RULES[key], year, ui.layer), within_m=within_m)


Measures = tuple[tuple[str, ...], int, tuple[tuple[str, float], ...], bool]


@versioned(max_entries=32, shared=True)
def classified(what: Measures) -> gpd.GeoDataFrame:
    """Villages as of the year with their class for the rules chosen (cached; never mutate).

    `what`: the rules, the year, their distances and whether along roads.
    """
    keys, year, within_m, along_roads = what
    result = ui.coverage(list(keys), year, dict(within_m), along_roads)
    return ui.villages_as_of(year).join(
        coverage_class(result["covered"], result["straight_covered"], in_scope=result["in_scope"])
    )


def scope_caption(villages: gpd.GeoDataFrame, keys: list[str], lang: str) -> None:
    """Say the count of each class under the map, where gaps count and what grey means."""
    counts = " · ".join(
        f"{ui.tr(name)}: {int((villages['class'] == name).sum())}"
        for name in CLASSES
        if name != "out_of_scope"
    )
    outside = int((villages["class"] == "out_of_scope").sum())
    scope = ui.tr("counted_in", scope=scope_text([RULES[k] for k in keys], lang))
    note = f" {ui.tr('outside_scope_note', n=outside)}" if outside else ""
    st.caption(f"{counts}  \n{scope}{note}")


@versioned(max_entries=32, shared=True)
def _map_scripts(what: Measures, lang: str) -> list[tuple[str, str]]:
    """Return the service area's and each class's group as `draw` sends them (cached).

    Each group is rendered to JavaScript once (`ui.groups`): a rerun renders nothing again.
    """
    del lang  # part of the key: the titles' and tooltips' language
    keys, year, within_m, _ = what
    villages = classified(what)
    areas = service_areas(list(keys), dict(within_m), year)
    tooltip = {"name_zh": ui.tr("name"), "code": ui.tr("code")}
    spec = layers.get_layer("villages")
    parts: list[tuple[str, layers.LayerSpec, gpd.GeoDataFrame, Style, dict[str, str] | None]]
    parts = [("service_area", layers.get_layer("prefecture"), areas, SERVICE, None)]
    parts = parts if not areas.empty else []
    for name, style in CLASSES.items():
        part = villages[villages["class"] == name]
        if name != "out_of_scope" or not part.empty:  # no such layer when every village counts
            parts.append((name, spec, part, style, tooltip))
    return [
        (name, group_script(render.feature_group(
            part_spec, gdf, title=ui.tr(name), tooltip=tip, style=style, show=False
        )[0]))
        for name, part_spec, gdf, style, tip in parts
    ]  # fmt: skip


def draw(villages: gpd.GeoDataFrame, what: Measures) -> str | None:
    """Map of the villages by class over the service areas; return a clicked village's code."""
    fmap = render.base_map(villages.total_bounds)  # fitted to the villages, not the desert
    render.relief_overlay(*ui.relief()).add_to(fmap)
    groups = [
        PrerenderedGroup(render.escape(ui.tr(name)), script)
        for name, script in _map_scripts(what, ui.lang())
    ]
    out = st_folium(
        fmap,
        key="coverage_map",
        height=520,
        use_container_width=True,
        feature_group_to_add=groups,
        returned_objects=["last_object_clicked"],
    )
    clicked = (out or {}).get("last_object_clicked")
    return ui.village_at(villages, clicked["lat"], clicked["lng"]) if clicked else None


def why(
    code: str, result: pd.DataFrame, villages: gpd.GeoDataFrame, keys: list[str], lang: str
) -> None:
    """Why a village is (not) covered: its distances for every rule chosen."""
    row = villages[villages["code"] == code]
    i = row.index[0]
    st.subheader(ui.tr("gap_why", name=ui.md(row["name_zh"].iloc[0])))
    rows = []
    for key in keys:
        straight = result.get(f"{key}_distance_m")
        along = result.get(f"{key}_network_m")
        met = ui.tr("yes") if result.loc[i, key] else ui.tr("no")
        if not bool(RULES[key].in_scope(row).iloc[0]):
            met = ui.tr("out_of_scope")
        rows.append(
            {
                ui.tr("measure"): RULES[key].title(lang),
                ui.tr("met"): met,
                ui.tr("straight_m"): None if straight is None else round(float(straight[i])),
                ui.tr("network_m"): None
                if along is None
                else (ui.tr("unreachable") if pd.isna(along[i]) else str(round(float(along[i])))),
            }
        )
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


@versioned(max_entries=32, shared=True)
def _summaries(what: Measures, lang: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the coverage per county (named) and per township (cached; never mutate)."""
    del lang  # part of the key: the counties' names
    keys, year, within_m, along_roads = what
    result = ui.coverage(list(keys), year, dict(within_m), along_roads)
    asked = result["in_scope"]
    covered, villages = result.loc[asked, "covered"], classified(what)[asked]
    by_county = summarize(covered, villages, by="county_code")
    by_county.index = by_county.index.map(ui.county_names())
    return by_county, summarize(covered, villages, by="township")


def tables(what: Measures) -> None:
    """Per county and per township: villages in the rules' scope, poor villages, people covered."""
    labels = {
        "villages": ui.tr("villages_count"),
        "covered": ui.tr("covered"),
        "share": ui.tr("share"),
        "poor_villages": ui.tr("poor_villages"),
        "poor_covered": ui.tr("poor_covered"),
        "people": ui.tr("population"),
        "people_covered": ui.tr("people_covered"),
    }
    by_county, by_town = _summaries(what, ui.lang())
    st.subheader(ui.tr("by_county"))
    st.caption(ui.tr("counted_in", scope=scope_text([RULES[k] for k in what[0]], ui.lang())))
    st.bar_chart(by_county[["covered", "villages"]].rename(columns=labels), stack=False)
    st.dataframe(by_county.rename(columns=labels), width="stretch")
    st.subheader(ui.tr("by_township"))
    st.dataframe(by_town.rename(columns=labels), width="stretch")


def people(keys: list[str], within_m: dict[str, float], year: int) -> None:
    """People within the distance per county, from the population grid (one distance rule)."""
    single = [k for k in keys if k in within_m]
    if len(single) != 1:
        return
    table = ui.population(single[0], year, within_m[single[0]])
    table.index = table.index.map(ui.county_names())
    st.subheader(ui.tr("people_covered"))
    rule = RULES[single[0]]
    if rule.scope is not Scope.ALL_VILLAGES:  # the grid knows no scope
        st.caption(ui.tr("people_everyone", scope=rule.scope.label(ui.lang())))
    labels = {
        "people": ui.tr("population"),
        "people_covered": ui.tr("people_covered"),
        "share": ui.tr("share"),
    }
    st.dataframe(table.rename(columns=labels), width="stretch")


def contradictions(villages: gpd.GeoDataFrame, result: pd.DataFrame, lang: str) -> None:
    """Villages whose own file disagrees with the map, and on which measures."""
    flags = {
        c: RULES[c.removesuffix("_contradiction")].title(lang)
        for c in result.columns
        if c.endswith("_contradiction")
    }
    if not flags:
        return
    st.subheader(ui.tr("contradictions"))
    found = result[result[list(flags)].any(axis=1)]
    which = found[list(flags)].apply(
        lambda r: ", ".join(t for c, t in flags.items() if r[c]), axis=1
    )
    table = villages.loc[found.index, ["code", "name_zh", "county", "township"]]
    st.dataframe(
        labelled(table).assign(**{ui.tr("measure"): which}), hide_index=True, width="stretch"
    )


def gap_table(
    villages: gpd.GeoDataFrame,
    result: pd.DataFrame,
    keys: list[str],
    year: int,
    *,
    along_roads: bool = False,
) -> None:
    """Show the villages left out in the rules' scope, with their distances, and downloads.

    A rule's column is empty for a village outside that rule's scope; the table and its
    downloads say the scope and the rules' provenance (the least sure of them).
    """
    lang = ui.lang()
    rules = [RULES[k] for k in keys]
    scope = scope_text(rules, lang)
    st.subheader(f"{ui.tr('gap_list')} · {scope}")
    gaps = villages[result["in_scope"] & ~result["covered"]]
    if gaps.empty:
        st.success(ui.tr("no_gaps"))
        return
    table = gaps[["code", "name_zh", "pinyin", "county", "township", "is_poor", "population"]]
    measured = result.drop(columns=["in_scope", "covered", "straight_covered"]).loc[gaps.index]
    for rule in rules:
        measured[rule.key] = measured[rule.key].astype("boolean").where(rule.in_scope(gaps))
    table = pd.DataFrame(table.join(measured)).assign(
        scope=scope, provenance=weakest(*(r.provenance for r in rules)).label(lang)
    )
    shown = labelled(table).rename(
        columns={"scope": ui.tr("scope"), "provenance": ui.tr("provenance")}
    )
    st.dataframe(shown, hide_index=True, width="stretch")
    sources = [k for r in keys for k in provenance.rule_layers(RULES[r], along_roads=along_roads)]
    downloads(table, gaps.geometry, f"gaps-{'-'.join(keys)}-{year}", sources)
