"""Targets board: every clause of the plan, its progress by year, status and provenance."""

from __future__ import annotations

import streamlit as st

import ui
from layers import targets
from ui.tables import coloured_status, downloads, status_label
from ui.targets_view import board_caption, targets_table

ui.page_guard()

lang = ui.lang()
year = ui.year_slider()
st.title(ui.tr("page_targets"))
try:
    plan = ui.load_targets()
    board = ui.board(year)
except ValueError as exc:
    st.error(ui.tr("targets_error", error=ui.md(exc)))
    st.stop()
st.caption(ui.tr("targets_file", path=ui.md(targets.TARGETS_PATH.name)))

counts = board["status"].value_counts()
shown = [s for s in targets.STATUSES if s != "city_part" or counts.get(s)]  # a county's part
columns = st.columns(len(shown))
for column, state in zip(columns, shown, strict=True):
    column.metric(status_label(state), int(counts.get(state, 0)))
st.caption(ui.tr("assumption_note"))
board_caption(year)  # its layers, the household register, the indicators
table = targets_table(plan, board)
st.dataframe(coloured_status(table, ui.tr("target_status")), hide_index=True, width="stretch")
downloads(table, None, f"targets-{year}", ui.board_sources(year))

st.subheader(ui.tr("progress_by_year"))
titles = {t.key: t.title(lang) for t in plan if t.measured}
years = [str(y) for y in range(targets.BASELINE, year + 1)]
percent = [t.key for t in plan if t.measured and t.unit == "%"]
chart = board.loc[percent, years].T.rename(columns=titles)
chart.index.name = ui.tr("year")
st.line_chart(chart)

key = st.selectbox(
    ui.tr("target"), list(titles), format_func=titles.__getitem__, key="targets_pick"
)
st.subheader(ui.tr("per_county", target=ui.md(titles[key])))
per_county = ui.county_progress(key, year)
per_county.index = per_county.index.map(ui.county_names())
per_county["status"] = per_county["status"].map(status_label)
st.bar_chart(per_county["current"])
per_county = per_county.rename(
    columns={
        "baseline": ui.tr("baseline"),
        "current": ui.tr("current"),
        "status": ui.tr("target_status"),
    }
)
st.dataframe(coloured_status(per_county, ui.tr("target_status")), width="stretch")
