"""The Planning page's views: the working scenario, its map with drawing, the optimiser, effects.

The scenario being worked on lives in the session (`DRAFT`) until it is saved to the store.
Each view returns the scenario, changed or not; the page stores a changed one and reruns.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import folium
import folium.plugins
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import streamlit as st
from streamlit_folium import st_folium

import exports
import layers
import ui
from geo import crs as geo_crs
from geo.coverage import service_area
from geo.errors import NoCrsError, StoreError
from layers import access, assets, planning, provenance, render, scenarios, targets
from layers.clauses import Provenance
from layers.rules import RULES, facilities_for
from layers.scenarios import Scenario
from layers.spec import GeometryKind, Style
from store import ingest
from store.tables import labelled_name
from ui.cache import versioned
from ui.groups import PrerenderedGroup, group_script
from ui.text import md

__all__ = [
    "DRAFT",
    "board_side_by_side",
    "choose",
    "draw",
    "effect_tables",
    "optimiser",
    "removals",
    "save_and_export",
    "sites",
    "upload",
]

DRAFT = "plan_draft"
_ROUND = "plan_round"  # bumped when drawings are taken in: a fresh map, no drawing twice
_PROPOSAL = "plan_proposal"
_NEW = "\u2795"
_CLASS_STYLES = {
    "covered": Style(color="#1a9641", radius=4, fill_opacity=0.9),
    "newly_covered": Style(color="#2c7bb6", radius=6, fill_opacity=1.0),
    "uncovered": Style(color="#d7191c", radius=4, fill_opacity=0.9),
}
DISTANCE_RULES = [key for key, rule in RULES.items() if rule.is_distance]


@versioned(max_entries=16)
def _effect(name: str, rule: str, year: int, changes: str) -> pd.DataFrame:
    return scenarios.effect(Scenario.from_record(name, rule, year, changes), ui.layer)


@versioned(max_entries=8, with_targets=True)
def _board(name: str, rule: str, year: int, changes: str) -> pd.DataFrame:
    scenario = Scenario.from_record(name, rule, year, changes)
    return targets.board(ui.load_targets(), year, load=scenarios.apply(scenario, ui.layer))


@versioned(max_entries=32, shared=True)
def _summary(name: str, rule: str, year: int, changes: str, by: str) -> pd.DataFrame:
    return scenarios.summary(_effect(name, rule, year, changes), by)


def summary_of(scenario: Scenario, by: str) -> pd.DataFrame:
    """Return the scenario's effect summed by `by` (cached: never change it)."""
    return _summary(scenario.name, scenario.rule, scenario.base_year, scenario.changes_json(), by)


def effect_of(scenario: Scenario) -> pd.DataFrame:
    """Return the scenario's effect per rule and village (cached on what it changes)."""
    return _effect(scenario.name, scenario.rule, scenario.base_year, scenario.changes_json())


def _stored() -> pd.DataFrame:
    return ui.the_store().scenarios()


def _make_draft(scenario: Scenario) -> None:
    """Make `scenario` the working one, its widgets showing it."""
    st.session_state[DRAFT] = scenario
    st.session_state["plan_name"] = scenario.name
    st.session_state["plan_rule"] = scenario.rule
    st.session_state["plan_removed"] = list(scenario.removed)
    st.session_state.pop(_PROPOSAL, None)


def _load(name: str) -> None:
    """Sidebar callback: make a stored scenario (or a new one) the working one."""
    year = int(st.session_state[ui.YEAR])
    if name == _NEW:
        _make_draft(Scenario(ui.tr("new_scenario"), "bus_2km", year))
        return
    row = _stored().set_index("name").loc[name]
    _make_draft(Scenario.from_record(name, row["rule"], int(row["base_year"]), row["changes"]))
    st.session_state[ui.YEAR] = int(row["base_year"])
    st.session_state[ui.YEAR + "_slider"] = int(row["base_year"])


def _new_rule() -> None:
    """Rule callback: the sites belong to the old rule's layers, so the draft starts empty."""
    draft: Scenario = st.session_state[DRAFT]
    _make_draft(Scenario(draft.name, st.session_state["plan_rule"], draft.base_year))


def choose(lang: str, year: int) -> Scenario:
    """Sidebar: open a stored scenario or start one; its rule and name. Return the draft."""
    names = [_NEW, *_stored()["name"]]
    side = st.sidebar
    picked = side.selectbox(
        ui.tr("scenario"),
        names,
        format_func=lambda n: ui.tr("new_scenario") if n == _NEW else n,
        key="plan_pick",
        on_change=lambda: _load(st.session_state["plan_pick"]),
    )
    if DRAFT not in st.session_state:
        _load(picked)
    draft: Scenario = st.session_state[DRAFT]
    side.selectbox(
        ui.tr("rule"),
        DISTANCE_RULES,
        format_func=lambda k: RULES[k].title(lang),
        key="plan_rule",
        on_change=_new_rule,
    )
    name = side.text_input(ui.tr("scenario_name"), max_chars=80, key="plan_name")
    try:
        return Scenario(name, draft.rule, year, draft.added, draft.removed, draft.roads)
    except ValueError as exc:
        side.error(md(exc))
        return draft


def _sites_to_draw(existing: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return the existing sites to draw: each one, or their points grouped when too many."""
    points = existing[existing.geom_type == "Point"]
    if len(points) <= render.POINTS_MAX:
        return existing
    grouped = render.grouped_points(
        points.assign(status="site"), 8, category="status", label=ui.tr("n_sites")
    )
    return pd.concat([existing[existing.geom_type != "Point"], grouped], ignore_index=True)


@versioned(max_entries=16, shared=True)
def _map_scripts(name: str, rule: str, year: int, changes: str, lang: str) -> list[str]:
    """Return the groups of the counties, existing sites and each village class (cached).

    Each group is rendered to JavaScript once (`ui.groups`): a rerun renders nothing again.
    """
    del lang  # part of the key: the titles' and tooltips' language
    scenario = Scenario.from_record(name, rule, year, changes)
    found = effect_of(scenario)
    mine = found[found["rule"] == rule]
    before, after = mine["before"].to_numpy(), mine["after"].to_numpy()
    villages = ui.villages_as_of(year)
    classes = np.where(after & ~before, "newly_covered", np.where(after, "covered", "uncovered"))
    existing = facilities_for(RULES[rule], year, ui.layer)
    point_layers = [
        k for k in RULES[rule].facilities if layers.get_layer(k).geometry is GeometryKind.POINT
    ]
    site_spec = layers.get_layer((point_layers or list(RULES[rule].facilities))[0])
    tooltip = {"name_zh": ui.tr("name"), "code": ui.tr("code")}
    spec = layers.get_layer("villages")
    groups = [
        render.feature_group(
            layers.get_layer("counties"), ui.layer("counties"), title=ui.tr("counties"), show=False
        )[0],
        render.feature_group(
            site_spec, _sites_to_draw(existing), title=ui.tr("existing_sites"), show=False
        )[0],
    ]
    for cls, style in _CLASS_STYLES.items():
        part = villages[classes == cls].assign(status=cls)
        part = render.grouped_points(part, 8, category="status", label=ui.tr("n_villages"))
        groups.append(
            render.feature_group(
                spec, part, title=ui.tr(cls), tooltip=tooltip, style=style, show=False
            )[0]
        )
    return [group_script(group) for group in groups]


def _drawing_tool() -> folium.plugins.Draw:
    off = dict.fromkeys(("polygon", "rectangle", "circle", "circlemarker"), False)
    tool = folium.plugins.Draw(  # type: ignore[no-untyped-call]
        draw_options={**off, "marker": True, "polyline": {"shapeOptions": {"color": "#7b3294"}}},
        edit_options={"edit": False},
        show_geometry_on_click=False,
    )
    return assets.localize(tool)  # type: ignore[return-value]


def draw(scenario: Scenario) -> Scenario:
    """Show the scenario's map; take drawn markers in as sites and lines as road links."""
    rule = RULES[scenario.rule]
    fmap = render.base_map(ui.layer("villages").total_bounds)
    render.relief_overlay(*ui.relief()).add_to(fmap)
    scripts = _map_scripts(
        scenario.name, scenario.rule, scenario.base_year, scenario.changes_json(), ui.lang()
    )
    titles = ["counties", "existing_sites", *_CLASS_STYLES]
    for title, script in zip(titles, scripts, strict=True):
        PrerenderedGroup(render.escape(ui.tr(title)), script).add_to(fmap)
    _overlay(scenario, float(rule.within_m or 0)).add_to(fmap)
    _drawing_tool().add_to(fmap)
    st.session_state.setdefault(_ROUND, 0)
    out = st_folium(
        fmap,
        key=f"plan_map_{st.session_state[_ROUND]}",
        height=520,
        use_container_width=True,
        returned_objects=["all_drawings"],
    )
    drawn = (out or {}).get("all_drawings") or []
    points, lines = _new_drawings(scenario, drawn)
    st.caption(ui.tr("draw_hint"))
    if (points or lines) and st.button(ui.tr("take_drawn", sites=len(points), links=len(lines))):
        st.session_state[_ROUND] += 1
        return scenario.replace(added=[*scenario.added, *points], roads=[*scenario.roads, *lines])
    return scenario


def _new_drawings(
    scenario: Scenario, drawn: list[dict[str, dict[str, object]]]
) -> tuple[list[tuple[float, float]], list[tuple[tuple[float, float], ...]]]:
    """Return the drawn points and lines that the scenario does not hold yet."""
    points, lines = [], []
    for feature in drawn:
        kind, xy = feature["geometry"].get("type"), feature["geometry"].get("coordinates")
        if kind == "Point" and isinstance(xy, list):
            point = (float(xy[0]), float(xy[1]))
            if point not in scenario.added and point not in points:
                points.append(point)
        elif kind == "LineString" and isinstance(xy, list):
            line = tuple((float(x), float(y)) for x, y in xy)
            if line not in scenario.roads and line not in lines:
                lines.append(line)
    return points, lines


def _overlay(scenario: Scenario, within_m: float) -> folium.FeatureGroup:
    """Return a group of the new sites, their service areas, removals and road links."""
    group = folium.FeatureGroup(name=render.escape(ui.tr("scenario")))
    if scenario.added:
        sites = gpd.GeoDataFrame(geometry=shapely.points(list(scenario.added)), crs=4326)
        folium.GeoJson(
            service_area(sites, within_m=within_m).__geo_interface__,
            style_function=lambda _: {"color": "#e66101", "weight": 1, "fillOpacity": 0.08},
        ).add_to(group)
        for i, (lon, lat) in enumerate(scenario.added):
            folium.CircleMarker(
                (lat, lon), radius=7, color="#e66101", fill=True, fill_opacity=1,
                tooltip=f"planned {i + 1}",
            ).add_to(group)  # fmt: skip
    for _, lon, lat in scenario.removed:
        folium.CircleMarker((lat, lon), radius=7, color="#555555", dash_array="2 2").add_to(group)
    for line in scenario.roads:
        folium.PolyLine(  # type: ignore[no-untyped-call]
            [(lat, lon) for lon, lat in line], color="#7b3294", dash_array="6 4"
        ).add_to(group)
    return group


@versioned(max_entries=16, shared=True)
def _removable(rule: str, year: int) -> dict[tuple[str, float, float], str]:
    """Return the rule's point sites existing by `year`: (layer, lon, lat) -> their label."""
    options = {}
    for key in RULES[rule].facilities:
        if layers.get_layer(key).geometry is not GeometryKind.POINT:
            continue
        sites = ui.layer_as_of(key, year)
        xy = shapely.get_coordinates(sites.to_crs(4326).geometry.to_numpy())
        for name, (x, y) in zip(sites["name"], xy, strict=True):
            options[(key, float(x), float(y))] = f"{ui.as_text(name)} ({x:.4f}, {y:.4f})"
    return options


def removals(scenario: Scenario) -> Scenario:
    """Choose existing sites of the rule to take away."""
    options = _removable(scenario.rule, scenario.base_year)
    st.session_state["plan_removed"] = [
        r for r in st.session_state.get("plan_removed", []) if r in options
    ]
    chosen = st.multiselect(
        ui.tr("remove_sites"),
        list(options),
        format_func=options.__getitem__,
        key="plan_removed",
        placeholder=ui.tr("none"),
    )
    return scenario.replace(removed=chosen)


def _read(up: object) -> gpd.GeoDataFrame | None:
    """Read an uploaded file as any hostile file, in lon/lat; say why not and return None."""
    with ui.saved_upload(up) as path:  # type: ignore[arg-type]
        if path is None:
            return None
        try:
            return geo_crs.to_storage_crs(ingest.read_untrusted(path)[0], None)
        except (ingest.IngestError, NoCrsError, ValueError) as exc:
            st.error(md(exc))
            return None


def upload(scenario: Scenario) -> Scenario:
    """Add the points (sites) and lines (road links) of an uploaded file, like any hostile file."""
    up = st.file_uploader(
        ui.tr("upload_sites"), type=["geojson", "json", "zip", "gpkg", "kml", "csv", "xlsx"],
        key="plan_upload",
    )  # fmt: skip
    if up is None or not st.button(ui.tr("take_file")):
        return scenario
    gdf = _read(up)
    if gdf is None:
        return scenario
    parts = gdf.geometry.explode(index_parts=False)
    points = [(p.x, p.y) for p in parts[parts.geom_type == "Point"]]
    lines = [
        tuple(map(tuple, shapely.get_coordinates(g)))
        for g in parts[parts.geom_type == "LineString"]
    ]
    try:
        return scenario.replace(added=[*scenario.added, *points], roads=[*scenario.roads, *lines])
    except ValueError as exc:
        st.error(md(exc))
        return scenario


def optimiser(scenario: Scenario) -> Scenario:
    """Ask HiGHS for the best next sites given the scenario; add them when asked."""
    with st.form("plan_optimise"):
        a, b, c = st.columns(3)
        n = a.number_input(ui.tr("how_many_sites"), 1, 200, 10, key="plan_n")
        objective = b.selectbox(
            ui.tr("objective"), ["max-cover", "set-cover"], key="plan_objective"
        )
        weight = c.selectbox(
            ui.tr("weight"),
            list(planning.WEIGHTS),
            key="plan_weight",
            format_func=lambda w: ui.tr(f"weight_{w}"),
        )
        kind = a.selectbox(
            ui.tr("candidates"),
            planning.CANDIDATES,
            key="plan_candidates",
            format_func=lambda k: ui.tr(f"candidates_{k}"),
        )
        spacing = b.number_input(ui.tr("spacing_m"), 100, 20_000, 500, step=100, key="plan_spacing")
        limit = c.number_input(ui.tr("time_limit"), 1, 120, 20, key="plan_limit")
        along = a.toggle(ui.tr("along_roads"), key="plan_along")
        areas = st.file_uploader(
            ui.tr("exclude_areas"),
            type=["geojson", "json", "zip", "gpkg", "kml"],
            key="plan_exclude",
        )
        run = st.form_submit_button(ui.tr("propose"))
    if run:
        st.session_state[_PROPOSAL] = _propose(
            scenario,
            kind,
            spacing,
            areas,
            planning.Ask(int(n), objective, weight, along, float(limit)),
        )
    found = st.session_state.get(_PROPOSAL)
    if not found:
        return scenario
    chosen, solution = found
    st.text(ui.tr("solved", objective=solution.objective, gap=solution.gap, method=solution.method))
    for note in solution.notes:
        st.caption(md(note))
    st.dataframe(chosen.drop(columns="geometry"), hide_index=True)
    if len(chosen) and st.button(ui.tr("take_proposal", n=len(chosen))):
        del st.session_state[_PROPOSAL]
        return scenario.replace(
            added=[*scenario.added, *zip(chosen["lon"], chosen["lat"], strict=True)]
        )
    return scenario


def _propose(
    scenario: Scenario, kind: str, spacing: float, areas: object, ask: planning.Ask
) -> tuple[gpd.GeoDataFrame, object] | None:
    """Solve for the next sites with the scenario built (its sites kept, its removals gone)."""
    load = scenarios.apply(scenario, ui.layer)
    try:
        found = planning.candidates(kind, scenario.base_year, spacing_m=spacing, load=load)
        if areas is not None:
            zone = _read(areas)
            if zone is None:
                return None
            found = planning.excluding(found, zone)
        return planning.plan_sites(RULES[scenario.rule], scenario.base_year, found, ask, load=load)
    except ValueError as exc:
        st.error(md(exc))
        return None


def sites(scenario: Scenario) -> Scenario:
    """List the new sites (CGCS2000, Gauss-Kruger, township, villages served); drop some."""
    if not scenario.added:
        st.info(ui.tr("no_sites_yet"))
        return scenario
    table = scenarios.site_table(scenario, ui.layer)
    st.dataframe(table, hide_index=True)
    drop = st.multiselect(ui.tr("drop_sites"), list(table["site"]), key="plan_drop")
    if drop and st.button(ui.tr("drop_them", n=len(drop))):
        keep = [
            p for name, p in zip(table["site"], scenario.added, strict=True) if name not in drop
        ]
        return scenario.replace(added=keep)
    return scenario


_BY = {"county_code": "county", "township_code": "township", "bureau": "lead_bureau"}


def effect_tables(scenario: Scenario, lang: str) -> None:
    """Show what the scenario changes per rule and county, township or bureau; both measures."""
    total = summary_of(scenario, "county_code").loc[(scenario.rule, "total")]
    columns = st.columns(4)
    for column, key in zip(
        columns,
        ("newly_covered", "newly_covered_roads", "poor_people_newly_covered", "newly_uncovered"),
        strict=True,
    ):
        column.metric(ui.tr(f"fx_{key}"), f"{total[key]:,.0f}")
    by = st.radio(
        ui.tr("group_by"),
        list(_BY),
        format_func=lambda b: ui.tr(_BY[b]),
        horizontal=True,
        key="plan_by",
    )
    table = summary_of(scenario, by).reset_index()
    names = {
        "county_code": ui.county_names(),
        "township_code": dict(
            zip(ui.layer("townships")["code"], ui.layer("townships")["name_zh"], strict=True)
        ),
        "bureau": {r.bureau.key: r.bureau.name(lang) for r in RULES.values()},
    }[by]
    table[by] = table[by].map(lambda v: names.get(v, ui.tr("total") if v == "total" else v))
    table["rule"] = table["rule"].map(lambda k: RULES[k].title(lang))
    table.columns = [ui.tr(_BY.get(c, c if c == "rule" else f"fx_{c}")) for c in table]
    st.dataframe(table, hide_index=True)


def board_side_by_side(scenario: Scenario, lang: str) -> None:
    """Show the targets board as is and with the scenario, row by row."""
    year = scenario.base_year
    as_is = ui.board(year)
    with_it = _board(scenario.name, scenario.rule, year, scenario.changes_json())
    plan = {t.key: t for t in ui.load_targets()}
    table = pd.DataFrame(
        {
            ui.tr("target"): [plan[key].title(lang) for key in as_is.index],
            ui.tr("goal"): [
                "" if goal != goal else f"{goal:g} {plan[key].unit_text(lang)}"  # noqa: PLR0124
                for key, goal in as_is["goal"].items()
            ],
            ui.tr("provenance"): [Provenance(p).label(lang) for p in as_is["provenance"]],
            ui.tr("as_is"): as_is["current"],
            ui.tr("as_is_status"): as_is["status"].map(lambda v: ui.tr("st_" + v) if v else ""),
            ui.tr("with_scenario"): with_it["current"],
            ui.tr("with_status"): with_it["status"].map(lambda v: ui.tr("st_" + v) if v else ""),
        }
    )
    changed = (as_is["current"] != with_it["current"]).to_numpy()
    table = table.reset_index(drop=True)
    st.dataframe(
        table.style.format(precision=1).apply(
            lambda row: ["background-color: #fff3c4" if changed[row.name] else "" for _ in row],
            axis=1,
        ),
        hide_index=True,
    )


def save_and_export(scenario: Scenario, lang: str) -> None:
    """Save (planners and administrators), delete (its owner or an administrator), export."""
    who = ui.auth.current()
    handle = ui.the_store()
    stored = _stored().set_index("name")
    owner = str(stored.loc[scenario.name, "owner"]) if scenario.name in stored.index else None
    left, mid, right = st.columns(3)
    if not access.may_edit_targets(who):
        left.info(ui.tr("plan_read_only"))
    elif left.button(ui.tr("save_scenario"), type="primary"):
        try:
            handle.save_scenario(
                scenario.name, owner=who.name, rule=scenario.rule,
                base_year=scenario.base_year, changes=scenario.changes_json(),
            )  # fmt: skip
            st.success(ui.tr("scenario_saved", name=md(scenario.name)))
        except (PermissionError, StoreError) as exc:
            st.error(md(exc))
    mine = owner is not None and (owner == who.name or access.may_manage_accounts(who))
    if mine and mid.button(ui.tr("delete_scenario")):
        try:
            handle.delete_scenario(
                scenario.name, who=who.name, admin=access.may_manage_accounts(who)
            )
            st.success(ui.tr("scenario_deleted", name=md(scenario.name)))
        except (KeyError, PermissionError, StoreError) as exc:
            st.error(md(exc))
    if right.button(ui.tr("prepare_exports")):
        st.session_state["plan_files"] = _scenario_files(scenario, owner or who.name, lang)
    for label, (name, data) in zip(
        ("download_xlsx", "download_pdf"), st.session_state.get("plan_files", ()), strict=False
    ):
        st.download_button(ui.tr(label), data, name, key=f"plan_{Path(name).suffix[1:]}")


def _scenario_files(scenario: Scenario, owner: str, lang: str) -> list[tuple[str, bytes]]:
    """Return a scenario's workbook and meeting map (PDF), each named for what it holds.

    A file made from synthetic demo data is named so (`store.tables.labelled_name`).
    """
    book_read, map_read = provenance.Reading(ui.layer), provenance.Reading(ui.layer)
    with tempfile.TemporaryDirectory() as folder:
        book, pdf = Path(folder) / "scenario.xlsx", Path(folder) / "scenario.pdf"
        exports.scenario_workbook(scenario, book, load=book_read, lang=lang, owner=owner)
        spec = exports.MapSpec(
            rule=scenario.rule, year=scenario.base_year, lang=lang, service_areas=True
        )
        exports.save_figure(exports.meeting_map(spec, load=map_read, scenario=scenario), pdf)
        return [
            (labelled_name("scenario", read.note(lang)) + path.suffix, path.read_bytes())
            for read, path in ((book_read, book), (map_read, pdf))
        ]
