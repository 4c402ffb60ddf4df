"""The Map page's views: sidebar controls, the layered map (a fragment), legend, search."""

from __future__ import annotations

import folium
import geopandas as gpd
import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitInvalidLayoutContextError
from streamlit_folium import st_folium

import layers
import ui
from geo import crs
from geo.status import search_villages, select_villages
from layers import render
from layers.basemaps import BASEMAPS, tile_url
from layers.i18n import STRINGS
from layers.spec import Theme
from ui import indicators_view
from ui.cache import versioned
from ui.groups import PrerenderedGroup, group_script
from ui.tables import origin_columns

__all__ = ["SELECTED", "draw_map", "legend", "metadata", "search", "sidebar_controls"]

DEFAULT_LAYERS = ("counties", "townships", "villages", "roads")
STATUSES = ("poor", "exited", "not_poor")
SELECTED = "map_village"


def sidebar_controls(lang: str) -> tuple[str, dict[str, object], list[str]]:
    """Basemap, village filters and visible layers, from the sidebar."""
    side = st.sidebar
    basemap = side.selectbox(
        ui.tr("basemap"),
        list(BASEMAPS),
        format_func=lambda k: BASEMAPS[k].title(lang),
        key="map_basemap",
    )
    side.subheader(ui.tr("filters"))
    names = ui.county_names()
    any_ = ui.tr("any")
    counties = side.multiselect(
        ui.tr("counties"),
        list(names),
        format_func=names.__getitem__,
        key="map_counties",
        placeholder=any_,
    )
    towns = ui.layer("townships")
    if counties:
        towns = towns[towns["county_code"].isin(counties)]
    town_names = dict(zip(towns["code"], towns["name_zh"], strict=True))
    townships = side.multiselect(
        ui.tr("townships"),
        list(town_names),
        format_func=town_names.__getitem__,
        key="map_townships",
        placeholder=any_,
    )
    statuses = side.multiselect(
        ui.tr("status"),
        STATUSES,
        format_func=lambda s: ui.tr(f"status_{s}"),
        key="map_statuses",
        placeholder=any_,
    )
    immigrant = side.checkbox(ui.tr("immigrant_only"), key="map_immigrant")
    side.subheader(ui.tr("layers"))
    shown = []
    for theme in Theme:
        specs = [s for s in layers.REGISTRY.values() if s.theme is theme and not s.is_raster]
        if not specs:
            continue
        with side.expander(ui.tr(f"theme_{theme.value}"), expanded=theme is Theme.ADMINISTRATIVE):
            shown += [
                s.key
                for s in specs
                if st.checkbox(
                    s.title(lang), value=s.key in DEFAULT_LAYERS, key=f"map_layer_{s.key}"
                )
            ]
    filters = {
        "counties": counties,
        "townships": townships,
        "statuses": statuses,
        "immigrant_only": immigrant,
    }
    return basemap, filters, shown


def online_tiles(basemap: str) -> folium.TileLayer | None:
    """Return the chosen online basemap, or None (saying why) when offline or unreachable."""
    chosen = BASEMAPS[basemap]
    if chosen.url is None:
        return None
    try:
        url = tile_url(chosen, st.secrets.get("tianditu_token") if _has_secrets() else None)
    except ValueError as exc:
        st.warning(ui.md(exc))
        return None
    if not ui.basemap_reachable(url):
        st.warning(ui.tr("basemap_unreachable", name=chosen.title(ui.lang())))
        return None
    if chosen.gcj02:
        st.info(ui.tr("basemap_shifted"))
    return folium.TileLayer(url, attr=chosen.attribution, name=chosen.key, max_zoom=18)


def _has_secrets() -> bool:
    try:
        return "tianditu_token" in st.secrets
    except FileNotFoundError:
        return False


def layer_data(
    key: str,
    year: int,
    filtered: dict[str, gpd.GeoDataFrame],
    zoom: int,
    view: list[float] | None,
) -> gpd.GeoDataFrame:
    """Return the features of one layer to draw, as of `year` (`filtered` if given there).

    A style category the tooltip shows gets its translated label (``<column>_label``);
    a layer the catalogue thins by zoom is thinned.
    """
    spec = layers.get_layer(key)
    gdf = filtered[key] if key in filtered else ui.layer_as_of(key, year)
    column = spec.style.column
    if column is not None and f"{column}_label" in spec.tooltip:
        labels = gdf[column].map(lambda v: category_label(spec, str(v)))
        gdf = gdf.assign(**{f"{column}_label": labels})
    if spec.by_zoom:
        gdf = render.visible_roads(gdf, zoom, view)
    return gdf


def tooltip_for(key: str, gdf: gpd.GeoDataFrame) -> dict[str, str]:
    """Hover labels: the catalogue's tooltip fields, else a layer's name column."""
    spec = layers.get_layer(key)
    if spec.tooltip:
        return {column: ui.tr(label) for column, label in spec.tooltip.items()}
    for column in ("name", "name_zh", "kind"):
        if column in gdf.columns:
            return {column: ui.tr("name")}
    return {}


def view_of(bounds: dict[str, dict[str, float]] | None) -> list[float] | None:
    """Return the map's view (minx, miny, maxx, maxy), rounded: small pans change nothing."""
    try:
        sw, ne = bounds["_southWest"], bounds["_northEast"]  # type: ignore[index]
        return [round(sw["lng"], 2), round(sw["lat"], 2), round(ne["lng"], 2), round(ne["lat"], 2)]
    except (KeyError, TypeError):
        return None


Filters = tuple[tuple[str, object], ...]


@versioned(max_entries=128, shared=True)
def layer_script(
    key: str,
    year: int,
    filters: Filters,
    zoom: int | None,
    view: tuple[float, ...] | None,
    shift: bool,
    lang: str,
) -> tuple[str, int]:
    """Return one layer's group as drawn, in JavaScript (`ui.groups`), and the features dropped.

    Cached on all it shows: the year, the village filters (villages only), the zoom and
    view (layers thinned or grouped by zoom only), the GCJ-02 shift and the language of
    its labels. A rerun that shows the same thing renders nothing again.
    """
    spec = layers.get_layer(key)
    filtered = {}
    if key == "villages":
        everything = ui.villages_as_of(year)
        filtered[key] = everything[select_villages(everything, **dict(filters))]  # type: ignore[arg-type]
    gdf = layer_data(key, year, filtered, zoom or 0, list(view) if view else None)
    if key == "villages":  # too many to draw one by one: grouped by zoom
        gdf = render.grouped_points(
            gdf, zoom or 7, view, category="status", label=ui.tr("n_villages")
        )
    if shift:
        gdf = crs.to_chinese_system(gdf, "gcj02")
    tooltip = tooltip_for(key, gdf) if "count" not in gdf else {"name_zh": ui.tr("villages")}
    group, dropped = render.feature_group(
        spec, gdf, title=spec.title(lang), tooltip=tooltip, show=False
    )
    return group_script(group), dropped


def draw_map(
    year: int,
    basemap: str,
    shown: list[str],
    villages: gpd.GeoDataFrame,
    filters: Filters,
    indicator: indicators_view.Choice | None = None,
) -> None:
    """Draw the map and handle clicks; reruns alone (a fragment) when the map is used.

    With `indicator` (a key and a level), its choropleth is drawn under the layers.
    """
    zoom = int(st.session_state.get("map_zoom", 7))
    view = st.session_state.get("map_view")
    tiles = online_tiles(basemap)
    bounds = ui.layer("prefecture").total_bounds
    fmap = render.base_map(bounds)
    if tiles is not None:
        tiles.add_to(fmap)
    else:
        render.relief_overlay(*ui.relief()).add_to(fmap)
    groups = []
    shift = BASEMAPS[basemap].gcj02 and tiles is not None
    lang = ui.lang()
    if indicator is not None:
        groups.append(indicators_view.choropleth(indicator, year, shift=shift))
    for key in shown:
        spec = layers.get_layer(key)
        thinned = spec.by_zoom or key == "villages"
        script, dropped = layer_script(
            key,
            year,
            filters if key == "villages" else (),
            zoom if thinned else None,
            tuple(view) if thinned and view else None,
            shift,
            lang,
        )
        if dropped:
            st.warning(ui.tr("dropped", layer=spec.title(lang), count=dropped))
        groups.append(PrerenderedGroup(render.escape(spec.title(lang)), script))
    focus = st.session_state.get("map_focus")
    out = st_folium(
        fmap,
        key="atlas_map",
        height=620,
        use_container_width=True,
        feature_group_to_add=groups,
        returned_objects=["last_object_clicked", "zoom", "bounds"],
        center=focus,
        zoom=13 if focus else None,
    )
    now = int((out or {}).get("zoom") or zoom)
    seen = view_of((out or {}).get("bounds")) if now >= render.VIEW_ZOOM else None
    if now != zoom or seen != view:
        st.session_state["map_zoom"], st.session_state["map_view"] = now, seen
        try:
            st.rerun(scope="fragment")
        except StreamlitInvalidLayoutContextError:  # a full run of the page, not the map's own
            st.rerun()
    clicked = (out or {}).get("last_object_clicked")
    if clicked:
        code = ui.village_at(villages, clicked["lat"], clicked["lng"])
        if code and code != st.session_state.get(SELECTED):
            st.session_state[SELECTED] = code
            st.rerun()


def category_label(spec: layers.LayerSpec, value: str) -> str:
    """Return a style category's label: translated when the table has ``<column>_<value>``."""
    key = f"{spec.style.column}_{value}"
    return ui.tr(key) if key in STRINGS else value


def legend(shown: list[str], lang: str) -> None:
    """Swatches for the visible layers (drawn outside the map: no extra scripts in it)."""
    items = []
    for key in shown:
        spec = layers.get_layer(key)
        entries = spec.style.categories or {"": spec.style.color}
        for value, colour in entries.items():
            label = spec.title(lang) + (f" · {category_label(spec, value)}" if value else "")
            items.append(
                f'<span style="display:inline-block;width:12px;height:12px;'
                f'background:{colour};border-radius:6px;margin:0 4px 0 10px"></span>'
                f"{render.escape(label)}"
            )
    st.markdown(" ".join(items), unsafe_allow_html=True)


def metadata(shown: list[str], lang: str) -> None:
    """Say if the visible layers hold synthetic demo data; list their origin, CRS and bureau."""
    notice = ui.synthetic_notice(shown)
    if notice is not None:
        st.caption(notice)
    rows = [
        {
            ui.tr("layer"): spec.title(lang),
            **origin_columns(spec, lang),
            ui.tr("crs"): "EPSG:4326 (WGS84)",
            ui.tr("lead_bureau"): spec.bureau.name(lang),
        }
        for spec in map(layers.get_layer, shown)
    ]
    with st.expander(ui.tr("metadata")):
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def search(villages: gpd.GeoDataFrame) -> None:
    """Find a village by name, pinyin or code; picking one opens its file and zooms to it."""
    query = st.text_input(ui.tr("search"), key="map_search")
    if not query:
        return
    found = search_villages(villages, query)
    if found.empty:
        st.info(ui.tr("search_none", query=ui.md(query)))
        return
    labels = {
        c: f"{n} ({p}, {c})"
        for c, n, p in zip(found["code"], found["name_zh"], found["pinyin"], strict=True)
    }
    code = st.selectbox(
        ui.tr("search_pick"), list(labels), format_func=labels.__getitem__, key="map_search_pick"
    )
    if code != st.session_state.get(SELECTED):
        st.session_state[SELECTED] = code
        row = villages[villages["code"] == code].geometry.iloc[0]
        st.session_state["map_focus"] = [row.y, row.x]
