"""What an export shows: the map specification, the area mapped and its villages."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import geopandas as gpd
import numpy as np

import layers
from geo import settings
from geo.status import poverty_status
from layers.clauses import Provenance
from layers.i18n import t
from layers.rules import RULES, Loader, evaluate, provenance_note, scope_text

__all__ = [
    "CLASS_COLOURS",
    "PAPER_MM",
    "PROVINCE_PATH",
    "Headings",
    "MapSpec",
    "area",
    "county_code",
    "headings",
    "read_once",
    "villages",
]

PROVINCE_PATH = settings.shipped_dir / "gansu.geojson"  # Gansu, for the print map's inset
PAPER_MM = {"A4": (297.0, 210.0), "A3": (420.0, 297.0)}
#: Village colours by class, in drawing order: a village outside the rule's scope is no gap.
CLASS_COLOURS = {
    "out_of_scope": "#969696",
    "covered": "#1a9641",
    "newly_covered": "#2c7bb6",
    "uncovered": "#d7191c",
}
_MM = 1 / 25.4


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
    service_areas: bool = False

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


def area(spec: MapSpec, load: Loader) -> tuple[gpd.GeoDataFrame, str]:
    """Return the area mapped (the county, or the prefecture) and its name."""
    if spec.county is None:
        return load("prefecture"), t("all_counties", spec.lang)
    counties = load("counties")
    match = counties[counties["code"] == county_code(spec.county, load)]
    name = match["name_zh"].iloc[0] if spec.lang == "zh" else match["name_en"].iloc[0]
    return match, str(name)


def villages(
    spec: MapSpec, mapped: gpd.GeoDataFrame, load: Loader, *, before: Loader | None = None
) -> gpd.GeoDataFrame:
    """Return the villages inside `mapped`, with their status and (for a rule) their class.

    The class is ``covered`` or ``uncovered`` (a gap) in the rule's scope, and
    ``out_of_scope`` for a village its clause does not ask about (a village that is not
    poor, for a clause of poor villages): never a gap. With `before` (the store as is,
    while `load` reads a scenario) the class tells villages the scenario newly covers
    (``newly_covered``) from those covered already.
    """
    out = load("villages").copy()
    out["status"] = poverty_status(out, spec.year)
    if spec.rule is not None:
        rule = RULES[spec.rule]
        covered = evaluate(rule, spec.year, load=load)["covered"]
        out["class"] = np.where(covered, "covered", "uncovered")
        if before is not None:
            was = evaluate(rule, spec.year, load=before)["covered"]
            out.loc[covered & ~was, "class"] = "newly_covered"
        out.loc[~rule.in_scope(out), "class"] = "out_of_scope"
    inside = out.within(mapped.to_crs(out.crs).union_all())
    return out[inside]


def read_once(load: Loader) -> Loader:
    """Wrap `load` so that an export reads each layer once, however many pages use it."""
    return functools.cache(load)


@dataclass(frozen=True, slots=True)
class Headings:
    """What a map says above it: title, subtitle, and its rule's provenance (if it has one)."""

    title: str
    subtitle: str
    #: The rule's provenance in a sentence (None: a map without a rule).
    provenance: str | None = None
    #: Whether the rule is not the plan's own measure (drawn in a warning colour).
    ours: bool = False


def headings(spec: MapSpec, area_name: str) -> Headings:
    """Return the map's title, subtitle (rule, its scope, year, area) and rule provenance.

    The provenance says whether the rule is the plan's measure or our assumption (with the
    reason), so that an assumption is never read as the plan's.
    """
    rule = RULES[spec.rule] if spec.rule else None
    name = rule.title(spec.lang) if rule else t("villages", spec.lang)
    title = spec.title or f"{area_name} · {name}"
    if rule is None:
        subtitle = t("export_subtitle", spec.lang, year=spec.year, rule=name, area=area_name)
        return Headings(title, subtitle)
    subtitle = t(
        "export_subtitle_rule",
        spec.lang,
        year=spec.year,
        rule=name,
        area=area_name,
        scope=scope_text([rule], spec.lang),
    )
    note = provenance_note(rule, spec.lang)
    return Headings(title, subtitle, note, rule.provenance is not Provenance.PLAN)
