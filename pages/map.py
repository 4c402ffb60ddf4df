"""Map: every layer of the plan by county, township, theme and year, with no internet."""

from __future__ import annotations

import streamlit as st

import ui
from geo.status import select_villages
from ui import indicators_view
from ui.map_view import SELECTED, draw_map, legend, metadata, search, sidebar_controls
from ui.village_view import village_file

ui.page_guard()

lang = ui.lang()
year = ui.year_slider()
basemap, filters, shown = sidebar_controls(lang)
indicator = indicators_view.controls()
everything = ui.villages_as_of(year)
villages = everything[select_villages(everything, **filters)]  # type: ignore[arg-type]

st.title(ui.tr("page_map"))
search(everything)
st.fragment(draw_map)(year, basemap, shown, villages, tuple(sorted(filters.items())), indicator)
if indicator is not None:
    indicators_view.legend(indicator, year)
legend(shown, lang)
metadata(shown, lang)
if st.session_state.get(SELECTED):
    village_file(st.session_state[SELECTED], year)
else:
    st.caption(ui.tr("click_hint"))
