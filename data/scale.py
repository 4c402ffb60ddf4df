"""Grow the demo to any number of villages, to measure the atlas at the size of a real city.

`grow` adds villages beside the demo's own (each a copy of a random village moved 0.5 to 5 km,
inside the same county), with a spur road joined to the nearest road (the road is split where
the spur meets it, so the network stays noded), a bus stop beside most of them and a fibre
access point where the copy has broadband. Everything is vectorised: 100k villages take
seconds. Synthetic like the rest of the demo: the copies' records are their originals'.
"""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.ops
from numpy.random import Generator

__all__ = ["MAX_PER_TOWNSHIP", "grow"]

#: Village codes are the township's 9 digits and a 3-digit serial from 200.
MAX_PER_TOWNSHIP = 800
_PAVED = 0.8  # share of new spurs hardened
_WITH_STOP = 0.6  # share of new villages with a bus stop by their road
_SHORTEST_M = 1e-3  # pieces of a split road shorter than this are dropped


def _places(
    rng: Generator, villages: gpd.GeoDataFrame, counties: gpd.GeoDataFrame, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return `n` parent indices and new points near them, inside the parent's county."""
    areas = counties.set_index("code").geometry
    parents: list[np.ndarray] = []
    points: list[np.ndarray] = []
    found = 0
    while found < n:
        pick = rng.integers(0, len(villages), 2 * (n - found) + 16)
        distance = rng.uniform(500.0, 5000.0, len(pick))
        angle = rng.uniform(0.0, 2 * np.pi, len(pick))
        xy = shapely.get_coordinates(villages.geometry.to_numpy()[pick])
        xy = xy + np.column_stack([np.cos(angle), np.sin(angle)]) * distance[:, None]
        where = areas.loc[villages["county_code"].to_numpy()[pick]].to_numpy()
        inside = shapely.contains_xy(where, xy[:, 0], xy[:, 1])
        parents.append(pick[inside])
        points.append(xy[inside])
        found += int(inside.sum())
    return np.concatenate(parents)[:n], np.concatenate(points)[:n]


def _codes(towns: np.ndarray, taken: pd.Series) -> list[str]:
    """Return new village codes: each township's serials continue after its last one."""
    last = taken.str[-3:].astype(int).groupby(taken.str[:-3]).max()
    order = pd.Series(towns).groupby(towns).cumcount().to_numpy()
    start = pd.Series(towns).map(last).fillna(199).astype(int).to_numpy()
    serial = start + 1 + order
    if (serial > 199 + MAX_PER_TOWNSHIP).any():
        msg = (
            f"too many villages for the demo's townships: a township holds at most "
            f"{MAX_PER_TOWNSHIP} village codes"
        )
        raise ValueError(msg)
    return [f"{t}{s:03d}" for t, s in zip(towns, serial, strict=True)]


def _spurs(
    rng: Generator, roads: gpd.GeoDataFrame, points: np.ndarray, names: list[str]
) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Split the roads where spurs from `points` meet them; return roads + spurs and the feet."""
    lines = roads.geometry.to_numpy()
    pts = shapely.points(points)
    _, nearest = shapely.STRtree(lines).query_nearest(pts, return_distance=False, all_matches=False)
    along = shapely.line_locate_point(lines[nearest], pts)
    feet = shapely.line_interpolate_point(lines[nearest], along)
    cuts = pd.DataFrame({"road": nearest, "at": along}).groupby("road")["at"].apply(list)
    kept = roads.drop(index=roads.index[cuts.index.to_numpy()])
    pieces = []
    for road, at in cuts.items():
        line = lines[int(road)]
        stops = sorted({0.0, line.length, *(round(a, 3) for a in at)})
        row = roads.iloc[int(road)]
        for a, b in itertools.pairwise(stops):
            if b - a > _SHORTEST_M:
                pieces.append(
                    {
                        **row.drop("geometry").to_dict(),
                        "geometry": shapely.ops.substring(line, a, b),
                    }
                )
    paved = rng.random(len(pts)) < _PAVED
    year = rng.integers(1995, 2016, len(pts))
    spurs = gpd.GeoDataFrame(
        {
            "name": [f"{n}通村路" for n in names],
            "road_class": "village",
            "surface": np.where(paved, rng.choice(["asphalt", "cement"], len(pts)), "gravel"),
            "all_season": True,
            "year_built": year,
            "year_hardened": np.where(paved, year, np.nan),
        },
        geometry=shapely.linestrings(
            np.stack([points, shapely.get_coordinates(feet)], axis=1).reshape(-1, 2),
            indices=np.repeat(np.arange(len(pts)), 2),
        ),
    )
    out = pd.concat([kept, gpd.GeoDataFrame(pieces, geometry="geometry"), spurs], ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry"), shapely.get_coordinates(feet)


def grow(
    metric_layers: dict[str, gpd.GeoDataFrame], n: int, rng: Generator
) -> dict[str, gpd.GeoDataFrame]:
    """Return the demo's layers (in metres) with villages added until there are `n`.

    Raises
    ------
    ValueError
        If `n` is below the demo's own count, or more than its townships can hold.
    """
    villages = metric_layers["villages"]
    extra = n - len(villages)
    if extra < 0:
        raise ValueError(f"--villages must be at least the demo's own {len(villages)}")
    if extra == 0:
        return metric_layers
    parents, xy = _places(rng, villages, metric_layers["counties"], extra)
    new = villages.iloc[parents].reset_index(drop=True)
    new = gpd.GeoDataFrame(new.drop(columns="geometry"), geometry=shapely.points(xy))
    towns = metric_layers["townships"]
    inside = new.sjoin(towns[["code", "name_zh", "geometry"]], how="left", predicate="within")
    inside = inside[~inside.index.duplicated()]
    new["township_code"] = inside["code_right"].fillna(new["township_code"]).to_numpy()
    new["township"] = inside["name_zh_right"].fillna(new["township"]).to_numpy()
    new["code"] = _codes(new["township_code"].to_numpy(), villages["code"])
    serial = new["code"].str[-3:]
    new["name_zh"] = new["name_zh"].str.rstrip("村") + serial + "村"
    new["pinyin"] = new["pinyin"].str.replace(" Cun", "", regex=False) + " " + serial + " Cun"
    roads, feet = _spurs(rng, metric_layers["roads"], xy, list(new["name_zh"]))
    stop = rng.random(extra) < _WITH_STOP
    stops = gpd.GeoDataFrame(
        {
            "name": (new["name_zh"] + "站")[stop].to_numpy(),
            "year_opened": rng.integers(2000, 2018, int(stop.sum())),
        },
        geometry=shapely.points(feet[stop] + rng.uniform(-150, 150, (int(stop.sum()), 2))),
    )
    fibre = new["broadband_year"].notna().to_numpy()
    access = gpd.GeoDataFrame(
        {
            "name": (new["name_zh"] + "光纤接入点")[fibre].to_numpy(),
            "village_code": new["code"][fibre].to_numpy(),
            "year_built": new["broadband_year"][fibre].to_numpy(),
        },
        geometry=shapely.points(xy[fibre] + np.array([150.0, 120.0])),
    )

    def more(key: str, rows: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        both = pd.concat([metric_layers[key], rows], ignore_index=True)
        return gpd.GeoDataFrame(both, geometry="geometry")

    return {
        **metric_layers,
        "villages": more("villages", new),
        "roads": roads,
        "bus_stops": more("bus_stops", stops),
        "fibre_access_points": more("fibre_access_points", access),
    }
