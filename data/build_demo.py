"""Build the synthetic demo data set inside the real counties of a city profile.

Everything here except the county boundaries and the relief is **synthetic**: a
plausible stand-in for the plan's village files and project layers, deterministic
for a given seed. It is labelled as such in every layer's metadata and must never be
presented as real records.

The profile (`layers.profile`) gives the counties, seats and boundaries. Its optional
demo hints (Jiuquan's: the real oasis corridor, trunk roads, village counts) place the
villages; a county without hints gets villages around its seat and the middle of its
polygon, in numbers that follow its area, and seats without trunk roads are joined by
the shortest tree of provincial roads.

Run with ``village-atlas build-demo [--profile DIR]`` (the run and test commands do it
for you).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import rasterio
import shapely
from numpy.random import Generator
from scipy.sparse.csgraph import minimum_spanning_tree
from shapely import LineString, Point, Polygon

import layers
import store
from data import demo_projects, scale
from geo import settings
from layers.profile import PROFILE, County, Profile, read_boundaries

__all__ = ["DATA_YEAR", "SEED", "build"]

SEED = 2015
DATA_YEAR = 2017
CELL_M = 250.0
_MU_PER_M2 = 1.0 / 666.6667

_Anchor = tuple[float, float, float, float]  # lon, lat, spread in km, share of the villages
_N_IMMIGRANT = 8
_DEFAULT_SCHEDULE = ((2015,), (1.0,))
_MAX_DRAWS = 200_000
_EXTRA_UNITS = ("市人民医院", "市供电公司")
#: Layers the demo takes from real data (the profile's boundaries); it generates the rest.
_REAL = frozenset({"prefecture", "counties"})


@dataclasses.dataclass(frozen=True)
class _Plan:
    """What the demo puts in one county: sizes, village anchors, resettlement, exit schedule."""

    villages: int
    townships: int
    poor_share: float
    oases: list[_Anchor]
    immigrant_area: tuple[float, float, float] | None
    schedule: tuple[tuple[int, ...], tuple[float, ...]]


def _plan(county: County, area: Polygon, to_m: pyproj.Transformer) -> _Plan:
    """Return the county's demo plan: the profile's hints, the rest derived from `area` (metres).

    Without hints: one village per 40 km2 (12 to 150), a township per 8 villages (2 to 15),
    a fifth of them poor, clustered around the seat and a point inside the county.
    """
    hints = county.demo
    km2 = area.area / 1e6
    villages = hints.villages or int(np.clip(round(km2 / 40), 12, 150))
    oases: list[_Anchor] = [(o.lon, o.lat, o.spread_km, o.share) for o in hints.oases]
    if not oases:
        spread = float(np.clip(np.sqrt(km2) / 6, 3, 12))
        inner = area.point_on_surface()
        lon, lat = to_m.transform(inner.x, inner.y, direction="INVERSE")
        oases = [(*county.seat, spread, 0.6), (float(lon), float(lat), spread, 0.4)]
    years = tuple(y for y, _ in hints.exit_schedule)
    shares = tuple(v for _, v in hints.exit_schedule)
    return _Plan(
        villages=villages,
        townships=hints.townships or int(np.clip(villages // 8, 2, 15)),
        poor_share=0.2 if hints.poor_share is None else hints.poor_share,
        oases=oases,
        immigrant_area=hints.immigrant_area,
        schedule=(years, shares) if years else _DEFAULT_SCHEDULE,
    )


_SYLLABLES = [
    ("东", "dong"),
    ("西", "xi"),
    ("南", "nan"),
    ("北", "bei"),
    ("红", "hong"),
    ("泉", "quan"),
    ("沙", "sha"),
    ("河", "he"),
    ("湖", "hu"),
    ("新", "xin"),
    ("安", "an"),
    ("丰", "feng"),
    ("柳", "liu"),
    ("园", "yuan"),
    ("清", "qing"),
    ("水", "shui"),
    ("三", "san"),
    ("上", "shang"),
    ("下", "xia"),
    ("黄", "huang"),
    ("花", "hua"),
    ("金", "jin"),
    ("银", "yin"),
    ("高", "gao"),
    ("平", "ping"),
    ("阳", "yang"),
    ("光", "guang"),
    ("明", "ming"),
    ("兴", "xing"),
    ("隆", "long"),
    ("双", "shuang"),
    ("桥", "qiao"),
    ("屯", "tun"),
    ("庄", "zhuang"),
    ("营", "ying"),
    ("堡", "bao"),
    ("墩", "dun"),
    ("渠", "qu"),
    ("坝", "ba"),
    ("塔", "ta"),
    ("胜", "sheng"),
    ("利", "li"),
    ("和", "he"),
    ("福", "fu"),
    ("宁", "ning"),
    ("康", "kang"),
    ("绿", "lü"),
    ("洲", "zhou"),
    ("青", "qing"),
    ("松", "song"),
]
_SURNAMES = ["王", "李", "张", "刘", "陈", "杨", "赵", "马", "周", "吴", "徐", "孙", "胡", "朱"]
_GIVEN = ["建", "国", "华", "军", "明", "丽", "强", "红", "文", "军", "燕", "平", "伟", "芳"]
_INDUSTRIES = [
    "设施蔬菜",
    "酿酒葡萄",
    "枸杞",
    "棉花",
    "高效制种",
    "肉羊养殖",
    "中药材",
    "戈壁日光温室",
]


@dataclasses.dataclass
class _Roads:
    """Roads under construction: polylines with attributes, noded where they join."""

    lines: list[LineString] = dataclasses.field(default_factory=list)
    attrs: list[dict[str, object]] = dataclasses.field(default_factory=list)

    def add(self, line: LineString, **attrs: object) -> int:
        self.lines.append(line)
        self.attrs.append(attrs)
        return len(self.lines) - 1

    def connect(self, point: Point, candidates: Sequence[int] | None = None) -> Point:
        """Return the nearest point on the roads (`candidates`, default all) to `point`."""
        idx = range(len(self.lines)) if candidates is None else candidates
        best = min(idx, key=lambda i: self.lines[i].distance(point))
        line = self.lines[best]
        return line.interpolate(line.project(point))


def _names(
    rng: Generator, n: int, suffix: tuple[str, str], used: set[str]
) -> Iterator[tuple[str, str]]:
    """Yield `n` unique (Chinese, pinyin) names of two syllables plus a suffix."""
    made = 0
    while made < n:
        a, b = rng.choice(len(_SYLLABLES), 2, replace=False)
        zh = _SYLLABLES[a][0] + _SYLLABLES[b][0] + suffix[0]
        if zh in used:
            continue
        used.add(zh)
        made += 1
        py = (_SYLLABLES[a][1] + _SYLLABLES[b][1]).capitalize()
        yield zh, f"{py} {suffix[1]}"


def _scatter(
    rng: Generator,
    n: int,
    anchors: Sequence[tuple[float, float, float, float]],
    area: Polygon,
    to_m: pyproj.Transformer,
    min_gap_m: float,
    taken: list[Point],
) -> list[Point]:
    """Draw `n` points around weighted anchors, inside `area`, `min_gap_m` apart."""
    weights = np.array([a[3] for a in anchors])
    out: list[Point] = []
    for _ in range(_MAX_DRAWS):
        if len(out) == n:
            return out
        lon, lat, spread_km, _ = anchors[rng.choice(len(anchors), p=weights / weights.sum())]
        x0, y0 = to_m.transform(lon, lat)
        p = Point(x0 + rng.normal(0, spread_km * 1000), y0 + rng.normal(0, spread_km * 1000))
        if area.contains(p) and all(p.distance(q) >= min_gap_m for q in taken):
            out.append(p)
            taken.append(p)
    if len(out) == n:
        return out
    msg = (
        f"placed only {len(out)} of {n} demo points inside the county near its anchors "
        f"{[a[:2] for a in anchors]}: give the county smaller `villages`/`townships` or "
        "`oases` inside it in the profile's [counties.demo]"
    )
    raise ValueError(msg)


def _year(rng: Generator, share_2014: float, share_2017: float, *, old: int = 2005) -> int | None:
    """Year a service arrived: by 2014 with `share_2014`, by 2017 with `share_2017`, else later."""
    u = rng.random()
    if u < share_2014:
        return int(rng.integers(old, 2015))
    if u < share_2017:
        return int(rng.integers(2015, 2018))
    return int(rng.integers(2018, 2020)) if rng.random() < 0.5 else None


_IMMIGRANT_SCHEDULE = ((2015, 2016, 2017), (0.4, 0.4, 0.2))


def _planned_exits(rng: Generator, plan: _Plan, immigrant: bool, n: int) -> np.ndarray:
    """Planned exit years of `n` poor villages: the plan's shares, exactly, in random order."""
    years, shares = _IMMIGRANT_SCHEDULE if immigrant else plan.schedule
    counts = np.floor(np.asarray(shares) * n + 0.5).astype(int)
    counts[-1] = n - counts[:-1].sum()
    planned = np.repeat(years, counts)
    rng.shuffle(planned)
    return planned


def _actual_exit(rng: Generator, planned: int) -> int | None:
    """Actual exit year: mostly as planned, some a year late, a few not yet by the data year."""
    u = rng.random()
    actual = planned if u < 0.85 else (planned + 1 if u < 0.95 else None)
    return actual if actual is not None and actual <= DATA_YEAR else None


def _renovations(rng: Generator, dangerous: int) -> np.ndarray:
    """Split a village's dangerous houses over the renovation years 2015-2018.

    Most villages finish by 2017 as planned; some in 2018; a few leave houses undone.
    """
    last = int(rng.choice([2015, 2016, 2017, 2018, 0], p=[0.25, 0.35, 0.27, 0.07, 0.06]))
    years = 4 if last == 0 else last - 2014
    done = dangerous - int(rng.integers(1, 4)) if last == 0 else dangerous
    split = np.zeros(4, dtype=int)
    split[:years] = rng.multinomial(max(done, 0), np.full(years, 1.0 / years))
    return split


def _village_record(
    rng: Generator, is_poor: bool, immigrant: bool, planned: int | None, units: Sequence[str]
) -> dict[str, object]:
    """Attributes of one village file except geometry, names, codes and road-derived years."""
    households = int(rng.integers(120, 620))
    population = int(households * rng.uniform(2.9, 3.6))
    poor_share = rng.uniform(0.18, 0.4) if is_poor else rng.uniform(0.0, 0.08)
    poor_households = int(households * poor_share)
    actual = _actual_exit(rng, planned) if planned is not None else None
    early = 0.35 if is_poor else 0.85
    dangerous = int(rng.integers(5, 40)) if is_poor else int(rng.integers(0, 8))
    split = _renovations(rng, dangerous)
    coops = int(rng.integers(1, 4)) if rng.random() < (0.85 if is_poor else 0.6) else 0
    industry = str(rng.choice(_INDUSTRIES))
    return {
        "households": households,
        "population": population,
        "poor_households": poor_households,
        "poor_people": int(poor_households * population / households),
        "is_poor": is_poor,
        "is_immigrant": immigrant,
        "planned_exit_year": planned,
        "exit_year": actual,
        "tap_water_year": _year(rng, early, 0.94),
        "power_year": _year(rng, 0.9 if is_poor else 0.97, 0.99, old=1995),
        "broadband_year": _year(rng, early - 0.15, 0.9, old=2010),
        "dangerous_houses": dangerous,
        "renovated_2015": int(split[0]),
        "renovated_2016": int(split[1]),
        "renovated_2017": int(split[2]),
        "renovated_2018": int(split[3]),
        "cooperatives": coops,
        "cooperative_year": int(rng.integers(2012, 2018)) if coops else None,
        "main_industry": industry,
        "assisting_unit": str(rng.choice(units)),
        "cadre": str(rng.choice(_SURNAMES)) + "".join(rng.choice(_GIVEN, 2)),
    }


def _townships(
    rng: Generator,
    county: County,
    plan: _Plan,
    area: Polygon,
    to_m: pyproj.Transformer,
    used: set[str],
) -> gpd.GeoDataFrame:
    """Township seats (the first is the county seat) and their Voronoi cells in the county."""
    n_towns = plan.townships
    seat = Point(*to_m.transform(*county.seat))
    taken = [seat]
    seats = [seat, *_scatter(rng, n_towns - 1, plan.oases, area, to_m, 6000, taken)]
    cells = shapely.voronoi_polygons(shapely.MultiPoint(seats), extend_to=area.buffer(50_000))
    # long Voronoi edges are straight in metres, not in degrees: densify them before reprojecting
    polys = [
        shapely.segmentize(next(c for c in cells.geoms if c.contains(s)).intersection(area), 200)
        for s in seats
    ]
    names = list(_names(rng, n_towns, ("镇", "Zhen"), used))
    return gpd.GeoDataFrame(
        {
            "code": [f"{county.code}{100 + i:03d}" for i in range(n_towns)],
            "name_zh": [n[0] for n in names],
            "pinyin": [n[1] for n in names],
            "county_code": county.code,
            "seat": seats,
        },
        geometry=polys,
    )


def _township_of(point: Point, towns: gpd.GeoDataFrame) -> int:
    """Index of the township polygon holding `point` (nearest seat if on a border)."""
    inside = np.flatnonzero(shapely.contains(towns.geometry.to_numpy(), point))
    if len(inside):
        return int(inside[0])
    return int(np.argmin([point.distance(s) for s in towns["seat"]]))


def _villages(
    rng: Generator,
    county: County,
    plan: _Plan,
    area: Polygon,
    towns: gpd.GeoDataFrame,
    to_m: pyproj.Transformer,
    used: set[str],
    units: Sequence[str],
) -> gpd.GeoDataFrame:
    """Make the county's villages: points, names, 12-digit codes and village-file attributes."""
    n, poor_share = plan.villages, plan.poor_share
    taken = list(towns["seat"])
    n_imm = _N_IMMIGRANT if plan.immigrant_area is not None else 0
    points = _scatter(rng, n - n_imm, plan.oases, area, to_m, 1200, taken)
    if plan.immigrant_area is not None:
        lon, lat, spread = plan.immigrant_area
        points += _scatter(rng, n_imm, [(lon, lat, spread, 1.0)], area, to_m, 1500, taken)
    immigrant = np.arange(n) >= n - n_imm
    poor = immigrant | (rng.random(n) < poor_share)
    town_idx = [_township_of(p, towns) for p in points]
    names = list(_names(rng, n, ("村", "Cun"), used))
    planned = np.zeros(n, dtype=int)
    for group, is_immigrant in ((poor & ~immigrant, False), (immigrant, True)):
        planned[group] = _planned_exits(rng, plan, is_immigrant, int(group.sum()))
    rows = [
        _village_record(rng, bool(poor[i]), bool(immigrant[i]), int(planned[i]) or None, units)
        for i in range(n)
    ]
    gdf = gpd.GeoDataFrame(rows, geometry=points)
    gdf.insert(0, "name_zh", [nm[0] for nm in names])
    gdf.insert(1, "pinyin", [nm[1] for nm in names])
    gdf.insert(2, "county_code", county.code)
    gdf.insert(3, "county", county.name_zh)
    gdf.insert(4, "township_code", [towns["code"].iloc[t] for t in town_idx])
    gdf.insert(5, "township", [towns["name_zh"].iloc[t] for t in town_idx])
    serial = gdf.groupby("township_code").cumcount()
    gdf.insert(0, "code", gdf["township_code"] + (200 + serial).map("{:03d}".format))
    return gdf


def _trunk_roads(roads: _Roads, profile: Profile, to_m: pyproj.Transformer) -> None:
    """Add the profile's trunk roads through their waypoints, else a tree joining the seats."""
    routes = [(r.name, r.road_class, r.waypoints, r.year) for r in profile.demo_roads]
    for name, klass, waypoints, year in routes or _seat_tree(profile, to_m):
        line = LineString([to_m.transform(lon, lat) for lon, lat in waypoints])
        roads.add(
            line,
            name=name,
            road_class=klass,
            surface="asphalt",
            all_season=True,
            year_built=year,
            year_hardened=year,
        )


def _seat_tree(
    profile: Profile, to_m: pyproj.Transformer
) -> list[tuple[str, str, tuple[tuple[float, float], ...], int]]:
    """Provincial roads along the shortest tree joining the county seats (one road if one seat).

    A single county gets a 10 km road through its seat, so villages have a trunk to reach.
    """
    seats = [c.seat for c in profile.counties]
    xy = np.array([to_m.transform(*seat) for seat in seats])
    if len(seats) == 1:
        ends = [to_m.transform(x, xy[0, 1], direction="INVERSE") for x in xy[0, 0] + [-5e3, 5e3]]
        return [(f"{profile.counties[0].name_zh}公路", "provincial", tuple(ends), 2005)]
    distances = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    tree = minimum_spanning_tree(distances).tocoo()
    return [
        (
            f"{profile.counties[a].name_zh}—{profile.counties[b].name_zh}公路",
            "provincial",
            (seats[a], seats[b]),
            2005,
        )
        for a, b in sorted(zip(tree.row.tolist(), tree.col.tolist(), strict=True))
    ]


def _local_roads(
    rng: Generator, roads: _Roads, towns: gpd.GeoDataFrame, villages: gpd.GeoDataFrame
) -> pd.Series:
    """County roads to township seats, then a spur to every village; return each spur's year."""
    trunk = list(range(len(roads.lines)))
    for seat, name in zip(towns["seat"], towns["name_zh"], strict=True):
        end = roads.connect(seat, trunk)
        if end.distance(seat) > 1.0:
            year = int(rng.integers(1998, 2014))
            roads.add(
                LineString([seat, end]),
                name=f"{name}公路",
                road_class="county",
                surface="asphalt",
                all_season=True,
                year_built=year,
                year_hardened=year,
            )
    order = villages.geometry.distance(villages.geometry.union_all().centroid).sort_values().index
    first_local = len(roads.lines)
    hardened: dict[object, int | None] = {}
    for i in order:
        village = villages.geometry[i]
        end = roads.connect(village)
        local_end = (
            roads.connect(village, range(first_local, len(roads.lines)))
            if len(roads.lines) > first_local
            else end
        )
        if local_end.distance(village) < 0.6 * end.distance(village):
            end = local_end
        length = village.distance(end)
        is_poor = bool(villages.loc[i, "is_poor"])
        paved = _year(rng, 0.45 if is_poor else 0.8, 0.93, old=2003)
        surface = (
            str(rng.choice(["asphalt", "cement"]))
            if paved
            else str(rng.choice(["gravel", "earth"], p=[0.6, 0.4]))
        )
        hardened[i] = paved
        roads.add(
            LineString([village, end]),
            name=f"{villages.loc[i, 'name_zh']}通村路",
            road_class="village" if length < 3000 else "township",
            surface=surface,
            all_season=surface != "earth",
            year_built=int(rng.integers(1990, 2010)),
            year_hardened=paved,
        )
    return pd.Series(hardened).reindex(villages.index)


def _noded(roads: _Roads) -> gpd.GeoDataFrame:
    """Split every road where another road ends on it, so joins are shared vertices."""
    ends = shapely.MultiPoint([pt for ln in roads.lines for pt in (ln.coords[0], ln.coords[-1])])
    rows = []
    for line, attrs in zip(roads.lines, roads.attrs, strict=True):
        cuts = [p for p in ends.geoms if line.distance(p) < 1e-6]
        dists = sorted({round(line.project(p), 6) for p in cuts} | {0.0, round(line.length, 6)})
        for a, b in itertools.pairwise(dists):
            if b - a > 1e-3:
                rows.append({**attrs, "geometry": shapely.ops.substring(line, a, b)})
    return gpd.GeoDataFrame(rows, geometry="geometry")


def _stops_near(
    rng: Generator, villages: gpd.GeoDataFrame, roads: gpd.GeoDataFrame, towns: gpd.GeoDataFrame
) -> gpd.GeoDataFrame:
    """Bus stops at township seats and on the road near most villages."""
    rows = [
        {"name": f"{n}站", "year_opened": int(rng.integers(2000, 2014)), "geometry": s}
        for n, s in zip(towns["name_zh"], towns["seat"], strict=True)
    ]
    road_union = roads.geometry.union_all()
    for _, v in villages.iterrows():
        year = _year(rng, 0.4 if v["is_poor"] else 0.7, 0.9, old=2008)
        if year is None or rng.random() < 0.25:
            continue
        p = road_union.interpolate(road_union.project(v.geometry))
        shift = rng.uniform(0, 600)
        rows.append(
            {
                "name": f"{v['name_zh']}站",
                "year_opened": year,
                "geometry": Point(p.x + shift, p.y + rng.uniform(-200, 200)),
            }
        )
    return gpd.GeoDataFrame(rows, geometry="geometry")


def _first_within(
    points: gpd.GeoSeries, sites: gpd.GeoDataFrame, year_col: str, radius: float
) -> pd.Series:
    """Earliest `year_col` among `sites` within `radius` metres of each point (NaN if none)."""
    joined = gpd.sjoin(
        gpd.GeoDataFrame(geometry=points.buffer(radius)), sites, predicate="intersects"
    )
    return joined.groupby(level=0)[year_col].min().reindex(points.index)


def _register(rng: Generator, computed: pd.Series, error_rate: float = 0.04) -> pd.Series:
    """Return the village file's own year for a service: the map's, with deliberate errors.

    A share `error_rate` of villages contradicts the map (claims a service it lacks, or
    lacks one it has), so that the "register vs map" check has something to find.
    """
    out = computed.astype("Float64").copy()
    flip = rng.random(len(out)) < error_rate
    claims = flip & computed.isna().to_numpy()
    out[claims] = rng.integers(2015, 2018, int(claims.sum()))
    out[flip & computed.notna().to_numpy()] = pd.NA
    return out.round().astype("Int64")


def _services(
    rng: Generator, villages: gpd.GeoDataFrame, towns: gpd.GeoDataFrame
) -> dict[str, gpd.GeoDataFrame]:
    """Point facilities: water works, express outlets, schools, fibre access points."""
    seats = list(zip(towns["name_zh"], towns["seat"], strict=True))
    works = [
        {
            "name": f"{n}水厂",
            "capacity_m3_day": float(rng.integers(500, 5000)),
            "year_built": int(rng.integers(1995, 2016)),
            "geometry": s,
        }
        for n, s in seats
    ]
    outlets = [
        {
            "name": f"{n}快递点",
            "operator": str(rng.choice(["中国邮政", "顺丰", "圆通"])),
            "year_opened": int(rng.integers(2012, 2017)),
            "geometry": s,
        }
        for n, s in seats
    ]
    schools = [
        {
            "name": f"{n}中心小学",
            "level": "primary",
            "pupils": int(rng.integers(200, 900)),
            "year_opened": int(rng.integers(1960, 2000)),
            "geometry": s,
        }
        for n, s in seats
    ]
    access = []
    for _, v in villages.iterrows():
        offset = Point(v.geometry.x + 150, v.geometry.y + 120)
        if v["is_poor"] and rng.random() < 0.35:
            outlets.append(
                {
                    "name": f"{v['name_zh']}村邮站",
                    "operator": "中国邮政",
                    "year_opened": int(rng.integers(2015, 2019)),
                    "geometry": offset,
                }
            )
        if rng.random() < 0.25:
            schools.append(
                {
                    "name": f"{v['name_zh']}小学",
                    "level": "primary",
                    "pupils": int(rng.integers(30, 300)),
                    "year_opened": int(rng.integers(1990, 2018)),
                    "geometry": v.geometry,
                }
            )
        if pd.notna(v["broadband_year"]):
            access.append(
                {
                    "name": f"{v['name_zh']}光纤接入点",
                    "village_code": v["code"],
                    "year_built": int(v["broadband_year"]),
                    "geometry": offset,
                }
            )
    return {
        "water_works": gpd.GeoDataFrame(works, geometry="geometry"),
        "express_outlets": gpd.GeoDataFrame(outlets, geometry="geometry"),
        "schools": gpd.GeoDataFrame(schools, geometry="geometry"),
        "fibre_access_points": gpd.GeoDataFrame(access, geometry="geometry"),
    }


def _star_lines(
    villages: gpd.GeoDataFrame, towns: gpd.GeoDataFrame, year_col: str, **attrs: object
) -> gpd.GeoDataFrame:
    """Lines from each township seat to its villages that have `year_col` (fibre, power)."""
    seat_of = dict(zip(towns["code"], towns["seat"], strict=True))
    has = villages[villages[year_col].notna()]
    return gpd.GeoDataFrame(
        {
            **{k: [v] * len(has) for k, v in attrs.items()},
            "year_built": has[year_col].to_numpy(),
            "geometry": [
                LineString([seat_of[t], p])
                for t, p in zip(has["township_code"], has.geometry, strict=True)
            ],
        },
        geometry="geometry",
    )


def _channels(
    rng: Generator,
    villages: gpd.GeoDataFrame,
    plans: dict[str, _Plan],
    to_m: pyproj.Transformer,
) -> gpd.GeoDataFrame:
    """Trunk channels through each oasis from the mountains; branches to poor villages."""
    rows: list[dict[str, object]] = []
    for code, plan in plans.items():
        for lon, lat, spread, _ in plan.oases:
            x, y = to_m.transform(lon, lat)
            s = spread * 1000
            trunk = LineString(
                [
                    (x - 0.3 * s, y - 4 * s),
                    (x + 0.2 * s, y - s),
                    (x - 0.1 * s, y + s),
                    (x + 0.3 * s, y + 3 * s),
                ]
            )
            rebuilt = plan.immigrant_area is not None or rng.random() < 0.1
            rows.append(
                {
                    "name": f"{code}-{len(rows):03d} 干渠",
                    "level": "trunk",
                    "works": "rebuilt" if rebuilt else "new",
                    "year_built": int(rng.integers(2015, 2018))
                    if rebuilt
                    else int(rng.integers(1975, 2010)),
                    "geometry": trunk,
                }
            )
            near = villages[
                (villages["county_code"] == code)
                & villages["is_poor"]
                & (villages.distance(trunk) < 3 * s)
            ]
            for _, v in near.iterrows():
                end = trunk.interpolate(trunk.project(v.geometry))
                rows.append(
                    {
                        "name": f"{v['name_zh']}支渠",
                        "level": "branch",
                        "works": str(rng.choice(["new", "rebuilt"])),
                        "year_built": int(rng.integers(2014, 2019)),
                        "geometry": LineString([end, v.geometry]),
                    }
                )
    gdf = gpd.GeoDataFrame(rows, geometry="geometry")
    gdf["length_km"] = (gdf.length / 1000).round(3)
    return gdf


def _patches(
    rng: Generator,
    villages: gpd.GeoDataFrame,
    kinds: Sequence[str],
    share: float,
    sizes_m: tuple[float, float],
) -> gpd.GeoDataFrame:
    """Rectangular project patches beside a share of the poor villages."""
    rows = []
    for _, v in villages[villages["is_poor"]].iterrows():
        if rng.random() > share:
            continue
        w, h = rng.uniform(*sizes_m, 2)
        dx, dy = rng.uniform(400, 1500, 2) * rng.choice([-1, 1], 2)
        cx, cy = v.geometry.x + dx, v.geometry.y + dy
        rows.append(
            {
                "kind": str(rng.choice(kinds)),
                "year_built": int(rng.integers(2015, 2018)),
                "county_code": v["county_code"],
                "geometry": shapely.box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2),
            }
        )
    gdf = gpd.GeoDataFrame(rows, geometry="geometry")
    gdf["area_mu"] = (gdf.area * _MU_PER_M2).round(1)
    return gdf


def population_grid(
    villages: gpd.GeoDataFrame, bounds: Sequence[float], cell: float = CELL_M, sigma: float = 350.0
) -> tuple[np.ndarray, rasterio.Affine]:
    """Spread each village's population over a Gaussian of `sigma` metres on a `cell` grid.

    `villages` and `bounds` are in one metric CRS. Each village's cells sum to its
    population exactly, so the raster total equals the villages' total.
    """
    minx, miny, maxx, maxy = bounds
    width, height = int(np.ceil((maxx - minx) / cell)), int(np.ceil((maxy - miny) / cell))
    grid = np.zeros((height, width), dtype="float64")
    r = int(np.ceil(3 * sigma / cell))
    offsets = np.arange(-r, r + 1)
    for point, pop in zip(villages.geometry, villages["population"], strict=True):
        col, row = int((point.x - minx) // cell), int((maxy - point.y) // cell)
        cols, rows = col + offsets, row + offsets
        cx = minx + (cols + 0.5) * cell - point.x
        cy = maxy - (rows + 0.5) * cell - point.y
        w = np.exp(-(cy[:, None] ** 2 + cx[None, :] ** 2) / (2 * sigma**2))
        ok = (rows[:, None] >= 0) & (rows[:, None] < height) & (cols >= 0) & (cols < width)
        w = np.where(ok, w, 0.0)
        rr, cc = np.broadcast_arrays(rows[:, None], cols[None, :])
        np.add.at(grid, (rr[ok], cc[ok]), (w * pop / w.sum())[ok])
    return grid.astype("float32"), rasterio.Affine(cell, 0.0, minx, 0.0, -cell, maxy)


def _write_population(
    path: Path, grid: np.ndarray, transform: rasterio.Affine, crs_: pyproj.CRS, seed: int
) -> None:
    """Write the population grid, tagged as synthetic demo data (the raster's own record)."""
    profile = {
        "driver": "GTiff",
        "width": grid.shape[1],
        "height": grid.shape[0],
        "count": 1,
        "dtype": "float32",
        "crs": crs_.to_wkt(),
        "transform": transform,
        "nodata": None,
        "compress": "deflate",
        "predictor": 3,
        "tiled": True,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(grid, 1)
        dst.update_tags(
            units="people per cell",
            source=_source("population", seed),
            synthetic="yes",
        )


def _source(key: str, seed: int) -> str:
    """Return what the store records as the source of a demo layer: the catalogue's words."""
    text = layers.get_layer(key).source
    return text if key in _REAL else f"{text} (seed {seed})"


def _to_storage(
    gdfs: dict[str, gpd.GeoDataFrame], metric: pyproj.CRS
) -> dict[str, gpd.GeoDataFrame]:
    out = {}
    for key, gdf in gdfs.items():
        g = gdf.set_crs(metric, allow_override=True).to_crs(settings.storage_crs)
        g.geometry = shapely.set_precision(g.geometry.to_numpy(), 1e-7)
        out[key] = layers.validate(key, g.reset_index(drop=True))
    return out


def _with_seats(towns: gpd.GeoDataFrame, to_m: pyproj.Transformer) -> gpd.GeoDataFrame:
    """Townships with their seats as lon/lat columns (the geometry is the township's area)."""
    seats = shapely.get_coordinates(towns["seat"].to_numpy())
    lon, lat = to_m.transform(seats[:, 0], seats[:, 1], direction="INVERSE")
    return towns.drop(columns="seat").assign(seat_lon=np.round(lon, 6), seat_lat=np.round(lat, 6))


def _units(profile: Profile) -> list[str]:
    """Assisting units of the village files: the demo's bureaus, then the profile's others."""
    extra = profile.demo_units or _EXTRA_UNITS
    keys = profile.demo_bureaus or tuple(profile.bureaus)
    return [profile.bureaus[k].name_zh for k in keys] + list(extra)


def build(
    out_dir: Path | None = None,
    *,
    seed: int = SEED,
    profile: Profile | None = None,
    grow_to: int | None = None,
) -> dict[str, Path]:
    """Build the demo store and population raster into `out_dir`; return their paths.

    `profile` (default: the one the atlas serves) gives the counties and their boundaries;
    `grow_to` grows the demo to that many villages (`data.scale`), to measure at scale.
    """
    profile = profile or PROFILE
    out_dir = Path(out_dir or settings.data_dir)
    rng = np.random.default_rng(seed)
    counties = read_boundaries(profile)
    metric = profile.working_crs(tuple(counties.total_bounds))
    to_m = pyproj.Transformer.from_crs(settings.storage_crs, metric, always_xy=True)
    counties_m = counties.to_crs(metric)
    roads = _Roads()
    _trunk_roads(roads, profile, to_m)
    used: set[str] = set()
    units = _units(profile)
    towns, villages, plans = [], [], {}
    for county in profile.counties:
        area = counties_m.loc[counties_m["code"] == county.code].geometry.iloc[0]
        plan = plans[county.code] = _plan(county, area, to_m)
        t = _townships(rng, county, plan, area, to_m, used)
        v = _villages(rng, county, plan, area, t, to_m, used, units)
        v["hardened_road_year"] = _local_roads(rng, roads, t, v)
        towns.append(t)
        villages.append(v)
    town_gdf = gpd.GeoDataFrame(pd.concat(towns, ignore_index=True), geometry="geometry")
    vil = gpd.GeoDataFrame(pd.concat(villages, ignore_index=True), geometry="geometry")
    road_gdf = _noded(roads)
    stops = _stops_near(rng, vil, road_gdf, town_gdf)
    services = _services(rng, vil, town_gdf)
    vil["bus_year"] = _register(rng, _first_within(vil.geometry, stops, "year_opened", 2000))
    vil["express_year"] = _register(
        rng, _first_within(vil.geometry, services["express_outlets"], "year_opened", 5000)
    )
    vil["hardened_road_year"] = _register(rng, vil["hardened_road_year"], 0.03)
    vil["problems"] = vil.apply(_problems, axis=1)
    vil["demands"] = vil.apply(_demands, axis=1)
    prefecture = gpd.GeoDataFrame(
        {
            "code": [profile.city.code],
            "name_zh": [profile.city.name_zh],
            "name_en": [profile.city.name_en],
        },
        geometry=[counties_m.union_all()],
    )
    metric_layers = {
        "prefecture": prefecture,
        "counties": counties_m,
        "townships": _with_seats(town_gdf, to_m),
        "villages": vil,
        "roads": road_gdf,
        "bus_stops": stops,
        "water_channels": _channels(rng, vil, plans, to_m),
        "fibre_lines": _star_lines(vil, town_gdf, "broadband_year", name="农村宽带光缆"),
        "power_lines": _star_lines(vil, town_gdf, "power_year", name="10千伏线路", voltage_kv=10.0),
        "forest_network": _patches(
            rng,
            vil,
            ["farmland_forest_network", "green_passage", "sand_prevention"],
            0.6,
            (600, 2000),
        ),
        "land_improvement": _patches(rng, vil, ["saline_alkali", "hardened"], 0.4, (800, 2500)),
        **services,
    }
    if grow_to is not None:
        metric_layers = scale.grow(metric_layers, grow_to, rng)
        vil = metric_layers["villages"]
    path = out_dir / "demo.gpkg"
    stored = _to_storage(metric_layers, metric)
    # its own generator, drawn last: the other layers stay as they were without it
    stored["projects"] = layers.validate("projects", demo_projects.projects(stored, seed))
    store.write_store(
        path,
        stored,
        who="build-demo",
        source={key: _source(key, seed) for key in stored},
        synthetic=set(stored) - _REAL,
    )
    grid, transform = population_grid(vil, counties_m.total_bounds)
    pop_path = out_dir / "population.tif"
    _write_population(pop_path, grid, transform, metric, seed)
    return {"store": path, "population": pop_path}


def _problems(v: pd.Series) -> str:
    """Write the village's problem account, from what it lacked in 2014."""
    lacks = {
        "饮水不安全": v["tap_water_year"],
        "道路未硬化": v["hardened_road_year"],
        "未通客车": v["bus_year"],
        "未通宽带": v["broadband_year"],
    }
    items = [k for k, year in lacks.items() if pd.isna(year) or year > 2014]
    if v["dangerous_houses"]:
        items.append(f"危房{v['dangerous_houses']}户")
    return "；".join(items) or "无突出问题"


def _demands(v: pd.Series) -> str:
    """Write the village's demand list: its main industry plus what it lacks."""
    return f"发展{v['main_industry']}；" + _problems(v).replace("无突出问题", "巩固提升")
