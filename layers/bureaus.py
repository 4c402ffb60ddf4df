"""Every unit the plan names as leading or cooperating on its measures, in English and Chinese.

They come from the city profile's ``[[bureaus]]`` (see `layers.profile`); targets, rules
and layers name them by key.
"""

from __future__ import annotations

from layers.profile import PROFILE

__all__ = ["BUREAUS", "COUNTIES_COOPERATE"]

#: Every unit by key, in the profile's order.
BUREAUS = PROFILE.bureaus

#: The plan's standing cooperating unit for every measure: the counties (cities, districts).
COUNTIES_COOPERATE = BUREAUS["counties"]
