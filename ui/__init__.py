"""The only non-page module that imports Streamlit: cached loaders and session-state keys."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

import layers
import store
from geo import settings
from geo.coverage import nearest_ecef
from geo.errors import VillageAtlasError
from geo.network import RoadGraph
from geo.status import poverty_status
from layers import assets, households, provenance, render, targets
from layers.basemaps import probe
from layers.i18n import LANGUAGES, t
from layers.rules import RULES, evaluate, evaluate_many, population_coverage, road_graph
from store import ingest
from store.register import Register
from store.tables import Note
from ui import auth as auth
from ui.cache import versioned
from ui.text import md

__all__ = [
    "LANG",
    "YEAR",
    "board",
    "board_sources",
    "ensure_store",
    "layer",
    "md",
    "origins",
    "sidebar",
    "synthetic_notice",
    "table_note",
    "tr",
]

LANG = "lang"
YEAR = "year"
YEARS = (settings.baseline_year, settings.goal_year)


def as_text(value: object) -> str:
    """Show a stored value as plain text ("—" when empty)."""
    return "—" if value is None or value != value else str(value)  # noqa: PLR0124 (NaN)


def tr(key: str, **values: object) -> str:
    """Translate `key` into the language chosen in the sidebar."""
    return t(key, st.session_state.get(LANG, "en"), **values)


def the_store() -> store.Store:
    """Return the store this app serves (``VILLAGE_ATLAS_STORE``, else the demo), checked once."""
    return store.open_store()


@versioned(max_entries=64)
def layer(key: str) -> gpd.GeoDataFrame:
    """Return vector layer `key` from the store (cached; each caller gets its own copy)."""
    return layers.load(key)


@versioned(max_entries=4)
def register() -> Register:
    """Return the store's poor-household register, aggregated: counts only (cached)."""
    return households.read_register()


@versioned(max_entries=4)
def origins() -> dict[str, store.Origin | None]:
    """Return where every source came from, as the store records it (cached).

    Sources: every catalogue layer, and the records besides them (`provenance.RECORDS`:
    the household register, the village indicators).
    """
    return provenance.recorded()


def synthetic_notice(keys: Iterable[str] | None = None) -> str | None:
    """Return the notice naming the synthetic sources among `keys` (default: every one).

    `keys` are catalogue layers or records (`provenance.RECORDS`); a synthetic record is
    named with its source. Escaped for Markdown (a record's source may name a file). None
    when none of them is synthetic: then nothing is said about it.
    """
    known = origins()
    chosen = known if keys is None else {k: known.get(k) for k in dict.fromkeys(keys)}
    found = provenance.sources_notice(chosen, lang())
    return None if found is None else md(found)


def table_note(keys: Iterable[str]) -> Note | None:
    """Return the note a table made from sources `keys` carries (None: nothing synthetic)."""
    known = origins()
    return provenance.note({k: known.get(k) for k in dict.fromkeys(keys)}, lang())


@contextlib.contextmanager
def saved_table(upload: UploadedFile, stem: str) -> Iterator[tuple[Path, str] | None]:
    """Yield an uploaded CSV or Excel table saved as `stem` (`saved_upload`), and its name.

    The name is the upload's own, without folders and cut to 200 characters (for the
    store's record of where the data came from); None when the upload is too big.
    """
    whole = Path(str(upload.name)).name
    suffix = ".xlsx" if whole.lower().endswith(".xlsx") else ".csv"  # before the name is cut
    name = whole[:200]
    with saved_upload(upload, f"{stem}{suffix}") as path:
        yield None if path is None else (path, name)


@contextlib.contextmanager
def saved_upload(upload: UploadedFile, name: str | None = None) -> Iterator[Path | None]:
    """Yield an upload written under `name` (default its own) in a private folder, removed after.

    None, with the reason on the page, when the upload is larger than any file the atlas
    reads (`store.ingest.LIMITS`).
    """
    if upload.size > ingest.LIMITS.file_bytes:
        st.error(tr("too_big", mb=ingest.LIMITS.file_bytes // 2**20))
        yield None
        return
    with ingest.private_folder("va-upload-") as folder:
        path = folder / (name or Path(str(upload.name)).name)
        path.write_bytes(upload.getvalue())
        yield path


def ensure_store() -> None:
    """Open the store (building the demo on first run); stop the page with one sentence if not."""
    if store.location() == str(settings.store_path) and not settings.store_path.exists():
        from data import build_demo  # noqa: PLC0415 (only on first run)

        with st.spinner(tr("building_demo")):
            try:
                build_demo.build()
            except (OSError, ValueError, VillageAtlasError) as exc:
                st.error(tr("no_data", error=md(exc)))
                st.stop()
    try:
        the_store()
    except (OSError, VillageAtlasError) as exc:
        st.error(tr("no_data", error=md(exc)))
        st.stop()


def page_guard() -> None:
    """Send a page that Streamlit started on its own to the entry point first.

    A fresh server that is first asked for a deep link (say ``/coverage``) runs the page
    directly from the ``pages/`` folder, skipping `app.py`; its session then lacks the
    shared sidebar and settings. Going through `app.py` once fixes it for good. Such a page
    (and every page that AppTest reruns on its own) passes the login gate here too: no page
    shows before the gate has named this session's account.
    """
    if LANG not in st.session_state:
        st.switch_page("app.py")
    sidebar()
    if auth.check(the_store()) is None:
        st.switch_page("app.py")
    auth.who_box(lang())


def _mirror(target: str, widget: str) -> Callable[[], None]:
    """Return a callback copying a widget's value to a session key that outlives the page."""

    def copy() -> None:
        st.session_state[target] = st.session_state[widget]

    return copy


@st.cache_resource
def install_assets() -> str:
    """Copy Leaflet and plugins into static/vendor once per process (served offline)."""
    return str(assets.install())


def init_session() -> None:
    """Set the session's shared keys (language, year) once, in `app.py`."""
    st.session_state.setdefault(LANG, "en")
    st.session_state.setdefault(YEAR, 2017)


def sidebar() -> None:
    """Show the language switch and, if the store holds any, the synthetic-data notice."""
    with st.sidebar:
        # one fixed bilingual label: a label that changed with the language would make
        # Streamlit treat the switch as a new widget and reset it; like the year, the
        # language lives under its own key and the widget mirrors it across pages
        st.selectbox(
            f"{t('language', 'en')} / {t('language', 'zh')}",
            list(LANGUAGES),
            index=list(LANGUAGES).index(st.session_state[LANG]),
            format_func=LANGUAGES.__getitem__,
            key=f"{LANG}_select",
            on_change=_mirror(LANG, f"{LANG}_select"),
        )
        notice = synthetic_notice()
        if notice is not None:
            st.caption(notice)


def county_names() -> dict[str, str]:
    """County code -> name in the chosen language, in code order."""
    counties = layer("counties").sort_values("code")
    column = "name_zh" if st.session_state.get(LANG, "en") == "zh" else "name_en"
    return dict(zip(counties["code"], counties[column], strict=True))


def year_slider() -> int:
    """Show the shared year selector (2014-2020): the plan's state at the end of that year.

    The year lives under its own key and the slider only mirrors it: a widget's own state
    is dropped when the user switches page, and the year must follow them.
    """
    st.sidebar.slider(
        tr("year"),
        *YEARS,
        value=int(st.session_state[YEAR]),
        key=f"{YEAR}_slider",
        on_change=_mirror(YEAR, f"{YEAR}_slider"),
    )
    return int(st.session_state[YEAR])


@st.cache_resource(show_spinner=False)
def relief() -> tuple[str, list[list[float]]]:
    """Return the relief image (a PNG data URL) and its bounds (built once per process)."""
    rgb, bounds = render.relief_image(layers.raster_path("relief"))
    return render.relief_url(rgb, bounds), bounds


@versioned(max_entries=16)
def villages_as_of(year: int) -> gpd.GeoDataFrame:
    """Villages with their poverty `status` at the end of `year` (cached)."""
    villages = layers.load("villages")
    villages["status"] = poverty_status(villages, year)
    return villages


@versioned(max_entries=64)
def layer_as_of(key: str, year: int) -> gpd.GeoDataFrame:
    """Vector layer `key` with only the features that exist by the end of `year` (cached)."""
    return layers.as_of(key, layers.load(key), year)


@versioned(max_entries=16)
def measures(year: int) -> dict[str, pd.DataFrame]:
    """Every rule evaluated (straight-line) for every village as of `year` (cached)."""
    return {key: evaluate(rule, year, load=layer) for key, rule in RULES.items()}


@st.cache_data(ttl=60, show_spinner=False)
def basemap_reachable(url: str) -> bool:
    """Whether an online basemap answers (checked at most once a minute)."""
    return probe(url)


def lang() -> str:
    """Return the language chosen in the sidebar: ``"en"`` or ``"zh"``."""
    return str(st.session_state.get(LANG, "en"))


@versioned(max_entries=8, with_targets=True)
def load_targets() -> tuple[targets.Target, ...]:
    """Return the plan's targets from the office's file (re-read when it changes)."""
    return targets.load_targets()


@versioned(max_entries=16, with_targets=True)
def _board_read(year: int) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Return the targets board as of `year` and the sources it was measured from."""
    read = provenance.Reading(layer)
    table = targets.board(load_targets(), year, load=read, register=register())
    return table, (*read.origins, *provenance.BOARD_RECORDS)


def board(year: int) -> pd.DataFrame:
    """Return the targets board as of `year` (cached; redone when data or targets change)."""
    return _board_read(year)[0]


def board_sources(year: int) -> tuple[str, ...]:
    """Return what the board as of `year` is measured from: layers, register, indicators."""
    return _board_read(year)[1]


@versioned(max_entries=32, with_targets=True)
def county_progress(key: str, year: int) -> pd.DataFrame:
    """One target's progress per county as of `year` (cached)."""
    target = next(t for t in load_targets() if t.key == key)
    return targets.by_county(target, year, load=layer, register=register())


@versioned(max_entries=8, shared=True)
def _graph(year: int) -> RoadGraph:
    return road_graph(year, layer, cache_in=the_store())


@versioned(max_entries=32)
def coverage(
    keys: list[str], year: int, within_m: dict[str, float], along_roads: bool
) -> pd.DataFrame:
    """Several rules evaluated together as of `year` (cached; see `evaluate_many`)."""
    return evaluate_many(
        [RULES[k] for k in keys],
        year,
        within_m=dict(within_m),
        along_roads=along_roads,
        load=layer,
        graph=_graph(year) if along_roads else None,
    )


@versioned(max_entries=32)
def population(key: str, year: int, within_m: float) -> pd.DataFrame:
    """People within a rule's distance per county, from the population grid (cached)."""
    return population_coverage(RULES[key], year, within_m=within_m, load=layer)


CLICK_METRES = 50.0  # how near a click must be to pick a village


def village_at(villages: gpd.GeoDataFrame, lat: float, lng: float) -> str | None:
    """Return the code of the village drawn at a clicked point (within 50 m), if any."""
    if villages.empty:
        return None
    xy = shapely.get_coordinates(villages.to_crs(settings.storage_crs).geometry.to_numpy())
    distance, index = nearest_ecef(np.array([[lng, lat]]), xy)
    return str(villages["code"].iloc[int(index[0])]) if distance[0] <= CLICK_METRES else None
