"""The Data page's import: upload, check, map columns, preview, then write when confirmed.

Only the layers the logged-in account may import are offered; the write goes through
`store.accounts.import_as`, which checks the permission again and records who did it.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import streamlit as st
from streamlit_folium import st_folium

import layers
import ui
from geo.errors import AccessDeniedError, StoreError
from layers import access, render
from store import accounts, importer, ingest
from ui.text import md

__all__ = ["import_section"]

_NONE = "—"


def column_mapping(gdf: gpd.GeoDataFrame, schema: dict[str, str]) -> dict[str, str]:
    """Let the user match the file's columns to the layer's, starting from suggestions."""
    found = [c for c in gdf.columns if c != "geometry"]
    suggested = {t: s for s, t in importer.suggest_columns(found, list(schema)).items()}
    mapping = {}
    with st.expander(ui.tr("columns_match"), expanded=len(suggested) < len(schema)):
        boxes = st.columns(3)
        for i, target in enumerate(schema):
            options = [_NONE, *found]
            default = options.index(suggested[target]) if target in suggested else 0
            source = boxes[i % 3].selectbox(target, options, index=default, key=f"map_{target}")
            if source != _NONE:
                mapping[source] = target
    return mapping


def _choices(lang: str, allowed: list[str]) -> tuple[str, str | None, str | None]:
    left, mid, right = st.columns(3)
    key = left.selectbox(
        ui.tr("layer"),
        allowed,
        format_func=lambda k: layers.get_layer(k).title(lang),
        key="data_layer",
    )
    crs = mid.text_input(
        ui.tr("file_crs"), key="data_crs", placeholder="EPSG:4490 · EPSG:4541 · gcj02 · bd09"
    )
    encoding = right.text_input(
        ui.tr("encoding"), key="data_encoding", placeholder="GBK · GB18030 · UTF-8"
    )
    return str(key), crs or None, encoding or None


def _read(upload: object, encoding: str | None) -> tuple[gpd.GeoDataFrame, list[str]] | None:
    """Read the uploaded file like any hostile file; show why not, and return None, if refused."""
    with ui.saved_upload(upload) as path:  # type: ignore[arg-type]
        if path is None:
            return None
        try:
            names = ingest.source_layers(path)
            choice = (
                st.selectbox(ui.tr("source_layer"), names, key="data_source_layer")
                if len(names) > 1
                else None
            )
            return ingest.read_untrusted(path, encoding=encoding, source_layer=choice)
        except ingest.IngestError as exc:
            st.error(md(exc))
            return None


def _preview(spec: layers.LayerSpec, clean: gpd.GeoDataFrame, lang: str) -> None:
    minx, miny, maxx, maxy = (clean if len(clean) else ui.layer("prefecture")).total_bounds
    pad = max(0.02, 0.1 * max(maxx - minx, maxy - miny))  # never a zero-height view
    fmap = render.base_map([minx - pad, miny - pad, maxx + pad, maxy + pad])
    render.relief_overlay(*ui.relief()).add_to(fmap)
    counties = layers.get_layer("counties")
    render.feature_group(counties, ui.layer("counties"), title=ui.tr("counties"))[0].add_to(fmap)
    render.feature_group(spec, clean, title=spec.title(lang))[0].add_to(fmap)
    st_folium(fmap, key="data_preview", height=360, use_container_width=True, returned_objects=[])


def _prepared(
    spec: layers.LayerSpec, upload: object, crs: str | None, encoding: str | None
) -> gpd.GeoDataFrame | None:
    """Read, map and check the upload; show the report; None when it cannot be imported."""
    read = _read(upload, encoding)
    if read is None:
        return None
    gdf, notes = read
    mapping = column_mapping(gdf, dict(spec.columns))
    try:
        clean, report = importer.prepare(
            gdf, columns=spec.columns, crs=crs, notes=notes, mapping=mapping,
            geometry_kinds=spec.geometry.shapely_types,
        )  # fmt: skip
    except ValueError as exc:
        st.error(md(exc))
        return None
    problems = layers.problems(spec.key, clean)
    st.text("\n".join(report.lines() + [f"problem: {p}" for p in problems]))
    if problems:
        st.error(ui.tr("cannot_import"))
        return None
    return clean


def import_section(lang: str) -> None:
    """Upload, check and preview a file; write it as a layer only when confirmed."""
    st.subheader(ui.tr("import_title"))
    account = ui.auth.current()
    allowed = [
        k for k, s in layers.REGISTRY.items() if not s.is_raster and access.may_import(account, k)
    ]
    if not allowed:
        st.info(ui.tr("nothing_to_import"))
        return
    upload = st.file_uploader(
        ui.tr("upload"),
        key="data_upload",
        type=["geojson", "json", "zip", "gpkg", "kml", "csv", "xlsx"],
    )
    key, crs, encoding = _choices(lang, allowed)
    if upload is None:
        return
    spec = layers.get_layer(key)
    clean = _prepared(spec, upload, crs, encoding)
    if clean is None:
        return
    _preview(spec, clean, lang)
    label = ui.tr("confirm_import", n=len(clean), layer=spec.title(lang))
    if st.button(label, type="primary", key="data_confirm"):
        source = f"{Path(upload.name).name} (imported)"
        try:
            accounts.import_as(
                ui.the_store(), account, key, layers.validate(key, clean), source=source
            )
        except (StoreError, AccessDeniedError) as exc:
            st.error(md(exc))
            return
        st.success(ui.tr("imported", n=len(clean), layer=spec.title(lang)))
