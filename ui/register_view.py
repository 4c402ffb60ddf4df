"""Views of the poor-household register: one village's counts and dates, exits by year.

Only counts are shown (the store lets nothing else out of the register); dates are the
day a village's last household reached each of the "five steps and one publicity".
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

import ui
from geo.errors import VillageAtlasError
from layers import access, households
from store import households as household_import
from store.register import REGISTER_KEY
from ui.text import md

__all__ = ["exits_by_year", "register_import", "village_register"]


def _kv(rows: dict[str, object]) -> None:
    """Show a two-column key/value table; values as text, never as markup."""
    frame = pd.DataFrame(
        {ui.tr("item"): list(rows), ui.tr("value"): [str(v) for v in rows.values()]}
    )
    st.dataframe(frame, hide_index=True, width="stretch")


def _date(value: object, due: str) -> str:
    if value is None or value != value:  # noqa: PLR0124 (NaN)
        return ui.tr("register_not_reached")
    text = str(value)
    return f"{text} ({ui.tr('register_late')})" if text > due else text


def village_register(code: str, year: int) -> None:
    """Show village `code`'s register: households and people, exits to `year`, steps, files."""
    register = ui.register()
    st.markdown(f"**{ui.tr('register')}**")
    if code not in register.villages.index:
        st.text(ui.tr("register_none"))
        return
    notice = ui.synthetic_notice([REGISTER_KEY])
    if notice is not None:
        st.caption(notice)
    row = register.villages.loc[code]
    out_h, out_p = households.out_by(register, year, [code])
    lang, due = ui.lang(), households.IDENTIFY_DEADLINE.isoformat()
    left, right = st.columns(2)
    with left:
        _kv(
            {
                ui.tr("register_households"): int(row["households"]),
                ui.tr("register_people"): int(row["people"]),
                ui.tr("households_out") + f" ({year})": out_h,
                ui.tr("people_out") + f" ({year})": out_p,
                ui.tr("register_identified"): int(row["identified"]),
            }
        )
        st.caption(ui.tr("register_cleanups"))
        _kv(
            {
                households.cleanup_label(c, lang): f"{int(row[c])} / {int(row['households'])}"
                for c in households.CLEANUPS
            }
        )
    with right:
        st.caption(ui.tr("register_steps", date=due))
        _kv({households.step_label(s, lang): _date(row[s], due) for s in households.STEPS})


def exits_by_year(year: int) -> None:
    """Show the households and people out of poverty in each year to `year`, and the late."""
    register = ui.register()
    st.subheader(ui.tr("register_exits"))
    if register.empty:
        st.text(ui.tr("register_none"))
        return
    table = households.exits_by_year(register)
    table = table[table.index <= year]
    total_h, total_p = households.registered(register)
    cols = st.columns(4)
    cols[0].metric(ui.tr("register_households"), total_h)
    cols[1].metric(ui.tr("households_out"), int(table["households"].sum()))
    cols[2].metric(ui.tr("register_people"), total_p)
    cols[3].metric(ui.tr("people_out"), int(table["people"].sum()))
    table.index = table.index.astype(str)
    table.index.name = ui.tr("year")
    table.columns = [ui.tr("households_out"), ui.tr("people_out")]
    st.bar_chart(table, stack=False)
    st.dataframe(table.T, width="stretch")
    late = households.late(register)
    st.caption(
        f"{ui.tr('register_late_villages')} "
        f"({households.IDENTIFY_DEADLINE.isoformat()}): {int(late.sum())} / {len(late)}"
    )


def register_import() -> None:
    """Replace the register with an uploaded household file (the Poverty Alleviation Office).

    The upload is written to a private temporary folder under a fixed name, read like any
    hostile file, and gone when this returns; only the counts and hashed rows are stored.
    """
    account = ui.auth.current()
    if not access.may_import_register(account):
        return
    st.subheader(ui.tr("register_import"))
    upload = st.file_uploader(ui.tr("register_upload"), key="register_upload", type=["csv", "xlsx"])
    if upload is None or not st.button(ui.tr("register_replace"), key="register_confirm"):
        return
    with ui.saved_table(upload, "households") as saved:
        if saved is None:
            return
        path, name = saved
        try:
            done = household_import.import_households(
                path, handle=ui.the_store(), who=account.name, name=name
            )
        except (OSError, ValueError, VillageAtlasError) as exc:
            st.error(md(str(exc).splitlines()[0]))
            return
    st.success(ui.tr("register_imported", households=done.households, villages=done.villages))
