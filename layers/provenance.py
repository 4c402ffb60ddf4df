"""Where the data come from, in words: the synthetic-data notice, sources, edits since.

Everything here works from the records the store keeps (`store.Origin`, read with
`layers.origin` or carried by a loaded layer, `layers.origin_of_frame`), never from the
catalogue's idea of what a layer usually is: a layer is synthetic exactly when its record
says so. The catalogue's `LayerSpec.source` only describes a layer nothing records (the
shipped relief).

Besides its layers the atlas reads two records the store keeps the same way (`RECORDS`):
the poor-household register and the village indicators. A *source* is either: a key of
the layer catalogue or of `RECORDS`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import geopandas as gpd

import layers
import store
from geo.errors import StoreError
from layers.i18n import t
from layers.rules import CoverageRule, Loader
from store import Origin
from store.indicator_columns import INDICATORS_KEY
from store.register import REGISTER_KEY
from store.tables import Note

__all__ = [
    "BOARD_RECORDS",
    "RECORDS",
    "Reading",
    "board_lines",
    "board_note",
    "board_notice",
    "catalogue_describes",
    "edits_text",
    "note",
    "notice",
    "record_lines",
    "recorded",
    "rule_layers",
    "source_text",
    "sources_notice",
    "synthetic_layers",
    "title",
    "written_text",
]

_SHOWN = 4  # layers named in a notice before "and N more"

#: What the atlas reads besides its layers, recorded in the store like a layer: store key
#: -> its title (a key of `layers.i18n`): the household register, the village indicators.
RECORDS = {REGISTER_KEY: "register", INDICATORS_KEY: "indicators_record"}
#: Records besides layers that measure the targets board: store key -> the line saying
#: they are synthetic (the household register; the village indicators).
BOARD_RECORDS = {REGISTER_KEY: "register_synthetic", INDICATORS_KEY: "indicators_synthetic"}


def title(key: str, lang: str) -> str:
    """Return the title of a source: a catalogue layer or a record (`RECORDS`).

    Examples
    --------
    >>> title("villages", "en"), title("household_register", "zh")
    ('Administrative villages', '贫困户建档立卡')
    """
    if key in RECORDS:
        return t(RECORDS[key], lang)
    return layers.get_layer(key).title(lang)


def recorded(
    where: Path | str | None = None, keys: Iterable[str] | None = None
) -> dict[str, Origin | None]:
    """Return where each source came from, as the store records it (None: nothing does).

    `keys` default to every catalogue layer and every record (`RECORDS`); `where` is the
    store (default: the one the atlas serves). All None when the store cannot be read.
    """
    wanted = list(dict.fromkeys([*layers.REGISTRY, *RECORDS] if keys is None else keys))
    try:
        handle = store.open_store(where)
    except StoreError:
        return dict.fromkeys(wanted)
    kept = handle.origins()
    return {k: kept.get(k) if k in RECORDS else layers.origin(k, where) for k in wanted}


def record_lines(origins: Mapping[str, Origin | None], lang: str) -> list[str]:
    """Return a line naming each synthetic record among `origins`, with its source.

    Examples
    --------
    >>> demo = Origin("village_indicators", "demo indicators", synthetic=True)
    >>> record_lines({"village_indicators": demo, "villages": None}, "en")
    ['Village indicators of industry, labour and income: demo indicators.']
    """
    found = [(line, origins.get(key)) for key, line in BOARD_RECORDS.items()]
    return [t(line, lang, source=o.source) for line, o in found if o is not None and o.synthetic]


def board_lines(
    where: str | None, lang: str, keys: Iterable[str] = tuple(BOARD_RECORDS)
) -> list[str]:
    """Return a line for each record measuring the targets board (of `keys`) that is synthetic.

    `where` is the store (default: the one the atlas serves); none when it is unreadable.
    """
    return record_lines(recorded(where, keys), lang)


def _with_lines(head: str | None, lines: Sequence[str], lang: str) -> str | None:
    """Return a one-line notice: `head` (the layers' notice), then each record's line."""
    if not lines:
        return head
    return " ".join([head or f"{t('synthetic_label', lang).capitalize()}:", *lines])


def sources_notice(
    origins: Mapping[str, Origin | None], lang: str, *, most: int | None = _SHOWN
) -> str | None:
    """Return the one-line notice for what is made of these sources (None: none synthetic).

    The synthetic layers are named (at most `most`), then each synthetic record with its
    source (`record_lines`).

    Examples
    --------
    >>> demo = Origin("household_register", "demo register", synthetic=True)
    >>> sources_notice({"household_register": demo, "villages": None}, "en")
    'Synthetic demo data: Poor-household register: demo register.'
    >>> real = Origin("villages", "v.gpkg (imported)", synthetic=False)
    >>> sources_notice({"villages": real}, "en") is None
    True
    """
    found = [k for k in synthetic_layers(origins) if k not in RECORDS]
    return _with_lines(notice(found, lang, most=most), record_lines(origins, lang), lang)


def board_note(
    table_note: Note | None,
    where: str | None,
    lang: str,
    keys: Iterable[str] = tuple(BOARD_RECORDS),
) -> Note | None:
    """Return a table's note with the board's synthetic records (`board_lines`) added.

    `table_note` is what its layers say (None: nothing synthetic among them); `keys` the
    records it is made of (default both: the household register, the village indicators).
    """
    lines = board_lines(where, lang, keys)
    if not lines:
        return table_note
    if table_note is None:
        return Note(t("data_note", lang), t("synthetic_label", lang), tuple(lines))
    return Note(table_note.title, table_note.label, (*table_note.lines, *lines))


def board_notice(layer_notice: str | None, where: str | None, lang: str) -> str | None:
    """Return a one-line notice for a targets table: its layers', then `board_lines`."""
    return _with_lines(layer_notice, board_lines(where, lang), lang)


def synthetic_layers(
    origins: Mapping[str, Origin | None], keys: Iterable[str] | None = None
) -> list[str]:
    """Return the sources (of `keys`, default all in `origins`) recorded as synthetic.

    In catalogue order, each once; records (`RECORDS`) last.

    Examples
    --------
    >>> demo = Origin("villages", "demo", synthetic=True)
    >>> real = Origin("bus_stops", "stops.geojson (imported)", synthetic=False)
    >>> synthetic_layers({"bus_stops": real, "villages": demo, "relief": None})
    ['villages']
    >>> synthetic_layers({"villages": demo}, keys=["bus_stops"])
    []
    """
    wanted = set(origins if keys is None else keys)
    found = {k for k, o in origins.items() if k in wanted and o is not None and o.synthetic}
    order = list(layers.REGISTRY)
    return sorted(found, key=lambda k: (order.index(k) if k in order else len(order), k))


def notice(keys: Sequence[str], lang: str, *, most: int | None = _SHOWN) -> str | None:
    """Return the sentence saying that sources `keys` are synthetic demo data (None: no keys).

    At most `most` layers are named (None: all of them), then how many more.

    Examples
    --------
    >>> notice(["villages", "bus_stops"], "en")
    'Synthetic demo data (generated, not real records): Administrative villages, Bus stops.'
    >>> notice(["villages", "bus_stops", "roads"], "zh", most=1).startswith("合成演示数据")
    True
    >>> notice(["villages", "bus_stops", "roads"], "en", most=1)[-20:]
    'villages and 2 more.'
    >>> notice([], "en") is None
    True
    """
    if not keys:
        return None
    titles = [title(k, lang) for k in keys]
    sep = "、" if lang == "zh" else ", "
    if most is None or len(titles) <= most:
        named = sep.join(titles)
    else:
        shown = sep.join(titles[:most])
        named = t("and_more", lang, shown=shown, more=len(titles) - most, total=len(titles))
    return t("synthetic_notice", lang, layers=named)


def source_text(key: str, origin: Origin | None) -> str:
    """Return a source's source: what the store recorded, else the catalogue's description.

    A record nothing records has none ("—").
    """
    if origin is not None and origin.source:
        return origin.source
    return "—" if key in RECORDS else layers.get_layer(key).source


def catalogue_describes(key: str, origin: Origin | None) -> bool:
    """Whether the catalogue's description of a layer (licence, date) fits the data in use.

    It does when nothing records the layer (the shipped relief), or when the record is in
    the catalogue's words (the demo build writes them); not for an imported file, nor for
    a record (`RECORDS`: the catalogue does not describe them).

    Examples
    --------
    >>> catalogue_describes("relief", None)
    True
    >>> catalogue_describes("bus_stops", Origin("bus_stops", "stops.geojson (imported)", False))
    False
    """
    if key in RECORDS:
        return False
    return origin is None or origin.source.startswith(layers.get_layer(key).source)


def written_text(origin: Origin | None, lang: str) -> str:
    """Return when and by whom a layer was written (empty when nothing records it)."""
    if origin is None or origin.at is None:
        return ""
    return t("written_by", lang, at=origin.at[:10], who=origin.who or "?")


def edits_text(origin: Origin | None, lang: str) -> str:
    """Return how often a layer was edited since it was written, and the last edit."""
    if origin is None or not origin.edits:
        return "0" if origin is not None else ""
    at = (origin.edited_at or "?")[:10]
    return t("edits_last", lang, n=origin.edits, at=at, who=origin.edited_by or "?")


def note(origins: Mapping[str, Origin | None], lang: str) -> Note | None:
    """Return the note a table made from these sources carries (None: nothing synthetic).

    Its lines: the notice naming every synthetic source, then each source's source (a
    record nothing records, absent from the store, is left out).
    """
    synthetic = synthetic_layers(origins)
    sentence = notice(synthetic, lang, most=None)
    if sentence is None:
        return None
    sources = [
        f"{title(k, lang)}: {source_text(k, o)}"
        for k, o in origins.items()
        if o is not None or k not in RECORDS
    ]
    return Note(t("data_note", lang), t("synthetic_label", lang), (sentence, *sources))


def rule_layers(rule: CoverageRule, *, along_roads: bool = False) -> tuple[str, ...]:
    """Return the layers a coverage rule reads: the villages, its facilities, the roads.

    Examples
    --------
    >>> from layers.rules import RULES
    >>> rule_layers(RULES["bus_2km"], along_roads=True)
    ('villages', 'bus_stops', 'roads')
    """
    roads = ("roads",) if along_roads and rule.is_distance else ()
    return ("villages", *rule.facilities, *roads)


class Reading:
    """A loader that keeps where each layer it hands out came from: what an export is made of.

    An export reads every layer through one; afterwards `origins` holds each layer read
    (and each raster taken with `raster`), as the store records it, and `notice` and
    `note` say whether synthetic demo data are among them.
    """

    def __init__(self, load: Loader) -> None:
        """Wrap `load` (layers read by `layers.load` carry their origin)."""
        self._load = load
        self.origins: dict[str, Origin | None] = {}

    def __call__(self, key: str) -> gpd.GeoDataFrame:
        """Return layer `key` from the wrapped loader, noting where it came from."""
        gdf = self._load(key)
        self.origins.setdefault(key, layers.origin_of_frame(gdf))
        return gdf

    def noted(self, key: str, origin: Origin | None) -> None:
        """Note that layer `key` was used without being read (a road graph kept on disk)."""
        self.origins.setdefault(key, origin)

    def raster(self, key: str) -> Path:
        """Return the GeoTIFF of raster layer `key`, noting where it came from."""
        self.origins.setdefault(key, layers.origin(key))
        return layers.raster_path(key)

    def synthetic(self) -> list[str]:
        """Return the layers read so far that are synthetic demo data."""
        return synthetic_layers(self.origins)

    def notice(self, lang: str) -> str | None:
        """Return the synthetic-data notice for what was read (None: nothing synthetic)."""
        return notice(self.synthetic(), lang)

    def note(self, lang: str) -> Note | None:
        """Return the note a table made of what was read carries (None: nothing synthetic)."""
        return note(self.origins, lang)
