"""Planning the next sites of a rule: candidates, demand weights, and the optimiser's answer.

The plan's vocabulary around `geo.optimise`: a rule's existing facilities are kept (the
villages they already reach weigh nothing), candidates are points along the roads built
by the year (every `spacing_m` metres, junctions included), the township seats, the
village centres, or a file's points, and the demand is weighted by poor people (default),
people, poor villages or villages. Distances are straight lines on the ellipsoid, or along
the roads built by the year (the coverage engine's definition; `geo.network`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

import layers
from geo import network
from geo.coverage import coverage
from geo.crs import metric_crs
from geo.optimise import Solution, max_cover, pairs_within, set_cover
from geo.status import done_by
from layers.rules import CoverageRule, Loader, facilities_for, road_graph

__all__ = [
    "CANDIDATES",
    "WEIGHTS",
    "Ask",
    "candidates",
    "excluding",
    "plan_sites",
]

#: Demand weights: name -> weight of each village.
WEIGHTS: dict[str, Callable[[pd.DataFrame], pd.Series]] = {
    "poor_people": lambda v: v["poor_people"].fillna(0).astype(float),
    "people": lambda v: v["population"].fillna(0).astype(float),
    "poor_villages": lambda v: v["is_poor"].astype(float),
    "villages": lambda v: pd.Series(1.0, index=v.index),
}
CANDIDATES = ("roads", "townships", "villages")


def _along(lines: gpd.GeoDataFrame, spacing_m: float) -> gpd.GeoSeries:
    """Points every `spacing_m` metres along lines (ends included), in lon/lat."""
    metric = metric_crs(lines.total_bounds)
    geoms = lines.to_crs(metric).geometry.to_numpy()
    points = []
    for line in shapely.get_parts(geoms):
        steps = np.append(np.arange(0.0, line.length, spacing_m), line.length)
        points.append(shapely.line_interpolate_point(line, steps))
    flat = np.concatenate(points) if points else np.array([], dtype=object)
    unique = shapely.points(np.unique(shapely.get_coordinates(flat).round(1), axis=0))
    return gpd.GeoSeries(unique, crs=metric).to_crs(4326)


def candidates(
    kind: str, year: int, *, spacing_m: float = 500.0, load: Loader = layers.load
) -> gpd.GeoDataFrame:
    """Return candidate sites of `kind` (``roads``, ``townships`` or ``villages``), lon/lat.

    Raises
    ------
    ValueError
        If `kind` is unknown or `spacing_m` is not positive.
    """
    if kind == "roads":
        if not spacing_m > 0:
            raise ValueError("--spacing must be a distance in metres > 0")
        roads = load("roads")
        return gpd.GeoDataFrame(
            geometry=_along(roads[done_by(roads["year_built"], year)], spacing_m)
        )
    if kind == "townships":
        towns = load("townships")
        seats = gpd.points_from_xy(towns["seat_lon"], towns["seat_lat"], crs=4326)
        return gpd.GeoDataFrame({"township": towns["code"].to_numpy()}, geometry=seats)
    if kind == "villages":
        villages = load("villages")
        return gpd.GeoDataFrame(
            {"village": villages["code"].to_numpy()}, geometry=villages.geometry
        )
    msg = f"unknown candidates {kind!r}: use one of {', '.join(CANDIDATES)} or a file"
    raise ValueError(msg)


def excluding(sites: gpd.GeoDataFrame, areas: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return the candidate `sites` outside every polygon of `areas` (protected land, sand).

    Raises
    ------
    ValueError
        If `areas` has no coordinate reference system or holds no polygon.

    Examples
    --------
    >>> sites = gpd.GeoDataFrame(geometry=gpd.points_from_xy([96.0, 96.5], [40.0, 40.0]), crs=4326)
    >>> box = gpd.GeoDataFrame(geometry=[shapely.box(95.9, 39.9, 96.1, 40.1)], crs=4326)
    >>> excluding(sites, box).geometry.x.tolist()
    [96.5]
    """
    if areas.crs is None:
        raise ValueError("the exclusion areas have no coordinate reference system")
    polygons = areas[areas.geom_type.isin(["Polygon", "MultiPolygon"])]
    if polygons.empty:
        raise ValueError("the exclusion file holds no polygons")
    zone = shapely.union_all(polygons.to_crs(sites.crs).geometry.make_valid().to_numpy())
    return sites[~sites.intersects(zone)]


@dataclass(frozen=True)
class Ask:
    """What a planner asks for: how many sites, which problem, which weight, how measured."""

    n_sites: int
    objective: str = "max-cover"
    weight: str = "poor_people"
    along_roads: bool = False
    time_limit: float = 60.0


def plan_sites(
    rule: CoverageRule,
    year: int,
    candidate_sites: gpd.GeoDataFrame,
    ask: Ask,
    *,
    load: Loader = layers.load,
    graph: network.RoadGraph | None = None,
) -> tuple[gpd.GeoDataFrame, Solution]:
    """Choose new sites for `rule` as of `year` among `candidate_sites` (existing ones kept).

    Returns the chosen sites (lon, lat, `covers_weight`: the weight only they reach,
    `newly_covered_villages`: their codes) and the optimiser's `Solution`. Along roads,
    distances are measured on `graph` (default `road_graph(year, load)`).

    Raises
    ------
    ValueError
        If the rule measures no distance, the weight or objective is unknown, or there
        are no candidates.
    """
    if not rule.is_distance or rule.within_m is None:
        msg = f"rule {rule.key!r} is an attribute rule: there is no distance to plan sites for"
        raise ValueError(msg)
    if ask.weight not in WEIGHTS:
        raise ValueError(f"unknown weight {ask.weight!r}: use one of {', '.join(WEIGHTS)}")
    if len(candidate_sites) == 0:
        raise ValueError("there are no candidate sites")
    villages = load("villages")
    existing = facilities_for(rule, year, load)
    sites = shapely.get_coordinates(candidate_sites.to_crs(4326).geometry.to_numpy())
    if ask.along_roads:
        graph = graph or road_graph(year, load)
        reach = network.reach_along_roads(graph, villages, candidate_sites, rule.within_m)
        already = (
            (
                network.network_distance(graph, villages, existing)["network_distance_m"]
                <= rule.within_m
            ).to_numpy()
            if len(existing)
            else np.zeros(len(villages), dtype=bool)
        )
    else:
        demand = shapely.get_coordinates(villages.to_crs(4326).geometry.to_numpy())
        reach = pairs_within(demand, sites, rule.within_m)
        already = (
            coverage(villages, existing, within_m=rule.within_m)["covered"].to_numpy()
            if len(existing)
            else np.zeros(len(villages), dtype=bool)
        )
    # a village the rule's clause does not ask about (not a poor village, for broadband) is no
    # gap: it weighs nothing, and no site is needed for it
    outside = ~rule.in_scope(villages).to_numpy()
    weights = np.where(already | outside, 0.0, WEIGHTS[ask.weight](villages).to_numpy())
    if ask.objective == "max-cover":
        solution = max_cover(reach, weights, ask.n_sites, time_limit=ask.time_limit)
    elif ask.objective == "set-cover":
        solution = set_cover(reach, ~already & (weights > 0), time_limit=ask.time_limit)
    else:
        raise ValueError(f"unknown objective {ask.objective!r}: use max-cover or set-cover")
    return _table(reach, weights, villages, sites, solution), solution


def _table(
    reach: object,
    weights: np.ndarray,
    villages: pd.DataFrame,
    sites: np.ndarray,
    solution: Solution,
) -> gpd.GeoDataFrame:
    """One row per chosen site: where, the weight it reaches, the villages it newly covers."""
    rows: list[dict[str, object]] = []
    taken: set[int] = set()
    for site in solution.chosen:
        hit = reach[:, int(site)].nonzero()[0]  # type: ignore[index]
        new = [int(i) for i in hit if weights[i] > 0 and int(i) not in taken]
        taken.update(new)
        rows.append(
            {
                "site_id": len(rows) + 1,
                "lon": round(float(sites[site, 0]), 6),
                "lat": round(float(sites[site, 1]), 6),
                "covers_weight": float(weights[new].sum()) if new else 0.0,
                "newly_covered_villages": " ".join(villages["code"].iloc[new]),
            }
        )
    frame = pd.DataFrame(
        rows, columns=["site_id", "lon", "lat", "covers_weight", "newly_covered_villages"]
    )
    return gpd.GeoDataFrame(
        frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs=4326
    )
