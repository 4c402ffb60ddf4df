"""Municipal units named by the plan as leading or cooperating on its measures."""

from __future__ import annotations

from types import MappingProxyType

from layers.spec import Bureau

__all__ = ["BUREAUS", "COUNTIES_COOPERATE"]

_ALL = (
    Bureau("poverty_office", "Municipal Poverty Alleviation Office", "市扶贫办"),
    Bureau("transport", "Municipal Transportation Bureau", "市交通运输局"),
    Bureau("water", "Municipal Water Affairs Bureau", "市水务局"),
    Bureau("commerce", "Municipal Bureau of Commerce", "市商务局"),
    Bureau("industry_it", "Municipal Industry and Information Commission", "市工信委"),
    Bureau("postal", "Municipal Postal Administration", "市邮政管理局"),
    Bureau("forestry", "Municipal Forestry Bureau", "市林业局"),
    Bureau("construction", "Municipal Construction Bureau", "市住建局"),
    Bureau("energy", "Municipal Energy Bureau", "市能源局"),
    Bureau("land", "Municipal Bureau of Land and Resources", "市国土资源局"),
    Bureau("agriculture", "Municipal Agriculture and Animal Husbandry Bureau", "市农牧局"),
    Bureau("education", "Municipal Education Bureau", "市教育局"),
)

#: Every unit by key.
BUREAUS = MappingProxyType({b.key: b for b in _ALL})

#: The plan's standing cooperating unit for every measure.
COUNTIES_COOPERATE = "counties (cities, districts)"
