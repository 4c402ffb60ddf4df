"""Bureau view: every unit the plan names, the targets it leads and cooperates on, its gaps."""

from __future__ import annotations

import streamlit as st

import ui
from layers import BUREAUS, projects, provenance, targets
from layers.rules import RULES, apart, gap_list
from ui.projects_view import gap_projects, linked
from ui.tables import coloured_status, downloads
from ui.targets_view import board_caption, gap_table, rules_table, targets_table

ui.page_guard()

lang = ui.lang()
year = ui.year_slider()
st.title(ui.tr("page_bureaus"))
bureau = st.selectbox(
    ui.tr("bureau"),
    list(BUREAUS),
    key="bureau_pick",
    format_func=lambda k: BUREAUS[k].name(lang),
)
try:
    plan = ui.load_targets()
    board = ui.board(year)
except ValueError as exc:
    st.error(ui.tr("targets_error", error=ui.md(exc)))
    st.stop()
roles = targets.responsibilities(plan, register=ui.register())
mine = roles[(roles["unit"] == bureau) & (roles["record"] == "target")]
st.caption(ui.tr("assumption_note"))
board_caption(year)
for role, heading in (("lead", "leads"), ("cooperating", "cooperates")):
    st.subheader(ui.tr(heading))
    keys = set(mine.loc[mine["role"] == role, "key"])
    chosen = [p for p in plan if p.key in keys]
    if chosen:
        table = targets_table(chosen, board)
        st.dataframe(
            coloured_status(table, ui.tr("target_status")), hide_index=True, width="stretch"
        )
    else:
        st.caption(ui.tr("none_listed"))

rules = [r for r in RULES.values() if r.bureau.key == bureau]
st.subheader(ui.tr("rules_it_leads"))
if not rules:
    st.info(ui.tr("no_village_measure"))
    st.stop()
st.dataframe(rules_table(rules), hide_index=True, width="stretch")

measures = ui.measures(year)
villages = ui.villages_as_of(year)
found = gap_list(villages, measures, year, rules=rules)
city = gap_list(villages, measures, year)
served = linked(found)
# a village without a bus is not counted again by our map measure that repeats the plan's
ours = apart(found["rule"]).to_numpy()
city_gaps = int((~apart(city["rule"])).sum())
funded = served["project_status"].isin(projects.FUNDED).to_numpy()
columns = st.columns(4)
columns[0].metric(ui.tr("open_gaps"), int((~ours).sum()))
columns[1].metric(ui.tr("share_of_gaps"), f"{(~ours).sum() / city_gaps if city_gaps else 0.0:.1%}")
columns[2].metric(ui.tr("gaps_funded"), int((funded & ~ours).sum()))
columns[3].metric(ui.tr("gaps_ours"), int(ours.sum()))
assumed = [r for r in rules if r.repeats is not None]
if assumed:
    counts = found.loc[ours, "rule"].value_counts()
    listed = "; ".join(f"{r.title(lang)}: {int(counts.get(r.key, 0))}" for r in assumed)
    st.caption(ui.tr("gaps_ours_note", rules=listed, funded=int((funded & ours).sum())))
stale = int(projects.done_but_open(served, year).sum())
if stale:
    st.warning(ui.tr("done_but_open", n=stale, year=year))
st.subheader(ui.tr("gap_list"))
if found.empty:
    st.success(ui.tr("no_gaps"))
else:
    gaps = gap_table(found, gap_projects(served))
    st.dataframe(gaps, hide_index=True, width="stretch")
    sources = [k for r in rules for k in provenance.rule_layers(r)] + ["projects"]
    downloads(gaps, None, f"gaps-{bureau}-{year}", sources)
