"""The county atlas: one PDF with, per county, its map, its indicators and its gap list."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pandas as pd
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

import layers
from exports.fonts import cjk_font, print_settings
from exports.printmap import meeting_map
from exports.spec import MapSpec, read_once
from layers import provenance
from layers.clauses import Provenance
from layers.i18n import t
from layers.provenance import Reading
from layers.rules import RULES, Loader, evaluate
from layers.targets import board, load_targets

__all__ = ["atlas"]


def _table_page(
    spec: MapSpec, title: str, frame: pd.DataFrame, font: str, notice: str | None
) -> Figure:
    """Draw a table page; `notice` (synthetic data in the table) goes at its foot."""
    fig = Figure(figsize=spec.inches, dpi=spec.dpi)
    fig.text(0.05, 0.95, title, fontsize=13, family=font)
    if notice is not None:
        fig.text(0.05, 0.02, notice, fontsize=7, family=font, color="#b2182b", wrap=True)
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


def _indicators(spec: MapSpec, code: str, load: Loader) -> pd.DataFrame:
    """Return the county's measured targets: goal, deadline, current value, status, provenance."""
    plan = [p for p in load_targets() if p.measured and (not p.counties or code in p.counties)]
    rows = board(tuple(plan), spec.year, load=load, county=code, history=False)
    return pd.DataFrame(
        {
            t("target", spec.lang): [p.title(spec.lang) for p in plan],
            t("goal", spec.lang): [f"{p.value:g} {p.unit_text(spec.lang)}" for p in plan],
            t("deadline", spec.lang): rows["deadline"].to_numpy(),
            t("current", spec.lang): rows["current"].to_numpy(),
            t("target_status", spec.lang): [t("st_" + s, spec.lang) for s in rows["status"]],
            t("provenance", spec.lang): [
                Provenance(v).label(spec.lang) for v in rows["provenance"]
            ],
        }
    )


def _county_pages(spec: MapSpec, code: str, load: Loader, rows: int = 28) -> Iterator[Figure]:
    """Yield a county's map, its indicators against targets, and its gap table (paged).

    Each table says so at its foot when a layer it was made from is synthetic demo data.
    """
    font = cjk_font()
    yield meeting_map(replace(spec, county=code), load=load)
    read = Reading(load)
    names = read("counties").set_index("code")["name_zh" if spec.lang == "zh" else "name_en"]
    indicators = _indicators(spec, code, read)
    title = f"{names[code]} · {t('page_targets', spec.lang)}"
    notice = provenance.board_notice(read.notice(spec.lang), None, spec.lang)
    yield _table_page(spec, title, indicators, font, notice)
    read = Reading(load)
    villages = read("villages")
    rule = RULES[spec.rule or "bus_2km"]
    covered = evaluate(rule, spec.year, load=read)["covered"]
    gaps = villages[(villages["county_code"] == code) & ~covered & rule.in_scope(villages)]
    gap_table = gaps[["code", "name_zh", "township", "population"]]
    measure = f"{rule.title(spec.lang)} ({rule.provenance.label(spec.lang)})"
    for start in range(0, max(len(gap_table), 1), rows):
        yield _table_page(
            spec,
            f"{names[code]} · {t('gap_list', spec.lang)} · {measure}",
            gap_table.iloc[start : start + rows],
            font,
            read.notice(spec.lang),
        )


def atlas(
    spec: MapSpec,
    path: Path,
    *,
    counties: list[str] | None = None,
    load: Loader = layers.load,
    progress: Callable[[float], None] | None = None,
) -> Path:
    """Write one PDF with, per county, a map, its indicators against targets and its gaps."""
    load = read_once(load)
    codes = counties or list(load("counties").sort_values("code")["code"])
    with print_settings(), PdfPages(path, metadata={"Creator": "Village Atlas"}) as pdf:
        for i, code in enumerate(codes):
            for page in _county_pages(spec, code, load):
                pdf.savefig(page)
            if progress is not None:
                progress((i + 1) / len(codes))
    return path
