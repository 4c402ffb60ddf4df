"""Every unit the plan names as leading or cooperating on its measures, in English and Chinese.

They come from the city profile's ``[[bureaus]]`` (see `layers.profile`); targets, rules
and layers name them by key.
"""

from __future__ import annotations

from collections.abc import Iterable

from layers.profile import PROFILE
from layers.spec import Bureau

__all__ = ["BUREAUS", "COUNTIES_COOPERATE", "names"]

#: Every unit by key, in the profile's order.
BUREAUS = PROFILE.bureaus

#: The plan's standing cooperating unit for every measure: the counties (cities, districts).
COUNTIES_COOPERATE = BUREAUS["counties"]


def names(units: Iterable[Bureau], lang: str = "en") -> str:
    """Return the units' names in ``"en"`` or ``"zh"``, separated by ``"; "``.

    Examples
    --------
    >>> names([BUREAUS["forestry"], BUREAUS["poverty_office"]], "zh")
    '市林业局; 市扶贫办'
    """
    return "; ".join(unit.name(lang) for unit in units)
