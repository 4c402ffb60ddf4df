"""The meeting map: layers and a rule over the relief, with the map furniture, for print.

Drawn with matplotlib in the metric CRS chosen from the area (so the scale bar is true), on
the offline relief, with a CJK font embedded in PDFs. Each step draws one thing on the axes.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from matplotlib import patheffects
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from numpy.typing import NDArray
from scipy import ndimage

import layers
from exports.fonts import cjk_font, print_settings
from exports.spec import CLASS_COLOURS, MapSpec, area, county_code, villages
from geo import settings
from geo.crs import metric_crs
from geo.raster import hillshade, read_band
from layers.i18n import STRINGS, t
from layers.rules import RULES, CoverageRule, Loader, facilities_for

__all__ = ["meeting_map", "save_figure"]

Extent = tuple[float, float, float, float]

PROVINCE_PATH = settings.shipped_dir / "gansu.geojson"
_VILLAGE_SIZE = 14.0  # scatter marker area in pt², as drawn and in the legend
_FACILITY_SIZE = 8.0  # smaller than the villages, drawn over them, so both show
_LINE_WIDTH = {layers.GeometryKind.POLYGON: 0.6, layers.GeometryKind.LINE: 0.8}
_FACILITY_LINE_WIDTH = 1.4
_RELIEF_WIDTH_PX = 600
_CLASS_PREFIX = {"road_class": "road_"}  # category column -> its translation keys' prefix
_MIN_LABEL_SHARE = 0.002  # label a polygon only if this share of the frame shows it
_SOURCES_CHAR_PT = 3.2  # average glyph width of 5.5 pt text, to wrap the sources block


@dataclass
class _Canvas:
    """What every drawing step shares: the figure, the map axes, its CRS, extent and font."""

    spec: MapSpec
    fig: Figure
    ax: Axes
    crs: pyproj.CRS
    extent: Extent
    font: str
    handles: list[Artist] = field(default_factory=list)
    drawn: list[str] = field(default_factory=list)

    @property
    def frame(self) -> shapely.Polygon:
        """The map frame as a polygon in the map's CRS."""
        return shapely.box(*self.extent)

    @property
    def free(self) -> shapely.Geometry:
        """The frame less the corners the scale bar and north arrow take: room for names."""
        minx, miny, maxx, maxy = self.extent
        w, h = maxx - minx, maxy - miny

        def corner(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
            return shapely.box(minx + x0 * w, miny + y0 * h, minx + x1 * w, miny + y1 * h)

        return self.frame.difference(corner(0, 0, 0.35, 0.13)).difference(corner(0.9, 0.78, 1, 1))

    @property
    def rule(self) -> CoverageRule | None:
        """The rule mapped, if any."""
        return None if self.spec.rule is None else RULES[self.spec.rule]


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
    c.ax.set_xlabel("")
    c.ax.set_ylabel("")


def _dem_on_grid(crs: pyproj.CRS, extent: Extent, width: int) -> tuple[NDArray[np.float64], float]:
    """Return the DEM resampled by cubic splines onto a grid over `extent`, and its cell size.

    Every cell gets a value (the DEM's edge values extend outwards), so no band of missing
    relief shows along the frame, and the 0.2 degree cells do not show as blocks.
    """
    dem, transform, src_crs = read_band(layers.raster_path("relief"))
    minx, miny, maxx, maxy = extent
    cell = (maxx - minx) / width
    height = max(round((maxy - miny) / cell), 1)
    xs = minx + (np.arange(width) + 0.5) * cell
    ys = maxy - (np.arange(height) + 0.5) * cell
    grid_x, grid_y = np.meshgrid(xs, ys)
    to_dem = pyproj.Transformer.from_crs(crs, pyproj.CRS(src_crs.to_wkt()), always_xy=True)
    lon, lat = to_dem.transform(grid_x, grid_y)
    inverse = ~transform
    col = inverse.a * lon + inverse.b * lat + inverse.c
    row = inverse.d * lon + inverse.e * lat + inverse.f
    filled = np.where(np.isnan(dem), np.nanmean(dem), dem)
    values = ndimage.map_coordinates(filled, [row - 0.5, col - 0.5], order=3, mode="nearest")
    return np.asarray(values, dtype=np.float64), cell


def _relief(c: _Canvas) -> None:
    """Draw the DEM's hillshade, resampled smoothly onto the map frame, as the background."""
    dem, cell = _dem_on_grid(c.crs, c.extent, _RELIEF_WIDTH_PX)
    shade = hillshade(dem, (cell, cell), z_factor=3.0)
    minx, _, maxx, maxy = c.extent
    c.ax.imshow(
        shade,
        extent=(minx, maxx, maxy - cell * dem.shape[0], maxy),
        cmap="Greys_r",
        alpha=0.35,
        vmin=0,
        vmax=1.2,
        zorder=0,
        interpolation="bilinear",
    )


def _draw(
    c: _Canvas,
    gdf: gpd.GeoDataFrame,
    kind: layers.GeometryKind,
    colour: str,
    label: str,
    lw: float | None = None,
) -> Artist:
    """Draw reference features in one colour; return their legend symbol, as drawn, counted."""
    label = f"{label} ({len(gdf)})"
    if kind is layers.GeometryKind.POINT:
        _plot(gdf, c.ax, color=colour, markersize=6, zorder=2)
        return Line2D([], [], marker="o", ls="", color=colour, markersize=np.sqrt(6), label=label)
    lw = lw or _LINE_WIDTH[kind]
    if kind is layers.GeometryKind.POLYGON:
        _plot(gdf, c.ax, facecolor="none", edgecolor=colour, lw=lw, zorder=2)
    else:
        _plot(gdf, c.ax, color=colour, lw=lw, zorder=2)
    return Line2D([], [], color=colour, lw=lw, label=label)


def _plot(gdf: gpd.GeoDataFrame, ax: Axes, **style: Any) -> None:  # noqa: ANN401
    """Plot `gdf` unless it is empty (a filter can leave nothing to draw)."""
    if not gdf.empty:
        gdf.plot(ax=ax, **style)


def _class_name(column: str, value: str, lang: str) -> str:
    key = _CLASS_PREFIX.get(column, "") + value
    return t(key, lang) if key in STRINGS else value


def _visible(c: _Canvas, gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return the features of `gdf` (in the map's CRS) that show inside the frame."""
    return gdf[gdf.intersects(c.frame)]


def _layers(c: _Canvas, load: Loader) -> None:
    """Draw the spec's reference layers, one legend entry (with its count) per class drawn."""
    for key in c.spec.layers:
        layer_spec = layers.get_layer(key)
        style = layer_spec.style
        title = layer_spec.title(c.spec.lang)
        gdf = _visible(c, layers.as_of(key, load(key), c.spec.year).to_crs(c.crs))
        column = style.column
        if column is None or column not in gdf.columns or not style.categories:
            c.handles.append(_draw(c, gdf, layer_spec.geometry, style.color, title))
        else:
            for value, part in gdf.groupby(column, sort=False):
                name = _class_name(column, str(value), c.spec.lang)
                colour = style.color_for(value)
                c.handles.append(_draw(c, part, layer_spec.geometry, colour, f"{title} · {name}"))
        c.drawn.append(key)


def _service_areas(c: _Canvas, facilities: gpd.GeoDataFrame, within_m: float) -> None:
    """Shade the area within `within_m` (straight line) of the facilities, in metres."""
    if not c.crs.is_projected:
        msg = f"service areas need a metric CRS, not {c.crs.name}"
        raise ValueError(msg)
    zone = gpd.GeoSeries([facilities.buffer(within_m).union_all()], crs=c.crs)
    colour = "#4393c3"
    zone.plot(ax=c.ax, facecolor=colour, edgecolor=colour, alpha=0.18, lw=0.5, zorder=1)
    label = t("service_area_within", c.spec.lang, km=within_m / 1000)
    c.handles.append(Patch(facecolor=colour, edgecolor=colour, alpha=0.18, lw=0.5, label=label))


def _facilities(c: _Canvas, load: Loader) -> None:
    """Draw the facilities that serve the rule (and their service areas, if asked for)."""
    rule = c.rule
    if rule is None or not rule.is_distance:
        return
    found = facilities_for(rule, c.spec.year, load).to_crs(c.crs)
    if c.spec.service_areas and rule.within_m is not None and not found.empty:
        _service_areas(c, found, rule.within_m)
    visible = _visible(c, found)
    for key in rule.facilities:
        layer_spec = layers.get_layer(key)
        part = visible[visible["layer"] == key]
        colour = layer_spec.style.color
        label = f"{layer_spec.title(c.spec.lang)} ({len(part)})"
        if layer_spec.geometry is layers.GeometryKind.POINT:
            _plot(
                part,
                c.ax,
                color=colour,
                marker="s",
                markersize=_FACILITY_SIZE,
                edgecolor="white",
                lw=0.3,
                zorder=3.5,
            )
            symbol = Line2D(
                [],
                [],
                marker="s",
                ls="",
                color=colour,
                markersize=np.sqrt(_FACILITY_SIZE),
                markeredgecolor="white",
                markeredgewidth=0.3,
                label=label,
            )
        else:
            _plot(part, c.ax, color=colour, lw=_FACILITY_LINE_WIDTH, zorder=2.5)
            symbol = Line2D([], [], color=colour, lw=_FACILITY_LINE_WIDTH, label=label)
        c.handles.append(symbol)
        c.drawn.append(key)


def _villages(c: _Canvas, mapped: gpd.GeoDataFrame, load: Loader) -> None:
    """Draw the villages by coverage class (a rule) or poverty status, counted in the legend."""
    shown = villages(c.spec, mapped, load).to_crs(c.crs)
    column = "class" if c.spec.rule else "status"
    palette = CLASS_COLOURS if c.spec.rule else layers.get_layer("villages").style.categories
    for value, colour in palette.items():
        subset = shown[shown[column] == value]
        _plot(
            subset,
            c.ax,
            color=colour,
            markersize=_VILLAGE_SIZE,
            edgecolor="white",
            lw=0.3,
            zorder=3,
        )
        label = t(value if c.spec.rule else f"status_{value}", c.spec.lang)
        c.handles.append(
            Line2D(
                [],
                [],
                marker="o",
                ls="",
                color=colour,
                markersize=np.sqrt(_VILLAGE_SIZE),
                markeredgecolor="white",
                markeredgewidth=0.3,
                label=f"{label} ({len(subset)})",
            )
        )
    c.drawn.append("villages")


def _halo_text(c: _Canvas, point: shapely.Point, text: str, size: float, colour: str) -> None:
    """Write `text` at `point` over a white halo (the halo is a stroked copy beneath it)."""
    common: dict[str, Any] = {
        "fontsize": size,
        "family": c.font,
        "ha": "center",
        "va": "center",
        "zorder": 6,
        "clip_on": True,
    }
    halo = [patheffects.Stroke(linewidth=2.5, foreground="white")]
    c.ax.text(point.x, point.y, text, color="white", path_effects=halo, **common)
    c.ax.text(point.x, point.y, text, color=colour, **common)  # stays text in the PDF


def _label_polygons(
    c: _Canvas,
    gdf: gpd.GeoDataFrame,
    names: pd.Series,
    style: tuple[float, str],
    min_share: float = _MIN_LABEL_SHARE,
) -> None:
    """Label each polygon showing in the frame (at least `min_share` of it) inside that part."""
    size, colour = style
    frame, free = c.frame, c.free
    for geom, name in zip(gdf.geometry, names, strict=True):
        part = geom.intersection(free)
        if not part.is_empty and part.area >= min_share * frame.area:
            _halo_text(c, part.representative_point(), str(name), size, colour)


def _labels(c: _Canvas, load: Loader) -> None:
    """Name the counties in the frame and, on a county map, the county's townships."""
    zh = c.spec.lang == "zh"
    counties = load("counties").to_crs(c.crs)
    if c.spec.county is not None:
        code = county_code(c.spec.county, load)
        towns = load("townships")
        towns = towns[towns["county_code"] == code].to_crs(c.crs)
        if "townships" not in c.spec.layers:  # names need the outlines they name
            town_spec = layers.get_layer("townships")
            title = town_spec.title(c.spec.lang)
            colour = town_spec.style.color
            c.handles.append(_draw(c, towns, town_spec.geometry, colour, title, lw=0.35))
            c.drawn.append("townships")
        names = towns["name_zh" if zh else "pinyin"]
        _label_polygons(c, towns, names, (6.5, "#555555"), min_share=0)  # every one, however small
    _label_polygons(c, counties, counties["name_zh" if zh else "name_en"], (10, "#222222"))


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


def _titles(c: _Canvas, area_name: str) -> None:
    spec = c.spec
    rule = RULES[spec.rule].title(spec.lang) if spec.rule else t("villages", spec.lang)
    title = spec.title or f"{area_name} · {rule}"
    subtitle = t("export_subtitle", spec.lang, year=spec.year, rule=rule, area=area_name)
    c.fig.text(0.03, 0.955, title, fontsize=16, family=c.font, va="center")
    c.fig.text(0.03, 0.915, subtitle, fontsize=9, family=c.font, va="center", color="#444")


def _ems(text: str) -> float:
    """Rough width of `text` in ems: a CJK character is one, a Latin one about half."""
    return sum(1.0 if ord(ch) >= 0x2E80 else 0.55 for ch in text)  # noqa: PLR2004


def _legend(c: _Canvas) -> None:
    """Draw the legend in the right column, its text small enough to fit the column."""
    column_pt = (1 - 0.80 - 0.01) * c.fig.get_figwidth() * 72
    widest = max((_ems(str(h.get_label())) for h in c.handles), default=0.0)
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


def _sources(c: _Canvas) -> None:
    """List the source of every layer drawn, grouped by source, under the legend."""
    by_source: dict[str, list[str]] = {}
    for key in dict.fromkeys([*c.drawn, "relief"]):
        layer_spec = layers.get_layer(key)
        by_source.setdefault(layer_spec.source, []).append(layer_spec.title(c.spec.lang))
    width = int(0.18 * c.fig.get_figwidth() * 72 / _SOURCES_CHAR_PT)
    lines = [t("sources", c.spec.lang)]
    for source, titles in by_source.items():
        lines.extend(textwrap.wrap(f"{', '.join(titles)}: {source}", width, break_on_hyphens=False))
    c.fig.text(
        0.80, 0.10, "\n".join(lines), fontsize=5.5, family=c.font, color="#444444", va="bottom"
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

    Title and subtitle (rule, year, area); the rule's facilities (and their service areas if
    the spec asks); county names (and township names on a county map) over halos; a legend
    with symbols as drawn, counts per class and the source of each layer; scale bar, north
    arrow, an inset locating the area in Gansu (or the county in the prefecture), date, the
    CRS, an optional watermark and the map approval number field.
    """
    mapped, area_name = area(spec, load)
    c = _canvas(spec, mapped)
    _relief(c)
    _layers(c, load)
    _facilities(c, load)
    _villages(c, mapped, load)
    _labels(c, load)
    _frame(c)
    _scale_bar(c)
    _north_arrow(c)
    _inset(c, mapped, load)
    _titles(c, area_name)
    _legend(c)
    _sources(c)
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
