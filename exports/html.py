"""A standalone HTML map: one file with every script, style and image inlined, offline."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import folium
from branca.element import Figure

import layers
from exports.spec import CLASS_COLOURS, MapSpec, area, headings, villages
from layers import assets, render
from layers.i18n import t
from layers.provenance import Reading
from layers.rules import Loader

__all__ = ["html_map", "map_of", "standalone_html"]


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


def _root(fmap: folium.Map) -> Figure:
    root = fmap.get_root()
    if not isinstance(root, Figure):  # pragma: no cover (a folium map's root is a Figure)
        raise TypeError(type(root).__name__)
    return root


def _notice(fmap: folium.Map, text: str) -> None:
    """Put `text` on the map, top centre, where every reader sees it (and in the page title)."""
    escaped = render.escape(text)
    root = _root(fmap)
    root.html.add_child(
        folium.Element(
            '<div class="va-synthetic" style="position:fixed;top:8px;left:50%;'
            "transform:translateX(-50%);z-index:1000;max-width:70%;padding:4px 10px;"
            "background:#fff3f0;border:1px solid #b2182b;color:#b2182b;"
            f'font:13px sans-serif">{escaped}</div>'
        )
    )
    root.header.add_child(folium.Element(f"<title>{escaped}</title>"))


def _title(fmap: folium.Map, spec: MapSpec, area_name: str) -> None:
    """Put the map's title, bottom left above the scale: rule, scope, year, area, provenance.

    The rule's provenance says whether it is the plan's measure or our assumption (and
    why): an assumption is never read as the plan's.
    """
    said = headings(spec, area_name)
    lines = [f"<b>{render.escape(said.title)}</b>", render.escape(said.subtitle)]
    if said.provenance is not None:
        colour = "#b35806" if said.ours else "#444"
        note = render.escape(said.provenance)
        lines.append(f'<span class="va-provenance" style="color:{colour}">{note}</span>')
    _root(fmap).html.add_child(
        folium.Element(
            '<div class="va-title" style="position:fixed;bottom:64px;left:10px;z-index:1000;'
            "max-width:45%;padding:6px 10px;background:rgba(255,255,255,0.92);"
            f'border:1px solid #999;font:12px sans-serif">{"<br>".join(lines)}</div>'
        )
    )


def map_of(spec: MapSpec, *, load: Loader = layers.load) -> folium.Map:
    """Return the folium map `html_map` writes: the spec's area, layers, villages, title.

    With a rule, the villages are grouped by class: covered, not covered (the gaps, in the
    rule's scope), and outside the scope (a village its clause does not ask about: never
    drawn as a gap).
    """
    read = Reading(load)
    mapped, area_name = area(spec, read)
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
            part = shown[shown["class"] == value]
            if part.empty and value in ("out_of_scope", "newly_covered"):
                continue  # the rule asks about every village; no scenario here
            small = value == "out_of_scope"
            group, _ = render.feature_group(
                layers.get_layer("villages"),
                part,
                title=t(value, spec.lang),
                tooltip=tooltip,
                style=layers.Style(
                    color=colour, radius=3 if small else 5, fill_opacity=0.6 if small else 0.9
                ),
            )
            group.add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    _title(fmap, spec, area_name)
    notice = read.notice(spec.lang)
    if notice is not None:
        _notice(fmap, notice)
    return fmap


def html_map(spec: MapSpec, *, load: Loader = layers.load) -> str:
    """Return a one-file HTML map (inlined scripts, offline) of the spec's area and layers.

    A box on the map gives its title, the rule's scope and whether the rule is the plan's
    measure or our assumption. When any layer it was made from is synthetic demo data, a
    notice on the map says so.
    """
    return standalone_html(map_of(spec, load=load))
