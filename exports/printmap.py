"""The meeting map: layers and a rule over the relief, with the map furniture, for print.

Drawn with matplotlib in the metric CRS chosen from the area (so the scale bar is true), on
the offline relief, with a CJK font embedded in PDFs. Each step draws one thing on the axes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import rasterio
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from rasterio.warp import Resampling, reproject

import layers
from exports.fonts import cjk_font, print_settings
from exports.spec import CLASS_COLOURS, MapSpec, area, villages
from geo.crs import metric_crs
from geo.raster import hillshade, read_band
from layers.i18n import t
from layers.rules import RULES, Loader

__all__ = ["meeting_map", "save_figure"]

Extent = tuple[float, float, float, float]


@dataclass
class _Canvas:
    """What every drawing step shares: the figure, the map axes, its CRS, extent and font."""

    spec: MapSpec
    fig: Figure
    ax: Axes
    crs: pyproj.CRS
    extent: Extent
    font: str
    handles: list[Line2D] = field(default_factory=list)


def _canvas(spec: MapSpec, mapped: gpd.GeoDataFrame) -> _Canvas:
    """Set up the figure and the map axes over `mapped`, padded, in its metric CRS."""
    crs = metric_crs(mapped.to_crs(4326).total_bounds)
    fig = Figure(figsize=spec.inches, dpi=spec.dpi)
    ax = fig.add_axes((0.03, 0.10, 0.76, 0.78))
    minx, miny, maxx, maxy = mapped.to_crs(crs).total_bounds
    pad = 0.04 * max(maxx - minx, maxy - miny)
    extent = (minx - pad, miny - pad, maxx + pad, maxy + pad)
    return _Canvas(spec, fig, ax, crs, extent, cjk_font())


def _frame(c: _Canvas) -> None:
    """Fix the map axes to the extent, at equal scale, with no ticks."""
    c.ax.set_xlim(c.extent[0], c.extent[2])
    c.ax.set_ylim(c.extent[1], c.extent[3])
    c.ax.set_aspect("equal")
    c.ax.set_xticks([])
    c.ax.set_yticks([])


def _relief(c: _Canvas) -> None:
    """Draw the DEM's hillshade, reprojected to the map's CRS, as the background."""
    dem, transform, src_crs = read_band(layers.raster_path("relief"))
    minx, miny, maxx, maxy = c.extent
    width = 400
    height = max(int(width * (maxy - miny) / (maxx - minx)), 1)
    target = np.full((height, width), np.nan)
    cell = (maxx - minx) / width
    reproject(
        dem,
        target,
        src_transform=transform,
        src_crs=src_crs,
        dst_transform=rasterio.Affine(cell, 0, minx, 0, -(maxy - miny) / height, maxy),
        dst_crs=c.crs,
        resampling=Resampling.cubic,
        src_nodata=np.nan,
        dst_nodata=np.nan,
    )
    shade = hillshade(target, (cell, (maxy - miny) / height), z_factor=3.0)
    c.ax.imshow(
        shade,
        extent=(minx, maxx, miny, maxy),
        cmap="Greys_r",
        alpha=0.35,
        vmin=0,
        vmax=1.2,
        zorder=0,
        interpolation="bilinear",
    )


def _layers(c: _Canvas, load: Loader) -> None:
    """Draw the spec's reference layers (boundaries, roads...) in their catalogue colours."""
    for key in c.spec.layers:
        layer_spec = layers.get_layer(key)
        gdf = layers.as_of(key, load(key), c.spec.year).to_crs(c.crs)
        colours = (
            gdf[layer_spec.style.column].map(layer_spec.style.color_for)
            if (layer_spec.style.column in gdf.columns)
            else layer_spec.style.color
        )
        if layer_spec.geometry is layers.GeometryKind.POLYGON:
            gdf.plot(ax=c.ax, facecolor="none", edgecolor=colours, lw=0.6, zorder=2)
        else:
            gdf.plot(ax=c.ax, color=colours, lw=0.8, markersize=6, zorder=2)
        c.handles.append(
            Line2D(
                [], [], color=layer_spec.style.color, lw=1.5, label=layer_spec.title(c.spec.lang)
            )
        )


def _villages(c: _Canvas, mapped: gpd.GeoDataFrame, load: Loader) -> None:
    """Draw the villages by coverage class (a rule) or poverty status, counted in the legend."""
    shown = villages(c.spec, mapped, load).to_crs(c.crs)
    column = "class" if c.spec.rule else "status"
    palette = CLASS_COLOURS if c.spec.rule else layers.get_layer("villages").style.categories
    for value, colour in palette.items():
        subset = shown[shown[column] == value]
        subset.plot(ax=c.ax, color=colour, markersize=14, edgecolor="white", lw=0.3, zorder=3)
        label = t(value if c.spec.rule else f"status_{value}", c.spec.lang)
        c.handles.append(
            Line2D([], [], marker="o", ls="", color=colour, label=f"{label} ({len(subset)})")
        )


def _scale_bar(c: _Canvas) -> None:
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
                zorder=5,
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
            zorder=5,
        )


def _north_arrow(c: _Canvas) -> None:
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


def _inset(c: _Canvas, mapped: gpd.GeoDataFrame, load: Loader) -> None:
    """Draw the prefecture with the mapped area outlined, top right."""
    inset = c.fig.add_axes((0.80, 0.70, 0.17, 0.17))
    load("counties").to_crs(c.crs).plot(ax=inset, facecolor="#f2f2f2", edgecolor="#999", lw=0.3)
    mapped.to_crs(c.crs).plot(ax=inset, facecolor="#fdae61", edgecolor="#d7191c", lw=0.8)
    inset.set_xticks([])
    inset.set_yticks([])


def _titles(c: _Canvas, area_name: str) -> None:
    spec = c.spec
    rule = RULES[spec.rule].title(spec.lang) if spec.rule else t("villages", spec.lang)
    title = spec.title or f"{area_name} · {rule}"
    subtitle = t("export_subtitle", spec.lang, year=spec.year, rule=rule, area=area_name)
    c.fig.text(0.03, 0.955, title, fontsize=16, family=c.font, va="center")
    c.fig.text(0.03, 0.915, subtitle, fontsize=9, family=c.font, va="center", color="#444")


def _legend(c: _Canvas) -> None:
    c.fig.legend(
        handles=c.handles,
        loc="upper left",
        bbox_to_anchor=(0.80, 0.66),
        frameon=False,
        prop={"family": c.font, "size": 8},
        title=t("legend", c.spec.lang),
        title_fontproperties={"family": c.font, "size": 9},
    )


def _notes(c: _Canvas) -> None:
    """Write the sources, date, CRS and approval number at the foot, and any watermark."""
    notes = t(
        "export_notes",
        c.spec.lang,
        crs=c.crs.name,
        date=dt.datetime.now(tz=dt.UTC).date().isoformat(),
        approval=c.spec.approval or "________",
    )
    c.fig.text(0.03, 0.04, notes, fontsize=6.5, family=c.font, color="#444", va="bottom")
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


def meeting_map(spec: MapSpec, *, load: Loader = layers.load) -> Figure:
    """Draw a meeting map: layers and rule over the relief, with every map furniture.

    Title and subtitle (rule, year, area), legend, scale bar, north arrow, an inset of
    the prefecture, data sources and date, the CRS, an optional watermark and the map
    approval number field.
    """
    mapped, area_name = area(spec, load)
    c = _canvas(spec, mapped)
    _relief(c)
    _layers(c, load)
    _villages(c, mapped, load)
    _frame(c)
    _scale_bar(c)
    _north_arrow(c)
    _inset(c, mapped, load)
    _titles(c, area_name)
    _legend(c)
    _notes(c)
    return c.fig


def save_figure(fig: Figure, path: Path) -> Path:
    """Save a map as .png or .pdf (fonts embedded), at the figure's dpi."""
    suffix = path.suffix.lower()
    if suffix not in (".png", ".pdf"):
        msg = f"cannot write {path.name}: a map is saved as .png or .pdf"
        raise ValueError(msg)
    with print_settings():
        fig.savefig(
            path, dpi=fig.dpi, metadata={"Creator": "Village Atlas"} if suffix == ".pdf" else None
        )
    return path
