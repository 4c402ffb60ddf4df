"""Municipal units named by the plan as leading or cooperating on its measures.

They come from the city profile's ``[[bureaus]]`` (see `layers.profile`).
"""

from __future__ import annotations

from layers.profile import PROFILE

__all__ = ["BUREAUS", "COUNTIES_COOPERATE"]

#: Every unit by key, in the profile's order.
BUREAUS = PROFILE.bureaus

#: The plan's standing cooperating unit for every measure.
COUNTIES_COOPERATE = "counties (cities, districts)"
