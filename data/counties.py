"""The prefecture and its counties: codes, names and seats, from the city profile.

They are read from `layers.profile` (``profile.toml`` of ``VILLAGE_ATLAS_PROFILE``, by
default Jiuquan's); this module keeps the names callers use.
"""

from __future__ import annotations

from layers.profile import PROFILE, County

__all__ = ["COUNTIES", "PREFECTURE", "County"]

#: The city itself (code, names, seat).
PREFECTURE: County = PROFILE.city

#: Its county-level units in the profile's order.
COUNTIES: tuple[County, ...] = PROFILE.counties
