"""Coverage: which villages each measure leaves out, why, and how many people that is."""

from __future__ import annotations

import streamlit as st

import ui
from ui.coverage_view import (
    classified,
    contradictions,
    controls,
    draw,
    gap_table,
    people,
    scope_caption,
    tables,
    why,
)

ui.page_guard()

lang = ui.lang()
year = ui.year_slider()
st.title(ui.tr("page_coverage"))
keys, within_m, along_roads = controls(lang)
if not keys:
    st.stop()
what = (tuple(keys), year, tuple(sorted(within_m.items())), along_roads)
villages = classified(what)
result = ui.coverage(keys, year, within_m, along_roads)
clicked = draw(villages, what)
scope_caption(villages, keys, lang)
if clicked:
    why(clicked, result, villages, keys, lang)
tables(what)
people(keys, within_m, year)
contradictions(villages, result, lang)
gap_table(villages, result, keys, year, along_roads=along_roads)
