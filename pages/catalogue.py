"""Layer catalogue: every thematic layer with its theme, bureau, source, licence and date."""

import streamlit as st

import ui

st.title(ui.tr("page_catalogue"))
st.dataframe(ui.catalogue_table(), width="stretch", hide_index=True)
