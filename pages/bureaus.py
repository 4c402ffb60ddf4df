"""Bureau view: a lead bureau's measures, its gap list with deadlines, and its share of gaps."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import ui
from layers import BUREAUS, provenance
from layers.rules import RULES, gap_list
from ui.tables import downloads

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

measures = ui.measures(year)
found = gap_list(ui.villages_as_of(year), measures, year, rules=rules)
gaps = pd.DataFrame(
    {
        ui.tr("code"): found["code"],
        ui.tr("name"): found["name_zh"],
        ui.tr("county"): found["county_code"].map(ui.county_names()),
        ui.tr("township"): found["township"],
        ui.tr("missing"): found["rule"].map(lambda k: RULES[k].title(lang)),
        ui.tr("deadline"): found["deadline"],
        ui.tr("days_overdue"): found["days_overdue"],
        ui.tr("col_poor"): found["is_poor"],
    }
)
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
    sources = [k for r in rules for k in provenance.rule_layers(r)]
    downloads(gaps, None, f"gaps-{bureau}-{year}", sources)
