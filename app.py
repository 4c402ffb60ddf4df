"""Village Atlas: Streamlit entry point. Page config, login gate, shared sidebar, page routing."""

from pathlib import Path

import streamlit as st

import ui

st.set_page_config(
    page_title="Village Atlas 村情地图",
    page_icon=str(Path(__file__).parent / "static" / "favicon.png"),
    layout="wide",
)
ui.init_session()
ui.ensure_store()
account = ui.auth.check(ui.the_store())
# No widget comes before st.navigation: widgets created before it are reset on every rerun
# (seen with Streamlit 1.67 in a real browser). The shared sidebar is drawn by each page
# (`ui.page_guard`), so a page that Streamlit runs on its own shows it too.
pages = [
    st.Page("pages/map.py", title=ui.tr("page_map"), icon=":material/map:", default=True),
    st.Page("pages/coverage.py", title=ui.tr("page_coverage"), icon=":material/radar:"),
    st.Page("pages/targets.py", title=ui.tr("page_targets"), icon=":material/flag:"),
    st.Page("pages/plan.py", title=ui.tr("page_plan"), icon=":material/add_location_alt:"),
    st.Page("pages/bureaus.py", title=ui.tr("page_bureaus"), icon=":material/apartment:"),
    st.Page("pages/changes.py", title=ui.tr("page_changes"), icon=":material/compare_arrows:"),
    st.Page("pages/export.py", title=ui.tr("page_export"), icon=":material/download:"),
    st.Page("pages/data.py", title=ui.tr("page_data"), icon=":material/database:"),
    st.Page("pages/overview.py", title=ui.tr("page_overview"), icon=":material/dashboard:"),
    st.Page("pages/catalogue.py", title=ui.tr("page_catalogue"), icon=":material/layers:"),
]
login = st.Page(ui.auth.login_page, title=ui.tr("login"), icon=":material/login:")
page = st.navigation(pages if account is not None else [login])
ui.install_assets()
page.run()
