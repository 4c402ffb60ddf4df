"""Change report between two years: covered, uncovered, exited, projects done, deadlines missed."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import ui
from geo.status import done_by
from layers.clauses import Provenance
from layers.rules import RULES
from ui.projects_view import completed_table
from ui.tables import labelled
from ui.targets_view import board_caption

ui.page_guard()

lang = ui.lang()
st.title(ui.tr("page_changes"))
left, right = st.columns(2)
start = left.selectbox(ui.tr("from_year"), list(range(*ui.YEARS)), index=1, key="chg_from")
end = right.selectbox(
    ui.tr("to_year"), list(range(start + 1, 2021)), index=min(1, 2020 - start - 1), key="chg_to"
)
before, after = ui.measures(start), ui.measures(end)
villages = ui.villages_as_of(end)
rows = []
for key, rule in RULES.items():
    was, now = before[key]["covered"], after[key]["covered"]
    scope = rule.in_scope(villages)  # a clause that names poor villages counts there only
    rows.append(
        {
            ui.tr("measure"): rule.title(lang),
            ui.tr("scope"): rule.scope.label(lang),
            ui.tr("newly_covered"): int((now & ~was & scope).sum()),
            ui.tr("still_uncovered"): int((~now & scope).sum()),
            ui.tr("deadline"): rule.target_year,
            ui.tr("provenance"): rule.provenance.label(lang),
        }
    )
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")

exited = villages[done_by(villages["exit_year"], end) & ~done_by(villages["exit_year"], start)]
st.subheader(f"{ui.tr('newly_exited')}: {len(exited)}")
st.dataframe(
    labelled(exited[["code", "name_zh", "county", "township", "planned_exit_year", "exit_year"]]),
    hide_index=True,
    width="stretch",
)

done = completed_table(start, end)
st.subheader(f"{ui.tr('projects_completed')}: {len(done)}")
if len(done):
    st.caption(ui.tr("projects_budget", budget=float(done[ui.tr("budget_wan_yuan")].sum())))
st.dataframe(done, hide_index=True, width="stretch")

board = ui.board(end)
missed = board[
    (board["deadline"] > start) & (board["deadline"] <= end) & (board["status"] == "overdue")
]
titles = {t.key: t.title(lang) for t in ui.load_targets()}
st.subheader(f"{ui.tr('deadlines_missed')}: {len(missed)}")
board_caption(end)
st.dataframe(
    pd.DataFrame(
        {
            ui.tr("target"): missed.index.map(titles),
            ui.tr("deadline"): missed["deadline"],
            ui.tr("current"): missed["current"],
            ui.tr("goal"): missed["goal"],
            ui.tr("provenance"): missed["provenance"].map(lambda p: Provenance(p).label(lang)),
        }
    ),
    hide_index=True,
    width="stretch",
)
