"""A standalone HTML map: one file with every script, style and image inlined, offline."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import folium
from branca.element import Figure

import layers
from exports.spec import CLASS_COLOURS, MapSpec, area, villages
from layers import assets, render
from layers.i18n import t
from layers.provenance import Reading
from layers.rules import Loader

__all__ = ["html_map", "standalone_html"]


def _data_url(path: Path, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode()


def standalone_html(fmap: folium.Map) -> str:
    """Return `fmap` as one HTML file with every script, style and image inlined."""
    html = fmap.get_root().render()
    files = {f"{assets.BASE_URL}/{rel}": source for rel, source in assets.vendor_files().items()}

    def script(match: re.Match[str]) -> str:
        source = files.get(match.group(1))
        if source is None:
            return match.group(0)
        return "<script>" + source.read_text().replace("</script", "<\\/script") + "</script>"

    def style(match: re.Match[str]) -> str:
        source = files.get(match.group(1))
        if source is None:
            return match.group(0)
        css = re.sub(
            r"url\((images/[^)]+)\)",
            lambda m: "url(" + _data_url(source.parent / m.group(1), "image/png") + ")",
            source.read_text(),
        )
        return f"<style>{css}</style>"

    html = re.sub(r'<script src="([^"]+)"></script>', script, html)
    html = re.sub(r'<link rel="stylesheet" href="([^"]+)"/>', style, html)
    return html.replace(f"'{assets.BASE_URL}/leaflet/images/'", "''")


def _notice(fmap: folium.Map, text: str) -> None:
    """Put `text` on the map, top centre, where every reader sees it (and in the page title)."""
    escaped = render.escape(text)
    root = fmap.get_root()
    if not isinstance(root, Figure):  # pragma: no cover (a folium map's root is a Figure)
        raise TypeError(type(root).__name__)
    root.html.add_child(
        folium.Element(
            '<div class="va-synthetic" style="position:fixed;top:8px;left:50%;'
            "transform:translateX(-50%);z-index:1000;max-width:70%;padding:4px 10px;"
            "background:#fff3f0;border:1px solid #b2182b;color:#b2182b;"
            f'font:13px sans-serif">{escaped}</div>'
        )
    )
    root.header.add_child(folium.Element(f"<title>{escaped}</title>"))


def html_map(spec: MapSpec, *, load: Loader = layers.load) -> str:
    """Return a one-file HTML map (inlined scripts, offline) of the spec's area and layers.

    When any layer it was made from is synthetic demo data, a notice on the map says so.
    """
    read = Reading(load)
    mapped, _ = area(spec, read)
    fmap = render.base_map(mapped.to_crs(4326).total_bounds)
    render.relief_overlay(*render.relief_image(read.raster("relief"))).add_to(fmap)
    for key in spec.layers:
        gdf = layers.as_of(key, read(key), spec.year)
        layer_spec = layers.get_layer(key)
        render.feature_group(layer_spec, gdf, title=layer_spec.title(spec.lang))[0].add_to(fmap)
    shown = villages(spec, mapped, read)
    tooltip = {"name_zh": t("name", spec.lang), "code": t("code", spec.lang)}
    if spec.rule is None:
        group, _ = render.feature_group(
            layers.get_layer("villages"), shown, title=t("villages", spec.lang), tooltip=tooltip
        )
        group.add_to(fmap)
    else:
        for value, colour in CLASS_COLOURS.items():
            group, _ = render.feature_group(
                layers.get_layer("villages"),
                shown[shown["class"] == value],
                title=t(value, spec.lang),
                tooltip=tooltip,
                style=layers.Style(color=colour, radius=5, fill_opacity=0.9),
            )
            group.add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    notice = read.notice(spec.lang)
    if notice is not None:
        _notice(fmap, notice)
    return standalone_html(fmap)
