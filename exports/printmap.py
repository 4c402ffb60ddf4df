"""The meeting map: layers and a rule over the relief, with the map furniture, for print.

Drawn with matplotlib in the metric CRS chosen from the area (so the scale bar is true), on
the offline relief, with a CJK font embedded in PDFs. Each step draws one thing on the axes;
the canvas they share is in `_canvas`, the scale bar, inset, legend and notes in `_furniture`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from matplotlib.artist import Artist
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from numpy.typing import NDArray
from scipy import ndimage

import layers
from exports._canvas import Canvas, Extent, fix_frame, halo_text, new_canvas, plot
from exports._furniture import (
    NOTICE_GID,
    inset,
    legend,
    north_arrow,
    notes,
    scale_bar,
    sources,
    titles,
)
from exports.fonts import print_settings
from exports.spec import CLASS_COLOURS, MapSpec, area, county_code, read_once, villages
from geo.coverage import service_area
from geo.raster import hillshade, read_band
from layers.i18n import STRINGS, t
from layers.provenance import Reading
from layers.rules import Loader, facilities_for
from layers.scenarios import Scenario, apply

__all__ = ["meeting_map", "save_figure"]

_VILLAGE_SIZE = 14.0  # scatter marker area in pt², as drawn and in the legend
_OUT_OF_SCOPE_SIZE = 6.0  # a village the rule does not ask about: small, grey, no gap
_FACILITY_SIZE = 8.0  # smaller than the villages, drawn over them, so both show
_LINE_WIDTH = {layers.GeometryKind.POLYGON: 0.6, layers.GeometryKind.LINE: 0.8}
_FACILITY_LINE_WIDTH = 1.4
_RELIEF_WIDTH_PX = 600
_CLASS_PREFIX = {"road_class": "road_"}  # category column -> its translation keys' prefix
_MIN_LABEL_SHARE = 0.002  # label a polygon only if this share of the frame shows it


def _dem_on_grid(
    path: Path, crs: pyproj.CRS, extent: Extent, width: int
) -> tuple[NDArray[np.float64], float]:
    """Return the DEM resampled by cubic splines onto a grid over `extent`, and its cell size.

    Every cell gets a value (the DEM's edge values extend outwards), so no band of missing
    relief shows along the frame, and the 0.2 degree cells do not show as blocks.
    """
    dem, transform, src_crs = read_band(path)
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


def _relief(c: Canvas) -> None:
    """Draw the DEM's hillshade, resampled smoothly onto the map frame, as the background."""
    dem, cell = _dem_on_grid(c.read.raster("relief"), c.crs, c.extent, _RELIEF_WIDTH_PX)
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
    c: Canvas,
    gdf: gpd.GeoDataFrame,
    kind: layers.GeometryKind,
    colour: str,
    label: str,
    lw: float | None = None,
) -> Artist:
    """Draw reference features in one colour; return their legend symbol, as drawn, counted."""
    label = f"{label} ({len(gdf)})"
    if kind is layers.GeometryKind.POINT:
        plot(gdf, c.ax, color=colour, markersize=6, zorder=2)
        return Line2D([], [], marker="o", ls="", color=colour, markersize=np.sqrt(6), label=label)
    lw = lw or _LINE_WIDTH[kind]
    if kind is layers.GeometryKind.POLYGON:
        plot(gdf, c.ax, facecolor="none", edgecolor=colour, lw=lw, zorder=2)
    else:
        plot(gdf, c.ax, color=colour, lw=lw, zorder=2)
    return Line2D([], [], color=colour, lw=lw, label=label)


def _class_name(column: str, value: str, lang: str) -> str:
    key = _CLASS_PREFIX.get(column, "") + value
    return t(key, lang) if key in STRINGS else value


def _visible(c: Canvas, gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return the features of `gdf` (in the map's CRS) that show inside the frame."""
    return gdf[gdf.intersects(c.frame)]


def _layers(c: Canvas, load: Loader) -> None:
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


def _service_areas(c: Canvas, facilities: gpd.GeoDataFrame, within_m: float) -> None:
    """Shade the area within `within_m` (straight line) of the facilities.

    The Coverage page's computation: buffered in metres in a metric CRS, never in degrees.
    """
    zone = service_area(facilities, within_m=within_m).to_crs(c.crs)
    colour = "#4393c3"
    zone.plot(ax=c.ax, facecolor=colour, edgecolor=colour, alpha=0.18, lw=0.5, zorder=1)
    label = t("service_area_within", c.spec.lang, km=within_m / 1000)
    c.handles.append(Patch(facecolor=colour, edgecolor=colour, alpha=0.18, lw=0.5, label=label))


def _facilities(c: Canvas, load: Loader) -> None:
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
            plot(
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
            plot(part, c.ax, color=colour, lw=_FACILITY_LINE_WIDTH, zorder=2.5)
            symbol = Line2D([], [], color=colour, lw=_FACILITY_LINE_WIDTH, label=label)
        c.handles.append(symbol)
        c.drawn.append(key)


def _scenario(c: Canvas, scenario: Scenario) -> None:
    """Draw a scenario's new sites with their service areas, removed sites and road links."""
    within_m = float(c.rule.within_m or 0) if c.rule else 0.0
    lang = c.spec.lang
    if scenario.roads:
        links = gpd.GeoSeries(
            [shapely.LineString(line) for line in scenario.roads], crs=4326
        ).to_crs(c.crs)
        links.plot(ax=c.ax, color="#7b3294", lw=1.6, ls="--", zorder=2.6)
        label = f"{t('planned_roads', lang)} ({len(links)})"
        c.handles.append(Line2D([], [], color="#7b3294", lw=1.6, ls="--", label=label))
    if scenario.removed:
        gone = gpd.GeoSeries(shapely.points([r[1:] for r in scenario.removed]), crs=4326).to_crs(
            c.crs
        )
        gone.plot(ax=c.ax, color="#555555", marker="x", markersize=30, lw=1.2, zorder=3.7)
        label = f"{t('removed_sites', lang)} ({len(gone)})"
        c.handles.append(
            Line2D([], [], marker="x", ls="", color="#555555", markersize=6, label=label)
        )
    if scenario.added:
        sites = gpd.GeoDataFrame(
            geometry=shapely.points(np.asarray(scenario.added, dtype=float)), crs=4326
        )
        zone = service_area(sites, within_m=within_m).to_crs(c.crs)
        zone.plot(ax=c.ax, facecolor="none", edgecolor="#e66101", lw=0.8, ls="--", zorder=2.7)
        plot(
            sites.to_crs(c.crs),
            c.ax,
            color="#e66101",
            marker="*",
            markersize=90,
            edgecolor="white",
            lw=0.4,
            zorder=3.8,
        )
        label = f"{t('new_sites', lang)} ({len(sites)})"
        c.handles.append(
            Line2D(
                [], [], marker="*", ls="", color="#e66101", markersize=10,
                markeredgecolor="white", label=label,
            )
        )  # fmt: skip


def _villages(
    c: Canvas, mapped: gpd.GeoDataFrame, load: Loader, before: Loader | None = None
) -> None:
    """Draw the villages by coverage class (a rule) or poverty status, counted in the legend."""
    shown = villages(c.spec, mapped, load, before=before).to_crs(c.crs)
    column = "class" if c.spec.rule else "status"
    palette = CLASS_COLOURS if c.spec.rule else layers.get_layer("villages").style.categories
    for value, colour in palette.items():
        subset = shown[shown[column] == value]
        if (value == "newly_covered" and before is None) or (
            value == "out_of_scope" and subset.empty  # the rule asks about every village
        ):
            continue
        size = _OUT_OF_SCOPE_SIZE if value == "out_of_scope" else _VILLAGE_SIZE
        plot(subset, c.ax, color=colour, markersize=size, edgecolor="white", lw=0.3, zorder=3)
        label = t(value if c.spec.rule else f"status_{value}", c.spec.lang)
        c.handles.append(
            Line2D(
                [],
                [],
                marker="o",
                ls="",
                color=colour,
                markersize=np.sqrt(size),
                markeredgecolor="white",
                markeredgewidth=0.3,
                label=f"{label} ({len(subset)})",
            )
        )
    c.drawn.append("villages")


def _label_polygons(
    c: Canvas,
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
            halo_text(c, part.representative_point(), str(name), size, colour)


def _labels(c: Canvas, load: Loader) -> None:
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


def meeting_map(
    spec: MapSpec, *, load: Loader = layers.load, scenario: Scenario | None = None
) -> Figure:
    """Draw a meeting map: layers and rule over the relief, with every map furniture.

    Title and subtitle (rule, year, area); the rule's facilities (and their service areas if
    the spec asks); county names (and township names on a county map) over halos; a legend
    with symbols as drawn, counts per class and the source of each layer; scale bar, north
    arrow, an inset locating the area in Gansu (or the county in the prefecture), date, the
    CRS, an optional watermark and the map approval number field; and, when any layer it
    was drawn from is synthetic demo data, a notice saying so (the store's record decides).

    With a `scenario`, the map shows its rule in its base year with the changes built: new
    sites (stars) and their service areas, removed sites, planned road links, and the
    villages the scenario newly covers in a class of their own.
    """
    with print_settings():  # data text (names, titles) is never mathtext
        read = Reading(load)
        drawn: Loader = read
        mapped, area_name = area(spec, read)
        if scenario is not None:
            drawn = read_once(apply(scenario, read))
            title = spec.title or f"{area_name} · {scenario.name}"
            spec = dataclasses.replace(
                spec, rule=scenario.rule, year=scenario.base_year, title=title
            )
        c = new_canvas(spec, mapped, read)
        _relief(c)
        _layers(c, drawn)
        _facilities(c, read)  # the sites as they are; a scenario's are drawn over them
        if scenario is not None:
            _scenario(c, scenario)
        _villages(c, mapped, drawn, read if scenario is not None else None)
        _labels(c, read)
        fix_frame(c)
        scale_bar(c)
        north_arrow(c)
        inset(c, mapped, read)
        titles(c, area_name)
        legend(c)
        sources(c)
        notes(c)
        return c.fig


def save_figure(fig: Figure, path: Path) -> Path:
    """Save a map as .png or .pdf (fonts embedded), at the figure's dpi.

    A synthetic-data notice drawn on the map (`exports._furniture.notes`) is also the
    file's description: a PNG's ``Description`` text, a PDF's ``Subject``.
    """
    suffix = path.suffix.lower()
    if suffix not in (".png", ".pdf"):
        msg = f"cannot write {path.name}: a map is saved as .png or .pdf"
        raise ValueError(msg)
    notice = " ".join(str(t.get_label()) for t in fig.texts if t.get_gid() == NOTICE_GID)
    metadata = {"Creator": "Village Atlas"} if suffix == ".pdf" else {}
    if notice:
        metadata["Subject" if suffix == ".pdf" else "Description"] = notice
    with print_settings():
        fig.savefig(path, dpi=fig.dpi, metadata=metadata or None)
    return path
