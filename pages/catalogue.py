"""Layer catalogue: every thematic layer with its theme, bureau, source, licence and date."""

import streamlit as st

import ui
from ui.tables import catalogue_table

ui.page_guard()

st.title(ui.tr("page_catalogue"))
st.dataframe(catalogue_table(), width="stretch", hide_index=True)
