"""Targets of the plan: read from the office's `targets.toml`, measured year by year.

A target's status as of a year: ``done`` when it is met; ``overdue`` when its deadline
has passed unmet; otherwise ``on_track`` if progress is at least what the plan's time
limits ask by then (its schedule, or a straight line from the 2014 baseline to the
goal at the deadline) and ``behind`` if not.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd

import layers
from geo import settings
from geo.coverage import nearest_distance
from geo.status import done_by
from layers.bureaus import BUREAUS
from layers.rules import RULES, Loader, evaluate
from layers.spec import Bureau, Titled

__all__ = [
    "BASELINE",
    "TARGETS_PATH",
    "Target",
    "board",
    "by_county",
    "expected",
    "load_targets",
    "progress",
    "status",
]

#: The targets file: ``VILLAGE_ATLAS_TARGETS`` if set, else the one shipped beside this module.
TARGETS_PATH = Path(
    os.environ.get("VILLAGE_ATLAS_TARGETS", Path(__file__).resolve().parent / "targets.toml")
)
BASELINE = settings.baseline_year
_KINDS = ("rule", "exit", "length", "area", "township")
_SCOPES = ("all", "poor", "immigrant", "settled")


@dataclass(frozen=True, slots=True)
class Target(Titled):
    """One target of the plan (see the header of `targets.toml` for the fields)."""

    key: str
    title_en: str
    title_zh: str
    kind: str
    value: float
    deadline: int
    bureau: Bureau
    cooperating: tuple[str, ...] = ()
    source: str = ""
    rule: str | None = None
    layer: str | None = None
    villages: str = "all"
    counties: tuple[str, ...] = ()
    schedule: Mapping[int, float] = field(default_factory=dict)
    unit: str = "%"
    to_confirm: bool = False
    classes: tuple[str, ...] = ()
    within_m: float = 0.0


def _problems(entry: dict[str, object], i: int) -> list[str]:
    where = f"target {i + 1} ({entry.get('key', '?')})"
    problems = [
        f"{where}: missing `{k}`"
        for k in ("key", "title_en", "title_zh", "kind", "value", "deadline", "bureau")
        if k not in entry
    ]
    kind = entry.get("kind")
    if kind not in _KINDS:
        problems.append(f"{where}: `kind` must be one of {', '.join(_KINDS)}")
    if kind == "rule" and entry.get("rule") not in RULES:
        problems.append(f"{where}: `rule` must be one of {', '.join(RULES)}")
    if kind == "township" and not (entry.get("classes") and entry.get("within_m")):
        problems.append(f"{where}: a township target needs road `classes` and `within_m`")
    if kind in ("length", "area") and entry.get("layer") not in layers.REGISTRY:
        problems.append(f"{where}: `layer` must be a catalogue layer")
    if entry.get("bureau") not in BUREAUS:
        problems.append(f"{where}: `bureau` must be one of {', '.join(BUREAUS)}")
    if entry.get("villages", "all") not in _SCOPES:
        problems.append(f"{where}: `villages` must be one of {', '.join(_SCOPES)}")
    if not isinstance(entry.get("value"), int | float) or not isinstance(
        entry.get("deadline"), int
    ):
        problems.append(f"{where}: `value` must be a number and `deadline` a year")
    return problems


def load_targets(path: Path | None = None) -> tuple[Target, ...]:
    """Read and check the targets file; raise `ValueError` listing every problem.

    Raises
    ------
    ValueError
        If the file is not valid TOML or any target is incomplete or wrong.
    """
    path = Path(path or TARGETS_PATH)
    try:
        entries = tomllib.loads(path.read_text(encoding="utf-8")).get("target", [])
    except tomllib.TOMLDecodeError as exc:
        msg = f"{path} is not valid TOML: {exc}"
        raise ValueError(msg) from exc
    problems = [p for i, entry in enumerate(entries) for p in _problems(entry, i)]
    keys = [e.get("key") for e in entries]
    problems += [
        f"target key {k!r} is used twice" for k in sorted({k for k in keys if keys.count(k) > 1})
    ]
    if problems:
        raise ValueError(f"{path} has problems:\n- " + "\n- ".join(problems))
    return tuple(
        Target(
            **{
                k: v
                for k, v in e.items()
                if k not in {"bureau", "cooperating", "counties", "schedule", "classes"}
            },
            bureau=BUREAUS[e["bureau"]],
            cooperating=tuple(e.get("cooperating", ())),
            counties=tuple(e.get("counties", ())),
            classes=tuple(e.get("classes", ())),
            schedule={int(y): float(v) for y, v in e.get("schedule", {}).items()},
        )
        for e in entries
    )


def _village_mask(target: Target, villages: pd.DataFrame, county: str | None) -> pd.Series:
    mask = pd.Series(data=True, index=villages.index)
    scope = target.villages
    if scope in ("poor", "immigrant", "settled") or target.kind == "exit":
        mask &= villages["is_poor"].astype(bool)
    if scope == "immigrant":
        mask &= villages["is_immigrant"].astype(bool)
    if scope == "settled":
        mask &= ~villages["is_immigrant"].astype(bool)
    if target.counties:
        mask &= villages["county_code"].isin(target.counties)
    if county is not None:
        mask &= villages["county_code"] == county
    return mask


def _works(target: Target, year: int, load: Loader, county: str | None) -> float:
    """Km of channels or mu of projects built from 2015 to the end of `year`."""
    assert target.layer is not None  # noqa: S101 (checked when loaded)
    gdf = load(target.layer)
    built = gdf[(gdf["year_built"] >= BASELINE + 1) & done_by(gdf["year_built"], year)]
    if county is not None:
        built = _in_county(built, county, load)
    column = "length_km" if target.kind == "length" else "area_mu"
    return float(built[column].sum())


def _in_county(gdf: gpd.GeoDataFrame, county: str, load: Loader) -> gpd.GeoDataFrame:
    if "county_code" in gdf.columns:
        return gdf[gdf["county_code"] == county]
    area = load("counties").set_index("code").geometry[county]
    return gdf[gdf.geometry.representative_point().within(area)]


def _townships_reached(target: Target, year: int, load: Loader, county: str | None) -> float:
    """Share (percent) of township seats within `within_m` of a road of the target's classes."""
    towns = load("townships")
    if target.counties:
        towns = towns[towns["county_code"].isin(target.counties)]
    if county is not None:
        towns = towns[towns["county_code"] == county]
    roads = load("roads")
    roads = roads[roads["road_class"].isin(target.classes) & done_by(roads["year_built"], year)]
    if towns.empty:
        return float("nan")
    if roads.empty:
        return 0.0
    seats = gpd.GeoDataFrame(
        geometry=gpd.points_from_xy(towns["seat_lon"], towns["seat_lat"]), crs=towns.crs
    )
    distance = nearest_distance(seats, roads)["distance_m"]
    return float((distance <= target.within_m).mean() * 100.0)


def progress(
    target: Target, year: int, *, load: Loader = layers.load, county: str | None = None
) -> float:
    """Return the target's measure at the end of `year` (percent, km or mu; NaN if none)."""
    if target.kind in ("length", "area"):
        return _works(target, year, load, county)
    if target.kind == "township":
        return _townships_reached(target, year, load, county)
    villages = load("villages")
    mask = _village_mask(target, villages, county)
    if not mask.any():
        return float("nan")
    if target.kind == "exit":
        met = done_by(villages["exit_year"], year)
    else:
        assert target.rule is not None  # noqa: S101 (checked when loaded)
        met = evaluate(RULES[target.rule], year, load=load)["covered"]
    return float(met[mask].mean() * 100.0)


def expected(target: Target, year: int, baseline: float) -> float:
    """Return what the plan asks by the end of `year`: its schedule, or a straight line.

    Examples
    --------
    >>> t = Target("x", "x", "x", "rule", 100, 2017, BUREAUS["water"])
    >>> expected(t, 2015, 40.0), expected(t, 2019, 40.0)
    (60.0, 100)
    >>> s = Target("y", "y", "y", "exit", 100, 2016, BUREAUS["water"],
    ...            schedule={2015: 70, 2016: 100})
    >>> expected(s, 2014, 0.0), expected(s, 2015, 0.0)
    (0.0, 70)
    """
    if target.schedule:
        due = [v for y, v in target.schedule.items() if y <= year]
        return max(due) if due else baseline
    if year >= target.deadline:
        return target.value
    share = (year - BASELINE) / max(target.deadline - BASELINE, 1)
    return baseline + (target.value - baseline) * share


def status(target: Target, year: int, current: float, baseline: float) -> str:
    """Return ``done``, ``overdue``, ``on_track`` or ``behind`` as of the end of `year`.

    Examples
    --------
    >>> t = Target("x", "x", "x", "rule", 100, 2017, BUREAUS["water"])
    >>> [status(t, y, c, 40) for y, c in ((2015, 61), (2015, 55), (2017, 99), (2016, 100))]
    ['on_track', 'behind', 'overdue', 'done']
    """
    if current >= target.value - 1e-9:
        return "done"
    if year >= target.deadline:
        return "overdue"
    return "on_track" if current >= expected(target, year, baseline) - 1e-9 else "behind"


def board(targets: tuple[Target, ...], year: int, *, load: Loader = layers.load) -> pd.DataFrame:
    """Return one row per target: goal, deadline, bureau, baseline, progress by year, status."""
    rows = []
    for target in targets:
        series = {y: progress(target, y, load=load) for y in range(BASELINE, year + 1)}
        baseline, current = series[BASELINE], series[year]
        rows.append(
            {
                "key": target.key,
                "value": target.value,
                "unit": target.unit,
                "deadline": target.deadline,
                "bureau": target.bureau.key,
                "cooperating": "; ".join(target.cooperating),
                "baseline": round(baseline, 1),
                **{str(y): round(v, 1) for y, v in series.items()},
                "current": round(current, 1),
                "expected": round(expected(target, year, baseline), 1),
                "status": status(target, year, current, baseline),
                "to_confirm": target.to_confirm,
            }
        )
    return pd.DataFrame(rows).set_index("key")


def by_county(target: Target, year: int, *, load: Loader = layers.load) -> pd.DataFrame:
    """Return the target's progress per county it applies to, with each county's status."""
    counties = target.counties or tuple(load("counties").sort_values("code")["code"])
    rows = []
    for code in counties:
        baseline = progress(target, BASELINE, load=load, county=code)
        current = progress(target, year, load=load, county=code)
        rows.append(
            {
                "county": code,
                "baseline": round(baseline, 1),
                "current": round(current, 1),
                "status": status(target, year, current, baseline)
                if target.kind in ("rule", "exit", "township")
                else "",
            }
        )
    return pd.DataFrame(rows).set_index("county")
