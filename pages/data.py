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
from geo import edits, importer, ingest, settings
from layers import render

ui.page_guard()

#: Village fields a bureau may edit here, with their schema types from the catalogue.
EDITABLE = {
    column: layers.get_layer("villages").columns[column]
    for column in (
        "tap_water_year",
        "power_year",
        "broadband_year",
        "hardened_road_year",
        "bus_year",
        "express_year",
        "exit_year",
        "renovated_2015",
        "renovated_2016",
        "renovated_2017",
        "renovated_2018",
        "cooperatives",
        "cooperative_year",
        "assisting_unit",
        "cadre",
    )
}
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
    vector = [
        k
        for k, s in layers.REGISTRY.items()
        if not s.is_raster and k not in ("prefecture", "counties")
    ]
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
        importer.write_layer(settings.store_path, key, layers.validate(key, clean))
        st.cache_data.clear()
        st.success(ui.tr("imported", n=len(clean), layer=spec.title(lang)))


def edit_section() -> None:
    """Edit one village's record; refuse to overwrite someone else's newer save."""
    st.subheader(ui.tr("edit_title"))
    villages = ui.layer("villages")
    labels = dict(
        zip(villages["code"], villages["name_zh"] + " (" + villages["code"] + ")", strict=True)
    )
    code = st.selectbox(
        ui.tr("village"), list(labels), format_func=labels.__getitem__, key="data_village"
    )
    values, version = edits.current(settings.store_path, code, list(EDITABLE))
    who = st.text_input(ui.tr("who"), key="data_who")
    with st.form("data_edit"):
        changed = {}
        columns = st.columns(3)
        for i, (column, kind) in enumerate(EDITABLE.items()):
            box = columns[i % 3]
            old = values[column]
            if kind == "str":
                new = box.text_input(
                    ui.tr(f"col_{column}"), value=old or "", key=f"edit_{column}_{code}"
                )
            else:
                new = box.number_input(
                    ui.tr(f"col_{column}"),
                    value=None if old is None else int(old),
                    step=1,
                    key=f"edit_{column}_{code}",
                )
                new = None if new is None else int(new)
            if new != old and not (kind == "str" and new == "" and old is None):
                changed[column] = new
        saved = st.form_submit_button(ui.tr("save"))
    if saved and changed:
        try:
            edits.edit(
                settings.store_path,
                code,
                changed,
                expected_version=version,
                who=who,
                allowed=EDITABLE,
            )
        except edits.EditConflictError as exc:
            st.error(str(exc))
            st.dataframe(pd.DataFrame([c.__dict__ for c in exc.theirs]), hide_index=True)
        except ValueError as exc:
            st.error(str(exc))
        else:
            st.success(ui.tr("saved", n=len(changed)))
            st.rerun()
    trail = edits.history(settings.store_path, code)
    st.markdown(f"**{ui.tr('audit')}**")
    labels = {c: ui.tr(f"col_{c}") for c in ("at", "old", "new", "column")}
    labels |= {"who": ui.tr("col_who"), "code": ui.tr("code")}
    shown = trail.assign(column=trail["column"].map(lambda c: ui.tr(f"col_{c}")))
    st.dataframe(shown.rename(columns=labels), hide_index=True, width="stretch")
    if not trail.empty:
        change = st.selectbox(ui.tr("undo_which"), list(trail["id"]), key="data_undo_id")
        if st.button(ui.tr("undo"), key="data_undo"):
            try:
                edits.undo(settings.store_path, int(change), who=who or "?", allowed=EDITABLE)
            except (edits.EditConflictError, ValueError) as exc:
                st.error(str(exc))
            else:
                st.rerun()


lang = ui.lang()
st.title(ui.tr("page_data"))
import_section(lang)
edit_section()
