"""Tables for people: status colours, translated column names, downloads, the catalogue."""

from __future__ import annotations

import functools
from collections.abc import Iterable

import geopandas as gpd
import pandas as pd
import streamlit as st

import layers
import ui
from layers import BUREAUS, provenance
from layers.indicators import INDICATORS
from layers.spec import Theme
from store import tables
from store.indicator_columns import INDICATORS_KEY
from store.register import REGISTER_KEY

__all__ = [
    "STATUS_COLOURS",
    "catalogue_table",
    "coloured_status",
    "downloads",
    "labelled",
    "origin_columns",
    "status_label",
]


STATUS_COLOURS = {
    "done": "#d9f0d3",
    "on_track": "#d1e5f0",
    "behind": "#fee0b6",
    "overdue": "#f4a582",
    "not_measured": "#f0f0f0",
}


def status_label(value: str) -> str:
    """Return a target status in the chosen language."""
    return ui.tr("st_" + value) if value else ""


def coloured_status(frame: pd.DataFrame, column: str) -> object:
    """Return `frame` styled with each status cell in its colour (statuses as labels)."""
    colours = {status_label(k): v for k, v in STATUS_COLOURS.items()}
    return frame.style.format(precision=1).map(
        lambda v: f"background-color: {colours.get(v, 'transparent')}", subset=[column]
    )


VILLAGE_LABELS = {
    "code": "code",
    "name_zh": "name",
    "pinyin": "pinyin",
    "county": "county",
    "township": "township",
    "is_poor": "poor_villages",
    "population": "population",
    "planned_exit_year": "planned_exit",
    "exit_year": "exit_year",
}


def labelled(frame: pd.DataFrame) -> pd.DataFrame:
    """Return `frame` with its village columns named in the chosen language."""
    return frame.rename(columns={c: ui.tr(k) for c, k in VILLAGE_LABELS.items()})


def downloads(
    frame: pd.DataFrame, geometry: gpd.GeoSeries | None, name: str, sources: Iterable[str]
) -> None:
    """Offer `frame` as CSV, Excel and (with `geometry`) GeoPackage downloads.

    Each file is written when its button is clicked, not on every rerun of the page.
    `sources`: the layers the table was made from. When any is synthetic demo data, every
    file says so (`store.tables.Note`) and its name ends in the words.
    """
    note = ui.table_note(sources)
    name = tables.labelled_name(name, note)
    formats = [
        (".csv", "text/csv", "download_csv"),
        (
            ".xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "download_xlsx",
        ),
    ]
    if geometry is not None:
        formats.append((".gpkg", "application/geopackage+sqlite3", "download_gpkg"))
    columns = st.columns(len(formats))
    for column, (suffix, mime, label) in zip(columns, formats, strict=True):
        column.download_button(
            ui.tr(label),
            functools.partial(tables.table_bytes, frame, suffix, geometry=geometry, note=note),
            file_name=f"{name}{suffix}",
            mime=mime,
            key=f"dl_{name}{suffix}",
        )


def _origin_cells(key: str, lang: str, *, date: str, licence: str) -> dict[str, str]:
    """Where a source came from, as the store records it: synthetic, source, date, licence."""
    origin = ui.origins().get(key)
    synthetic = origin is not None and origin.synthetic
    return {
        ui.tr("synthetic"): ui.tr("yes") if synthetic else ui.tr("no"),
        ui.tr("source"): provenance.source_text(key, origin),
        ui.tr("date"): date,
        ui.tr("licence"): licence,
        ui.tr("written"): provenance.written_text(origin, lang),
        ui.tr("edits_since"): provenance.edits_text(origin, lang),
    }


def origin_columns(spec: layers.LayerSpec, lang: str) -> dict[str, str]:
    """Where a layer came from, as the store records it: synthetic, source, date, licence.

    The catalogue's licence and date stand only for data it describes (the shipped relief,
    the demo's layers); an imported layer shows its import date and no licence.
    """
    origin = ui.origins().get(spec.key)
    described = provenance.catalogue_describes(spec.key, origin)
    date = spec.date if described or origin is None else (origin.at or "")[:10]
    return _origin_cells(spec.key, lang, date=date, licence=spec.licence if described else "—")


def _record_leads(key: str, lang: str) -> str:
    """Return the units that keep a record: the register's office, each indicator's lead."""
    if key == REGISTER_KEY:
        return BUREAUS["poverty_office"].name(lang)
    units = dict.fromkeys(indicator.bureau for indicator in INDICATORS.values())
    return "; ".join(unit.name(lang) for unit in units)


def _record_row(key: str, theme: Theme, lang: str) -> dict[str, object]:
    """One catalogue row for a record the atlas reads besides its layers (no geometry)."""
    origin = ui.origins().get(key)
    return {
        ui.tr("layer"): provenance.title(key, lang),
        "key": key,
        ui.tr("theme"): theme.value,
        ui.tr("geometry"): "—",
        ui.tr("features"): None if origin is None else origin.rows,
        ui.tr("lead_bureau"): _record_leads(key, lang),
        ui.tr("cooperating"): "",
        **_origin_cells(key, lang, date=(origin.at or "")[:10] if origin else "", licence="—"),
    }


#: The records the catalogue lists after its layers, with the theme each belongs to.
_RECORD_THEMES = {REGISTER_KEY: Theme.POPULATION, INDICATORS_KEY: Theme.INDUSTRY}


def catalogue_table() -> pd.DataFrame:
    """One row per catalogue layer and per record (register, indicators), with its origin.

    In the chosen language; a record's row says where the store's copy came from, like a
    layer's.
    """
    lang = ui.lang()
    stored = set(ui.the_store().list_layers())
    rows: list[dict[str, object]] = [
        {
            ui.tr("layer"): spec.title(lang),
            "key": spec.key,
            ui.tr("theme"): spec.theme.value,
            ui.tr("geometry"): spec.geometry.value,
            ui.tr("features"): len(ui.layer(spec.key)) if spec.key in stored else None,
            ui.tr("lead_bureau"): spec.bureau.name(lang),
            ui.tr("cooperating"): "; ".join(unit.name(lang) for unit in spec.cooperating),
            **origin_columns(spec, lang),
        }
        for spec in layers.REGISTRY.values()
    ]
    rows += [_record_row(key, theme, lang) for key, theme in _RECORD_THEMES.items()]
    return pd.DataFrame(rows)
