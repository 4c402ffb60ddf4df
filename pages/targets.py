"""Targets board: every target of the plan, its progress by year and its status."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import ui
from layers import targets
from ui.tables import coloured_status, status_label

ui.page_guard()

lang = ui.lang()
year = ui.year_slider()
st.title(ui.tr("page_targets"))
try:
    plan = ui.load_targets()
    board = ui.board(year)
except ValueError as exc:
    st.error(ui.tr("targets_error", error=exc))
    st.stop()
st.caption(ui.tr("targets_file", path=targets.TARGETS_PATH.name))

titles = {
    t.key: t.title(lang) + (f" ({ui.tr('to_confirm')})" if t.to_confirm else "") for t in plan
}
bureaus = {t.key: t.bureau.name(lang) for t in plan}
years = [str(y) for y in range(targets.BASELINE, year + 1)]
table = pd.DataFrame(
    {
        ui.tr("target"): board.index.map(titles),
        ui.tr("target_status"): board["status"].map(status_label),
        ui.tr("goal"): board["value"].astype(str) + " " + board["unit"],
        ui.tr("deadline"): board["deadline"],
        ui.tr("current"): board["current"],
        ui.tr("expected"): board["expected"],
        ui.tr("baseline"): board["baseline"],
        ui.tr("lead_bureau"): board.index.map(bureaus),
        ui.tr("cooperating"): board["cooperating"],
    }
)
counts = board["status"].value_counts()
columns = st.columns(4)
for column, state in zip(columns, ("done", "on_track", "behind", "overdue"), strict=True):
    column.metric(status_label(state), int(counts.get(state, 0)))
st.dataframe(coloured_status(table, ui.tr("target_status")), hide_index=True, width="stretch")

st.subheader(ui.tr("progress_by_year"))
percent = board[board["unit"] == "%"]
chart = percent[years].T.rename(columns=titles)
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
