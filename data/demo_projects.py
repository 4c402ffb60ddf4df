"""Synthetic project register for the demo: projects that close the demo's own gaps.

Drawn from its own random generator, after every other layer is built, so adding it
changes no other layer's values. The register is the state at the demo's data date
(end of 2017): a village whose measure was met in 2015-2017 mostly has the project
that did it (``done`` that year); one met in 2018-2020 has a project under
construction or funded; a village still without it by 2020 often has one planned.
Channels and patches of forest and improved land built since 2015 get line and area
projects when the city's targets measure them.
"""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.random import Generator

from geo import settings
from layers.catalogue import FUND_SOURCES
from layers.projects import empty_register, known_measures
from layers.rules import RULES, evaluate

__all__ = ["STREAM", "projects"]

#: Added to the demo's seed to seed the register's own generator.
STREAM = 7919
DATA_YEAR = 2017
_YEARS = range(settings.baseline_year, settings.goal_year + 1)
_FUND_SHARES = (0.35, 0.25, 0.2, 0.12, 0.08)  # central, provincial, local, pairing, loan
#: Share of the projects paid from two sources (central and local money together, say).
_JOINT = 0.3
#: Rules the demo has village projects for: name suffix, budget range in 10,000 yuan.
_VILLAGE_WORKS: Mapping[str, tuple[str, float, float]] = {
    "tap_water": ("安全饮水工程", 30, 120),
    "power": ("农网改造工程", 20, 90),
    "broadband": ("宽带入村工程", 8, 40),
    "hardened_road": ("通村硬化路工程", 60, 320),
    "bus_service": ("客车通村项目", 5, 25),
    "express_service": ("快递服务站", 3, 12),
    "cooperative": ("合作社组建项目", 10, 50),
    "safe_housing": ("危房改造项目", 40, 200),
    "school_3km": ("学校建设项目", 150, 600),
}
#: Works layers that get line or area projects: target key, site, name suffix, budget.
_WORKS: Mapping[str, tuple[str, str, str, float, float]] = {
    "water_channels": ("channels", "line", "改造工程", 80, 600),
    "forest_network": ("forest_network", "area", "造林项目", 20, 150),
    "land_improvement": ("land_improvement", "area", "土地改良项目", 30, 200),
}


def _first_met(stored: Mapping[str, gpd.GeoDataFrame], key: str) -> pd.Series:
    """Return the first year (2014-2020) each village meets rule `key` (NaN: not by 2020)."""
    first = pd.Series(np.nan, index=stored["villages"].index)
    for year in reversed(_YEARS):
        covered = evaluate(RULES[key], year, load=stored.__getitem__)["covered"].to_numpy(bool)
        first[covered] = year
    return first


def _state(rng: Generator, first: float) -> tuple[str, int] | None:
    """Return a village project's status and year from when its measure was met (None: none)."""
    if first <= settings.baseline_year:
        return None
    if first <= DATA_YEAR:
        return ("done", int(first)) if rng.random() < 0.75 else None  # noqa: PLR2004
    if not np.isnan(first):
        status = "under_construction" if first == DATA_YEAR + 1 else "funded"
        return (status, int(first)) if rng.random() < 0.85 else None  # noqa: PLR2004
    if rng.random() < 0.55:  # noqa: PLR2004
        return str(rng.choice(["planned", "funded"], p=[0.7, 0.3])), int(rng.integers(2018, 2021))
    return None


def _village_rows(
    rng: Generator, stored: Mapping[str, gpd.GeoDataFrame]
) -> list[dict[str, object]]:
    villages = stored["villages"]
    rows: list[dict[str, object]] = []
    for key, (suffix, low, high) in _VILLAGE_WORKS.items():
        if key not in RULES:
            continue
        rule = RULES[key]
        first = _first_met(stored, key)
        for i in np.flatnonzero(rule.in_scope(villages).to_numpy(bool)):
            state = _state(rng, float(first.iloc[i]))
            if state is None:
                continue
            village = villages.iloc[i]
            rows.append(
                {
                    "name": f"{village['name_zh']}{suffix}",
                    "measure": key,
                    "site": "village",
                    "village_code": str(village["code"]),
                    "lead": rule.bureau.key,
                    "status": state[0],
                    "year": state[1],
                    "budget_wan_yuan": round(float(rng.uniform(low, high)), 1),
                    "geometry": village.geometry,
                }
            )
    return rows


def _works_rows(rng: Generator, stored: Mapping[str, gpd.GeoDataFrame]) -> list[dict[str, object]]:
    from layers import get_layer  # noqa: PLC0415 (keeps the module's imports to what it computes)

    measures = known_measures()
    rows: list[dict[str, object]] = []
    for layer, (target, site, suffix, low, high) in _WORKS.items():
        if target not in measures or layer not in stored:
            continue
        works = stored[layer]
        recent = works[
            works["year_built"].astype("Float64").fillna(0) >= settings.baseline_year + 1
        ]
        for _, item in recent.iterrows():
            if rng.random() >= 0.5:  # noqa: PLR2004
                continue
            year = int(item["year_built"])
            where = (
                item.geometry.interpolate(0.5, normalized=True)
                if site == "line"
                else item.geometry.representative_point()
            )
            label = item["name"] if "name" in item else item["kind"]
            rows.append(
                {
                    "name": f"{label}{suffix}",
                    "measure": target,
                    "site": site,
                    "village_code": None,
                    "lead": get_layer(layer).bureau.key,
                    "status": "done" if year <= DATA_YEAR else "under_construction",
                    "year": year,
                    "budget_wan_yuan": round(float(rng.uniform(low, high)), 1),
                    "geometry": where,
                }
            )
    return rows


def projects(stored: Mapping[str, gpd.GeoDataFrame], seed: int) -> gpd.GeoDataFrame:
    """Return the demo's project register, in the CRS of `stored` (the demo's layers)."""
    rng = np.random.default_rng(seed + STREAM)
    rows = _village_rows(rng, stored) + _works_rows(rng, stored)
    if not rows:  # nothing to do: every village met every measure by 2014
        return empty_register(stored["villages"].crs)
    register = gpd.GeoDataFrame(rows, geometry="geometry", crs=stored["villages"].crs)
    register = register.sort_values(["year", "measure", "name"], kind="stable").reset_index(
        drop=True
    )
    register.insert(
        0, "project_id", [f"P{year}-{i + 1:04d}" for i, year in enumerate(register["year"])]
    )
    first = rng.choice(len(FUND_SOURCES), size=len(register), p=_FUND_SHARES)
    second = rng.choice(len(FUND_SOURCES), size=len(register), p=_FUND_SHARES)
    joint = rng.random(len(register)) < _JOINT  # some are paid from two sources
    register["fund_source"] = [
        ", ".join(FUND_SOURCES[i] for i in sorted({a, b} if both else {a}))
        for a, b, both in zip(first, second, joint, strict=True)
    ]
    return register
