"""Views of the village indicators: the Map page's choropleth and legend, the Data page import.

The figures are added up in `layers.indicators` (cached here on the store's revisions);
this module only picks, draws and says where the data came from.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import streamlit as st

import ui
from geo import crs, settings
from geo.errors import VillageAtlasError
from layers import access, render
from layers import indicators as ind
from store import indicators as importer
from store.indicator_columns import COLUMNS
from ui.cache import versioned
from ui.groups import PrerenderedGroup, group_script
from ui.text import md

__all__ = ["Choice", "choropleth", "controls", "indicator_import", "legend", "synthetic_caption"]

#: The choice on the Map page: an indicator's key and the level it is added up to.
Choice = tuple[str, str]
#: Rows of a file shown before it is imported.
_PREVIEW_ROWS = 20


def controls() -> Choice | None:
    """Return the indicator chosen in the sidebar and its level (None: no choropleth)."""
    side = st.sidebar
    lang = ui.lang()
    key = side.selectbox(
        ui.tr("indicator"),
        list(ind.INDICATORS),
        index=None,
        placeholder=ui.tr("indicator_none"),
        format_func=lambda k: ind.INDICATORS[k].title(lang),
        key="map_indicator",
    )
    if not key:
        return None
    level = side.radio(
        ui.tr("indicator_level"),
        list(ind.LEVELS),
        format_func=lambda k: ui.tr(f"level_{k}"),
        horizontal=True,
        key="map_indicator_level",
    )
    return str(key), str(level)


@versioned(max_entries=4)
def table() -> pd.DataFrame:
    """Return the store's village indicators, one row per village and year (cached)."""
    return ind.read_indicators()


@versioned(max_entries=32)
def added_up(key: str, level: str, year: int) -> tuple[gpd.GeoDataFrame, list[float]]:
    """Return the polygons of `level` coloured by indicator `key` of `year`, and the limits."""
    polygons = ui.layer("counties" if level == "county" else "townships")
    added = ind.aggregate(table(), ui.layer("villages"), key, year, by=level)
    return ind.choropleth_frame(polygons, added, ind.get_indicator(key))


@versioned(max_entries=32, shared=True)
def choropleth_script(key: str, level: str, year: int, shift: bool, lang: str) -> str:
    """Return the choropleth's group as drawn, in JavaScript (`ui.groups`; cached).

    Keyed on all it shows: the indicator, the level, the year, the GCJ-02 shift (AMap
    tiles) and the language of its labels.
    """
    gdf, _ = added_up(key, level, year)
    if shift:
        gdf = crs.to_chinese_system(gdf, "gcj02")
    indicator = ind.get_indicator(key)
    tooltip = {
        "name_zh": ui.tr("name"),
        "value_text": f"{indicator.title(lang)} ({indicator.unit_text(lang)})",
        "reporting": ui.tr("indicator_reporting"),
    }
    group, _ = render.choropleth_group(
        gdf, title=indicator.title(lang), tooltip=tooltip, show=False
    )
    return group_script(group)


def choropleth(choice: Choice, year: int, *, shift: bool) -> PrerenderedGroup:
    """Return the choropleth's layer for the map (shifted to GCJ-02 for AMap tiles)."""
    key, level = choice
    lang = ui.lang()
    script = choropleth_script(key, level, year, shift, lang)
    return PrerenderedGroup(render.escape(ind.get_indicator(key).title(lang)), script)


def legend(choice: Choice, year: int) -> None:
    """Show the choropleth's legend: title, unit, year, classes, and whether it is synthetic."""
    key, level = choice
    indicator, lang = ind.get_indicator(key), ui.lang()
    gdf, limits = added_up(key, level, year)
    heading = ui.tr(
        "indicator_legend",
        title=indicator.title(lang),
        unit=indicator.unit_text(lang),
        year=year,
        level=ui.tr(f"level_{level}"),
    )
    items = [
        *ind.legend_items(indicator, limits),
        (ind.NO_DATA, ui.tr("indicator_no_data")),
    ]
    swatches = " ".join(
        f'<span style="display:inline-block;width:14px;height:12px;background:{c};'
        f'border:1px solid #4d4d4d;margin:0 4px 0 10px"></span>{render.escape(label)}'
        for c, label in items
    )
    st.markdown(
        f'<div class="indicator-legend"><b>{render.escape(heading)}</b><br>{swatches}</div>',
        unsafe_allow_html=True,
    )
    if gdf["value"].isna().all():
        st.info(ui.tr("indicator_empty", year=year))
    synthetic_caption(level)


def synthetic_caption(level: str) -> None:
    """Say which sources of the choropleth added up to `level` are synthetic demo data.

    The indicators (with their source), and the villages and townships or counties that
    group, weigh, name and draw them (`layers.indicators.sources`); nothing if none is.
    """
    notice = ui.synthetic_notice(ind.sources(level))
    if notice is not None:
        st.caption(notice)


def indicator_import() -> None:
    """Import an indicators file (for an account whose unit leads some indicator, or admin).

    The upload is written to a private temporary folder, read like any hostile file, and
    gone when this returns. Its checked rows are shown before anything is written; the
    store refuses indicators the account's unit does not lead.
    """
    account = ui.auth.current()
    if not access.may_import_indicators(account):
        return
    st.subheader(ui.tr("indicators_import"))
    mine = [k for k in ind.INDICATORS if not access.indicators_refused(account, (k,))]
    upload = st.file_uploader(
        ui.tr("indicators_upload", columns=", ".join(mine)),
        key="indicators_upload",
        type=["csv", "xlsx"],
    )
    given = st.number_input(
        ui.tr("indicators_year"),
        min_value=settings.baseline_year,
        max_value=settings.goal_year,
        value=None,
        step=1,
        key="indicators_year",
    )
    year = None if given is None else int(given)
    if upload is None:
        return
    with ui.saved_table(upload, "indicators") as saved:
        if saved is None:
            return
        path, name = saved
        checked = _preview(path, name, year)
    if checked is not None and st.button(ui.tr("indicators_replace"), key="indicators_confirm"):
        _replace(*checked, name)


def _preview(path: Path, name: str, year: int | None) -> tuple[pd.DataFrame, list[str]] | None:
    """Show an uploaded file's checked rows; return them and the reader's notes.

    None when the file is refused or holds indicators the account may not import (the
    page says why).
    """
    try:
        rows, notes = importer.read_rows(path, handle=ui.the_store(), year=year, name=name)
    except (OSError, ValueError, VillageAtlasError) as exc:
        st.error(md(str(exc).splitlines()[0]))
        return None
    refused = access.indicators_refused(ui.auth.current(), tuple(c for c in COLUMNS if c in rows))
    if refused:
        st.error(md(ui.tr("indicators_not_yours", columns=", ".join(refused))))
        return None
    summary = ui.tr(
        "indicators_preview",
        rows=len(rows),
        villages=rows["village_code"].nunique(),
        years=", ".join(map(str, sorted(rows["year"].unique()))),
        columns=", ".join(importer.reported(rows)),
    )
    st.caption(md(summary))
    st.dataframe(rows.head(_PREVIEW_ROWS), hide_index=True)
    return rows, notes


def _replace(rows: pd.DataFrame, notes: list[str], name: str) -> None:
    """Store the checked rows of the uploaded file `name`, as the account signed in."""
    try:
        done = importer.store_rows(
            rows, notes, handle=ui.the_store(), account=ui.auth.current(), name=name
        )
    except (OSError, ValueError, VillageAtlasError) as exc:
        st.error(md(str(exc).splitlines()[0]))
        return
    years = ", ".join(map(str, done.years))
    st.success(ui.tr("indicators_imported", rows=done.rows, villages=done.villages, years=years))
