"""Data: import a layer from a file, and edit village records.

Imports are checked and previewed, and written only when confirmed; edits are
version-checked, audited and undoable. Each account sees only what it may change.
"""

from __future__ import annotations

import streamlit as st

import ui
from ui import edit_view, import_view
from ui.indicators_view import indicator_import
from ui.register_view import register_import

ui.page_guard()

lang = ui.lang()
st.title(ui.tr("page_data"))
import_view.import_section(lang)
register_import()
indicator_import()
st.subheader(ui.tr("edit_title"))
villages = ui.layer("villages")
labels = dict(
    zip(villages["code"], villages["name_zh"] + " (" + villages["code"] + ")", strict=True)
)
code = st.selectbox(
    ui.tr("village"), list(labels), format_func=labels.__getitem__, key="data_village"
)
edit_view.edit_section(code)
edit_view.history_section(code)
