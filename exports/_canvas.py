"""The print map's canvas: the figure, its map axes and what every drawing step shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import pyproj
import shapely
from matplotlib import patheffects
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from exports.fonts import cjk_font
from exports.spec import MapSpec
from geo.crs import metric_crs
from layers.provenance import Reading
from layers.rules import RULES, CoverageRule

__all__ = ["Canvas", "Extent", "fix_frame", "halo_text", "new_canvas", "plot"]

Extent = tuple[float, float, float, float]


@dataclass
class Canvas:
    """What every drawing step shares: the figure, the map axes, its CRS, extent and font.

    `read` is the loader every step reads layers through; it keeps their origins.
    """

    spec: MapSpec
    fig: Figure
    ax: Axes
    crs: pyproj.CRS
    extent: Extent
    font: str
    read: Reading
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


def new_canvas(spec: MapSpec, mapped: gpd.GeoDataFrame, read: Reading) -> Canvas:
    """Set up the figure and the map axes over `mapped`, padded, in its metric CRS."""
    crs = metric_crs(mapped.to_crs(4326).total_bounds)
    fig = Figure(figsize=spec.inches, dpi=spec.dpi)
    ax = fig.add_axes((0.03, 0.10, 0.76, 0.78))
    minx, miny, maxx, maxy = mapped.to_crs(crs).total_bounds
    pad = 0.04 * max(maxx - minx, maxy - miny)
    extent = (minx - pad, miny - pad, maxx + pad, maxy + pad)
    return Canvas(spec, fig, ax, crs, extent, cjk_font(), read)


def fix_frame(c: Canvas) -> None:
    """Fix the map axes to the extent, at equal scale, with no ticks."""
    c.ax.set_xlim(c.extent[0], c.extent[2])
    c.ax.set_ylim(c.extent[1], c.extent[3])
    c.ax.set_aspect("equal")
    c.ax.set_xticks([])
    c.ax.set_yticks([])
    c.ax.set_xlabel("")
    c.ax.set_ylabel("")


def plot(gdf: gpd.GeoDataFrame, ax: Axes, **style: Any) -> None:  # noqa: ANN401
    """Plot `gdf` unless it is empty (a filter can leave nothing to draw)."""
    if not gdf.empty:
        gdf.plot(ax=ax, **style)


def halo_text(c: Canvas, point: shapely.Point, text: str, size: float, colour: str) -> None:
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
