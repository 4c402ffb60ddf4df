"""Indicators of industry, labour and income (section 6 of the plan), and how they add up.

Each indicator is one column of the store's village indicators table (`store.indicators`:
one row per village and year, NaN when a village did not report). Declared here: its
titles, unit, which villages it concerns, how villages add up to a township, a county or
the city, the unit that leads it (section 6 names them: agriculture for 6(1), 6(4) and
6(5), People's Social Security for 6(2), commerce for 6(3)) and the target that measures
it. Adding up:

- ``sum``: counts, mu and tonnes are summed over the villages that reported;
- ``weighted``: a share (or a per-person income) is the mean over the villages that
  reported, weighted by its base (`Indicator.base`: farmland, produce, poor households,
  people, or ``villages`` for a yes/no per village), never the unweighted mean of
  percentages.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Mapping
from dataclasses import dataclass

import geopandas as gpd
import pandas as pd

import store
from geo.errors import StoreError
from layers.bureaus import BUREAUS
from layers.clauses import Scope, scope_mask
from layers.spec import Bureau, Titled
from store import Origin
from store.indicator_columns import COLUMNS, INDICATORS_KEY, LIMITS

__all__ = [
    "INDICATORS",
    "LEVELS",
    "NO_DATA",
    "PALETTE",
    "Adding",
    "Indicator",
    "aggregate",
    "breaks",
    "choropleth_frame",
    "colour",
    "get_indicator",
    "legend_items",
    "origin",
    "read_indicators",
    "sources",
    "table",
    "village_values",
]

#: Where an indicator is added up to: a township or a county (each with its own polygons).
LEVELS = {"county": "county_code", "township": "township_code"}


class Adding(enum.Enum):
    """How villages add up."""

    SUM = "sum"
    WEIGHTED = "weighted"


@dataclass(frozen=True, slots=True)
class Indicator(Titled):
    """One indicator: a column of the table, what it means and how it adds up.

    Attributes
    ----------
    key
        Its column in the table (`store.indicator_columns.COLUMNS`).
    title_en, title_zh
        What it is, in English and Chinese.
    unit
        Its unit: ``"mu"``, ``"sheep"``, ``"people"``, ``"%"``, ``"yuan per person"``...
    adding
        How villages add up (`Adding`).
    base
        For a weighted indicator, the weight of each village: a column of the indicator
        table (``farmland_mu``, ``produce_t``), of the villages layer (``population``,
        ``poor_households``), or ``villages`` (one each: a share of villages).
    villages
        Which villages it concerns: all, poor or immigrant villages.
    lead
        The unit that leads it (a key of `layers.bureaus.BUREAUS`).
    section
        The plan's item it comes from ("6(1)").
    target
        The key of the target in ``targets.toml`` that measures it ("" when none does).
    """

    key: str
    title_en: str
    title_zh: str
    unit: str
    adding: Adding
    villages: Scope
    lead: str
    section: str
    base: str | None = None
    target: str = ""

    def __post_init__(self) -> None:
        """Check the column, the unit key and that a weighted indicator names its base."""
        problems = []
        if self.key not in COLUMNS:
            problems.append(f"`key` {self.key!r} is not a column of the indicators table")
        if self.lead not in BUREAUS:
            problems.append(f"`lead` {self.lead!r} is not a unit key")
        if (self.adding is Adding.WEIGHTED) != (self.base is not None):
            problems.append("a weighted indicator, and only it, names its `base`")
        if problems:
            raise ValueError(f"indicator {self.key}: " + "; ".join(problems))

    @property
    def bureau(self) -> Bureau:
        """Return the unit that leads the indicator."""
        return BUREAUS[self.lead]

    def unit_text(self, lang: str = "en") -> str:
        """Return the unit in words, in English or Chinese.

        Examples
        --------
        >>> INDICATORS["sheep"].unit_text("zh"), INDICATORS["income_yuan"].unit_text()
        ('只', 'yuan per person')
        """
        return _UNIT_ZH.get(self.unit, self.unit) if lang == "zh" else self.unit

    def value_text(self, value: float) -> str:
        """Return a value as shown: counts and areas whole, shares and income to one decimal.

        Examples
        --------
        >>> INDICATORS["sheep"].value_text(12345.4), INDICATORS["processing_pct"].value_text(66.66)
        ('12,345', '66.7')
        >>> INDICATORS["sheep"].value_text(float("nan"))
        '—'
        """
        if value != value:  # noqa: PLR0124 (NaN)
            return "—"
        return f"{value:,.0f}" if self.adding is Adding.SUM else f"{value:,.1f}"

    @property
    def limit(self) -> float:
        """Return the largest value one village may report in a year."""
        return LIMITS[self.key]


_UNIT_ZH = {
    "mu": "亩",
    "sheep": "只",
    "people": "人",
    "points": "个",
    "projects": "个",
    "t": "吨",
    "yuan per person": "元/人",
    "%": "%",
    "% of villages": "%（村）",
}
_IMM, _POOR, _ALL = Scope.IMMIGRANT_VILLAGES, Scope.POOR_VILLAGES, Scope.ALL_VILLAGES
_W = Adding.WEIGHTED
_S = Adding.SUM

#: Every indicator, by key, in the plan's order.
INDICATORS: Mapping[str, Indicator] = {
    i.key: i
    for i in (
        Indicator("cultivated_mu", "Cultivated area", "耕地面积", "mu", _S, _IMM,
                  "agriculture", "6(1)", target="immigrant_crops"),
        Indicator("vegetables_mu", "Protected vegetables", "设施蔬菜", "mu", _S, _IMM,
                  "agriculture", "6(1)", target="immigrant_vegetables"),
        Indicator("grapes_mu", "Grapes", "葡萄", "mu", _S, _IMM,
                  "agriculture", "6(1)", target="immigrant_grapes"),
        Indicator("medlar_mu", "Medlar", "枸杞", "mu", _S, _IMM,
                  "agriculture", "6(1)", target="immigrant_medlar"),
        Indicator("sheep", "Sheep kept", "羊只饲养量", "sheep", _S, _IMM,
                  "agriculture", "6(1)", target="immigrant_sheep"),
        Indicator("farmland_mu", "Farmland", "农田面积", "mu", _S, _ALL,
                  "agriculture", "6(1)"),
        Indicator("standardised_pct", "Standardised production", "标准化生产覆盖率", "%", _W,
                  _ALL, "agriculture", "6(1)", base="farmland_mu",
                  target="standardised_production"),
        Indicator("three_products", '"Three products and one standard"', "“三品一标”",
                  "% of villages", _W, _POOR, "agriculture", "6(1)", base="villages",
                  target="three_products_one_standard"),
        Indicator("trained", "People trained in labour skills", "劳动力技能培训", "people",
                  _S, _ALL, "social_security", "6(2)", target="labour_training"),
        Indicator("transferred", "People transferred to work", "劳务输转", "people", _S,
                  _ALL, "social_security", "6(2)", target="labour_transfer"),
        Indicator("ecommerce_points", "E-commerce service points", "电商服务点", "points",
                  _S, _POOR, "commerce", "6(3)", target="rural_services"),
        Indicator("tourism_projects", "Rural tourism projects", "乡村旅游项目", "projects",
                  _S, _POOR, "commerce", "6(3)", target="rural_tourism"),
        Indicator("pv_projects", "Photovoltaic projects", "光伏扶贫项目", "projects", _S,
                  _POOR, "commerce", "6(3)", target="photovoltaic"),
        Indicator("produce_t", "Agricultural produce", "农产品产量", "t", _S, _POOR,
                  "agriculture", "6(4)"),
        Indicator("processing_pct", "Processing conversion rate", "农产品加工转化率", "%", _W,
                  _POOR, "agriculture", "6(4)", base="produce_t",
                  target="processing_conversion"),
        Indicator("land_registered_pct", "Land rights registered", "土地确权登记颁证", "%",
                  _W, _POOR, "agriculture", "6(5)", base="farmland_mu",
                  target="land_rights"),
        Indicator("entity_share_pct", "Poor farmers in new business entities",
                  "贫困户参加新型经营主体", "%", _W, _POOR, "agriculture", "6(5)",
                  base="poor_households", target="new_business_entities"),
        Indicator("income_yuan", "Per-capita net income", "人均纯收入", "yuan per person",
                  _W, _IMM, "poverty_office", "2", base="population",
                  target="immigrant_income"),
    )
}  # fmt: skip


def get_indicator(key: str) -> Indicator:
    """Return indicator `key`.

    Raises
    ------
    KeyError
        If there is none of that key; the message lists them.

    Examples
    --------
    >>> get_indicator("sheep").unit
    'sheep'
    """
    try:
        return INDICATORS[key]
    except KeyError:
        msg = f"no indicator {key!r}; choose one of {', '.join(INDICATORS)}"
        raise KeyError(msg) from None


def read_indicators(where: str | None = None) -> pd.DataFrame:
    """Return the store's village indicators (empty when it holds none or cannot be read)."""
    try:
        return store.open_store(where).indicators()
    except StoreError:
        return pd.DataFrame(columns=["village_code", "year", *COLUMNS])


def origin(where: str | None = None) -> Origin | None:
    """Return where the store's indicators came from (None: it records none, or is unreadable)."""
    try:
        return store.open_store(where).origin(INDICATORS_KEY)
    except StoreError:
        return None


def sources(by: str | None = None) -> tuple[str, ...]:
    """Return what indicators added up `by` a level (None: per village) are made of.

    The indicators themselves, the villages that group and weigh them, and the
    townships or counties whose names (and, on a map, shapes) they are shown by: each a
    source whose record says whether it is synthetic (`layers.provenance`).

    Examples
    --------
    >>> sources("township")
    ('village_indicators', 'villages', 'townships')
    >>> sources()
    ('village_indicators', 'villages')
    """
    level = {"county": ("counties",), "township": ("townships",)}.get(by or "", ())
    return (INDICATORS_KEY, "villages", *level)


def village_values(indicators: pd.DataFrame, villages: pd.DataFrame, year: int) -> pd.DataFrame:
    """Return one row per village of `villages` with its indicators of `year` (NaN: none).

    The villages' own columns (county, township, population, poor households, poor and
    immigrant flags) come along, so that every base and scope is at hand.
    """
    of_year = indicators[indicators["year"] == year].reindex(columns=["village_code", *COLUMNS])
    keep = [
        c
        for c in ("code", "county_code", "township_code", "population", "poor_households",
                  "is_poor", "is_immigrant")
        if c in villages.columns
    ]  # fmt: skip
    frame = pd.DataFrame(villages[keep]).merge(
        of_year, how="left", left_on="code", right_on="village_code"
    )
    frame = frame.drop(columns="village_code").set_index("code")
    for column in COLUMNS:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    frame["villages"] = 1.0
    return frame


def _concerned(frame: pd.DataFrame, indicator: Indicator) -> pd.DataFrame:
    return frame[scope_mask(frame, indicator.villages).to_numpy()]


def _add_up(values: pd.DataFrame, indicator: Indicator) -> tuple[float, float, int]:
    """Return the indicator over `values` (NaN: none reported), its weight, villages reporting."""
    column = values[indicator.key]
    reporting = column.notna()
    if indicator.adding is Adding.SUM:
        count = int(reporting.sum())
        return (float(column[reporting].sum()) if count else float("nan")), float(count), count
    assert indicator.base is not None  # noqa: S101 (checked when declared)
    weight = pd.to_numeric(values[indicator.base], errors="coerce").astype(float)
    usable = reporting & weight.notna() & (weight > 0)
    total = float(weight[usable].sum())
    if total <= 0:
        return float("nan"), 0.0, int(usable.sum())
    value = float((column[usable] * weight[usable]).sum()) / total
    if indicator.base == "villages":  # yes/no per village: the share of villages, in %
        value *= 100.0
    return value, total, int(usable.sum())


def aggregate(
    indicators: pd.DataFrame,
    villages: pd.DataFrame,
    key: str,
    year: int,
    *,
    by: str | None = None,
    codes: pd.Series | None = None,
) -> pd.DataFrame:
    """Return indicator `key` of `year` added up by township or county (`by`), or for the city.

    Only the villages it concerns count (and only those of `codes`, if given). Columns:
    `value` (NaN: no village reported), `weight` (the base summed, or the villages
    reporting for a sum), `reporting` (villages with a value) and `villages` (villages
    concerned); indexed by township or county code, or ``"city"``.

    Examples
    --------
    >>> v = pd.DataFrame({"code": ["a", "b", "c"], "county_code": ["x", "x", "y"],
    ...     "is_poor": [True] * 3, "is_immigrant": [False] * 3, "population": [1, 1, 1]})
    >>> ind = pd.DataFrame({"village_code": ["a", "b", "c"], "year": [2016] * 3,
    ...     "farmland_mu": [100.0, 300.0, 50.0], "standardised_pct": [100.0, 0.0, 80.0]})
    >>> aggregate(ind, v, "standardised_pct", 2016, by="county")["value"].tolist()
    [25.0, 80.0]
    """
    indicator = get_indicator(key)
    frame = village_values(indicators, villages, year)
    if codes is not None:
        frame = frame[frame.index.isin(set(codes))]
    frame = _concerned(frame, indicator)
    if by is None:
        groups = [("city", frame)]
    else:
        column = LEVELS[by]
        groups = list(frame.groupby(column, sort=True)) if not frame.empty else []
    rows = []
    for name, part in groups:
        value, weight, reporting = _add_up(part, indicator)
        rows.append(
            {
                "code": str(name),
                "value": value,
                "weight": weight,
                "reporting": reporting,
                "villages": len(part),
            }
        )
    columns = ["code", "value", "weight", "reporting", "villages"]
    return pd.DataFrame(rows, columns=columns).set_index("code")


def table(
    indicators: pd.DataFrame,
    villages: pd.DataFrame,
    year: int,
    *,
    by: str | None = None,
) -> pd.DataFrame:
    """Return every indicator of `year`: per village (`by` None), township or county.

    Rows are the villages (codes), townships or counties; columns the indicators (each
    added up as it should be); a row that concerns no village of an indicator holds NaN.
    """
    if by is None:
        frame = village_values(indicators, villages, year)
        return frame[list(INDICATORS)]
    found = {key: aggregate(indicators, villages, key, year, by=by)["value"] for key in INDICATORS}
    frame = pd.DataFrame(found)
    frame.index.name = f"{by}_code"
    return frame


#: Colours of a choropleth's classes, low to high (ColorBrewer YlGn, 5 classes).
PALETTE = ("#ffffcc", "#c2e699", "#78c679", "#31a354", "#006837")
#: The colour of a township or county with no value (no village reported).
NO_DATA = "#d9d9d9"


def breaks(values: pd.Series, n: int = len(PALETTE)) -> list[float]:
    """Return the class limits of `values` (quantiles, each once; empty when none is known).

    Examples
    --------
    >>> breaks(pd.Series([1.0, 2.0, 3.0, 4.0, 5.0, float("nan")]))
    [1.0, 1.8, 2.6, 3.4, 4.2, 5.0]
    >>> breaks(pd.Series([7.0, 7.0]))
    [7.0]
    """
    known = values.dropna().astype(float)
    if known.empty:
        return []
    found = known.quantile([i / n for i in range(n + 1)]).round(6)
    return sorted({float(v) for v in found})


def colour(value: float, limits: list[float]) -> str:
    """Return the class colour of `value` within `limits` (`NO_DATA` when it is NaN).

    Examples
    --------
    >>> colour(1.0, [1.0, 3.0, 5.0]), colour(4.0, [1.0, 3.0, 5.0]), colour(float("nan"), [1.0])
    ('#ffffcc', '#c2e699', '#d9d9d9')
    """
    if value != value or not limits:  # noqa: PLR0124 (NaN)
        return NO_DATA
    classes = max(len(limits) - 1, 1)
    i = sum(value > limit for limit in limits[1:-1]) if classes > 1 else 0
    return PALETTE[min(i, len(PALETTE) - 1)]


def legend_items(indicator: Indicator, limits: list[float]) -> list[tuple[str, str]]:
    """Return the legend's (colour, label) rows for `limits`, low to high.

    Examples
    --------
    >>> legend_items(INDICATORS["sheep"], [0.0, 10.0, 20.0])
    [('#ffffcc', '0 - 10'), ('#c2e699', '10 - 20')]
    """
    if len(limits) == 1:
        return [(PALETTE[0], indicator.value_text(limits[0]))]
    pairs = itertools.pairwise(limits)
    return [
        (PALETTE[i], f"{indicator.value_text(lo)} - {indicator.value_text(hi)}")
        for i, (lo, hi) in enumerate(pairs)
    ]


def choropleth_frame(
    polygons: gpd.GeoDataFrame, added: pd.DataFrame, indicator: Indicator
) -> tuple[gpd.GeoDataFrame, list[float]]:
    """Return the polygons with their value (`value`, `value_text`, `reporting`, `colour`).

    `added` is `aggregate` by the polygons' level, indexed by their `code`; a polygon
    where no village reported (or that the indicator does not concern) has no value and
    the `NO_DATA` colour. Also returns the class limits.
    """
    out = polygons[["code", "name_zh", "geometry"]].copy()
    joined = added.reindex(out["code"].astype(str))
    out["value"] = joined["value"].to_numpy(dtype=float)
    limits = breaks(out["value"])
    out["value_text"] = [indicator.value_text(v) for v in out["value"]]
    reporting = joined["reporting"].fillna(0).astype(int).to_numpy()
    concerned = joined["villages"].fillna(0).astype(int).to_numpy()
    out["reporting"] = [f"{r} / {c}" for r, c in zip(reporting, concerned, strict=True)]
    out["colour"] = [colour(v, limits) for v in out["value"]]
    return out, limits
