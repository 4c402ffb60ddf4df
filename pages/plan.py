"""Planning: what-if scenarios for a measure, drawn, uploaded or proposed by the optimiser."""

from __future__ import annotations

import streamlit as st

import ui
from layers import access
from ui.plan_view import (
    DRAFT,
    board_side_by_side,
    choose,
    draw,
    effect_tables,
    optimiser,
    removals,
    save_and_export,
    sites,
    upload,
)

ui.page_guard()

lang = ui.lang()
year = ui.year_slider()
st.title(ui.tr("page_plan"))
if not access.may_edit_targets(ui.auth.current()):
    st.info(ui.tr("plan_not_allowed"))
    st.stop()
st.caption(ui.tr("plan_intro"))
scenario = choose(lang, year)

changed = draw(scenario)
with st.expander(ui.tr("remove_sites")):
    changed = removals(changed)
with st.expander(ui.tr("upload_sites")):
    changed = upload(changed)
with st.expander(ui.tr("optimiser"), expanded=not scenario.added):
    changed = optimiser(changed)
st.subheader(ui.tr("new_sites"))
changed = sites(changed)
if changed != st.session_state.get(DRAFT):
    st.session_state[DRAFT] = changed
    if changed.changes_json() != scenario.changes_json():
        st.rerun()

st.subheader(ui.tr("effect"))
effect_tables(changed, lang)
st.subheader(ui.tr("board_with_scenario"))
board_side_by_side(changed, lang)
save_and_export(changed, lang)
