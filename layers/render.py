"""Map builder: catalogue layers to folium objects (no Streamlit here).

Every string that comes from data is escaped before it reaches folium, which puts
tooltip and popup text into the page as HTML. Coordinates are rounded to 1e-5
degree (about 1 m); features with missing or non-finite coordinates are dropped
and reported, never allowed to blank a layer.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement
from jinja2 import Template
from matplotlib.colors import LinearSegmentedColormap
from scipy import ndimage

from geo import settings
from geo.raster import hillshade, read_band
from layers.assets import localize
from layers.spec import GeometryKind, LayerSpec, Style

__all__ = [
    "POINTS_MAX",
    "ROAD_CLASSES_BY_ZOOM",
    "VIEW_ZOOM",
    "base_map",
    "choropleth_group",
    "escape",
    "feature_group",
    "geojson",
    "grouped_points",
    "layer_geojson",
    "relief_image",
    "relief_overlay",
    "relief_url",
    "visible_roads",
]

PRECISION = 5  # decimal degrees: about 1 m
#: Gobi tan to Qilian grey and snow: a tint for relief in arid country.
_DESERT = LinearSegmentedColormap.from_list(
    "desert", ["#f1e9d6", "#e3d2ab", "#c9b48b", "#a39479", "#c8c4bf", "#f7f7f7"]
)
_ESCAPES = {"`": "&#96;", "$": "&#36;", "\\": "&#92;", "{": "&#123;", "}": "&#125;"}


def escape(value: object) -> str:
    r"""Return `value` as text safe inside HTML and inside JavaScript template strings.

    Examples
    --------
    >>> escape('<img src=x onerror="alert(1)">')
    '&lt;img src=x onerror=&quot;alert(1)&quot;&gt;'
    >>> escape("${x} `y` \\")
    '&#36;&#123;x&#125; &#96;y&#96; &#92;'
    """
    text = html.escape(str(value), quote=True)
    return "".join(_ESCAPES.get(ch, ch) for ch in text)


def _finite(gdf: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, int]:
    """Drop features with missing, empty or non-finite coordinates; return how many went."""
    geoms = gdf.geometry.to_numpy()
    bad = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    nonfinite = np.unique(owner[~np.isfinite(coords).all(axis=1)])
    bad[nonfinite] = True
    return gdf[~bad], int(bad.sum())


def geojson(
    gdf: gpd.GeoDataFrame, columns: Sequence[str] = (), *, precision: int = PRECISION
) -> tuple[dict[str, object], int]:
    """Return a GeoJSON dict of `gdf` (any CRS) with escaped `columns`, and the number dropped.

    Examples
    --------
    >>> g = gpd.GeoDataFrame({"name": ["<b>", "ok"]}, crs=4326,
    ...                      geometry=[shapely.Point(95.123456789, 40), shapely.Point(np.inf, 1)])
    >>> data, dropped = geojson(g, ["name"])
    >>> data["features"][0]["properties"], data["features"][0]["geometry"]["coordinates"], dropped
    ({'name': '&lt;b&gt;'}, (95.12346, 40.0), 1)
    """
    gdf, dropped = _finite(gdf.to_crs(settings.display_crs))
    geoms = shapely.set_precision(gdf.geometry.to_numpy(), 10.0**-precision)
    features = []
    values = {c: gdf[c].to_numpy() for c in columns}
    for i, geom in enumerate(geoms):
        props = {c: (None if _missing(values[c][i]) else escape(values[c][i])) for c in columns}
        features.append(
            {
                "type": "Feature",
                "id": str(i),  # folium would add it to the dict (shared by cached pages)
                "properties": props,
                "geometry": shapely.geometry.mapping(geom),
            }
        )
    return {"type": "FeatureCollection", "features": features}, dropped


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _style(kind: GeometryKind, style: Style, category: object = None) -> dict[str, object]:
    """Leaflet path options for one feature drawn in `style`."""
    colour = style.color_for(category) if style.column else style.color
    options: dict[str, object] = {"color": colour, "weight": style.weight}
    if kind is GeometryKind.POLYGON:
        options |= {
            "fill": style.fill_opacity > 0,
            "fillColor": style.fill_color or colour,
            "fillOpacity": style.fill_opacity,
        }
    if kind is GeometryKind.POINT:  # a dot with a white edge, or with `fill_color` a ring
        ring = style.fill_color is not None
        options |= {
            "fill": True,
            "fillColor": style.fill_color or colour,
            "fillOpacity": style.fill_opacity,
            "color": colour if ring else "#ffffff",
            "weight": style.weight if ring else 1,
            "radius": style.radius,
        }
    if style.dash_array:
        options["dashArray"] = style.dash_array
    return options


def layer_geojson(
    spec: LayerSpec,
    gdf: gpd.GeoDataFrame,
    *,
    tooltip: Mapping[str, str] | None = None,
    style: Style | None = None,
) -> tuple[dict[str, object], int]:
    """Return the GeoJSON a `feature_group` draws (tooltip and style columns, escaped), dropped.

    The costly half of drawing a layer: pages cache it, keyed on what it shows.
    """
    style = style or spec.style
    column = style.column if style.column in gdf.columns else None
    columns = list(dict.fromkeys([*(tooltip or {}), *([column] if column else [])]))
    return geojson(gdf, columns)


def feature_group(
    spec: LayerSpec,
    gdf: gpd.GeoDataFrame | dict[str, object],
    *,
    title: str,
    tooltip: Mapping[str, str] | None = None,
    show: bool = True,
    style: Style | None = None,
) -> tuple[folium.FeatureGroup, int]:
    """Return a FeatureGroup drawing `gdf` in the style of `spec`, and the features dropped.

    Parameters
    ----------
    spec
        The layer's catalogue entry (style and geometry).
    gdf
        The features, any CRS, or their `layer_geojson` already made (none dropped then);
        `spec.style.column` (if any) picks each feature's colour.
    title
        The group's name (already in the user's language; escaped here).
    tooltip
        Column -> label (already translated) shown on hover; values are escaped.
    show
        Whether the group starts visible.
    style
        Draw in this style instead of the catalogue's (for example, by coverage class).
    """
    tooltip = dict(tooltip or {})
    style = style or spec.style
    if isinstance(gdf, dict):
        data, dropped = gdf, 0
    else:
        data, dropped = layer_geojson(spec, gdf, tooltip=tooltip, style=style)
    group = folium.FeatureGroup(name=escape(title), show=show)
    features: list[dict[str, dict[str, object]]] = data["features"]  # type: ignore[assignment]
    if not features:
        return group, dropped
    column = style.column if style.column in features[0]["properties"] else None

    def style_of(feature: dict[str, dict[str, object]]) -> dict[str, object]:
        return _style(spec.geometry, style, feature["properties"].get(column) if column else None)

    points = spec.geometry is GeometryKind.POINT
    marker: folium.CircleMarker | None
    if points and column is None:  # one style for every dot: on the marker, not per feature
        options: dict[str, Any] = _style(spec.geometry, style)
        marker = folium.CircleMarker(**options)
    else:
        marker = folium.CircleMarker() if points else None
    layer = folium.GeoJson(
        data,
        style_function=style_of if marker is None or column is not None else None,
        marker=marker,
        tooltip=folium.GeoJsonTooltip(
            fields=list(tooltip), aliases=[escape(a) for a in tooltip.values()]
        )
        if tooltip
        else None,
        smooth_factor=1.5,
    )
    layer.add_to(group)
    return group, dropped


def choropleth_group(
    gdf: gpd.GeoDataFrame, *, title: str, tooltip: Mapping[str, str], show: bool = True
) -> tuple[folium.FeatureGroup, int]:
    """Return polygons filled with their ``colour`` column, and the features dropped.

    Parameters
    ----------
    gdf
        Polygons, any CRS, with a ``colour`` column (hex) and the `tooltip` columns.
    title
        The group's name (already in the user's language; escaped here).
    tooltip
        Column -> label (already translated) shown on hover; values and labels are escaped.
    show
        Whether the group starts visible.
    """
    data, dropped = geojson(gdf, list(dict.fromkeys([*tooltip, "colour"])))
    group = folium.FeatureGroup(name=escape(title), show=show)

    def style_of(feature: dict[str, dict[str, object]]) -> dict[str, object]:
        return {
            "color": "#4d4d4d",
            "weight": 1,
            "fill": True,
            "fillColor": feature["properties"].get("colour"),
            "fillOpacity": 0.75,
        }

    folium.GeoJson(
        data,
        style_function=style_of,
        tooltip=folium.GeoJsonTooltip(
            fields=list(tooltip), aliases=[escape(a) for a in tooltip.values()]
        ),
        smooth_factor=1.5,
    ).add_to(group)
    return group, dropped


#: (minimum zoom, road classes drawn from there on): minor roads only once zoomed in.
ROAD_CLASSES_BY_ZOOM = (
    (0, ("expressway", "national", "provincial")),
    (9, ("county",)),
    (11, ("township", "village")),
)
#: From this zoom on, roads are sent for the view (and its surroundings) only.
VIEW_ZOOM = 11


def visible_roads(
    roads: gpd.GeoDataFrame, zoom: int, view: Sequence[float] | None = None
) -> gpd.GeoDataFrame:
    """Return the roads to draw at `zoom`: by class, and near the lon/lat `view` when close in.

    Examples
    --------
    >>> r = gpd.GeoDataFrame({"road_class": ["national", "village", "village"]}, crs=4326,
    ...     geometry=[shapely.LineString([(95, 40), (96, 40)]),
    ...               shapely.LineString([(95, 40), (95.01, 40)]),
    ...               shapely.LineString([(98, 40), (98.01, 40)])])
    >>> len(visible_roads(r, 7)), len(visible_roads(r, 12, (94.9, 39.9, 95.1, 40.1)))
    (1, 2)
    """
    classes = [c for z, names in ROAD_CLASSES_BY_ZOOM if zoom >= z for c in names]
    roads = roads[roads["road_class"].isin(classes)]
    if view is None or zoom < VIEW_ZOOM:
        return roads
    minx, miny, maxx, maxy = view
    dx, dy = (maxx - minx) / 2, (maxy - miny) / 2  # half a view around it: smooth panning
    return roads.cx[minx - dx : maxx + dx, miny - dy : maxy + dy]


#: Points drawn one by one at most; beyond this many in view they are grouped by zoom.
POINTS_MAX = 2000
_GROUP_PX = 24  # the grid a group stands for, in screen pixels


def grouped_points(
    gdf: gpd.GeoDataFrame,
    zoom: int,
    view: Sequence[float] | None = None,
    *,
    category: str,
    label: str,
    limit: int = POINTS_MAX,
) -> gpd.GeoDataFrame:
    """Return the points to draw at `zoom`: each one, or groups when there are too many.

    With more than `limit` points, only those near the lon/lat `view` are kept (when there
    is one); if still more than `limit`, one point stands for each cell of a grid about
    24 screen pixels wide at `zoom`: at the mean position of its points, with `count`, their
    most common `category` and `label` (a ``{n}`` template) as its name.

    Examples
    --------
    >>> pts = gpd.GeoDataFrame({"status": ["poor", "poor", "exited"]}, crs=4326,
    ...     geometry=gpd.points_from_xy([95.0, 95.001, 99.0], [40.0, 40.0, 40.0]))
    >>> out = grouped_points(pts, 7, category="status", label="{n} villages", limit=2)
    >>> out[["name_zh", "status", "count"]].values.tolist()
    [['2 villages', 'poor', 2], ['1 villages', 'exited', 1]]
    """
    if len(gdf) <= limit:
        return gdf
    if view is not None:
        minx, miny, maxx, maxy = view
        dx, dy = (maxx - minx) / 2, (maxy - miny) / 2
        gdf = gdf.cx[minx - dx : maxx + dx, miny - dy : maxy + dy]
        if len(gdf) <= limit:
            return gdf
    xy = shapely.get_coordinates(gdf.to_crs(settings.display_crs).geometry.to_numpy())
    width = 360.0 / 2**zoom / 256 * _GROUP_PX
    height = width * float(np.cos(np.radians(np.mean(xy[:, 1]))))
    cells = pd.DataFrame(
        {
            "cx": np.floor(xy[:, 0] / width).astype(np.int64),
            "cy": np.floor(xy[:, 1] / height).astype(np.int64),
            "x": xy[:, 0],
            "y": xy[:, 1],
            category: gdf[category].to_numpy(),
        }
    )
    by = cells.groupby(["cx", "cy"], sort=False)
    out = by.agg(x=("x", "mean"), y=("y", "mean"), count=("x", "size")).reset_index()
    common = cells.groupby(["cx", "cy", category], sort=False).size().reset_index(name="n")
    common = common.sort_values("n", ascending=False).drop_duplicates(["cx", "cy"])
    out = out.merge(common[["cx", "cy", category]], on=["cx", "cy"], how="left")
    return gpd.GeoDataFrame(
        {
            "name_zh": [label.format(n=n) for n in out["count"]],
            "code": "",
            category: out[category].to_numpy(),
            "count": out["count"].to_numpy(),
        },
        geometry=gpd.points_from_xy(out["x"], out["y"]),
        crs=settings.display_crs,
    )


def base_map(bounds: Sequence[float], *, height: str = "100%") -> folium.Map:
    """Return an offline map fitted to lon/lat `bounds`, canvas renderer, no tiles.

    Its scripts and styles point at the app's local copies (`layers.assets`).
    """
    minx, miny, maxx, maxy = (float(b) for b in bounds)
    fmap = folium.Map(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        zoom_start=7,
        tiles=None,
        prefer_canvas=True,
        control_scale=True,
        height=height,
    )
    fmap.fit_bounds([[miny, minx], [maxy, maxx]])
    _ImagePath().add_to(fmap)  # type: ignore[no-untyped-call]
    localize(fmap)
    return fmap


class _ImagePath(MacroElement):
    """Point Leaflet's default marker icons at the local copies."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "L.Icon.Default.imagePath = '/app/static/vendor/leaflet/images/';"
        "{% endmacro %}"
    )


def relief_image(path: Path, *, upsample: int = 8) -> tuple[np.ndarray, list[list[float]]]:
    """Return the DEM at `path` hillshaded and tinted (RGB 0-1) and its lat/lon bounds.

    The DEM is coarse (0.2 degree); it is smoothed `upsample` times for display only.
    """
    dem, transform, _ = read_band(path)
    filled = np.where(np.isnan(dem), np.nanmean(dem), dem)
    fine = ndimage.zoom(filled, upsample, order=3)
    metres = 111_320.0 / upsample
    cell = (abs(transform.a) * metres * np.cos(np.radians(40.0)), abs(transform.e) * metres)
    shade = hillshade(fine, cell, z_factor=3.0)
    norm = (fine - fine.min()) / max(float(np.ptp(fine)), 1.0)
    tint = _DESERT(norm)[..., :3]
    rgb = np.clip(tint * (0.55 + 0.45 * shade[..., None]), 0, 1)
    height, width = dem.shape
    west, north = transform.c, transform.f
    east, south = west + width * transform.a, north + height * transform.e
    return rgb, [[south, west], [north, east]]


def relief_url(rgb: np.ndarray, bounds: list[list[float]]) -> str:
    """Return a relief image (from `relief_image`) in Web Mercator rows, as a PNG data URL.

    What `folium.raster_layers.ImageOverlay` does to an array on every map; done once, the
    overlay is a string to reuse.
    """
    (south, _), (north, _) = bounds
    projected = folium.utilities.mercator_transform(rgb, (south, north), origin="upper")
    return str(folium.utilities.image_to_url(projected, origin="upper"))


def relief_overlay(
    image: np.ndarray | str, bounds: list[list[float]], *, opacity: float = 0.7
) -> folium.raster_layers.ImageOverlay:
    """Return a relief image (from `relief_image`, or its `relief_url`) as an inline overlay."""
    if not isinstance(image, str):
        image = relief_url(image, bounds)
    return folium.raster_layers.ImageOverlay(
        image, bounds=bounds, opacity=opacity, name="relief", zindex=1
    )
