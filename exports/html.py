"""A standalone HTML map: one file with every script, style and image inlined, offline."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import folium

import layers
from exports.spec import CLASS_COLOURS, MapSpec, area, villages
from layers import assets, render
from layers.i18n import t
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


def html_map(spec: MapSpec, *, load: Loader = layers.load) -> str:
    """Return a one-file HTML map (inlined scripts, offline) of the spec's area and layers."""
    mapped, _ = area(spec, load)
    fmap = render.base_map(mapped.to_crs(4326).total_bounds)
    render.relief_overlay(*render.relief_image(layers.raster_path("relief"))).add_to(fmap)
    for key in spec.layers:
        gdf = layers.as_of(key, load(key), spec.year)
        layer_spec = layers.get_layer(key)
        render.feature_group(layer_spec, gdf, title=layer_spec.title(spec.lang))[0].add_to(fmap)
    shown = villages(spec, mapped, load)
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
    return standalone_html(fmap)
