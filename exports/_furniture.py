"""Map furniture of the print map: scale bar, north arrow, inset, titles, legend, notes."""

from __future__ import annotations

import datetime as dt
import textwrap

import geopandas as gpd
import numpy as np
from matplotlib.patches import Rectangle

import layers
from exports._canvas import Canvas
from exports.fonts import ems, wrap
from exports.spec import PROVINCE_PATH, headings
from layers import provenance
from layers.i18n import t
from layers.rules import Loader

__all__ = [
    "NOTICE_GID",
    "inset",
    "legend",
    "north_arrow",
    "notes",
    "scale_bar",
    "sources",
    "titles",
]

#: The id of the synthetic-data notice drawn on a map; its label is the notice, unwrapped.
NOTICE_GID = "va-synthetic"

_SOURCES_CHAR_PT = 3.2  # average glyph width of 5.5 pt text, to wrap the sources block
_NOTICE_CHAR_PT = 5.0  # average glyph width of 7 pt text (CJK is wider), to wrap the notice
_PROVENANCE_PT = 6.5  # the size of the rule's provenance line under the subtitle


def scale_bar(c: Canvas) -> None:
    """Draw a two-segment scale bar with a round length, bottom left, labelled in km."""
    minx, miny, maxx, maxy = c.extent
    raw = (maxx - minx) / 5
    step = 10 ** np.floor(np.log10(raw))
    length = max(n * step for n in (1, 2, 5) if n * step <= raw)
    x0, y0 = minx + (maxx - minx) * 0.04, miny + (maxy - miny) * 0.05
    h = (maxy - miny) * 0.008
    for i, colour in enumerate(("black", "white")):
        c.ax.add_patch(
            Rectangle(
                (x0 + i * length / 2, y0),
                length / 2,
                h,
                facecolor=colour,
                edgecolor="black",
                lw=0.6,
                zorder=7,  # over the place names
            )
        )
    km = length / 1000
    for frac, label in ((0, "0"), (0.5, f"{km / 2:g}"), (1, f"{km:g} km")):
        c.ax.text(
            x0 + frac * length,
            y0 + 2.2 * h,
            label,
            ha="center",
            va="bottom",
            fontsize=7,
            family=c.font,
            zorder=7,  # over the place names
        )


def north_arrow(c: Canvas) -> None:
    c.ax.annotate(
        t("north", c.spec.lang),
        xy=(0.95, 0.93),
        xytext=(0.95, 0.83),
        xycoords="axes fraction",
        ha="center",
        va="center",
        fontsize=11,
        family=c.font,
        arrowprops={"facecolor": "black", "width": 3, "headwidth": 9},
        zorder=6,
    )


def inset(c: Canvas, mapped: gpd.GeoDataFrame, load: Loader) -> None:
    """Locate the mapped area, top right: the prefecture in Gansu, or the county in it."""
    inset = c.fig.add_axes((0.80, 0.70, 0.17, 0.17))
    counties = load("counties").to_crs(c.crs)
    if c.spec.county is None:
        context = gpd.read_file(PROVINCE_PATH, engine="pyogrio").to_crs(c.crs)
        name = t("province", c.spec.lang)
    else:
        context = load("prefecture").to_crs(c.crs)
        name = t("all_counties", c.spec.lang)
    context.plot(ax=inset, facecolor="#f2f2f2", edgecolor="#666666", lw=0.5)
    counties.plot(ax=inset, facecolor="none", edgecolor="#aaaaaa", lw=0.2)
    mapped.to_crs(c.crs).plot(ax=inset, facecolor="#fdae61", edgecolor="#d7191c", lw=0.8)
    inset.text(0.03, 0.97, name, transform=inset.transAxes, fontsize=6.5, family=c.font, va="top")
    inset.set_xticks([])
    inset.set_yticks([])
    inset.set_xlabel("")
    inset.set_ylabel("")


def titles(c: Canvas, area_name: str) -> None:
    """Write the title, the subtitle (rule, its scope, year, area) and the rule's provenance.

    The provenance line says whether the rule is the plan's measure or our assumption
    (with the reason), so that an assumption is never read as the plan's.
    """
    said = headings(c.spec, area_name)
    c.fig.text(0.03, 0.962, said.title, fontsize=16, family=c.font, va="center")
    c.fig.text(0.03, 0.927, said.subtitle, fontsize=9, family=c.font, va="center", color="#444")
    if said.provenance is not None:
        width = 0.76 * c.fig.get_figwidth() * 72 / _PROVENANCE_PT
        c.fig.text(
            0.03,
            0.912,
            "\n".join(wrap(said.provenance, width)),
            fontsize=_PROVENANCE_PT,
            family=c.font,
            va="top",
            color="#b35806" if said.ours else "#444",
        )


def legend(c: Canvas) -> None:
    """Draw the legend in the right column, its text small enough to fit the column."""
    column_pt = (1 - 0.80 - 0.01) * c.fig.get_figwidth() * 72
    widest = max((ems(str(h.get_label())) for h in c.handles), default=0.0)
    size = min(8.0, column_pt / (widest + 4.0))  # 4 ems: the symbol and the gaps beside it
    c.fig.legend(
        handles=c.handles,
        loc="upper left",
        bbox_to_anchor=(0.80, 0.66),
        frameon=False,
        prop={"family": c.font, "size": size},
        title=t("legend", c.spec.lang),
        title_fontproperties={"family": c.font, "size": 9},
    )


def sources(c: Canvas) -> None:
    """List the source of every layer drawn, grouped by source, under the legend.

    A layer's source is what the store records for it (`layers.provenance.source_text`).
    """
    by_source: dict[str, list[str]] = {}
    for key in dict.fromkeys([*c.drawn, "relief"]):
        source = provenance.source_text(key, c.read.origins.get(key))
        by_source.setdefault(source, []).append(layers.get_layer(key).title(c.spec.lang))
    width = int(0.18 * c.fig.get_figwidth() * 72 / _SOURCES_CHAR_PT)
    lines = [t("sources", c.spec.lang)]
    for source, titles in by_source.items():
        lines.extend(textwrap.wrap(f"{', '.join(titles)}: {source}", width, break_on_hyphens=False))
    c.fig.text(
        0.80, 0.10, "\n".join(lines), fontsize=5.5, family=c.font, color="#444444", va="bottom"
    )


def notes(c: Canvas) -> None:
    """Write the date, CRS and approval number at the foot, and any watermark.

    Above them, when any layer the map was made from is synthetic demo data, a notice
    naming those layers.
    """
    notes = t(
        "export_notes",
        c.spec.lang,
        crs=c.crs.name,
        date=dt.datetime.now(tz=dt.UTC).date().isoformat(),
        approval=c.spec.approval or "________",
    )
    c.fig.text(0.03, 0.04, notes, fontsize=6.5, family=c.font, color="#444", va="bottom")
    notice = c.read.notice(c.spec.lang)
    if notice is not None:  # its label keeps it whole, for the file's metadata
        width = int(0.76 * c.fig.get_figwidth() * 72 / _NOTICE_CHAR_PT)
        c.fig.text(
            0.03,
            0.062,
            "\n".join(textwrap.wrap(notice, width, break_on_hyphens=False)),
            fontsize=7,
            family=c.font,
            color="#b2182b",
            va="bottom",
            gid=NOTICE_GID,
            label=notice,
        )
    if c.spec.watermark:
        c.fig.text(
            0.42,
            0.5,
            c.spec.watermark,
            fontsize=70,
            family=c.font,
            color="#d7191c",
            alpha=0.12,
            rotation=30,
            ha="center",
            va="center",
        )
