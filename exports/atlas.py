"""The county atlas: one PDF with, per county, its map, its indicators and its gap list."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pandas as pd
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

import layers
from exports.fonts import cjk_font, ems, print_settings, wrap
from exports.printmap import meeting_map
from exports.spec import MapSpec, read_once
from layers import bureaus, provenance
from layers.clauses import Provenance
from layers.i18n import t
from layers.provenance import Reading
from layers.rules import RULES, Loader, evaluate
from layers.targets import board, load_targets

__all__ = ["atlas"]


_TABLE_PT = 7.0  # the tables' text size
_LINE = 1.25  # a line's height, in text sizes
_ROW_PAD = 0.7  # a row's padding above and below its lines, in text sizes
_CELL_PAD_EMS = 0.4  # the space before a cell's text
_EMS_SLACK = 1.08  # `ems` underestimates some glyphs (digits, CJK punctuation) a little
_TABLE_BOX = (0.05, 0.05, 0.9, 0.85)  # the table's axes on the page


def _column_widths(cells: list[list[str]], room: float) -> list[float]:
    """Return each column's width in ems: its widest line, the widest narrowed to fit `room`.

    Narrow columns keep their width; the wide ones share what is left (they wrap).
    """
    columns = zip(*cells, strict=True)
    natural = [
        max(ems(text) for text in column) * _EMS_SLACK + 2 * _CELL_PAD_EMS for column in columns
    ]
    if sum(natural) <= room:
        return natural
    low, high = 0.0, max(natural)
    for _ in range(40):  # the widest width allowed, by bisection
        cap = (low + high) / 2
        low, high = (cap, high) if sum(min(n, cap) for n in natural) <= room else (low, cap)
    return [min(n, low) for n in natural]


def _row_pt(row: list[str]) -> float:
    """Return the height of a table row in points: its most lines, and its padding."""
    return (max(text.count("\n") + 1 for text in row) * _LINE + _ROW_PAD) * _TABLE_PT


def _table_pages(
    spec: MapSpec, title: str, frame: pd.DataFrame, font: str, notice: str | None
) -> Iterator[Figure]:
    """Yield the pages of a table: long cells wrapped, as many rows a page as fit.

    `notice` (synthetic data in the table) goes at the foot of each page.
    """
    width_pt, height_pt = (d * 72 for d in spec.inches)
    box_w, box_h = _TABLE_BOX[2] * width_pt, _TABLE_BOX[3] * height_pt
    header = [str(c) for c in frame.columns]
    body = [["—" if pd.isna(v) else str(v) for v in row] for row in frame.to_numpy().tolist()]
    widths = _column_widths([header, *body], box_w / _TABLE_PT)
    room = [max((w - 2 * _CELL_PAD_EMS) / _EMS_SLACK, 1.0) for w in widths]
    rows = [["\n".join(wrap(text, r)) for text, r in zip(row, room, strict=True)] for row in body]
    labels = ["\n".join(wrap(text, r)) for text, r in zip(header, room, strict=True)]
    page: list[list[str]] = []
    used = _row_pt(labels)
    for row in rows:
        if page and used + _row_pt(row) > box_h:
            yield _table_page(spec, title, (labels, page, widths), font, notice)
            page, used = [], _row_pt(labels)
        page.append(row)
        used += _row_pt(row)
    yield _table_page(spec, title, (labels, page, widths), font, notice)


def _table_page(
    spec: MapSpec,
    title: str,
    table: tuple[list[str], list[list[str]], list[float]],
    font: str,
    notice: str | None,
) -> Figure:
    """Draw a table page: `table` is its column labels, rows (wrapped) and widths in ems."""
    labels, rows, widths = table
    fig = Figure(figsize=spec.inches, dpi=spec.dpi)
    fig.text(0.05, 0.95, title, fontsize=13, family=font)
    if notice is not None:
        fig.text(0.05, 0.02, notice, fontsize=7, family=font, color="#b2182b", wrap=True)
    ax = fig.add_axes(_TABLE_BOX)
    ax.axis("off")
    if not rows:
        ax.text(0, 1, t("no_gaps", spec.lang), family=font, va="top")
        return fig
    width_pt, height_pt = (d * 72 for d in spec.inches)
    box_w, box_h = _TABLE_BOX[2] * width_pt, _TABLE_BOX[3] * height_pt
    drawn = ax.table(
        cellText=rows,
        colLabels=labels,
        colWidths=[w * _TABLE_PT / box_w for w in widths],
        loc="upper left",
        cellLoc="left",
    )
    drawn.auto_set_font_size(False)  # noqa: FBT003
    drawn.set_fontsize(_TABLE_PT)
    for (r, c), cell in drawn.get_celld().items():
        cell.set_height(_row_pt([labels, *rows][r]) / box_h)
        cell.PAD = _CELL_PAD_EMS / widths[c]
        cell.get_text().set_fontfamily(font)
    return fig


def _indicators(spec: MapSpec, code: str, load: Loader) -> pd.DataFrame:
    """Return the county's measured targets: goal, deadline, current, status, provenance, units.

    The units are the lead (marked when the plan names none) and the cooperating units.
    """
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
            t("lead_bureau", spec.lang): [p.lead_text(spec.lang) for p in plan],
            t("cooperating", spec.lang): [bureaus.names(p.cooperating, spec.lang) for p in plan],
        }
    )


def _county_pages(spec: MapSpec, code: str, load: Loader) -> Iterator[Figure]:
    """Yield a county's map, its indicators against targets, and its gap table (each paged).

    Each table says so at its foot when a layer it was made from is synthetic demo data.
    """
    font = cjk_font()
    yield meeting_map(replace(spec, county=code), load=load)
    read = Reading(load)
    names = read("counties").set_index("code")["name_zh" if spec.lang == "zh" else "name_en"]
    indicators = _indicators(spec, code, read)
    title = f"{names[code]} · {t('page_targets', spec.lang)}"
    notice = provenance.board_notice(read.notice(spec.lang), None, spec.lang)
    yield from _table_pages(spec, title, indicators, font, notice)
    read = Reading(load)
    villages = read("villages")
    rule = RULES[spec.rule or "bus_2km"]
    covered = evaluate(rule, spec.year, load=read)["covered"]
    gaps = villages[(villages["county_code"] == code) & ~covered & rule.in_scope(villages)]
    gap_table = gaps[["code", "name_zh", "township", "population"]]
    measure = f"{rule.title(spec.lang)} ({rule.provenance.label(spec.lang)})"
    title = f"{names[code]} · {t('gap_list', spec.lang)} · {measure}"
    yield from _table_pages(spec, title, gap_table, font, read.notice(spec.lang))


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
