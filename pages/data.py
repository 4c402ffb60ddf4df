"""Data: import a layer from a file, and edit village records.

Imports are checked and previewed, and written only when confirmed; edits are
version-checked, audited and undoable.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

import layers
import ui
from geo.errors import EditConflictError, StoreError
from layers import render
from store import importer, ingest

ui.page_guard()

#: Village fields editable here, with their schema types (the catalogue says which).
EDITABLE = layers.editable_fields("villages")
MAX_UPLOAD_MB = 200


def column_mapping(gdf: pd.DataFrame, schema: dict[str, str]) -> dict[str, str]:
    """Let the user match the file's columns to the layer's, starting from suggestions."""
    found = [c for c in gdf.columns if c != "geometry"]
    suggested = {
        target: source for source, target in importer.suggest_columns(found, list(schema)).items()
    }
    none = "—"
    mapping = {}
    with st.expander(ui.tr("columns_match"), expanded=len(suggested) < len(schema)):
        boxes = st.columns(3)
        for i, target in enumerate(schema):
            options = [none, *found]
            default = options.index(suggested[target]) if target in suggested else 0
            source = boxes[i % 3].selectbox(target, options, index=default, key=f"map_{target}")
            if source != none:
                mapping[source] = target
    return mapping


def import_section(lang: str) -> None:
    """Upload, check and preview a file; write it as a layer only when confirmed."""
    st.subheader(ui.tr("import_title"))
    upload = st.file_uploader(
        ui.tr("upload"),
        key="data_upload",
        type=["geojson", "json", "zip", "gpkg", "kml", "csv", "xlsx"],
    )
    vector = [k for k, s in layers.REGISTRY.items() if not s.is_raster and s.importable]
    left, mid, right = st.columns(3)
    key = left.selectbox(
        ui.tr("layer"),
        vector,
        format_func=lambda k: layers.get_layer(k).title(lang),
        key="data_layer",
    )
    crs = (
        mid.text_input(
            ui.tr("file_crs"), key="data_crs", placeholder="EPSG:4490 · EPSG:4541 · gcj02 · bd09"
        )
        or None
    )
    encoding = (
        right.text_input(
            ui.tr("encoding"), key="data_encoding", placeholder="GBK · GB18030 · UTF-8"
        )
        or None
    )
    if upload is None:
        return
    if upload.size > MAX_UPLOAD_MB * 2**20:
        st.error(ui.tr("too_big", mb=MAX_UPLOAD_MB))
        return
    spec = layers.get_layer(key)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / Path(upload.name).name
        path.write_bytes(upload.getvalue())
        try:
            gdf, notes = ingest.read_untrusted(path, encoding=encoding)
        except ingest.IngestError as exc:
            st.error(str(exc))
            return
    mapping = column_mapping(gdf, spec.columns)
    try:
        clean, report = importer.prepare(
            gdf,
            columns=spec.columns,
            crs=crs,
            notes=notes,
            mapping=mapping,
            geometry_kinds=spec.geometry.shapely_types,
        )
    except (importer.ImportRefusedError, ValueError) as exc:
        st.error(str(exc))
        return
    problems = layers.problems(key, clean)
    st.text("\n".join(report.lines() + [f"problem: {p}" for p in problems]))
    minx, miny, maxx, maxy = (clean if len(clean) else ui.layer("prefecture")).total_bounds
    pad = max(0.02, 0.1 * max(maxx - minx, maxy - miny))  # never a zero-height view
    fmap = render.base_map([minx - pad, miny - pad, maxx + pad, maxy + pad])
    render.relief_overlay(*ui.relief()).add_to(fmap)
    render.feature_group(
        layers.get_layer("counties"), ui.layer("counties"), title=ui.tr("counties")
    )[0].add_to(fmap)
    render.feature_group(spec, clean, title=spec.title(lang))[0].add_to(fmap)
    st_folium(fmap, key="data_preview", height=360, use_container_width=True, returned_objects=[])
    if problems:
        st.error(ui.tr("cannot_import"))
        return
    if st.button(
        ui.tr("confirm_import", n=len(clean), layer=spec.title(lang)),
        type="primary",
        key="data_confirm",
    ):
        try:
            ui.the_store().replace_layers(
                {key: layers.validate(key, clean)},
                who=st.session_state.get("data_who") or "?",
                source=f"{Path(upload.name).name} (imported)",
            )
        except StoreError as exc:
            st.error(str(exc))
            return
        st.success(ui.tr("imported", n=len(clean), layer=spec.title(lang)))


def _opened(code: str) -> tuple[dict[str, object], int]:
    """Return the record as this person opened it: its values and its version.

    Kept in the session until they save or reload it, so a save compares against what
    they saw, not against what is stored when they press the button.
    """
    held = st.session_state.get("data_opened")
    if held is None or held[0] != code:
        values, version = ui.the_store().current("villages", code, list(EDITABLE))
        held = (code, values, version)
        st.session_state["data_opened"] = held
    return held[1], held[2]


def _reopen(code: str) -> None:
    """Forget what this person opened (and their unsaved inputs): show the stored record."""
    st.session_state.pop("data_opened", None)
    st.session_state.pop("data_conflict", None)
    for column in EDITABLE:
        st.session_state.pop(f"edit_{column}_{code}", None)


def _field(box: object, column: str, kind: str, old: object, code: str) -> object:
    """One input of the edit form; returns the value typed (None when cleared)."""
    label, key = ui.tr(f"col_{column}"), f"edit_{column}_{code}"
    if kind == "str":
        return box.text_input(label, value=old or "", key=key, max_chars=200) or None  # type: ignore[attr-defined]
    new = box.number_input(label, value=None if old is None else int(old), step=1, key=key)  # type: ignore[attr-defined]
    return None if new is None else int(new)


def _save(code: str, changed: dict[str, object], version: int, who: str) -> None:
    try:
        ui.the_store().edit(
            "villages", code, changed, expected_version=version, who=who, allowed=EDITABLE
        )
    except EditConflictError as exc:
        st.session_state["data_conflict"] = (code, changed)
        st.error(str(exc))
    except (ValueError, KeyError, StoreError) as exc:
        st.error(str(exc))
    else:
        _reopen(code)
        st.session_state["data_saved"] = len(changed)
        st.rerun()


def conflict_section(code: str, who: str) -> None:
    """Someone saved first: show their values next to this person's; keep either."""
    held = st.session_state.get("data_conflict")
    if held is None or held[0] != code:
        return
    mine = held[1]
    theirs, version = ui.the_store().current("villages", code, list(mine))
    st.warning(ui.tr("conflict_explain"))
    st.dataframe(
        pd.DataFrame(
            {
                ui.tr("col_column"): [ui.tr(f"col_{c}") for c in mine],
                ui.tr("yours"): [ui.as_text(mine[c]) for c in mine],
                ui.tr("theirs"): [ui.as_text(theirs[c]) for c in mine],
            }
        ),
        hide_index=True,
    )
    keep, take = st.columns(2)
    if keep.button(ui.tr("keep_mine"), key="data_keep_mine"):
        _save(code, mine, version, who)
    if take.button(ui.tr("take_theirs"), key="data_take_theirs"):
        _reopen(code)
        st.rerun()


def edit_section() -> None:
    """Edit one village's record; a save never overwrites someone else's newer one."""
    st.subheader(ui.tr("edit_title"))
    villages = ui.layer("villages")
    labels = dict(
        zip(villages["code"], villages["name_zh"] + " (" + villages["code"] + ")", strict=True)
    )
    code = st.selectbox(
        ui.tr("village"), list(labels), format_func=labels.__getitem__, key="data_village"
    )
    if not ui.the_store().writable:
        st.info(ui.tr("read_only_store"))
    else:
        values, version = _opened(code)
        who = st.text_input(ui.tr("who"), key="data_who")
        if saved := st.session_state.pop("data_saved", None):
            st.success(ui.tr("saved", n=saved))
        with st.form("data_edit"):
            columns = st.columns(3)
            typed = {
                column: _field(columns[i % 3], column, kind, values[column], code)
                for i, (column, kind) in enumerate(EDITABLE.items())
            }
            submitted = st.form_submit_button(ui.tr("save"))
        changed = {c: v for c, v in typed.items() if v != values[c]}
        if submitted and changed:
            _save(code, changed, version, who)
        conflict_section(code, who)
    history_section(code)


def history_section(code: str) -> None:
    """Show the village's audit trail, with undo."""
    trail = ui.the_store().history(code)
    st.markdown(f"**{ui.tr('audit')}**")
    labels = {c: ui.tr(f"col_{c}") for c in ("at", "old", "new", "column")}
    labels |= {"who": ui.tr("col_who"), "code": ui.tr("code")}
    shown = trail.assign(column=trail["column"].map(lambda c: ui.tr(f"col_{c}")))
    st.dataframe(shown.rename(columns=labels), hide_index=True, width="stretch")
    if not trail.empty and ui.the_store().writable:
        change = st.selectbox(ui.tr("undo_which"), list(trail["id"]), key="data_undo_id")
        if st.button(ui.tr("undo"), key="data_undo"):
            try:
                ui.the_store().undo(
                    "villages",
                    int(change),
                    who=st.session_state.get("data_who") or "?",
                    allowed=EDITABLE,
                )
            except (EditConflictError, ValueError, KeyError, StoreError) as exc:
                st.error(str(exc))
            else:
                _reopen(code)
                st.rerun()


lang = ui.lang()
st.title(ui.tr("page_data"))
import_section(lang)
edit_section()
