"""The Data page's record editing: a form that never overwrites someone else's save.

The form keeps the record's version from the moment it was opened and saves only the
fields changed. If someone saved in between, both values are shown side by side and the
person keeps theirs or takes the other's. Only the fields the logged-in account may edit
are shown; the save goes through `store.accounts.edit_as`, which checks again.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

import ui
from geo.errors import AccessDeniedError, EditConflictError, StoreError
from layers import access
from store import accounts
from store.base import MAX_TEXT
from ui.text import md

__all__ = ["edit_section", "history_section"]

_OPENED = "data_opened"
_CONFLICT = "data_conflict"
_SAVED = "data_saved"
_LAYER = "villages"


def _opened(code: str, fields: list[str]) -> tuple[dict[str, object], int]:
    """Return the record as this person opened it: its values and its version."""
    held = st.session_state.get(_OPENED)
    if held is None or held[0] != code or list(held[1]) != fields:
        values, version = ui.the_store().current(_LAYER, code, fields)
        held = (code, values, version)
        st.session_state[_OPENED] = held
    return held[1], held[2]


def _reopen(code: str, fields: list[str]) -> None:
    """Forget what this person opened and typed: show the stored record again."""
    st.session_state.pop(_OPENED, None)
    st.session_state.pop(_CONFLICT, None)
    for column in fields:
        st.session_state.pop(f"edit_{column}_{code}", None)


def _field(box: object, column: str, kind: str, old: object, code: str) -> object:
    """Show one input of the form; return the value typed (None when cleared)."""
    label, key = ui.tr(f"col_{column}"), f"edit_{column}_{code}"
    if kind == "str":
        text = box.text_input(label, value=old or "", key=key, max_chars=MAX_TEXT)  # type: ignore[attr-defined]
        return text or None
    number = box.number_input(label, value=None if old is None else int(old), step=1, key=key)  # type: ignore[attr-defined, call-overload]
    return None if number is None else int(number)


def _save(code: str, changed: dict[str, object], version: int) -> None:
    fields = list(access.editable_for(ui.auth.current(), _LAYER))
    try:
        accounts.edit_as(
            ui.the_store(), ui.auth.current(), _LAYER, code, changed, expected_version=version
        )
    except EditConflictError as exc:
        st.session_state[_CONFLICT] = (code, changed)
        st.error(md(exc))
    except (ValueError, KeyError, StoreError, AccessDeniedError) as exc:
        st.error(md(exc))
    else:
        _reopen(code, fields)
        st.session_state[_SAVED] = len(changed)
        st.rerun()


def _conflict(code: str) -> None:
    """Someone saved first: show their values next to this person's; keep either."""
    held = st.session_state.get(_CONFLICT)
    if held is None or held[0] != code:
        return
    mine = held[1]
    theirs, version = ui.the_store().current(_LAYER, code, list(mine))
    st.warning(ui.tr("conflict_explain"))
    table = {
        ui.tr("col_column"): [ui.tr(f"col_{c}") for c in mine],
        ui.tr("yours"): [ui.as_text(mine[c]) for c in mine],
        ui.tr("theirs"): [ui.as_text(theirs[c]) for c in mine],
    }
    st.dataframe(pd.DataFrame(table), hide_index=True)
    keep, take = st.columns(2)
    if keep.button(ui.tr("keep_mine"), key="data_keep_mine"):
        _save(code, mine, version)
    if take.button(ui.tr("take_theirs"), key="data_take_theirs"):
        _reopen(code, list(access.editable_for(ui.auth.current(), _LAYER)))
        st.rerun()


def edit_section(code: str) -> None:
    """Show the edit form of village `code` with the fields this account may edit."""
    editable = access.editable_for(ui.auth.current(), _LAYER)
    if not ui.the_store().writable:
        st.info(ui.tr("read_only_store"))
        return
    if not editable:
        st.info(ui.tr("nothing_to_edit"))
        return
    values, version = _opened(code, list(editable))
    if saved := st.session_state.pop(_SAVED, None):
        st.success(ui.tr("saved", n=saved))
    with st.form("data_edit"):
        columns = st.columns(3)
        typed = {
            column: _field(columns[i % 3], column, kind, values[column], code)
            for i, (column, kind) in enumerate(editable.items())
        }
        submitted = st.form_submit_button(ui.tr("save"))
    changed = {c: v for c, v in typed.items() if v != values[c]}
    if submitted and changed:
        _save(code, changed, version)
    _conflict(code)


def history_section(code: str) -> None:
    """Show the village's audit trail, with undo of the changes this account may make."""
    trail = ui.the_store().history(code)
    st.markdown(f"**{ui.tr('audit')}**")
    labels = {c: ui.tr(f"col_{c}") for c in ("at", "old", "new", "column")}
    labels |= {"who": ui.tr("col_who"), "code": ui.tr("code")}
    shown = trail.assign(column=trail["column"].map(lambda c: ui.tr(f"col_{c}")))
    st.dataframe(shown.rename(columns=labels), hide_index=True, width="stretch")
    account = ui.auth.current()
    allowed = access.editable_for(account, _LAYER)
    undoable = trail[trail["column"].isin(list(allowed))]
    if undoable.empty or not ui.the_store().writable:
        return
    change = st.selectbox(ui.tr("undo_which"), list(undoable["id"]), key="data_undo_id")
    if st.button(ui.tr("undo"), key="data_undo"):
        try:
            ui.the_store().undo(_LAYER, int(change), who=account.name, allowed=allowed)
        except (EditConflictError, ValueError, KeyError, StoreError) as exc:
            st.error(md(exc))
        else:
            _reopen(code, list(allowed))
            st.rerun()
