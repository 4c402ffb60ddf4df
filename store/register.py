"""The poor-household register as the store keeps it: counts per village, and exits per year.

The plan's register ("one household, one card") is kept aggregated: for each village, the
households and people registered poor at the 2014 baseline, the date each step of the
"five steps and one publicity" was reached by all of them, how many were identified
(publicised), how many household files are complete on each of the "five clean-ups",
and how many households and people exited in each year. Only these counts leave the
store; an imported household-level file is kept with its ID numbers hashed
(`store.households`) and never read back row by row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

__all__ = [
    "CLEANUPS",
    "EXIT_COLUMNS",
    "HOUSEHOLD_FIELDS",
    "REGISTER_KEY",
    "STEPS",
    "VILLAGE_COLUMNS",
    "Register",
]

#: The "five steps and one publicity", in order (household-file and register columns).
STEPS = (
    "application",
    "group_review",
    "village_review",
    "township_review",
    "county_approval",
    "publicity",
)
#: The "five clean-ups" of a household file: clear base, problems, countermeasures,
#: responsibility and tasks.
CLEANUPS = (
    "clear_base",
    "clear_problems",
    "clear_countermeasures",
    "clear_responsibility",
    "clear_tasks",
)
#: Columns of the register per village (besides `village_code`).
VILLAGE_COLUMNS = ("households", "people", "identified", *STEPS, *CLEANUPS)
#: Columns of the exits per village and year.
EXIT_COLUMNS = ("village_code", "year", "households", "people")
#: Columns of a stored household row (its ID number only as a keyed hash).
HOUSEHOLD_FIELDS = ("id_hash", "village_code", "people", *STEPS, "exit_year", *CLEANUPS)
#: The key under which the store records the register's origin and revision.
REGISTER_KEY = "household_register"


def _empty_villages() -> pd.DataFrame:
    return pd.DataFrame(columns=["village_code", *VILLAGE_COLUMNS]).set_index("village_code")


def _empty_exits() -> pd.DataFrame:
    return pd.DataFrame(columns=list(EXIT_COLUMNS))


@dataclass(frozen=True)
class Register:
    """The aggregated register: what the store lets out of a household register.

    Attributes
    ----------
    villages
        One row per village, indexed by `village_code`: `households` and `people`
        registered poor at the 2014 baseline, `identified` (households publicised), the
        date (ISO ``YYYY-MM-DD``, or None when some household has not reached it) of each
        of `STEPS`, and for each of `CLEANUPS` how many household files are complete on it.
    exits
        One row per village and year: `households` and `people` that exited that year.
    """

    villages: pd.DataFrame = field(default_factory=_empty_villages)
    exits: pd.DataFrame = field(default_factory=_empty_exits)

    @property
    def empty(self) -> bool:
        """Whether the register holds no village."""
        return bool(self.villages.empty)
