"""Meeting exports: print maps (PNG/PDF), a county atlas, a standalone HTML map, workbooks.

Print maps are drawn with matplotlib in the metric CRS chosen from the area (so the
scale bar is true), on the offline relief, with a CJK font embedded in PDFs (Debian's
``fonts-wqy-microhei``, or any Noto/Source Han CJK font found on the machine).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import re
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import folium
import geopandas as gpd
import matplotlib as mpl
import numpy as np
import pandas as pd
import pyproj
import rasterio
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from rasterio.warp import Resampling, reproject

import layers
from geo.crs import metric_crs
from geo.raster import hillshade, read_band
from geo.status import poverty_status
from layers import assets, render
from layers.i18n import t
from layers.rules import RULES, Loader, evaluate, gaps_by_bureau
from layers.targets import BASELINE, load_targets, progress, status
from store import tables

__all__ = [
    "PAPER_MM",
    "MapSpec",
    "atlas",
    "bureau_workbook",
    "cjk_font",
    "county_code",
    "html_map",
    "meeting_map",
    "save_figure",
    "standalone_html",
]

mpl.use("Agg")
mpl.rcParams["pdf.fonttype"] = 42  # embed TrueType: text stays text, Chinese included
PAPER_MM = {"A4": (297.0, 210.0), "A3": (420.0, 297.0)}
_MM = 1 / 25.4
_CJK_FONTS = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Source Han Sans SC", "Noto Sans SC")
_CLASS_COLOURS = {"covered": "#1a9641", "uncovered": "#d7191c"}


def cjk_font() -> str:
    """Return the family name of an installed CJK font, registering it with matplotlib.

    Raises
    ------
    RuntimeError
        If none is installed; the message says which package to install.
    """
    for family in _CJK_FONTS:
        try:
            found = subprocess.run(
                ["fc-match", "-f", "%{family}|%{file}", family],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
        except FileNotFoundError:  # no fontconfig on this machine
            break
        names, _, file = found.partition("|")
        if family.lower() in names.lower() and Path(file).is_file():
            font_manager.fontManager.addfont(file)
            return font_manager.FontProperties(fname=file).get_name()
    msg = "no CJK font installed: install Debian's fonts-wqy-microhei (make test does)"
    raise RuntimeError(msg)


@dataclass(frozen=True)
class MapSpec:
    """What a meeting map shows and how it is printed."""

    year: int = 2017
    rule: str | None = "bus_2km"
    county: str | None = None
    layers: tuple[str, ...] = ("counties", "roads")
    size: str = "A4"
    orientation: str = "landscape"
    dpi: int = 200
    lang: str = "zh"
    title: str | None = None
    watermark: str | None = None
    approval: str = ""

    def __post_init__(self) -> None:
        """Check the options; raise `ValueError` listing what is wrong."""
        problems = []
        if self.size not in PAPER_MM:
            problems.append(f"size must be A4 or A3, not {self.size!r}")
        if self.orientation not in ("landscape", "portrait"):
            problems.append(f"orientation must be landscape or portrait, not {self.orientation!r}")
        if not 72 <= self.dpi <= 600:  # noqa: PLR2004
            problems.append(f"dpi must be between 72 and 600, not {self.dpi}")
        if self.rule is not None and self.rule not in RULES:
            problems.append(f"unknown rule {self.rule!r}; valid: {', '.join(RULES)}")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def inches(self) -> tuple[float, float]:
        """Paper width and height in inches."""
        long, short = PAPER_MM[self.size]
        w, h = (long, short) if self.orientation == "landscape" else (short, long)
        return w * _MM, h * _MM


def county_code(name: str, load: Loader = layers.load) -> str:
    """Return the code of a county given by code, Chinese name, English name or pinyin.

    Raises
    ------
    ValueError
        If no county matches; the message lists the names.
    """
    counties = load("counties")
    wanted = str(name).strip().lower()
    candidates = [wanted, f"{wanted} county", f"{wanted} city", f"{wanted} district"]
    for column in ("code", "name_zh", "name_en", "pinyin"):
        found = counties[counties[column].str.lower().isin(candidates)]
        if not found.empty:
            return str(found["code"].iloc[0])
    names = ", ".join(counties["name_en"])
    msg = f"unknown county {name!r}; give a code or a name ({names})"
    raise ValueError(msg)


def _area(spec: MapSpec, load: Loader) -> tuple[gpd.GeoDataFrame, str]:
    """Return the area mapped (the county, or the prefecture) and its name."""
    if spec.county is None:
        return load("prefecture"), t("all_counties", spec.lang)
    counties = load("counties")
    match = counties[counties["code"] == county_code(spec.county, load)]
    name = match["name_zh"].iloc[0] if spec.lang == "zh" else match["name_en"].iloc[0]
    return match, str(name)


def _relief(ax: Axes, crs: pyproj.CRS, extent: tuple[float, float, float, float]) -> None:
    """Draw the DEM's hillshade, reprojected to the map's CRS, as the background."""
    dem, transform, src_crs = read_band(layers.raster_path("relief"))
    minx, miny, maxx, maxy = extent
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
        dst_crs=crs,
        resampling=Resampling.cubic,
        src_nodata=np.nan,
        dst_nodata=np.nan,
    )
    shade = hillshade(target, (cell, (maxy - miny) / height), z_factor=3.0)
    ax.imshow(
        shade,
        extent=(minx, maxx, miny, maxy),
        cmap="Greys_r",
        alpha=0.35,
        vmin=0,
        vmax=1.2,
        zorder=0,
        interpolation="bilinear",
    )


def _scale_bar(ax: Axes, extent: tuple[float, float, float, float], font: str) -> None:
    """Draw a two-segment scale bar with a round length, bottom left, labelled in km."""
    minx, miny, maxx, maxy = extent
    raw = (maxx - minx) / 5
    step = 10 ** np.floor(np.log10(raw))
    length = max(n * step for n in (1, 2, 5) if n * step <= raw)
    x0, y0 = minx + (maxx - minx) * 0.04, miny + (maxy - miny) * 0.05
    h = (maxy - miny) * 0.008
    for i, colour in enumerate(("black", "white")):
        ax.add_patch(
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
        ax.text(
            x0 + frac * length,
            y0 + 2.2 * h,
            label,
            ha="center",
            va="bottom",
            fontsize=7,
            family=font,
            zorder=5,
        )


def _north_arrow(ax: Axes, lang: str, font: str) -> None:
    ax.annotate(
        t("north", lang),
        xy=(0.95, 0.93),
        xytext=(0.95, 0.83),
        xycoords="axes fraction",
        ha="center",
        va="center",
        fontsize=11,
        family=font,
        arrowprops={"facecolor": "black", "width": 3, "headwidth": 9},
        zorder=6,
    )


def _inset(fig: Figure, area: gpd.GeoDataFrame, crs: pyproj.CRS, load: Loader) -> None:
    """Draw the prefecture with the mapped area outlined, top right."""
    inset = fig.add_axes((0.80, 0.70, 0.17, 0.17))
    load("counties").to_crs(crs).plot(ax=inset, facecolor="#f2f2f2", edgecolor="#999", lw=0.3)
    area.to_crs(crs).plot(ax=inset, facecolor="#fdae61", edgecolor="#d7191c", lw=0.8)
    inset.set_xticks([])
    inset.set_yticks([])
    inset.set_xlabel("")
    inset.set_ylabel("")


def _villages(spec: MapSpec, area: gpd.GeoDataFrame, load: Loader) -> gpd.GeoDataFrame:
    villages = load("villages").copy()
    villages["status"] = poverty_status(villages, spec.year)
    if spec.rule is not None:
        covered = evaluate(RULES[spec.rule], spec.year, load=load)["covered"]
        villages["class"] = np.where(covered, "covered", "uncovered")
    inside = villages.within(area.to_crs(villages.crs).union_all())
    return villages[inside]


def _titles(spec: MapSpec, area_name: str) -> tuple[str, str]:
    rule = RULES[spec.rule].title(spec.lang) if spec.rule else t("villages", spec.lang)
    title = spec.title or f"{area_name} · {rule}"
    subtitle = t("export_subtitle", spec.lang, year=spec.year, rule=rule, area=area_name)
    return title, subtitle


def meeting_map(spec: MapSpec, *, load: Loader = layers.load) -> Figure:
    """Draw a meeting map: layers and rule over the relief, with every map furniture.

    Title and subtitle (rule, year, area), legend, scale bar, north arrow, an inset of
    the prefecture, data sources and date, the CRS, an optional watermark and the map
    approval number field.
    """
    font = cjk_font()
    area, area_name = _area(spec, load)
    crs = metric_crs(area.to_crs(4326).total_bounds)
    fig = Figure(figsize=spec.inches, dpi=spec.dpi)
    ax = fig.add_axes((0.03, 0.10, 0.76, 0.78))
    minx, miny, maxx, maxy = area.to_crs(crs).total_bounds
    pad = 0.04 * max(maxx - minx, maxy - miny)
    extent = (minx - pad, miny - pad, maxx + pad, maxy + pad)
    _relief(ax, crs, extent)
    handles = []
    for key in spec.layers:
        layer_spec = layers.get_layer(key)
        gdf = layers.as_of(key, load(key), spec.year).to_crs(crs)
        colours = (
            gdf[layer_spec.style.column].map(layer_spec.style.color_for)
            if (layer_spec.style.column in gdf.columns)
            else layer_spec.style.color
        )
        if layer_spec.geometry is layers.GeometryKind.POLYGON:
            gdf.plot(ax=ax, facecolor="none", edgecolor=colours, lw=0.6, zorder=2)
        else:
            gdf.plot(ax=ax, color=colours, lw=0.8, markersize=6, zorder=2)
        handles.append(
            Line2D([], [], color=layer_spec.style.color, lw=1.5, label=layer_spec.title(spec.lang))
        )
    villages = _villages(spec, area, load).to_crs(crs)
    column = "class" if spec.rule else "status"
    palette = _CLASS_COLOURS if spec.rule else layers.get_layer("villages").style.categories
    for value, colour in palette.items():
        subset = villages[villages[column] == value]
        subset.plot(ax=ax, color=colour, markersize=14, edgecolor="white", lw=0.3, zorder=3)
        label = t(value if spec.rule else f"status_{value}", spec.lang)
        handles.append(
            Line2D([], [], marker="o", ls="", color=colour, label=f"{label} ({len(subset)})")
        )
    ax.set_xlim(extent[0], extent[2])
    ax.set_ylim(extent[1], extent[3])
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")
    ax.set_ylabel("")
    _scale_bar(ax, extent, font)
    _north_arrow(ax, spec.lang, font)
    _inset(fig, area, crs, load)
    title, subtitle = _titles(spec, area_name)
    fig.text(0.03, 0.955, title, fontsize=16, family=font, va="center")
    fig.text(0.03, 0.915, subtitle, fontsize=9, family=font, va="center", color="#444")
    fig.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(0.80, 0.66),
        frameon=False,
        prop={"family": font, "size": 8},
        title=t("legend", spec.lang),
        title_fontproperties={"family": font, "size": 9},
    )
    notes = t(
        "export_notes",
        spec.lang,
        crs=crs.name,
        date=dt.datetime.now(tz=dt.UTC).date().isoformat(),
        approval=spec.approval or "________",
    )
    fig.text(0.03, 0.04, notes, fontsize=6.5, family=font, color="#444", va="bottom")
    if spec.watermark:
        fig.text(
            0.42,
            0.5,
            spec.watermark,
            fontsize=70,
            family=font,
            color="#d7191c",
            alpha=0.12,
            rotation=30,
            ha="center",
            va="center",
        )
    return fig


def save_figure(fig: Figure, path: Path) -> Path:
    """Save a map as .png or .pdf (fonts embedded), at the figure's dpi."""
    suffix = path.suffix.lower()
    if suffix not in (".png", ".pdf"):
        msg = f"cannot write {path.name}: a map is saved as .png or .pdf"
        raise ValueError(msg)
    fig.savefig(
        path, dpi=fig.dpi, metadata={"Creator": "Village Atlas"} if suffix == ".pdf" else None
    )
    return path


def _table_page(spec: MapSpec, title: str, frame: pd.DataFrame, font: str) -> Figure:
    fig = Figure(figsize=spec.inches, dpi=spec.dpi)
    fig.text(0.05, 0.95, title, fontsize=13, family=font)
    ax = fig.add_axes((0.05, 0.05, 0.9, 0.85))
    ax.axis("off")
    if frame.empty:
        ax.text(0, 1, t("no_gaps", spec.lang), family=font, va="top")
        return fig
    table = ax.table(
        cellText=frame.astype(str).to_numpy(),
        colLabels=[str(c) for c in frame.columns],
        loc="upper left",
        cellLoc="left",
    )
    table.auto_set_font_size(False)  # noqa: FBT003
    table.set_fontsize(7)
    for cell in table.get_celld().values():
        cell.get_text().set_fontfamily(font)
    return fig


def _county_pages(spec: MapSpec, code: str, load: Loader, rows: int = 28) -> Iterator[Figure]:
    """Yield a county's map, its indicators against targets, and its gap table (paged)."""
    font = cjk_font()
    county = replace(spec, county=code)
    yield meeting_map(county, load=load)
    names = load("counties").set_index("code")["name_zh" if spec.lang == "zh" else "name_en"]
    plan = [p for p in load_targets() if not p.counties or code in p.counties]
    current = [progress(p, spec.year, load=load, county=code) for p in plan]
    base = [progress(p, BASELINE, load=load, county=code) for p in plan]
    indicators = pd.DataFrame(
        {
            t("target", spec.lang): [p.title(spec.lang) for p in plan],
            t("goal", spec.lang): [f"{p.value:g} {p.unit}" for p in plan],
            t("deadline", spec.lang): [p.deadline for p in plan],
            t("current", spec.lang): [round(c, 1) for c in current],
            t("target_status", spec.lang): [
                t("st_" + status(p, spec.year, c, b), spec.lang)
                if p.kind in ("rule", "exit", "township")
                else ""
                for p, c, b in zip(plan, current, base, strict=True)
            ],
        }
    )
    yield _table_page(spec, f"{names[code]} · {t('page_targets', spec.lang)}", indicators, font)
    villages = load("villages")
    covered = evaluate(RULES[spec.rule or "bus_2km"], spec.year, load=load)["covered"]
    gaps = villages[(villages["county_code"] == code) & ~covered]
    gap_table = gaps[["code", "name_zh", "township", "population"]]
    for start in range(0, max(len(gap_table), 1), rows):
        yield _table_page(
            spec,
            f"{names[code]} · {t('gap_list', spec.lang)}",
            gap_table.iloc[start : start + rows],
            font,
        )


def _read_once(load: Loader) -> Loader:
    """Wrap `load` so that an export reads each layer once, however many pages use it."""
    return functools.cache(load)


def atlas(
    spec: MapSpec,
    path: Path,
    *,
    counties: list[str] | None = None,
    load: Loader = layers.load,
    progress: Callable[[float], None] | None = None,
) -> Path:
    """Write one PDF with, per county, a map, its indicators against targets and its gaps."""
    load = _read_once(load)
    codes = counties or list(load("counties").sort_values("code")["code"])
    with PdfPages(path, metadata={"Creator": "Village Atlas"}) as pdf:
        for i, code in enumerate(codes):
            for page in _county_pages(spec, code, load):
                pdf.savefig(page)
            if progress is not None:
                progress((i + 1) / len(codes))
    return path


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


def bureau_workbook(year: int, path: Path, *, load: Loader = layers.load, lang: str = "zh") -> Path:
    """Write an .xlsx with a summary sheet and one sheet per lead bureau with its gap list."""
    load = _read_once(load)
    villages = load("villages")
    summary = gaps_by_bureau(year, load=load).reset_index()
    sheets = {t("summary", lang): summary}
    for rule in RULES.values():
        name = rule.bureau.name_zh if lang == "zh" else rule.bureau.name_en
        covered = evaluate(rule, year, load=load)["covered"]
        gaps = villages.loc[~covered, ["code", "name_zh", "county", "township", "is_poor"]]
        gaps = pd.DataFrame(gaps).assign(missing=rule.title(lang), deadline=rule.target_year)
        sheets[name] = pd.concat([sheets.get(name, pd.DataFrame()), gaps], ignore_index=True)
    return tables.write_workbook(sheets, path)


def html_map(spec: MapSpec, *, load: Loader = layers.load) -> str:
    """Return a one-file HTML map (inlined scripts, offline) of the spec's area and layers."""
    area, _ = _area(spec, load)
    fmap = render.base_map(area.to_crs(4326).total_bounds)
    render.relief_overlay(*render.relief_image(layers.raster_path("relief"))).add_to(fmap)
    for key in spec.layers:
        gdf = layers.as_of(key, load(key), spec.year)
        layer_spec = layers.get_layer(key)
        render.feature_group(layer_spec, gdf, title=layer_spec.title(spec.lang))[0].add_to(fmap)
    villages = _villages(spec, area, load)
    tooltip = {"name_zh": t("name", spec.lang), "code": t("code", spec.lang)}
    if spec.rule is None:
        group, _ = render.feature_group(
            layers.get_layer("villages"), villages, title=t("villages", spec.lang), tooltip=tooltip
        )
        group.add_to(fmap)
    else:
        for value, colour in _CLASS_COLOURS.items():
            group, _ = render.feature_group(
                layers.get_layer("villages"),
                villages[villages["class"] == value],
                title=t(value, spec.lang),
                tooltip=tooltip,
                style=layers.Style(color=colour, radius=5, fill_opacity=0.9),
            )
            group.add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    return standalone_html(fmap)
