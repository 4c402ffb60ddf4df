"""Export: meeting maps (PNG/PDF), a county atlas, a standalone HTML map, bureau workbooks."""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

import exports as export
import ui
from layers import provenance
from layers.rules import RULES, provenance_note
from store.tables import labelled_name

ui.page_guard()

KINDS = ("map", "atlas", "html", "xlsx")
SUFFIX = {"map": ".pdf", "atlas": ".pdf", "html": ".html", "xlsx": ".xlsx"}
MIME = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".html": "text/html",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

lang = ui.lang()
year = ui.year_slider()
st.title(ui.tr("page_export"))
kind = st.radio(
    ui.tr("export_kind"),
    KINDS,
    horizontal=True,
    format_func=lambda k: ui.tr(f"export_{k}"),
    key="exp_kind",
)
left, right = st.columns(2)
rule = left.selectbox(
    ui.tr("measure"),
    list(RULES),
    format_func=lambda k: f"{RULES[k].title(lang)} · {RULES[k].provenance.label(lang)}",
    key="exp_rule",
)
left.caption(provenance_note(RULES[rule], lang))  # the map says it too
names = {"": ui.tr("all_counties"), **ui.county_names()}
county = right.selectbox(
    ui.tr("county"), list(names), format_func=names.__getitem__, key="exp_county"
)
size = left.selectbox(ui.tr("paper"), list(export.PAPER_MM), key="exp_size")
orientation = right.selectbox(
    ui.tr("orientation"),
    ["landscape", "portrait"],
    format_func=ui.tr,
    key="exp_orientation",
)
dpi = left.select_slider(ui.tr("col_dpi"), [150, 200, 300], value=200, key="exp_dpi")
fmt = (
    right.radio(ui.tr("format"), [".pdf", ".png"], horizontal=True, key="exp_format")
    if (kind == "map")
    else SUFFIX[kind]
)
watermark = left.text_input(ui.tr("watermark"), key="exp_watermark")
approval = right.text_input(ui.tr("approval"), key="exp_approval")
service_areas = left.checkbox(ui.tr("service_area"), key="exp_service_areas")
spec = export.MapSpec(
    year=year,
    rule=rule,
    county=county or None,
    size=size,
    orientation=orientation,
    dpi=dpi,
    lang=lang,
    watermark=watermark or None,
    approval=approval,
    service_areas=service_areas,
)

try:
    export.cjk_font()
except RuntimeError as exc:
    st.error(ui.md(exc))
    st.stop()
if kind == "map":
    preview = export.meeting_map(export.MapSpec(**{**spec.__dict__, "dpi": 80}), load=ui.layer)
    with tempfile.TemporaryDirectory() as folder:
        st.image(
            str(export.save_figure(preview, Path(folder) / "preview.png")), caption=ui.tr("preview")
        )
if st.button(ui.tr("make_export"), type="primary", key="exp_go"):
    bar = st.progress(0.0, text=ui.tr("working"))
    read = provenance.Reading(ui.layer)  # what the export is made of
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / f"export{fmt}"
        if kind == "map":
            export.save_figure(export.meeting_map(spec, load=read), out)
        elif kind == "atlas":
            codes = [county] if county else None
            export.atlas(
                spec,
                out,
                counties=codes,
                load=read,
                progress=lambda f: bar.progress(f, text=ui.tr("working")),
            )
        elif kind == "html":
            out.write_text(export.html_map(spec, load=read), encoding="utf-8")
        else:
            export.bureau_workbook(year, out, load=read, lang=lang)
        note = read.note(lang)
        if kind in ("atlas", "xlsx"):  # their targets tables: the register, the indicators
            note = provenance.board_note(note, None, lang)
        bar.progress(1.0, text=ui.tr("ready"))
        st.download_button(
            ui.tr("download"),
            out.read_bytes(),
            file_name=labelled_name(f"village-atlas-{kind}-{year}", note) + fmt,
            mime=MIME[fmt],
            key="exp_download",
        )
