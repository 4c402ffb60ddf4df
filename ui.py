"""The only non-page module that imports Streamlit: cached loaders and session-state keys."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import streamlit as st

import layers
from geo import io, settings
from geo.errors import VillageAtlasError
from layers.i18n import LANGUAGES, t

__all__ = ["LANG", "YEAR", "ensure_store", "layer", "sidebar", "tr"]

LANG = "lang"
YEAR = "year"
YEARS = (2014, 2020)


def tr(key: str, **values: object) -> str:
    """Translate `key` into the language chosen in the sidebar."""
    return t(key, st.session_state.get(LANG, "en"), **values)


def _store_version() -> float:
    """Modification time of the store, so a rebuilt store invalidates the cache."""
    return settings.store_path.stat().st_mtime if settings.store_path.exists() else 0.0


@st.cache_data(max_entries=64, show_spinner=False)
def _load(key: str, version: float) -> gpd.GeoDataFrame:
    del version  # part of the cache key only
    return layers.load(key)


def layer(key: str) -> gpd.GeoDataFrame:
    """Return vector layer `key` from the store (cached; each caller gets its own copy)."""
    return _load(key, _store_version())


def ensure_store() -> None:
    """Build the demo data on first run; stop the page with a clear message if that fails."""
    if settings.store_path.exists():
        return
    from data import build_demo  # noqa: PLC0415 (only on first run)

    with st.spinner(tr("building_demo")):
        try:
            build_demo.build()
        except (OSError, ValueError, VillageAtlasError) as exc:
            st.error(tr("no_data", error=exc))
            st.stop()


def sidebar() -> None:
    """Language switch and the synthetic-data notice, shared by every page."""
    st.session_state.setdefault(LANG, "en")
    st.session_state.setdefault(YEAR, 2017)
    with st.sidebar:
        # one fixed bilingual label: a label that changed with the language would make
        # Streamlit treat the switch as a new widget and reset it
        st.selectbox(
            f"{t('language', 'en')} / {t('language', 'zh')}",
            list(LANGUAGES),
            key=LANG,
            format_func=LANGUAGES.__getitem__,
        )
        st.caption(tr("synthetic_banner"))


def county_names() -> dict[str, str]:
    """County code -> name in the chosen language, in code order."""
    counties = layer("counties").sort_values("code")
    column = "name_zh" if st.session_state.get(LANG, "en") == "zh" else "name_en"
    return dict(zip(counties["code"], counties[column], strict=True))


def year_slider() -> int:
    """Show the shared year selector (2014-2020): the plan's state at the end of that year."""
    return int(st.sidebar.slider(tr("year"), *YEARS, key=YEAR))


def catalogue_table() -> pd.DataFrame:
    """One row per catalogue layer with its metadata, in the chosen language."""
    lang = st.session_state.get(LANG, "en")
    stored = set(io.list_layers())
    rows = [
        {
            tr("layer"): spec.title(lang),
            "key": spec.key,
            tr("theme"): spec.theme.value,
            tr("geometry"): spec.geometry.value,
            tr("features"): len(layer(spec.key)) if spec.key in stored else None,
            tr("lead_bureau"): spec.bureau.name_zh if lang == "zh" else spec.bureau.name_en,
            tr("cooperating"): "; ".join(spec.cooperating),
            tr("synthetic"): tr("yes") if spec.synthetic else tr("no"),
            tr("source"): spec.source,
            tr("licence"): spec.licence,
            tr("date"): spec.date,
        }
        for spec in layers.REGISTRY.values()
    ]
    return pd.DataFrame(rows)
