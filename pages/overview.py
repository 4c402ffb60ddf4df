"""Overview: the plan's headline figures by county, as of the chosen year."""

import streamlit as st

import ui
from geo.status import poverty_status
from store.register import REGISTER_KEY
from ui.register_view import exits_by_year
from ui.tables import downloads

ui.page_guard()

st.title(ui.tr("app_title"))
st.caption(ui.tr("app_tagline"))
notice = ui.synthetic_notice(["villages", "counties", REGISTER_KEY])  # what this page shows
if notice is not None:
    st.info(notice)
year = ui.year_slider()

villages = ui.layer("villages")
villages["status"] = poverty_status(villages, year)
poor = villages[villages["is_poor"]]
cols = st.columns(4)
cols[0].metric(ui.tr("villages"), len(villages))
cols[1].metric(ui.tr("poor_villages"), len(poor))
cols[2].metric(ui.tr("still_poor"), int((villages["status"] == "poor").sum()))
cols[3].metric(ui.tr("exited"), int((villages["status"] == "exited").sum()))

st.subheader(ui.tr("by_county"))
table = villages.groupby("county_code").agg(
    villages=("code", "size"),
    poor=("is_poor", "sum"),
    still_poor=("status", lambda s: int((s == "poor").sum())),
    population=("population", "sum"),
    poor_people=("poor_people", "sum"),
)
table.index = table.index.map(ui.county_names())
table.index.name = ui.tr("county")
table.columns = [
    ui.tr(k) for k in ("villages", "poor_villages", "still_poor", "population", "poor_people")
]
st.dataframe(table, width="stretch")
downloads(table.reset_index(), None, f"by-county-{year}", ["villages", "counties"])

exits_by_year(year)
