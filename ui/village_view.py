"""The village file: the plan's "five possessions" of one village, and its measures."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import ui
from layers.rules import RULES
from ui.projects_view import village_projects
from ui.register_view import village_register
from ui.text import md

__all__ = ["village_file"]


def _kv(rows: dict[str, object]) -> None:
    """Show a two-column key/value table; values shown as text, never as markup."""
    frame = pd.DataFrame(
        {ui.tr("item"): list(rows), ui.tr("value"): [str(v) for v in rows.values()]}
    )
    st.dataframe(frame, hide_index=True, width="stretch")


def village_file(code: str, year: int) -> None:
    """Show the plan's "five possessions" file of village `code`, measures as of `year`."""
    villages = ui.villages_as_of(year)
    match = villages[villages["code"] == code]
    if match.empty:
        return
    v = match.iloc[0]
    st.subheader(ui.tr("village_file", name=md(f"{v['name_zh']} ({v['pinyin']})")))
    st.caption(
        md(f"{v['code']} · {ui.county_names().get(v['county_code'], '')} · {v['township']}")
        + f" · {ui.tr('status_' + str(v['status']))}"
    )
    left, right = st.columns(2)
    with left:
        st.markdown(f"**{ui.tr('basic')}**")
        _kv(
            {
                ui.tr(k): v[k]
                for k in (
                    "households",
                    "population",
                    "poor_households",
                    "poor_people",
                    "main_industry",
                    "cooperatives",
                    "dangerous_houses",
                )
            }
            | {ui.tr("immigrant"): ui.tr("yes") if v["is_immigrant"] else ui.tr("no")}
        )
        st.markdown(f"**{ui.tr('assistance')}**")
        _kv({ui.tr("unit"): v["assisting_unit"], ui.tr("cadre"): v["cadre"]})
    with right:
        st.markdown(f"**{ui.tr('problems')}**")
        st.text(v["problems"])
        st.markdown(f"**{ui.tr('demands')}**")
        st.text(v["demands"])
        st.markdown(f"**{ui.tr('exit_plan')}**")
        if v["is_poor"]:
            _kv(
                {
                    ui.tr("planned_exit"): _year_text(v["planned_exit_year"]),
                    ui.tr("exit_year"): _year_text(v["exit_year"]),
                }
            )
        else:
            st.text(ui.tr("not_registered_poor"))
    village_register(code, year)
    st.markdown(f"**{ui.tr('measures', year=year)}**")
    rows = []
    for key, result in ui.measures(year).items():
        row = result.loc[match.index[0]]
        distance = row.get("distance_m")
        met = ui.tr("yes") if bool(row["covered"]) else ui.tr("no")
        if not bool(RULES[key].in_scope(match).iloc[0]):  # the clause does not ask: no gap
            met = ui.tr("out_of_scope")
        rows.append(
            {
                ui.tr("measure"): RULES[key].title(ui.lang()),
                ui.tr("met"): met,
                ui.tr("distance"): None
                if distance is None or pd.isna(distance)
                else round(distance),
                ui.tr("lead_bureau"): RULES[key].bureau.name_zh
                if ui.lang() == "zh"
                else RULES[key].bureau.name_en,
            }
        )
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    mine = village_projects(code)
    if len(mine):
        st.markdown(f"**{ui.tr('theme_projects')}**")
        st.dataframe(mine, hide_index=True, width="stretch")


def _year_text(value: object) -> str:
    return ui.tr("not_yet") if value is None or pd.isna(value) else str(int(value))  # type: ignore[call-overload]
