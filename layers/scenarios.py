"""Scenarios: a named set of planned changes against a base year, and what they change.

A scenario belongs to one distance rule (the facilities it adds serve that rule) and holds
sites added (points), existing sites removed (a facility layer and its point) and planned
road links (lines). `apply` turns it into a loader that reads the store as if the changes
were built in the base year, so every computation of the atlas (coverage, the targets
board, the meeting map) runs on a scenario unchanged. Planned road links are asphalt roads
of the village class: they serve the hardened-road rule and every along-roads distance.

The stored form is JSON (`Scenario.changes_json`), read back by `Scenario.from_record`,
which checks everything: a scenario comes from a browser, a file or another account.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

import layers
from geo.coverage import nearest_ecef
from geo.crs import gauss_kruger_crs
from geo.optimise import pairs_within
from layers.rules import RULES, CoverageRule, Loader, evaluate, road_graph

__all__ = [
    "MAX_ROAD_LINKS",
    "MAX_SITES",
    "Point",
    "Removed",
    "Scenario",
    "apply",
    "effect",
    "site_layer",
    "site_table",
    "summary",
]

Point = tuple[float, float]
Removed = tuple[str, float, float]  # facility layer, lon, lat

MAX_SITES = 5_000
MAX_ROAD_LINKS = 1_000
MAX_VERTICES = 2_000
_MAX_NAME = 80
_MATCH_DEG = 1e-6  # a removed site is the facility within about 0.1 m of its point
_YEARS = (1949, 2100)


def _point(value: object, what: str) -> Point:
    """Return a finite (lon, lat) pair from `value`, or raise naming `what`."""
    if not isinstance(value, (list, tuple)) or len(value) != 2:  # noqa: PLR2004
        raise ValueError(f"{what} must be a [longitude, latitude] pair, not {value!r:.60}")
    try:
        lon, lat = float(value[0]), float(value[1])
    except (TypeError, ValueError):
        raise ValueError(f"{what} must hold numbers, not {value!r:.60}") from None
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):  # noqa: PLR2004
        raise ValueError(f"{what} is not a longitude/latitude: {lon}, {lat}")
    return lon, lat


def _name(value: str) -> str:
    """Return a scenario name stripped, or raise if it is empty, too long or has controls."""
    name = str(value).strip()
    if not name or len(name) > _MAX_NAME or any(not ch.isprintable() for ch in name):
        msg = f"a scenario name is 1 to {_MAX_NAME} printable characters, not {name[:90]!r}"
        raise ValueError(msg)
    return name


def site_layer(rule: CoverageRule) -> str:
    """Return the point layer that `rule`'s new sites go into.

    Raises
    ------
    ValueError
        If the rule is an attribute rule or no layer it uses holds points.
    """
    for key in rule.facilities:
        if layers.get_layer(key).geometry is layers.GeometryKind.POINT:
            return key
    msg = f"rule {rule.key!r} has no point facilities: plan its roads as road links instead"
    raise ValueError(msg)


@dataclass(frozen=True)
class Scenario:
    """A named, stored set of planned changes for one distance rule, against a base year.

    Attributes
    ----------
    name
        1 to 80 printable characters.
    rule
        The distance rule the added sites serve.
    base_year
        The changes count as built in this year.
    added
        New sites, (lon, lat).
    removed
        Existing sites taken away: (layer, lon, lat) of a facility of the rule.
    roads
        Planned road links, each a sequence of (lon, lat) vertices.
    """

    name: str
    rule: str
    base_year: int
    added: tuple[Point, ...] = ()
    removed: tuple[Removed, ...] = ()
    roads: tuple[tuple[Point, ...], ...] = ()

    def __post_init__(self) -> None:
        """Check every part; raise `ValueError` with the first problem found."""
        object.__setattr__(self, "name", _name(self.name))
        rule = RULES.get(self.rule)
        if rule is None or not rule.is_distance:
            distance = ", ".join(k for k, r in RULES.items() if r.is_distance)
            raise ValueError(
                f"a scenario plans for a distance rule ({distance}), not {self.rule!r}"
            )
        if not _YEARS[0] <= int(self.base_year) <= _YEARS[1]:
            raise ValueError(f"base year {self.base_year} is not a plausible year")
        if len(self.added) > MAX_SITES or len(self.removed) > MAX_SITES:
            raise ValueError(f"a scenario holds at most {MAX_SITES} sites added and removed")
        if len(self.roads) > MAX_ROAD_LINKS:
            raise ValueError(f"a scenario holds at most {MAX_ROAD_LINKS} road links")
        if self.added:
            site_layer(rule)
        added = tuple(_point(p, f"added site {i + 1}") for i, p in enumerate(self.added))
        removed = tuple(self._removed(rule, r, i) for i, r in enumerate(self.removed))
        roads = tuple(self._link(line, i) for i, line in enumerate(self.roads))
        object.__setattr__(self, "added", added)
        object.__setattr__(self, "removed", removed)
        object.__setattr__(self, "roads", roads)

    @staticmethod
    def _removed(rule: CoverageRule, value: object, i: int) -> Removed:
        if not isinstance(value, (list, tuple)) or len(value) != 3:  # noqa: PLR2004
            raise ValueError(f"removed site {i + 1} must be [layer, longitude, latitude]")
        layer = str(value[0])
        if layer not in rule.facilities:
            msg = f"removed site {i + 1}: {layer[:40]!r} is not a facility layer of {rule.key!r}"
            raise ValueError(msg)
        return (layer, *_point(value[1:], f"removed site {i + 1}"))

    @staticmethod
    def _link(value: object, i: int) -> tuple[Point, ...]:
        if not isinstance(value, (list, tuple)) or not 2 <= len(value) <= MAX_VERTICES:  # noqa: PLR2004
            raise ValueError(f"road link {i + 1} needs 2 to {MAX_VERTICES} vertices")
        return tuple(_point(p, f"road link {i + 1}") for p in value)

    def changes_json(self) -> str:
        """Return the planned changes as the JSON the store keeps."""
        return json.dumps(
            {
                "added": [list(p) for p in self.added],
                "removed": [list(r) for r in self.removed],
                "roads": [[list(p) for p in line] for line in self.roads],
            }
        )

    @classmethod
    def from_record(cls, name: str, rule: str, base_year: int, changes: str) -> Scenario:
        """Read a stored scenario; raise `ValueError` if its JSON is not a scenario's."""
        if len(changes) > 50 * MAX_SITES * 3:
            raise ValueError("the scenario's changes are too large to be a scenario")
        try:
            parts = json.loads(changes)
        except json.JSONDecodeError as exc:
            raise ValueError(f"the scenario's changes are not JSON: {exc.msg}") from None
        if not isinstance(parts, dict) or set(parts) - {"added", "removed", "roads"}:
            raise ValueError("the scenario's changes must hold only added, removed and roads")
        lists = {k: parts.get(k, []) for k in ("added", "removed", "roads")}
        if not all(isinstance(v, list) for v in lists.values()):
            raise ValueError("added, removed and roads must be lists")
        return cls(
            name,
            rule,
            int(base_year),
            tuple(lists["added"]),
            tuple(lists["removed"]),
            tuple(lists["roads"]),
        )

    def replace(
        self,
        *,
        added: Iterable[Point] | None = None,
        removed: Iterable[Removed] | None = None,
        roads: Iterable[Sequence[Point]] | None = None,
    ) -> Scenario:
        """Return a copy with some parts replaced (checked again)."""
        return Scenario(
            self.name,
            self.rule,
            self.base_year,
            tuple(self.added if added is None else added),
            tuple(self.removed if removed is None else removed),
            tuple(self.roads if roads is None else (tuple(line) for line in roads)),
        )


def _planned(
    frame: gpd.GeoDataFrame, geoms: Sequence[object], defaults: dict[str, object]
) -> gpd.GeoDataFrame:
    """Return `frame` with rows for `geoms` appended, their columns from `defaults`."""
    if not geoms:
        return frame
    rows = gpd.GeoDataFrame(
        {col: [value] * len(geoms) for col, value in defaults.items()},
        geometry=list(geoms),
        crs=4326,
    ).to_crs(frame.crs)
    both = pd.concat([frame, rows], ignore_index=True)
    return gpd.GeoDataFrame(both, geometry=frame.geometry.name, crs=frame.crs)


def _without(frame: gpd.GeoDataFrame, points: list[Point]) -> gpd.GeoDataFrame:
    """Return `frame` without the features at `points` (within about 0.1 m)."""
    if not points or frame.empty:
        return frame
    xy = shapely.get_coordinates(frame.to_crs(4326).geometry.representative_point().to_numpy())
    gone = np.zeros(len(frame), dtype=bool)
    for lon, lat in points:
        gone |= (np.abs(xy[:, 0] - lon) < _MATCH_DEG) & (np.abs(xy[:, 1] - lat) < _MATCH_DEG)
    return frame[~gone]


def apply(scenario: Scenario, load: Loader = layers.load) -> Loader:
    """Return a loader that reads `load`'s layers with the scenario's changes built.

    Added sites join the rule's point layer, named ``planned 1``, ``planned 2``, ... and
    built in the base year (meeting the rule's filters); removed sites leave their layer;
    road links join the roads (asphalt, village class, built and hardened in the base year).
    Each layer is read and changed once per loader.
    """
    rule = RULES[scenario.rule]
    year = int(scenario.base_year)
    read: dict[str, gpd.GeoDataFrame] = {}

    def defaults(key: str, prefix: str) -> dict[str, object]:
        spec = layers.get_layer(key)
        out: dict[str, object] = dict.fromkeys(spec.columns)
        out["name"] = prefix
        for column, kind in spec.columns.items():
            if kind == "year":
                out[column] = year
        for column, allowed in rule.facility_filter.items():
            if column in out:
                out[column] = allowed[0]
        return out

    def scenario_load(key: str) -> gpd.GeoDataFrame:
        if key in read:
            return read[key]
        frame = original = load(key)
        if scenario.added and key == site_layer(rule):
            sites = shapely.points(np.asarray(scenario.added, dtype=float))
            frame = _planned(frame, list(sites), defaults(key, "planned"))
            start = len(frame) - len(sites)
            frame.loc[frame.index[start:], "name"] = [f"planned {i + 1}" for i in range(len(sites))]
        gone = [(lon, lat) for layer, lon, lat in scenario.removed if layer == key]
        frame = _without(frame, gone)
        if scenario.roads and key == "roads":
            lines = [shapely.linestrings(np.asarray(line, dtype=float)) for line in scenario.roads]
            road = defaults("roads", "planned road link")
            road.update(surface="asphalt", road_class="village", all_season=True)
            frame = _planned(frame, lines, road)
        frame.attrs = dict(original.attrs)  # where the layer came from: planned rows are no data
        read[key] = frame
        return frame

    return scenario_load


_SUMMED = (
    "newly_covered",
    "newly_uncovered",
    "still_uncovered",
    "poor_villages_newly_covered",
    "poor_people_newly_covered",
)


def effect(
    scenario: Scenario, load: Loader = layers.load, *, rules: Sequence[str] | None = None
) -> pd.DataFrame:
    """Return, per distance rule and village, coverage as is and with the scenario.

    Straight line and along roads side by side: columns `rule`, `code`, `county_code`,
    `township_code`, `is_poor`, `poor_people`, `in_scope` (whether the rule's clause asks
    about the village), `before`, `after`, `before_roads`, `after_roads`. The rules are
    the scenario's own and every distance rule its changes can move (all of them when it
    plans road links, which change distances along roads).
    """
    year = int(scenario.base_year)
    changed = apply(scenario, load)
    if rules is None:
        touched = {layer for layer, _, _ in scenario.removed} | (
            {"roads"} if scenario.roads else set()
        )
        rules = [
            key
            for key, rule in RULES.items()
            if rule.is_distance
            and (key == scenario.rule or scenario.roads or touched & set(rule.facilities))
        ]
    villages = load("villages")
    as_is = road_graph(year, load)
    graphs = (as_is, road_graph(year, changed) if scenario.roads else as_is)  # roads unchanged
    parts = []
    for key in rules:
        rule = RULES[key]
        before = evaluate(rule, year, along_roads=True, load=load, graph=graphs[0])
        after = evaluate(rule, year, along_roads=True, load=changed, graph=graphs[1])
        parts.append(
            pd.DataFrame(
                {
                    "rule": key,
                    "code": villages["code"].to_numpy(),
                    "county_code": villages["county_code"].to_numpy(),
                    "township_code": villages["township_code"].to_numpy(),
                    "is_poor": villages["is_poor"].astype(bool).to_numpy(),
                    "poor_people": villages["poor_people"].fillna(0).to_numpy(),
                    "in_scope": rule.in_scope(villages).to_numpy(),
                    "before": before["covered"].to_numpy(),
                    "after": after["covered"].to_numpy(),
                    "before_roads": before["network_covered"].to_numpy(),
                    "after_roads": after["network_covered"].to_numpy(),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _counts(frame: pd.DataFrame, before: str, after: str) -> pd.DataFrame:
    """Per-village 0/1 (or poor people) columns of `_SUMMED` for one measurement.

    A village outside the rule's scope counts in none: covering it closes no gap.
    """
    scope = frame["in_scope"].astype(bool)
    was, now = frame[before].astype(bool), frame[after].astype(bool)
    new = now & ~was & scope
    return pd.DataFrame(
        {
            "newly_covered": new.astype(int),
            "newly_uncovered": (was & ~now & scope).astype(int),
            "still_uncovered": (~now & scope).astype(int),
            "poor_villages_newly_covered": (new & frame["is_poor"]).astype(int),
            "poor_people_newly_covered": frame["poor_people"].where(new, 0),
        }
    )


def summary(per_village: pd.DataFrame, by: str = "county_code") -> pd.DataFrame:
    """Sum `effect` per rule and `by` (``county_code``, ``township_code`` or ``bureau``).

    Columns `villages` (in the rule's scope) and each count twice: ``<count>`` straight
    line and ``<count>_roads`` along roads, in the rule's scope; a ``total`` row per rule.
    """
    frame = per_village.copy()
    if by == "bureau":
        frame["bureau"] = frame["rule"].map(lambda key: RULES[key].bureau.key)
    elif by not in ("county_code", "township_code"):
        raise ValueError(f"summarise by county_code, township_code or bureau, not {by!r}")
    counts = pd.concat(
        [
            frame[["rule", by]].assign(villages=frame["in_scope"].astype(int)),
            _counts(frame, "before", "after"),
            _counts(frame, "before_roads", "after_roads").add_suffix("_roads"),
        ],
        axis=1,
    )
    table = counts.groupby(["rule", by], sort=True).sum()
    totals = counts.drop(columns=by).groupby("rule").sum()
    totals.index = pd.MultiIndex.from_product([totals.index, ["total"]], names=["rule", by])
    return pd.concat([table, totals]).sort_index(level=0, sort_remaining=False)


def site_table(scenario: Scenario, load: Loader = layers.load) -> pd.DataFrame:
    """Return one row per added site: where it is and which villages it serves.

    Columns: `site`, `lon`, `lat` (CGCS2000, EPSG:4490), `gk_epsg`, `gk_cm` (the
    county's 3-degree Gauss-Kruger zone), `gk_x` (easting), `gk_y` (northing), `county_code`,
    `township_code`, `township`, `villages_served` (codes within the rule's distance,
    straight line, nearest first), `newly_covered` (those no existing site covered),
    `poor_people_newly_covered`. A site outside every township has empty township fields.
    """
    rule = RULES[scenario.rule]
    columns = [
        "site", "lon", "lat", "gk_epsg", "gk_cm", "gk_x", "gk_y", "county_code",
        "township_code", "township", "villages_served", "newly_covered",
        "poor_people_newly_covered",
    ]  # fmt: skip
    if not scenario.added:
        return pd.DataFrame(columns=columns)
    sites = gpd.GeoDataFrame(
        {"site": [f"planned {i + 1}" for i in range(len(scenario.added))]},
        geometry=shapely.points(np.asarray(scenario.added, dtype=float)),
        crs=4326,
    )
    towns = load("townships").to_crs(4326)[["code", "name_zh", "county_code", "geometry"]]
    placed = sites.sjoin(towns, how="left", predicate="within").groupby(level=0).first()
    counties = load("counties").to_crs(4326)
    bounds = counties.geometry.bounds
    centre = dict(zip(counties["code"], (bounds["minx"] + bounds["maxx"]) / 2, strict=True))
    villages = load("villages")
    before = evaluate(rule, int(scenario.base_year), load=load)["covered"].to_numpy()
    vxy = shapely.get_coordinates(villages.to_crs(4326).geometry.to_numpy())
    reach = pairs_within(vxy, np.asarray(scenario.added, dtype=float), float(rule.within_m or 0))
    rows = []
    for i, (lon, lat) in enumerate(scenario.added):
        county = placed["county_code"].iloc[i]
        gk = gauss_kruger_crs(centre.get(county, lon))
        x, y = pyproj.Transformer.from_crs(4490, gk, always_xy=True).transform(lon, lat)
        served = reach[:, i].nonzero()[0]
        order = served[np.argsort(nearest_ecef(vxy[served], np.array([[lon, lat]]))[0])]
        new = [j for j in order if not before[j]]
        rows.append(
            [
                placed["site"].iloc[i], lon, lat, gk.to_epsg(), _cm(gk), round(x, 2),
                round(y, 2), county, placed["code"].iloc[i], placed["name_zh"].iloc[i],
                " ".join(villages["code"].iloc[order]), " ".join(villages["code"].iloc[new]),
                float(villages["poor_people"].fillna(0).iloc[new].sum()),
            ]
        )  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def _cm(crs: pyproj.CRS) -> float:
    """Return the central meridian of a transverse Mercator CRS."""
    operation = crs.coordinate_operation
    if operation is None:  # pragma: no cover (every Gauss-Kruger zone has one)
        raise ValueError(f"{crs.name} is not a projected CRS")
    return next(float(p.value) for p in operation.params if p.name == "Longitude of natural origin")
