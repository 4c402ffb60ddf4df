"""Targets of the plan: one record per clause, read from the office's `targets.toml`.

Each target names its clause (section and sentence), what its goal counts (`Scope`),
its unit, deadline and schedule, its lead and cooperating units (keys of the profile's
units) and its provenance. Measured targets are measured year by year; a target of kind
``clause`` is recorded but not measured (the atlas has no data for it yet).

A target's status as of a year: ``done`` when it is met; ``overdue`` when its deadline
has passed unmet; otherwise ``on_track`` if progress is at least what the plan's time
limits ask by then (its schedule, or a straight line from the 2014 baseline to the
goal at the deadline) and ``behind`` if not; ``not_measured`` when nothing measures it;
``city_part`` for a county's part of a goal set for the whole city (km, mu, sheep).

A target of kind ``indicator`` is measured from the village indicators of industry,
labour and income (`layers.indicators`): the indicator added up over the villages it
concerns, in the year asked. A goal asked of every year (`each_year`: people trained
"every year") compares that year's value and is done only once its deadline is reached;
a growth goal (`growth_pct`, `times`) counts the share of the scope's people (or
villages) whose village grew by at least `growth_pct` a year since 2014 and, from the
deadline, reached `times` its 2014 value.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd

import layers
from geo import settings
from geo.coverage import near_any, pairs_within
from geo.errors import TargetsError
from geo.status import done_by
from layers import households
from layers import indicators as indicator_table
from layers.bureaus import BUREAUS
from layers.clauses import Clause, Provenance, Scope, scope_mask, scope_weight, weakest
from layers.i18n import t
from layers.profile import PROFILE
from layers.rules import RULES, CoverageRule, Loader, evaluate
from layers.spec import Bureau, Titled
from store.register import CLEANUPS, Register

__all__ = [
    "BASELINE",
    "COUNT_COLUMNS",
    "KINDS",
    "STATUSES",
    "TARGETS_PATH",
    "FocusArea",
    "Target",
    "board",
    "by_county",
    "counts_text",
    "expected",
    "load_targets",
    "progress",
    "responsibilities",
    "status",
]

#: The targets file: ``VILLAGE_ATLAS_TARGETS`` if set, else the one the city profile names.
TARGETS_PATH = Path(os.environ.get("VILLAGE_ATLAS_TARGETS", PROFILE.targets_path))
BASELINE = settings.baseline_year
#: Kinds of target: how each is measured (``clause``: recorded, not measured).
KINDS = (
    "rule",
    "service",
    "exit",
    "identify",
    "files",
    "seats",
    "length",
    "area",
    "indicator",
    "clause",
)
#: Every status a target can have, in the order the board counts them.
STATUSES = ("done", "on_track", "behind", "overdue", "not_measured", "city_part")
#: The unit each measured kind is in.
_UNITS = {
    "rule": "%",
    "service": "%",
    "exit": "%",
    "identify": "%",
    "files": "%",
    "seats": "%",
    "length": "km",
    "area": "mu",
}
#: What a focus area is drawn around.
_NEAR = ("immigrant villages", "city seat")
#: Scopes each measured kind accepts.
_KIND_SCOPES: Mapping[str, tuple[Scope, ...]] = {
    "rule": tuple(s for s in Scope if s not in (Scope.TOWNSHIPS, Scope.COUNTIES, Scope.CITY)),
    "exit": (
        Scope.POOR_VILLAGES,
        Scope.IMMIGRANT_VILLAGES,
        Scope.OLD_VILLAGES,
        Scope.POOR_HOUSEHOLDS,
        Scope.POOR_PEOPLE,
    ),
    "service": (Scope.ALL_VILLAGES, Scope.POOR_VILLAGES, Scope.FOCUS_AREA),
    "identify": (Scope.POOR_HOUSEHOLDS,),
    "files": (Scope.POOR_HOUSEHOLDS, Scope.POOR_VILLAGES),
    "seats": (Scope.TOWNSHIPS, Scope.COUNTIES),
    "length": (Scope.CITY, Scope.FOCUS_AREA),
    "area": (Scope.CITY, Scope.FOCUS_AREA),
    "indicator": tuple(Scope),
    "clause": tuple(Scope),
}
#: Fields of the village file a files target may ask for.
_VILLAGE_FIELDS = tuple(layers.REGISTRY["villages"].columns)
_AMONG = (Scope.ALL_VILLAGES, Scope.POOR_VILLAGES, Scope.IMMIGRANT_VILLAGES, Scope.OLD_VILLAGES)
_FIELDS = frozenset(
    {
        "key", "title_en", "title_zh", "section", "clause", "kind", "scope", "among", "area",
        "counties", "value", "unit", "deadline", "schedule", "lead", "lead_named",
        "cooperating", "provenance", "reason", "rule", "layer", "classes", "within_m",
        "register_provenance", "register_reason", "indicator", "each_year", "growth_pct",
        "times", "fields", "column",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class FocusArea(Titled):
    """An area the plan singles out, drawn within `within_m` of the villages or seat it names."""

    key: str
    title_en: str
    title_zh: str
    near: str
    within_m: float
    provenance: Provenance
    reason: str

    def anchors(self, load: Loader) -> gpd.GeoDataFrame:
        """Return what the area is drawn around: the immigrant villages, or the city's seat."""
        if self.near == "immigrant villages":
            villages = load("villages")
            return villages.loc[villages["is_immigrant"].astype(bool), ["geometry"]]
        lon, lat = PROFILE.city.seat
        return gpd.GeoDataFrame(geometry=gpd.points_from_xy([lon], [lat]), crs=settings.storage_crs)

    def contains(self, gdf: gpd.GeoDataFrame, load: Loader) -> pd.Series:
        """Return which features of `gdf` lie in the area (pass within `within_m`)."""
        return near_any(gdf, self.anchors(load), within_m=self.within_m)


@dataclass(frozen=True, slots=True)
class Target(Titled):
    """One target of the plan (see the header of `targets.toml` for the fields)."""

    key: str
    title_en: str
    title_zh: str
    kind: str
    value: float | None
    deadline: int
    lead: Bureau
    clause: Clause
    scope: Scope = Scope.ALL_VILLAGES
    among: Scope = Scope.ALL_VILLAGES
    unit: str = "%"
    cooperating: tuple[Bureau, ...] = ()
    provenance: Provenance = Provenance.PLAN
    reason: str = ""
    lead_named: bool = True
    rule: str | None = None
    layer: str | None = None
    area: FocusArea | None = None
    counties: tuple[str, ...] = ()
    schedule: Mapping[int, float] = field(default_factory=dict)
    classes: tuple[str, ...] = ()
    within_m: float = 0.0
    #: Provenance (and why) when the household register measures the target.
    register_provenance: Provenance | None = None
    register_reason: str = ""
    #: The indicator that measures an ``indicator`` target (`layers.indicators`).
    indicator: str | None = None
    #: Whether the goal is asked of every year (a flow), not reached once.
    each_year: bool = False
    #: A growth goal: at least this much a year since 2014 (percent) ...
    growth_pct: float | None = None
    #: ... and this many times the 2014 value from the deadline on.
    times: float | None = None
    #: What a complete file holds (``files``): clean-ups of the register, or village fields.
    fields: tuple[str, ...] = ()
    #: The village file's year column that records a ``service`` (the year it came).
    column: str | None = None

    @property
    def measured(self) -> bool:
        """Whether the atlas measures the target (a ``clause`` is only recorded)."""
        return self.kind != "clause" and self.value is not None

    @property
    def observed(self) -> bool:
        """Whether the atlas shows a value for the target (with a goal to meet, or without)."""
        return self.measured or (self.kind == "indicator" and self.indicator is not None)

    @property
    def in_households(self) -> bool:
        """Whether the target counts registered poor households or people (the register can)."""
        return self.kind == "exit" and self.scope in (Scope.POOR_HOUSEHOLDS, Scope.POOR_PEOPLE)

    def sources(self, *, register: bool = False) -> tuple[Provenance, str]:
        """Return the least sure of the target's, its rule's and its area's provenance, and why.

        A target whose own figure is the plan's but is measured by an assumed rule (a
        distance the plan does not give) is an assumption: the reasons say which part.
        With `register` (the household register measures it), the target's provenance is
        its `register_provenance`, if it has one.
        """
        own = (self.provenance, self.reason)
        if register and self.register_provenance is not None:
            own = (self.register_provenance, self.register_reason)
        parts = [own]
        if self.rule is not None:
            rule = RULES[self.rule]
            parts.append((rule.provenance, f"{rule.key}: {rule.reason}" if rule.reason else ""))
        if self.area is not None:
            parts.append((self.area.provenance, f"{self.area.title_en}: {self.area.reason}"))
        return weakest(*(p for p, _ in parts)), " | ".join(r for _, r in parts if r)

    def scope_text(self, lang: str = "en") -> str:
        """Return what the goal counts, in words: "poor households of immigrant villages"."""
        text = self.scope.label(lang)
        if self.scope.weight_column is not None and self.among is not Scope.ALL_VILLAGES:
            text = t("scope_among", lang, what=text, villages=self.among.label(lang))
        if self.area is not None:
            text = f"{text}: {self.area.title(lang)}"
        if self.counties:
            text += f" ({', '.join(PROFILE.county(c).name(lang) for c in self.counties)})"
        return text

    def unit_text(self, lang: str = "en") -> str:
        """Return the unit in words: "% of poor households", "km", "mu"."""
        if self.unit == "%":
            noun = self.scope.label(lang)
            if self.scope is Scope.FOCUS_AREA:
                noun = t("scope_villages_in_area", lang)
            return t("percent_of", lang, what=noun)
        if self.unit in ("km", "mu"):
            return t("unit_" + self.unit, lang)
        if self.each_year:
            return t("per_year", lang, unit=self.unit)
        return self.unit

    def lead_text(self, lang: str = "en") -> str:
        """Return the lead unit's name, marked when the plan does not name it."""
        name = self.lead.name(lang)
        return name if self.lead_named else t("lead_assumed", lang, name=name)


# --- reading and checking the file -------------------------------------------------------


def _text(entry: Mapping[str, object], key: str, where: str, found: list[str]) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        found.append(f"{where}: `{key}` must be non-empty text")
        return ""
    return value


def _choice(
    entry: Mapping[str, object],
    key: str,
    kinds: type[Scope | Provenance],
    where: str,
    found: list[str],
    default: Scope | Provenance | None = None,
) -> Scope | Provenance | None:
    raw = entry.get(key)
    if raw is None and default is not None:
        return default
    try:
        return kinds(raw)
    except ValueError:
        allowed = " | ".join(member.value for member in kinds)
        found.append(f"{where}: `{key}` must be one of {allowed}, not {raw!r}")
        return None


def _unit_key(raw: object, where: str, found: list[str]) -> Bureau | None:
    if isinstance(raw, str) and raw in BUREAUS:
        return BUREAUS[raw]
    found.append(
        f"{where}: unit {raw!r} is not a unit key; use one of {', '.join(BUREAUS)} "
        "(see `village-atlas bureaus`)"
    )
    return None


def _units(entry: Mapping[str, object], where: str, found: list[str]) -> tuple[Bureau, ...]:
    raw = entry.get("cooperating", [])
    if not isinstance(raw, list):
        found.append(f"{where}: `cooperating` must be a list of unit keys")
        return ()
    units = [_unit_key(u, f"{where} `cooperating`", found) for u in raw]
    return tuple(u for u in units if u is not None)


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _goal(entry: Mapping[str, object], kind: object, where: str, found: list[str]) -> float | None:
    """Return the goal (None when a clause gives none), noting what is wrong with it."""
    value = entry.get("value")
    if value is None:
        if kind not in ("clause", "indicator"):
            found.append(f"{where}: missing `value` (the goal)")
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        found.append(f"{where}: `value` must be a number, not {value!r}")
        return None
    if entry.get("unit", _UNITS.get(str(kind))) == "%" and not 0 < value <= 100:  # noqa: PLR2004
        found.append(f"{where}: `value` is a percentage: it must be in (0, 100]")
    return float(value)


def _dates(
    entry: Mapping[str, object], kind: object, where: str, found: list[str]
) -> tuple[int, dict[int, float]]:
    """Return the deadline and the schedule, noting what is wrong with them."""
    years = range(BASELINE + 1, settings.goal_year + 1)
    deadline = entry.get("deadline")
    if not isinstance(deadline, int) or isinstance(deadline, bool) or deadline not in years:
        found.append(f"{where}: `deadline` must be a year from {years[0]} to {years[-1]}")
        deadline = 0
    schedule = entry.get("schedule", {})
    steps: dict[int, float] = {}
    if not isinstance(schedule, dict) or not all(
        str(y).isdigit() and int(y) in years and _number(v) for y, v in schedule.items()
    ):
        found.append(f"{where}: `schedule` must map years of the plan to percents")
    else:
        steps = {int(y): float(v) for y, v in schedule.items()}
    if steps and kind not in ("exit", "rule", "seats"):
        found.append(f"{where}: only a percentage target (rule, exit, seats) has a `schedule`")
    return deadline, steps


def _unit(entry: Mapping[str, object], kind: object, where: str, found: list[str]) -> str:
    expected = _UNITS.get(str(kind))
    unit = entry.get("unit", expected)
    if not isinstance(unit, str) or not unit.strip():
        found.append(f"{where}: `unit` must say what the goal counts")
        return ""
    if expected is not None and unit != expected:
        found.append(f"{where}: a {kind} target is measured in {expected!r}, not {unit!r}")
    return unit


def _kind_fields(entry: Mapping[str, object], kind: object, where: str, found: list[str]) -> None:
    """Note what the kind needs and lacks: a rule, a layer, road classes and a distance."""
    if kind not in KINDS:
        found.append(f"{where}: `kind` must be one of {', '.join(KINDS)}, not {kind!r}")
    if kind == "rule" and entry.get("rule") not in RULES:
        found.append(f"{where}: `rule` must be one of {', '.join(RULES)}")
    years = [c for c, kind_of in layers.REGISTRY["villages"].columns.items() if kind_of == "year"]
    if (kind == "service") != ("column" in entry) or (
        "column" in entry and entry["column"] not in years
    ):
        found.append(
            f"{where}: a service target, and only it, names the village file's year "
            f"`column` that records it: one of {', '.join(years)}"
        )
    if kind in ("length", "area") and entry.get("layer") not in layers.REGISTRY:
        found.append(f"{where}: `layer` must be a catalogue layer")
    _indicator_fields(entry, kind, where, found)
    _file_fields(entry, kind, where, found)
    classes, within = entry.get("classes"), entry.get("within_m")
    if kind == "seats" and not (
        isinstance(classes, list) and classes and _number(within) and float(within) > 0  # type: ignore[arg-type]
    ):
        found.append(f"{where}: a seats target needs road `classes` and `within_m` > 0")
    counties = entry.get("counties", [])
    if not isinstance(counties, list) or any(c not in PROFILE.codes() for c in counties):
        found.append(f"{where}: `counties` must be codes of {', '.join(PROFILE.codes())}")
    stray = sorted(set(entry) - _FIELDS)
    if stray:
        found.append(f"{where}: unknown fields {', '.join(stray)} (the header lists the fields)")


def _indicator_fields(
    entry: Mapping[str, object], kind: object, where: str, found: list[str]
) -> None:
    """Note what an indicator target needs and lacks, and indicator fields on other kinds."""
    key = entry.get("indicator")
    if kind != "indicator":
        stray = [f for f in ("indicator", "each_year", "growth_pct", "times") if f in entry]
        if stray:
            found.append(f"{where}: {', '.join(stray)} go with an indicator target only")
        return
    if key not in indicator_table.INDICATORS:
        found.append(f"{where}: `indicator` must be one of {', '.join(indicator_table.INDICATORS)}")
    if not isinstance(entry.get("each_year", False), bool):
        found.append(f"{where}: `each_year` must be true or false")
    growth, times = entry.get("growth_pct"), entry.get("times")
    if (growth is None) != (times is None):
        found.append(f"{where}: a growth goal names both `growth_pct` and `times`")
    elif growth is not None and not (
        _number(growth) and _number(times) and float(growth) > 0 and float(times) > 1  # type: ignore[arg-type]
    ):
        found.append(f"{where}: `growth_pct` must be > 0 and `times` > 1")
    if growth is not None and entry.get("unit") != "%":
        found.append(f"{where}: a growth goal is measured in '%' (of its scope)")


def _file_fields(entry: Mapping[str, object], kind: object, where: str, found: list[str]) -> None:
    """Note what a files target needs: what a complete file holds, known to the atlas."""
    fields = entry.get("fields")
    if kind != "files":
        if fields is not None:
            found.append(f"{where}: `fields` go with a files target only")
        return
    known = CLEANUPS if entry.get("scope") == Scope.POOR_HOUSEHOLDS.value else _VILLAGE_FIELDS
    if not isinstance(fields, list) or not fields or any(f not in known for f in fields):
        found.append(f"{where}: `fields` must list what a complete file holds: {', '.join(known)}")


def _scope_fits(
    entry: Mapping[str, object],
    kind: object,
    scope: Scope | None,
    among: Scope | None,
    where: str,
    found: list[str],
) -> None:
    if scope is not None and str(kind) in _KIND_SCOPES and scope not in _KIND_SCOPES[str(kind)]:
        allowed = " | ".join(s.value for s in _KIND_SCOPES[str(kind)])
        article = "an" if str(kind)[0] in "aeiou" else "a"
        found.append(f"{where}: `scope` of {article} {kind} target must be one of {allowed}")
    if "among" in entry and (scope is None or scope.weight_column is None):
        found.append(f"{where}: `among` goes with a household or people scope only")
    if among is not None and among not in _AMONG:
        found.append(f"{where}: `among` must be one of {' | '.join(s.value for s in _AMONG)}")
    if (scope is Scope.FOCUS_AREA) != ("area" in entry):
        found.append(f"{where}: a focus area scope, and only it, names an `area`")


def _provenance(
    entry: Mapping[str, object], where: str, found: list[str]
) -> tuple[Provenance | None, str]:
    provenance = _choice(entry, "provenance", Provenance, where, found)
    reason = entry.get("reason", "")
    if not isinstance(reason, str):
        found.append(f"{where}: `reason` must be text")
        reason = ""
    unsure = isinstance(provenance, Provenance) and provenance is not Provenance.PLAN
    if unsure and not reason.strip():
        found.append(f"{where}: provenance {provenance.value!r} needs its `reason`")  # type: ignore[union-attr]
    if not isinstance(entry.get("lead_named", True), bool):
        found.append(f"{where}: `lead_named` must be true or false")
    return provenance if isinstance(provenance, Provenance) else None, reason


def _target(
    entry: object, i: int, areas: Mapping[str, FocusArea], found: list[str]
) -> Target | None:
    """Return entry `i` as a `Target`, or None after noting every problem it has."""
    if not isinstance(entry, dict):
        found.append(f"target {i + 1}: must be a table ([[target]])")
        return None
    where = f"target {i + 1} ({entry.get('key', '?')})"
    n = len(found)
    texts = {k: _text(entry, k, where, found) for k in ("key", "title_en", "title_zh")}
    section, sentence = _text(entry, "section", where, found), _text(entry, "clause", where, found)
    kind = entry.get("kind")
    _kind_fields(entry, kind, where, found)
    scope = _choice(entry, "scope", Scope, where, found)
    among = _choice(entry, "among", Scope, where, found, default=Scope.ALL_VILLAGES)
    _scope_fits(entry, kind, scope, among, where, found)  # type: ignore[arg-type]
    area = areas.get(str(entry.get("area")))
    if "area" in entry and area is None:
        found.append(f"{where}: `area` must be one of the [[area]] keys: {', '.join(areas)}")
    value = _goal(entry, kind, where, found)
    deadline, schedule = _dates(entry, kind, where, found)
    unit = _unit(entry, kind, where, found)
    lead = _unit_key(entry.get("lead"), f"{where} `lead`", found)
    cooperating = _units(entry, where, found)
    provenance, reason = _provenance(entry, where, found)
    by_register = _register_provenance(entry, scope, where, found)
    if len(found) > n:
        return None
    return Target(
        **texts,
        kind=str(kind),
        value=value,
        deadline=deadline,
        lead=lead,  # type: ignore[arg-type]
        clause=Clause(section, sentence),
        scope=scope,  # type: ignore[arg-type]
        among=among,  # type: ignore[arg-type]
        unit=unit,
        cooperating=cooperating,
        provenance=provenance,  # type: ignore[arg-type]
        reason=reason,
        lead_named=bool(entry.get("lead_named", True)),
        rule=entry.get("rule"),
        layer=entry.get("layer"),
        area=area,
        counties=tuple(entry.get("counties", ())),
        schedule=schedule,
        classes=tuple(entry.get("classes", ())),
        within_m=float(entry.get("within_m", 0.0)),
        register_provenance=by_register[0],
        register_reason=by_register[1],
        indicator=entry.get("indicator"),
        each_year=bool(entry.get("each_year", False)),
        growth_pct=_float_or_none(entry.get("growth_pct")),
        times=_float_or_none(entry.get("times")),
        fields=tuple(entry.get("fields", ())),
        column=entry.get("column"),
    )


def _float_or_none(value: object) -> float | None:
    return float(value) if _number(value) else None  # type: ignore[arg-type]


def _register_provenance(
    entry: Mapping[str, object], scope: object, where: str, found: list[str]
) -> tuple[Provenance | None, str]:
    """Read how sure the target is when the household register measures it (if it says)."""
    if "register_provenance" not in entry and "register_reason" not in entry:
        return None, ""
    if entry.get("kind") != "exit" or scope not in (Scope.POOR_HOUSEHOLDS, Scope.POOR_PEOPLE):
        found.append(f"{where}: only an exit target of poor households or people has a register")
        return None, ""
    sub = {"provenance": entry.get("register_provenance")}
    sub["reason"] = entry.get("register_reason", "")
    return _provenance(sub, f"{where} (register)", found)


def _area(entry: object, i: int, found: list[str]) -> FocusArea | None:
    if not isinstance(entry, dict):
        found.append(f"area {i + 1}: must be a table ([[area]])")
        return None
    where = f"area {i + 1} ({entry.get('key', '?')})"
    n = len(found)
    texts = {k: _text(entry, k, where, found) for k in ("key", "title_en", "title_zh")}
    if entry.get("near") not in _NEAR:
        found.append(f"{where}: `near` must be one of {' | '.join(_NEAR)}")
    within = entry.get("within_m")
    if not _number(within) or float(within) <= 0:  # type: ignore[arg-type]
        found.append(f"{where}: `within_m` must be a distance in metres > 0")
    provenance, reason = _provenance(entry, where, found)
    if len(found) > n:
        return None
    return FocusArea(
        **texts,
        near=str(entry["near"]),
        within_m=float(within),  # type: ignore[arg-type]
        provenance=provenance,  # type: ignore[arg-type]
        reason=reason,
    )


def _twice(keys: list[object], what: str) -> list[str]:
    return [
        f"{what} key {k!r} is used twice"
        for k in sorted({str(k) for k in keys if keys.count(k) > 1})
    ]


def load_targets(path: Path | None = None) -> tuple[Target, ...]:
    """Read and check the targets file; raise `TargetsError` listing every problem.

    Raises
    ------
    TargetsError
        If the file cannot be read, is not valid TOML, or any target or area is
        incomplete or wrong (a `ValueError`, as every error of the city profile).
    """
    path = Path(path or TARGETS_PATH)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        msg = f"{path} is not valid TOML: {exc}"
        raise TargetsError(msg) from exc
    except OSError as exc:
        msg = f"{path} cannot be read: {exc}"
        raise TargetsError(msg) from exc
    found: list[str] = []
    raw_areas, entries = doc.get("area", []), doc.get("target", [])
    if not isinstance(raw_areas, list) or not isinstance(entries, list) or not entries:
        found.append("the file must hold [[target]] tables (and may hold [[area]] tables)")
        raw_areas, entries = [], []
    read = [_area(a, i, found) for i, a in enumerate(raw_areas)]
    areas = {a.key: a for a in read if a is not None}
    plan = [_target(e, i, areas, found) for i, e in enumerate(entries)]
    found += _twice([a.get("key") for a in raw_areas if isinstance(a, dict)], "area")
    found += _twice([e.get("key") for e in entries if isinstance(e, dict)], "target")
    if found:
        raise TargetsError(f"{path} has problems:\n- " + "\n- ".join(found))
    return tuple(p for p in plan if p is not None)


# --- measuring -----------------------------------------------------------------------------


def _village_scope(
    target: Target,
    villages: gpd.GeoDataFrame,
    load: Loader,
    county: str | None,
    *,
    poor_only: bool = True,
) -> tuple[pd.Series, pd.Series]:
    """Return which villages the target counts, and what each counts for.

    An exit counts poor villages only (`poor_only`), unless the register counts it: a
    registered poor household may live in a village that is not a poor village.
    """
    villages_of = target.among if target.scope.weight_column is not None else target.scope
    mask = scope_mask(villages, villages_of)
    if target.kind == "exit" and poor_only:
        mask &= villages["is_poor"].astype(bool)
    if target.area is not None:
        mask &= target.area.contains(villages, load).to_numpy()
    if target.counties:
        mask &= villages["county_code"].isin(target.counties)
    if county is not None:
        mask &= villages["county_code"] == county
    return mask, scope_weight(villages, target.scope)


def _share(met: pd.Series, mask: pd.Series, weight: pd.Series) -> float:
    """Percent of the weight in `mask` that is `met` (NaN when the scope is empty)."""
    total = float(weight[mask].sum())
    if not mask.any() or total <= 0:
        return float("nan")
    return float(weight[mask & met.astype(bool)].sum()) / total * 100.0


def _works(target: Target, load: Loader, county: str | None) -> gpd.GeoDataFrame:
    """Return the layer's works in scope (and in `county`) built since 2015, of every year."""
    assert target.layer is not None  # noqa: S101 (checked when loaded)
    gdf = load(target.layer)
    built = gdf[gdf["year_built"].astype("Float64").fillna(0) >= BASELINE + 1]
    for codes in (target.counties, (county,) if county is not None else ()):
        if codes:
            built = _in_counties(built, tuple(codes), load)
    if target.area is not None and not built.empty:
        built = built[target.area.contains(built, load).to_numpy()]
    return built


def _in_counties(gdf: gpd.GeoDataFrame, codes: tuple[str, ...], load: Loader) -> gpd.GeoDataFrame:
    if "county_code" in gdf.columns:
        return gdf[gdf["county_code"].isin(codes)]
    counties = load("counties")
    area = counties[counties["code"].isin(codes)].geometry.union_all()
    return gdf[gdf.geometry.representative_point().within(area)]


def _seats(target: Target, county: str | None, load: Loader) -> gpd.GeoDataFrame:
    """Township seats (from the townships layer) or county seats (from the profile)."""
    if target.scope is Scope.TOWNSHIPS:
        towns = load("townships")
        codes, lon, lat = towns["county_code"], towns["seat_lon"], towns["seat_lat"]
    else:
        codes = pd.Series([c.code for c in PROFILE.counties])
        lon = pd.Series([c.seat[0] for c in PROFILE.counties])
        lat = pd.Series([c.seat[1] for c in PROFILE.counties])
    keep = codes.isin(target.counties) if target.counties else codes.notna()
    if county is not None:
        keep &= codes == county
    return gpd.GeoDataFrame(
        geometry=gpd.points_from_xy(lon[keep], lat[keep]), crs=settings.storage_crs
    )


def _seat_years(target: Target, county: str | None, load: Loader) -> pd.Series:
    """Return the year each seat first had a road of the target's classes within `within_m`."""
    seats = _seats(target, county, load).reset_index(drop=True)
    roads = load("roads")
    roads = roads[roads["road_class"].isin(target.classes)]
    pairs = pairs_within(seats, roads, within_m=target.within_m)
    built = roads["year_built"].astype("Float64").reindex(pairs["anchor"]).to_numpy()
    first = pd.Series(built, index=pairs["feature"].to_numpy()).groupby(level=0).min()
    return first.reindex(seats.index).astype("Float64")


def _by_register(target: Target, register: Register) -> bool:
    """Whether the household register measures the target (households or people exiting)."""
    return target.in_households and target.measured and not register.empty


def _register_codes(
    target: Target, villages: gpd.GeoDataFrame, load: Loader, county: str | None
) -> pd.Series:
    """Return the codes of the villages whose registered households the target counts."""
    mask, _ = _village_scope(target, villages, load, county, poor_only=False)
    return villages.loc[mask, "code"].astype(str)


def _register_shares(
    target: Target, years: list[int], codes: pd.Series, register: Register
) -> dict[int, float]:
    """Percent of the registered poor households (or people) of `codes` out by each year."""
    people = target.scope is Scope.POOR_PEOPLE
    total = households.registered(register, codes)[people]
    if total <= 0:
        return dict.fromkeys(years, float("nan"))
    return {y: households.out_by(register, y, codes)[people] / total * 100.0 for y in years}


def _register_measures(
    target: Target,
    years: list[int],
    villages: gpd.GeoDataFrame,
    load: Loader,
    county: str | None,
    register: Register | None,
) -> dict[int, float]:
    """Percent identified by each year, or of the files complete (the same every year).

    Households identified are those of villages whose publicity (the "one publicity" after
    the five steps; the register dates it when every household of the village reached it)
    came by the end of the year, and in the year of the plan's time limit by that day
    (`households.IDENTIFY_DEADLINE`, mid-June 2015). A household file is complete on a clean-up when
    the register counts it so: the share is of every clean-up asked of every file. A
    village file is complete when each of the `fields` is filled. Neither file records
    since when: the share is the state of the data, shown for every year.
    """
    if target.scope is Scope.POOR_VILLAGES:
        mask, weight = _village_scope(target, villages, load, county)
        filled = pd.Series(data=True, index=villages.index)
        for name in target.fields:
            column = villages[name]
            text = column.astype("string").str.strip()
            filled &= column.notna() & text.ne("").fillna(value=False)
        share = _share(filled, mask, weight)
        return dict.fromkeys(years, share)
    if register is None or register.empty:
        return dict.fromkeys(years, float("nan"))
    codes = _register_codes(target, villages, load, county)
    rows = register.villages[register.villages.index.isin(set(codes))]
    total = float(rows["households"].sum())
    if total <= 0:
        return dict.fromkeys(years, float("nan"))
    if target.kind == "files":
        done = float(rows[list(target.fields)].sum().sum())
        return dict.fromkeys(years, done / (total * len(target.fields)) * 100.0)
    published = rows["publicity"].astype("string")
    due = households.IDENTIFY_DEADLINE
    by = {y: (due if y == due.year else dt.date(y, 12, 31)).isoformat() for y in years}
    return {
        y: float(rows.loc[published.le(by[y]).fillna(value=False), "households"].sum())
        / total
        * 100.0
        for y in years
    }


#: Board columns of an exit's counts: households, people and poor villages out, of how many.
COUNT_COLUMNS = (
    "out_households",
    "of_households",
    "out_people",
    "of_people",
    "out_villages",
    "of_villages",
)


def _counts(
    target: Target, year: int, load: Loader, county: str | None, register: Register
) -> dict[str, int | None]:
    """Return an exit target's counts as of `year`, each with how many there are.

    Households and people out come from the register, when there is one; poor villages out
    from the village file.
    """
    found: dict[str, int | None] = dict.fromkeys(COUNT_COLUMNS)
    if target.kind != "exit":
        return found
    villages = load("villages")
    mask, _ = _village_scope(target, villages, load, county)
    found["out_villages"] = int((mask & done_by(villages["exit_year"], year)).sum())
    found["of_villages"] = int(mask.sum())
    if not register.empty:
        codes = _register_codes(target, villages, load, county)
        found["out_households"], found["out_people"] = households.out_by(register, year, codes)
        found["of_households"], found["of_people"] = households.registered(register, codes)
    return found


def counts_text(row: Mapping[str, object], lang: str = "en") -> str:
    """Return a board row's counts in words ("" when the row has none).

    Examples
    --------
    >>> counts_text({"out_households": 9, "of_households": 12, "out_villages": 2,
    ...              "of_villages": 3})
    '9 of 12 households out; 2 of 3 poor villages out'
    """
    parts = []
    for what in ("households", "people", "villages"):
        out, of = row.get(f"out_{what}"), row.get(f"of_{what}")
        if isinstance(out, int | float) and isinstance(of, int | float) and of == of:  # noqa: PLR0124
            parts.append(t(f"counts_{what}", lang, out=int(out), of=int(of)))
    return "; ".join(parts)


def _exit_shares(
    target: Target,
    years: list[int],
    villages: gpd.GeoDataFrame,
    load: Loader,
    county: str | None,
    register: Register | None,
) -> dict[int, float]:
    """Percent out by each year: of registered households or people, else of village weights."""
    if register is not None and _by_register(target, register):
        codes = _register_codes(target, villages, load, county)
        return _register_shares(target, years, codes, register)
    mask, weight = _village_scope(target, villages, load, county)
    return {y: _share(done_by(villages["exit_year"], y), mask, weight) for y in years}


def _indicator_codes(target: Target, villages: pd.DataFrame, county: str | None) -> pd.Series:
    """Return the codes of the villages an indicator target counts (its counties, `county`)."""
    keep = pd.Series(data=True, index=villages.index)
    if target.counties:
        keep &= villages["county_code"].isin(target.counties)
    if county is not None:
        keep &= villages["county_code"] == county
    return villages.loc[keep, "code"].astype(str)


def _growth_share(
    target: Target, year: int, frame: pd.DataFrame, base: pd.DataFrame, weight: pd.Series
) -> float:
    """Percent of the scope's weight whose indicator kept to the growth goal by `year`."""
    growth, times = target.growth_pct or 0.0, target.times or 1.0
    column = str(target.indicator)
    now, then = frame[column], base[column].reindex(frame.index)
    known = now.notna() & then.notna() & (then > 0)
    ratio = now[known] / then[known]
    enough = ratio >= (1 + growth / 100.0) ** (year - BASELINE) - 1e-9
    if year >= target.deadline:
        enough &= ratio >= times - 1e-9
    total = float(weight[known.index[known]].sum())
    if total <= 0:
        return float("nan")
    return float(weight[enough.index[enough]].sum()) / total * 100.0


def _indicator_measures(
    target: Target,
    years: list[int],
    load: Loader,
    county: str | None,
    table: pd.DataFrame,
) -> dict[int, float]:
    """Return an indicator target's measure in each of `years` (NaN: nothing reported)."""
    assert target.indicator is not None  # noqa: S101 (checked when loaded)
    villages = load("villages")
    codes = _indicator_codes(target, villages, county)
    if target.growth_pct is None:
        return {
            y: float(
                indicator_table.aggregate(table, villages, target.indicator, y, codes=codes).loc[
                    "city", "value"
                ]
            )
            for y in years
        }
    indicator = indicator_table.get_indicator(target.indicator)
    base = indicator_table.village_values(table, villages, BASELINE)
    base = base[base.index.isin(set(codes)) & scope_mask(base, indicator.villages).to_numpy()]
    weight = scope_weight(villages.set_index("code").reindex(base.index), target.scope)
    found = {}
    for y in years:
        frame = indicator_table.village_values(table, villages, y).reindex(base.index)
        found[y] = _growth_share(target, y, frame, base, weight.fillna(0))
    return found


def _measures(
    target: Target,
    years: Iterable[int],
    load: Loader,
    county: str | None,
    register: Register | None = None,
    table: pd.DataFrame | None = None,
) -> dict[int, float]:
    """Return the target's measure at the end of each of `years` (its scope found once)."""
    years = list(years)
    if target.kind == "indicator" and target.observed:
        table = indicator_table.read_indicators() if table is None else table
        return _indicator_measures(target, years, load, county, table)
    return _layer_measures(target, years, load, county, register)


def _layer_measures(
    target: Target,
    years: list[int],
    load: Loader,
    county: str | None,
    register: Register | None,
) -> dict[int, float]:
    """Return the measure of a target measured from the layers (and the household register)."""
    if not target.measured:
        return dict.fromkeys(years, float("nan"))
    if target.kind in ("length", "area"):
        works = _works(target, load, county)
        column = works["length_km" if target.kind == "length" else "area_mu"]
        return {y: float(column[done_by(works["year_built"], y)].sum()) for y in years}
    if target.kind == "seats":
        first = _seat_years(target, county, load)
        if first.empty:
            return dict.fromkeys(years, float("nan"))
        return {y: float(done_by(first, y).mean() * 100.0) for y in years}
    return _village_measures(target, years, load, county, register)


def _village_measures(
    target: Target,
    years: list[int],
    load: Loader,
    county: str | None,
    register: Register | None,
) -> dict[int, float]:
    """Return the measure of a target that counts villages (or their households)."""
    villages = load("villages")
    if target.kind == "exit":
        return _exit_shares(target, years, villages, load, county, register)
    if target.kind in ("identify", "files"):
        return _register_measures(target, years, villages, load, county, register)
    mask, weight = _village_scope(target, villages, load, county)
    if target.kind == "service":
        since = villages[str(target.column)]
        if since[mask].isna().all():  # no village in scope records it: not measured
            return dict.fromkeys(years, float("nan"))
        return {y: _share(done_by(since, y), mask, weight) for y in years}
    assert target.rule is not None  # noqa: S101 (checked when loaded)
    rule = RULES[target.rule]
    return {y: _share(evaluate(rule, y, load=load)["covered"], mask, weight) for y in years}


def progress(
    target: Target,
    year: int,
    *,
    load: Loader = layers.load,
    county: str | None = None,
    register: Register | None = None,
    indicators: pd.DataFrame | None = None,
) -> float:
    """Return the target's measure at the end of `year` (percent, km or mu; NaN if none).

    Exits of households and people are measured from the household `register` (default:
    the store's) when it holds one; without it, by the exit years of the village file.
    Indicator targets are measured from the village `indicators` (default: the store's).
    """
    register = households.read_register() if register is None else register
    return _measures(target, (year,), load, county, register, indicators)[year]


def expected(target: Target, year: int, baseline: float) -> float:
    """Return what the plan asks by the end of `year`: its schedule, or a straight line.

    Examples
    --------
    >>> c = Clause("7(1)", "In 217, all households will be connected to safe drinking water.")
    >>> t = Target("x", "x", "x", "rule", 100, 2017, BUREAUS["water"], c)
    >>> expected(t, 2015, 40.0), expected(t, 2019, 40.0)
    (60.0, 100)
    >>> s = Target("y", "y", "y", "exit", 100, 2016, BUREAUS["water"], c,
    ...            schedule={2015: 70, 2016: 100})
    >>> expected(s, 2014, 0.0), expected(s, 2015, 0.0)
    (0.0, 70)
    """
    if target.value is None or not target.measured:
        return float("nan")
    if target.each_year:
        return target.value
    if target.schedule:
        due = [v for y, v in target.schedule.items() if y <= year]
        return max(due) if due else baseline
    if year >= target.deadline:
        return target.value
    share = (year - BASELINE) / max(target.deadline - BASELINE, 1)
    return baseline + (target.value - baseline) * share


def status(target: Target, year: int, current: float, baseline: float) -> str:
    """Return ``done``, ``overdue``, ``on_track``, ``behind`` or ``not_measured`` as of `year`.

    Examples
    --------
    >>> c = Clause("7(1)", "In 217, all households will be connected to safe drinking water.")
    >>> t = Target("x", "x", "x", "rule", 100, 2017, BUREAUS["water"], c)
    >>> [status(t, y, c, 40) for y, c in ((2015, 61), (2015, 55), (2017, 99), (2016, 100))]
    ['on_track', 'behind', 'overdue', 'done']
    >>> status(t, 2017, float("nan"), 40)
    'not_measured'
    """
    if target.value is None or not target.measured or math.isnan(current):
        return "not_measured"
    if target.each_year and year < target.deadline:  # asked again every year until then
        return "on_track" if current >= target.value - 1e-9 else "behind"
    if current >= target.value - 1e-9:
        return "done"
    if year >= target.deadline:
        return "overdue"
    return "on_track" if current >= expected(target, year, baseline) - 1e-9 else "behind"


def _city_total(target: Target, county: str | None) -> bool:
    """Whether `target` is a total for the whole city, here read for one county.

    A county's km of channels, mu of forest network, sheep or people trained are its part
    of the city's goal, with no goal of their own: no status. A share (a conversion rate,
    a coverage) or an average (income per person) has one in every county.
    """
    if county is None:
        return False
    if target.kind in ("length", "area"):
        return True
    if target.kind != "indicator" or target.indicator is None or target.unit.startswith("%"):
        return False
    return indicator_table.get_indicator(target.indicator).adding is indicator_table.Adding.SUM


def _row(
    target: Target,
    year: int,
    load: Loader,
    county: str | None,
    *,
    history: bool,
    register: Register,
    indicators: pd.DataFrame,
) -> dict[str, object]:
    years = range(BASELINE, year + 1) if history else sorted({BASELINE, year})
    series = _measures(target, years, load, county, register, indicators)
    baseline, current = series[BASELINE], series[year]
    provenance, reason = target.sources(register=_by_register(target, register))
    counts = _counts(target, year, load, county, register)
    return {
        "key": target.key,
        "title": target.title_en,
        "scope": target.scope_text(),
        "unit": target.unit_text(),
        "goal": target.value,
        "deadline": target.deadline,
        "schedule": "; ".join(f"{y}: {v:g}" for y, v in sorted(target.schedule.items())),
        "baseline": round(baseline, 1),
        **({str(y): round(v, 1) for y, v in series.items()} if history else {}),
        "current": round(current, 1),
        "expected": round(expected(target, year, baseline), 1),
        "status": "city_part"
        if _city_total(target, county)
        else status(target, year, current, baseline),
        **counts,
        "counts": counts_text(counts),
        "lead": target.lead.key,
        "lead_named": target.lead_named,
        "cooperating": "; ".join(u.key for u in target.cooperating),
        "provenance": provenance.value,
        "reason": reason,
        "section": target.clause.section,
        "clause": target.clause.text,
    }


def board(
    targets: tuple[Target, ...],
    year: int,
    *,
    load: Loader = layers.load,
    county: str | None = None,
    history: bool = True,
    register: Register | None = None,
    indicators: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Return one row per target as of the end of `year`, indexed by key.

    Columns: `title`, `scope` and `unit` (in words), `goal`, `deadline`, `schedule`,
    `baseline` (2014), progress per year (with `history`), `current`, `expected`,
    `status`, `COUNT_COLUMNS` (an exit's households and people out and registered, from the
    household `register`, and its poor villages out and in scope) and `counts` (them in
    words), `lead` (unit key), `lead_named`,
    `cooperating` (unit keys), `provenance` and `reason` (the least sure of the target's,
    its rule's and its area's; a household exit measured by the register has the
    provenance of that measure), `section` and `clause` (the plan's sentence). With
    `county`, only the targets that apply to it, measured in it. The `register` defaults
    to the store's (`households.read_register`), the village `indicators` that measure the
    indicator targets to the store's (`indicators.read_indicators`).
    """
    register = households.read_register() if register is None else register
    table = indicator_table.read_indicators() if indicators is None else indicators
    rows = [
        _row(target, year, load, county, history=history, register=register, indicators=table)
        for target in targets
        if county is None or not target.counties or county in target.counties
    ]
    frame = pd.DataFrame(rows).set_index("key")
    return frame.astype(dict.fromkeys(COUNT_COLUMNS, "Int64"))


def by_county(
    target: Target,
    year: int,
    *,
    load: Loader = layers.load,
    register: Register | None = None,
    indicators: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Return the target's progress per county it applies to, with each county's status."""
    counties = target.counties or tuple(load("counties").sort_values("code")["code"])
    register = households.read_register() if register is None else register
    table = indicator_table.read_indicators() if indicators is None else indicators
    rows = []
    for code in counties:
        measured = _measures(target, sorted({BASELINE, year}), load, code, register, table)
        baseline, current = measured[BASELINE], measured[year]
        rows.append(
            {
                "county": code,
                "baseline": round(baseline, 1),
                "current": round(current, 1),
                "status": "city_part"
                if _city_total(target, code)
                else status(target, year, current, baseline),
            }
        )
    return pd.DataFrame(rows).set_index("county")


def responsibilities(
    plan: Iterable[Target],
    rules: Iterable[CoverageRule] | None = None,
    *,
    register: Register | None = None,
) -> pd.DataFrame:
    """Return one row per unit and record (target, then coverage rule) it leads or cooperates on.

    Columns: `unit` (key), `role` (``lead`` or ``cooperating``), `record` (``target`` or
    ``rule``), `key`, `title_en`, `title_zh`, `provenance` (for a target, as the board
    gives it: the least sure of its own, its rule's and its area's, and for an exit the
    household `register` measures, the provenance of that measure) and `lead_named`
    (false on a lead row when the plan names no unit for the clause and the lead is
    ours). The `register` defaults to the store's, as for `board`.
    """
    register = households.read_register() if register is None else register
    rows = []
    records: list[tuple[str, Target | CoverageRule]] = [("target", p) for p in plan]
    records += [("rule", r) for r in (RULES.values() if rules is None else rules)]
    for kind, record in records:
        if isinstance(record, Target):
            lead, named = record.lead, record.lead_named
            provenance = record.sources(register=_by_register(record, register))[0]
        else:
            lead, named, provenance = record.bureau, True, record.provenance
        roles = [("lead", lead, named)] + [("cooperating", u, True) for u in record.cooperating]
        rows += [
            {
                "unit": unit.key,
                "role": role,
                "record": kind,
                "key": record.key,
                "title_en": record.title_en,
                "title_zh": record.title_zh,
                "provenance": provenance.value,
                "lead_named": is_named,
            }
            for role, unit, is_named in roles
        ]
    columns = ["unit", "role", "record", "key", "title_en", "title_zh", "provenance", "lead_named"]
    return pd.DataFrame(rows, columns=columns)
