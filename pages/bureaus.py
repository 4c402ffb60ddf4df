"""Bureau view: a lead bureau's measures, its gap list with deadlines, and its share of gaps."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

import ui
from layers import BUREAUS
from layers.rules import RULES

ui.page_guard()

lang = ui.lang()
year = ui.year_slider()
st.title(ui.tr("page_bureaus"))
leading = sorted({r.bureau.key for r in RULES.values()})
bureau = st.selectbox(
    ui.tr("bureau"),
    leading,
    key="bureau_pick",
    format_func=lambda k: BUREAUS[k].name(lang),
)
rules = [r for r in RULES.values() if r.bureau.key == bureau]
st.subheader(ui.tr("its_measures"))
st.dataframe(
    pd.DataFrame(
        {
            ui.tr("measure"): [r.title(lang) for r in rules],
            ui.tr("deadline"): [r.target_year for r in rules],
        }
    ),
    hide_index=True,
    width="stretch",
)

villages = ui.villages_as_of(year)
measures = ui.measures(year)
as_of = dt.date(year, 12, 31)
rows = []
for rule in rules:
    missing = villages[~measures[rule.key]["covered"]]
    overdue = max((as_of - dt.date(rule.target_year, 12, 31)).days, 0)
    rows.append(
        pd.DataFrame(
            {
                ui.tr("code"): missing["code"],
                ui.tr("name"): missing["name_zh"],
                ui.tr("county"): missing["county_code"].map(ui.county_names()),
                ui.tr("township"): missing["township"],
                ui.tr("missing"): rule.title(lang),
                ui.tr("deadline"): rule.target_year,
                ui.tr("days_overdue"): overdue,
                ui.tr("col_poor"): missing["is_poor"],
            }
        )
    )
gaps = pd.concat(rows, ignore_index=True)
city_gaps = sum(int((~m["covered"]).sum()) for m in measures.values())
share = len(gaps) / city_gaps if city_gaps else 0.0
left, right = st.columns(2)
left.metric(ui.tr("open_gaps"), len(gaps))
right.metric(ui.tr("share_of_gaps"), f"{share:.1%}")
st.subheader(ui.tr("gap_list"))
if gaps.empty:
    st.success(ui.tr("no_gaps"))
else:
    st.dataframe(gaps, hide_index=True, width="stretch")
    ui.downloads(gaps, None, f"gaps-{bureau}-{year}")
