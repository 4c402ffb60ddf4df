"""Records that describe a thematic layer: theme, geometry, schema, style, bureau, source."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from geo.validate import COLUMN_TYPES

__all__ = ["Bureau", "GeometryKind", "LayerSpec", "Style", "Theme"]


class _Lenient(enum.Enum):
    """Enum whose lookup by value tolerates case, spaces and hyphens (``"Point"``, ``"point"``)."""

    @classmethod
    def _missing_(cls, value: object) -> _Lenient | None:
        wanted = str(value).strip().lower().replace("-", "_").replace(" ", "_")
        for member in cls:
            if wanted in {member.name.lower(), str(member.value).lower()}:
                return member
        return None


class Theme(_Lenient):
    """The plan's themes, used to group layers in the layer panel."""

    ADMINISTRATIVE = "administrative"
    POPULATION = "population"
    TRANSPORT = "transport"
    WATER = "water"
    COMMUNICATIONS = "communications"
    ENERGY = "energy"
    ECOLOGY = "ecology"
    LAND = "land"
    SERVICES = "services"
    INDUSTRY = "industry"
    PROJECTS = "projects"


class GeometryKind(_Lenient):
    """Geometry of a layer; each vector kind accepts its single and multi types."""

    POINT = "Point"
    LINE = "LineString"
    POLYGON = "Polygon"
    RASTER = "Raster"

    @property
    def shapely_types(self) -> frozenset[str]:
        """Shapely geometry type names a layer of this kind may hold."""
        if self is GeometryKind.RASTER:
            return frozenset()
        return frozenset({self.value, f"Multi{self.value}"})


class Titled:
    """Base of records with a title in English and Chinese (``title_en``, ``title_zh``)."""

    __slots__ = ()

    def title(self, lang: str = "en") -> str:
        """Return the title in ``"en"`` or ``"zh"``."""
        return str(getattr(self, "title_zh" if lang == "zh" else "title_en"))


@dataclass(frozen=True, slots=True)
class Bureau:
    """A municipal unit that leads or cooperates on measures of the plan."""

    key: str
    name_en: str
    name_zh: str

    def name(self, lang: str = "en") -> str:
        """Return the unit's name in ``"en"`` or ``"zh"``.

        Examples
        --------
        >>> Bureau("water", "Municipal Water Affairs Bureau", "市水务局").name("zh")
        '市水务局'
        """
        return self.name_zh if lang == "zh" else self.name_en


@dataclass(frozen=True, slots=True)
class Style:
    """How a layer is drawn: pure data, turned into Leaflet options by the map builder.

    `column` and `categories` colour features by a column's value (for example road
    class); values not listed use `color`.
    """

    color: str = "#3388ff"
    fill_color: str | None = None
    weight: float = 2.0
    radius: float = 5.0
    fill_opacity: float = 0.4
    dash_array: str | None = None
    column: str | None = None
    categories: Mapping[str, str] = field(default_factory=dict)

    def color_for(self, value: object) -> str:
        """Return the colour of a feature whose `column` holds `value`.

        Examples
        --------
        >>> Style(color="#999", column="surface", categories={"asphalt": "#333"}).color_for("earth")
        '#999'
        """
        return self.categories.get(str(value), self.color)


@dataclass(frozen=True, slots=True)
class LayerSpec(Titled):
    """One entry of the layer catalogue.

    Checked when built: the key is a valid identifier, column types are known,
    a raster has no columns and a `path`.
    """

    key: str
    title_en: str
    title_zh: str
    theme: Theme
    geometry: GeometryKind
    columns: Mapping[str, str]
    style: Style
    bureau: Bureau
    cooperating: tuple[Bureau, ...]
    source: str
    licence: str
    date: str
    description: str = ""
    path: str | None = None
    year_column: str | None = None
    shipped: bool = False
    #: Fields a bureau may edit record by record: field -> key of the bureau responsible.
    editable: Mapping[str, str] = field(default_factory=dict)
    #: Whether the layer may be replaced by an uploaded file (not the real boundaries).
    importable: bool = True
    #: Hover labels on the map: column -> translation key (empty: the layer's name column).
    tooltip: Mapping[str, str] = field(default_factory=dict)
    #: Whether the map thins the layer by zoom (minor classes only close in, then by view).
    by_zoom: bool = False
    #: Columns whose values come from a closed list: column -> allowed values (empty passes).
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Columns of `choices` whose cells may list several values, joined by ", ".
    several: frozenset[str] = frozenset()
    #: Columns a file (or a store written before they were added) may lack: read as empty.
    optional: frozenset[str] = frozenset()
    #: A column naming the unit (bureau key) that owns each row: that unit's editors may
    #: import the layer, and their file replaces their own rows only.
    owner_column: str | None = None

    def __post_init__(self) -> None:
        """Check the entry and freeze its column mapping; raise listing every problem."""
        problems = []
        if not self.key.isidentifier() or self.key != self.key.lower():
            problems.append(f"key {self.key!r} must be a lower-case identifier")
        unknown = {c: t for c, t in self.columns.items() if t not in COLUMN_TYPES}
        if unknown:
            problems.append(f"unknown column types {unknown}; use one of {sorted(COLUMN_TYPES)}")
        if (self.geometry is GeometryKind.RASTER) != (self.path is not None):
            problems.append("a raster layer, and only a raster layer, needs a `path`")
        stray = sorted(set(self.editable) - set(self.columns))
        if stray:
            problems.append(f"editable fields {stray} are not columns of the layer")
        stray = sorted(set(self.choices) - set(self.columns))
        if stray:
            problems.append(f"fields with choices {stray} are not columns of the layer")
        stray = sorted(set(self.optional) - set(self.columns))
        if stray:
            problems.append(f"optional fields {stray} are not columns of the layer")
        stray = sorted(set(self.several) - set(self.choices))
        if stray:
            problems.append(f"fields with several choices {stray} have no choices")
        if self.owner_column is not None and self.owner_column not in self.columns:
            problems.append(f"owner column {self.owner_column!r} is not a column of the layer")
        if problems:
            msg = f"invalid layer spec {self.key!r}: " + "; ".join(problems)
            raise ValueError(msg)
        object.__setattr__(self, "columns", MappingProxyType(dict(self.columns)))
        object.__setattr__(self, "editable", MappingProxyType(dict(self.editable)))
        object.__setattr__(self, "tooltip", MappingProxyType(dict(self.tooltip)))
        object.__setattr__(self, "choices", MappingProxyType(dict(self.choices)))

    @property
    def is_raster(self) -> bool:
        """Whether the layer is a raster (GeoTIFF) rather than a vector layer of the store."""
        return self.geometry is GeometryKind.RASTER
