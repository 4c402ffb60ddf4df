"""The city profile: which prefecture the atlas serves, read from a folder's `profile.toml`.

A profile folder holds ``profile.toml`` (the city, its counties and seats, the lon/lat box
imports must fall in, the working metric CRS, the targets file and the municipal units)
and ``boundaries.geojson`` (one polygon per county, with a ``code`` property). The
shipped profile is Jiuquan (``data/profiles/jiuquan``); ``VILLAGE_ATLAS_PROFILE=DIR``
points the atlas at another (see `geo.settings`). This module is the only reader of it.

Examples
--------
>>> jiuquan = load_profile(settings.shipped_dir / "profiles" / "jiuquan")
>>> jiuquan.city.name_en, len(jiuquan.counties), jiuquan.working_crs().name
('Jiuquan', 7, 'CGCS2000 / transverse Mercator 96.4E')
>>> jiuquan.county("620982").name_zh
'敦煌市'
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import geopandas as gpd
import pyproj
import shapely

from geo import crs as geo_crs
from geo import settings
from geo.errors import ProfileError
from layers.spec import Bureau

__all__ = [
    "PROFILE",
    "REQUIRED_BUREAUS",
    "City",
    "County",
    "CountyDemo",
    "DemoRoad",
    "Oasis",
    "Profile",
    "load_profile",
    "read_boundaries",
]

#: Units the plan's rules and the layer catalogue name (as lead or cooperating): every
#: profile must have them. Its targets file may name any other unit of its `[[bureaus]]`.
REQUIRED_BUREAUS = (
    "poverty_office",
    "transport",
    "water",
    "commerce",
    "energy",
    "forestry",
    "land",
    "education",
    "construction",
    "agriculture",
    "industry_it",
    "postal",
    "agricultural_development",
    "counties",
)
_NAMES = ("code", "name_zh", "name_en", "pinyin")


@dataclass(frozen=True, slots=True)
class Oasis:
    """Where a county's demo villages cluster: a centre, a spread and a share of them."""

    lon: float
    lat: float
    spread_km: float
    share: float


@dataclass(frozen=True, slots=True)
class CountyDemo:
    """Optional hints for a county's synthetic demo; what is missing is derived from its polygon."""

    villages: int | None = None
    townships: int | None = None
    poor_share: float | None = None
    oases: tuple[Oasis, ...] = ()
    immigrant_area: tuple[float, float, float] | None = None
    exit_schedule: tuple[tuple[int, float], ...] = ()


@dataclass(frozen=True, slots=True)
class County:
    """A county-level unit (or the city itself) and its seat (WGS84 lon/lat)."""

    code: str
    name_zh: str
    name_en: str
    pinyin: str
    seat: tuple[float, float]
    demo: CountyDemo = field(default_factory=CountyDemo, compare=False)

    def name(self, lang: str = "en") -> str:
        """Return the name in ``"en"`` or ``"zh"``."""
        return self.name_zh if lang == "zh" else self.name_en


#: The city is a `County` one level up (code, names, seat).
City = County


@dataclass(frozen=True, slots=True)
class DemoRoad:
    """A trunk road of the synthetic demo through real waypoints (lon, lat)."""

    name: str
    road_class: str
    year: int
    waypoints: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class Profile:
    """A city profile: read it with `load_profile`, never build one by hand."""

    folder: Path
    city: City
    counties: tuple[County, ...]
    bounds: tuple[float, float, float, float]
    metric_crs: str
    targets_path: Path
    bureaus: Mapping[str, Bureau]
    demo_units: tuple[str, ...] = ()
    demo_bureaus: tuple[str, ...] = ()
    demo_roads: tuple[DemoRoad, ...] = ()

    @property
    def boundaries_path(self) -> Path:
        """The county boundaries: ``boundaries.geojson`` in the profile folder."""
        return self.folder / "boundaries.geojson"

    def county(self, code: str) -> County:
        """Return the county with `code`; raise `KeyError` naming the valid codes."""
        for county in self.counties:
            if county.code == code:
                return county
        msg = f"no county {code!r} in {self.city.name_en}; use one of {self.codes()}"
        raise KeyError(msg)

    def codes(self) -> list[str]:
        """Return the county codes in the profile's order."""
        return [c.code for c in self.counties]

    def working_crs(self, bounds: tuple[float, ...] | None = None) -> pyproj.CRS:
        """Return the metric working CRS: the profile's, or chosen from `bounds` when "auto"."""
        if self.metric_crs != "auto":
            return pyproj.CRS.from_user_input(self.metric_crs)
        return geo_crs.metric_crs(self.bounds if bounds is None else bounds)


def _get(
    table: Mapping[str, object],
    key: str,
    kind: type | tuple[type, ...],
    where: str,
    found: list[str],
) -> object:
    """Return ``table[key]`` if it has type `kind`; else note the problem and return None."""
    value = table.get(key)
    if value is None:
        found.append(f"{where}: missing `{key}`")
        return None
    if not isinstance(value, kind) or isinstance(value, bool):
        found.append(f"{where}: `{key}` must be {_kind_name(kind)}, not {value!r}")
        return None
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    words = {str: "text", int: "a whole number", float: "a number", list: "a list"}
    return " or ".join(dict.fromkeys(words.get(k, k.__name__) for k in kinds))


def _numbers(value: object, n: int) -> tuple[float, ...] | None:
    """Return `value` as `n` floats, or None if it is not a list of `n` numbers."""
    if not isinstance(value, list) or len(value) != n:
        return None
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        return None
    return tuple(float(v) for v in value)


def _lonlat(
    table: Mapping[str, object], where: str, found: list[str], bounds: tuple[float, ...] | None
) -> tuple[float, float]:
    seat = _numbers(table.get("seat"), 2)
    if seat is None:
        found.append(f"{where}: `seat` must be [lon, lat], not {table.get('seat')!r}")
        return (0.0, 0.0)
    if bounds is not None and not (
        bounds[0] <= seat[0] <= bounds[2] and bounds[1] <= seat[1] <= bounds[3]
    ):
        found.append(f"{where}: `seat` {list(seat)} lies outside `bounds` {list(bounds)}")
    return (seat[0], seat[1])


def _county_demo(table: object, where: str, found: list[str]) -> CountyDemo:
    if table is None:
        return CountyDemo()
    if not isinstance(table, dict):
        found.append(f"{where}.demo: must be a table")
        return CountyDemo()
    problems_before = len(found)
    oases = []
    for i, raw in enumerate(table.get("oases", [])):
        o = _numbers(raw, 4)
        if o is None or o[2] <= 0 or o[3] <= 0:
            found.append(
                f"{where}.demo: oasis {i + 1} must be [lon, lat, spread_km > 0, share > 0]"
            )
        else:
            oases.append(Oasis(*o))
    area = table.get("immigrant_area")
    immigrant = _numbers(area, 3) if area is not None else None
    if area is not None and immigrant is None:
        found.append(f"{where}.demo: `immigrant_area` must be [lon, lat, spread_km]")
    schedule = table.get("exit_schedule", {})
    if not isinstance(schedule, dict) or not all(
        str(y).isdigit() and isinstance(s, int | float) for y, s in schedule.items()
    ):
        found.append(f"{where}.demo: `exit_schedule` must map years to shares, e.g. {{2015 = 1.0}}")
        schedule = {}
    sizes = {k: table.get(k) for k in ("villages", "townships")}
    for key, value in sizes.items():
        if value is not None and (not isinstance(value, int) or value < 1):
            found.append(f"{where}.demo: `{key}` must be a whole number of at least 1")
    share = table.get("poor_share")
    if share is not None and not (isinstance(share, int | float) and 0 <= share <= 1):
        found.append(f"{where}.demo: `poor_share` must be between 0 and 1")
    if len(found) > problems_before:
        return CountyDemo()
    return CountyDemo(
        villages=sizes["villages"],
        townships=sizes["townships"],
        poor_share=None if share is None else float(share),
        oases=tuple(oases),
        immigrant_area=immigrant,  # type: ignore[arg-type]
        exit_schedule=tuple((int(y), float(s)) for y, s in schedule.items()),
    )


def _unit(
    table: object, where: str, found: list[str], bounds: tuple[float, ...] | None
) -> County | None:
    if not isinstance(table, dict):
        found.append(f"{where}: must be a table")
        return None
    n = len(found)
    code, zh, en, pinyin = (str(_get(table, k, str, where, found)) for k in _NAMES)
    seat = _lonlat(table, where, found, bounds)
    demo = _county_demo(table.get("demo"), where, found)
    if len(found) > n:
        return None
    return County(code, zh, en, pinyin, seat, demo)


def _bounds(doc: Mapping[str, object], found: list[str]) -> tuple[float, float, float, float]:
    b = _numbers(doc.get("bounds"), 4)
    ok = (
        b is not None
        and -180 <= b[0] < b[2] <= 180  # noqa: PLR2004
        and -90 <= b[1] < b[3] <= 90  # noqa: PLR2004
    )
    if b is None or not ok:
        found.append(
            "`bounds` must be [min_lon, min_lat, max_lon, max_lat] in degrees with min < max, "
            f"not {doc.get('bounds')!r}"
        )
        return (-180.0, -90.0, 180.0, 90.0)
    return (b[0], b[1], b[2], b[3])


def _metric(doc: Mapping[str, object], found: list[str]) -> str:
    value = doc.get("metric_crs", "auto")
    if value == "auto":
        return "auto"
    try:
        chosen = pyproj.CRS.from_user_input(value)
    except pyproj.exceptions.CRSError:
        found.append(f'`metric_crs` must be "auto" or a CRS pyproj knows, not {value!r}')
        return "auto"
    if not chosen.is_projected:
        found.append(f"`metric_crs` must be a projected (metric) CRS; {value!r} is not")
    return str(value)


def _bureaus(doc: Mapping[str, object], found: list[str]) -> dict[str, Bureau]:
    out: dict[str, Bureau] = {}
    raw = doc.get("bureaus")
    if not isinstance(raw, list) or not raw:
        found.append("missing `[[bureaus]]`: list the municipal units with key, name_en, name_zh")
        return out
    for i, table in enumerate(raw):
        where = f"bureau {i + 1} ({table.get('key', '?') if isinstance(table, dict) else '?'})"
        if not isinstance(table, dict):
            found.append(f"{where}: must be a table")
            continue
        n = len(found)
        key, en, zh = (_get(table, k, str, where, found) for k in ("key", "name_en", "name_zh"))
        blank = [
            k for k, v in (("name_en", en), ("name_zh", zh)) if isinstance(v, str) and not v.strip()
        ]
        found += [f"{where}: `{k}` must not be empty" for k in blank]
        if key in out:
            found.append(f"{where}: key {key!r} is used twice")
        elif len(found) == n:
            out[str(key)] = Bureau(str(key), str(en), str(zh))
    missing = [k for k in REQUIRED_BUREAUS if k not in out]
    if missing:
        found.append("`[[bureaus]]` must include the plan's units: " + ", ".join(missing))
    return out


def _counties(
    doc: Mapping[str, object], found: list[str], bounds: tuple[float, ...]
) -> tuple[County, ...]:
    raw = doc.get("counties")
    if not isinstance(raw, list) or not raw:
        found.append("missing `[[counties]]`: list each county with code, names and seat")
        return ()
    counties = []
    codes = []
    for i, table in enumerate(raw):
        code = table.get("code", "?") if isinstance(table, dict) else "?"
        codes.append(code)
        county = _unit(table, f"county {i + 1} ({code})", found, bounds)
        if county is not None:
            counties.append(county)
    twice = sorted({str(c) for c in codes if c != "?" and codes.count(c) > 1})
    found += [f"county code {c!r} is used twice" for c in twice]
    return tuple(counties)


def _names(demo: Mapping[str, object], key: str, found: list[str]) -> tuple[str, ...]:
    """Return ``demo[key]`` as a tuple of text, or note that it must be a list of text."""
    names = demo.get(key, [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        found.append(f"`demo.{key}` must be a list of names")
        return ()
    return tuple(names)


def _demo(
    doc: Mapping[str, object], found: list[str]
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[DemoRoad, ...]]:
    demo = doc.get("demo", {})
    if not isinstance(demo, dict):
        found.append("`demo` must be a table")
        return (), (), ()
    units = _names(demo, "units", found)
    bureaus = _names(demo, "bureaus", found)
    roads = []
    raw = demo.get("roads", [])
    for i, road in enumerate(raw if isinstance(raw, list) else [raw]):
        where = f"demo road {i + 1}"
        if not isinstance(road, dict):
            found.append(f"{where}: must be a table ([[demo.roads]])")
            continue
        n = len(found)
        name, klass = (_get(road, k, str, where, found) for k in ("name", "road_class"))
        year = _get(road, "year", int, where, found)
        points = [_numbers(p, 2) for p in road.get("waypoints", [])]
        if len(points) < 2 or any(p is None for p in points):  # noqa: PLR2004
            found.append(f"{where}: `waypoints` must be two or more [lon, lat]")
        if len(found) == n:
            waypoints = tuple((p[0], p[1]) for p in points if p is not None)
            roads.append(DemoRoad(str(name), str(klass), int(year), waypoints))  # type: ignore[call-overload]
    return units, bureaus, tuple(roads)


def load_profile(folder: Path | str) -> Profile:
    """Read and check the profile in `folder`; raise `ProfileError` listing every problem.

    Raises
    ------
    ProfileError
        If `profile.toml` is missing or not TOML, or anything in it is missing or wrong.
    """
    folder = Path(folder)
    path = folder / "profile.toml"
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        msg = f"{path} cannot be read as a city profile: {exc}"
        raise ProfileError(msg) from exc
    found: list[str] = []
    bounds = _bounds(doc, found)
    city = _unit(doc.get("city"), "`[city]`", found, None)
    counties = _counties(doc, found, bounds)
    metric = _metric(doc, found)
    targets = _get(doc, "targets", str, "profile", found)
    bureaus = _bureaus(doc, found)
    units, demo_bureaus, roads = _demo(doc, found)
    strangers = [k for k in demo_bureaus if k not in bureaus]
    if strangers:
        found.append("`demo.bureaus` names units not in `[[bureaus]]`: " + ", ".join(strangers))
    targets_path = folder / str(targets)
    if targets is not None and not targets_path.is_file():
        found.append(f"`targets` names {targets_path}, which does not exist")
    if not (folder / "boundaries.geojson").is_file():
        found.append(f"no county boundaries: put them in {folder / 'boundaries.geojson'}")
    if found or city is None:
        raise ProfileError(f"{path} has problems:\n- " + "\n- ".join(found))
    return Profile(
        folder=folder,
        city=city,
        counties=counties,
        bounds=bounds,
        metric_crs=metric,
        targets_path=targets_path,
        bureaus=MappingProxyType(bureaus),
        demo_units=units,
        demo_bureaus=demo_bureaus,
        demo_roads=roads,
    )


def read_boundaries(profile: Profile) -> gpd.GeoDataFrame:
    """Return the county polygons in the profile's order with its codes and names (lon/lat).

    Raises
    ------
    ProfileError
        If a county has no polygon, a polygon no county, or a seat lies outside its county.
    """
    raw = gpd.read_file(profile.boundaries_path, engine="pyogrio")
    found: list[str] = []
    if "code" not in raw.columns:
        found.append("the boundaries need a `code` property per feature")
        raw["code"] = None
    raw["code"] = raw["code"].astype(str)
    codes = profile.codes()
    found += [
        f"county {c} has no polygon in the boundaries" for c in codes if c not in set(raw["code"])
    ]
    found += [
        f"polygon {c} matches no county of the profile" for c in raw["code"] if c not in codes
    ]
    if not found:
        for county in profile.counties:
            area = raw.loc[raw["code"] == county.code].geometry.union_all()
            if not area.contains(shapely.Point(county.seat)):
                found.append(
                    f"the seat of {county.code} ({county.name_en}) lies outside its polygon"
                )
    if found:
        msg = f"{profile.boundaries_path} does not fit the profile:\n- " + "\n- ".join(found)
        raise ProfileError(msg)
    parts = [raw.geometry[raw["code"] == c] for c in codes]
    return gpd.GeoDataFrame(
        {k: [getattr(c, k) for c in profile.counties] for k in _NAMES},
        geometry=[p.iloc[0] if len(p) == 1 else p.union_all() for p in parts],
        crs=raw.crs or settings.storage_crs,
    )


#: The profile the atlas serves: ``VILLAGE_ATLAS_PROFILE``, else the shipped Jiuquan profile.
PROFILE = load_profile(settings.profile_dir)
