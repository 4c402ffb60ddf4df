"""Clauses of the plan: where a target or rule comes from, what it counts, how sure we are.

Every target and coverage rule names its `Clause` (section and sentence of the plan),
its `Scope` (what the goal counts: villages of a kind, households, people, townships,
counties, or the works of a focus area) and its `Provenance`: a figure read from the
plan, a figure the machine translation garbled (to confirm), or our own assumption.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from layers.i18n import t
from layers.spec import _Lenient

__all__ = ["Clause", "Provenance", "Scope", "scope_mask", "scope_weight", "weakest"]


class Provenance(_Lenient):
    """How far a record is the plan's own: in order from surest to least sure."""

    PLAN = "plan"
    TO_CONFIRM = "plan, figure to confirm"
    ASSUMPTION = "assumption"

    @property
    def rank(self) -> int:
        """0 for the plan's figure, 1 for a figure to confirm, 2 for an assumption."""
        return list(Provenance).index(self)

    def label(self, lang: str = "en") -> str:
        """Return the provenance in words, in ``"en"`` or ``"zh"``.

        Examples
        --------
        >>> Provenance("assumption").label("zh")
        '本图假设'
        """
        return t("prov_" + self.name.lower(), lang)


def weakest(*found: Provenance) -> Provenance:
    """Return the least sure of `found` (the plan's, if none): what a reader must be told.

    Examples
    --------
    >>> weakest(Provenance.PLAN, Provenance.ASSUMPTION, Provenance.TO_CONFIRM).value
    'assumption'
    >>> weakest().value
    'plan'
    """
    return max(found, key=lambda p: p.rank, default=Provenance.PLAN)


class Scope(_Lenient):
    """What a goal counts, as the plan writes it.

    Village scopes count villages: every village, the registered poor ones, the immigrant
    ones, or the "old" ones (every village that is not an immigrant village: the plan's
    "old towns and villages", whose poor households exit apart from the immigrants').
    Household and people scopes weigh each village by its households, poor households,
    people or poor people. A focus area counts what lies
    in an area the targets file defines, the whole city what lies anywhere (works: km of
    channels, mu of projects); townships and counties count their seats.
    """

    ALL_VILLAGES = "all villages"
    POOR_VILLAGES = "poor villages"
    IMMIGRANT_VILLAGES = "immigrant villages"
    OLD_VILLAGES = "old villages"
    FOCUS_AREA = "focus area"
    CITY = "whole city"
    TOWNSHIPS = "townships"
    COUNTIES = "counties"
    HOUSEHOLDS = "households"
    POOR_HOUSEHOLDS = "poor households"
    PEOPLE = "people"
    POOR_PEOPLE = "poor people"

    @property
    def is_village_set(self) -> bool:
        """Whether the scope is a set of villages (it can restrict a household scope)."""
        return self in _VILLAGE_SETS

    @property
    def weight_column(self) -> str | None:
        """The village file's column that weighs each village (None: each counts once)."""
        return _WEIGHTS.get(self)

    def label(self, lang: str = "en") -> str:
        """Return the scope in words, in ``"en"`` or ``"zh"``.

        Examples
        --------
        >>> Scope("poor households").label("zh")
        '贫困户'
        """
        return t("scope_" + self.name.lower(), lang)


_VILLAGE_SETS = (
    Scope.ALL_VILLAGES,
    Scope.POOR_VILLAGES,
    Scope.IMMIGRANT_VILLAGES,
    Scope.OLD_VILLAGES,
    Scope.FOCUS_AREA,
)
_WEIGHTS = {
    Scope.HOUSEHOLDS: "households",
    Scope.POOR_HOUSEHOLDS: "poor_households",
    Scope.PEOPLE: "population",
    Scope.POOR_PEOPLE: "poor_people",
}


def scope_mask(villages: pd.DataFrame, scope: Scope) -> pd.Series:
    """Return which villages a village scope takes in (every village for other scopes).

    A focus area cannot be told from the village file alone: it takes in every village
    here, and the caller narrows it with the area.

    Examples
    --------
    >>> v = pd.DataFrame({"is_poor": [True, True, False], "is_immigrant": [True, False, False]})
    >>> [scope_mask(v, s).tolist() for s in (Scope.POOR_VILLAGES, Scope.OLD_VILLAGES)]
    [[True, True, False], [False, True, True]]
    """
    poor = villages["is_poor"].astype(bool)
    immigrant = villages["is_immigrant"].astype(bool)
    if scope is Scope.POOR_VILLAGES:
        return poor.rename("in_scope")
    if scope is Scope.IMMIGRANT_VILLAGES:
        return immigrant.rename("in_scope")
    if scope is Scope.OLD_VILLAGES:
        return (~immigrant).rename("in_scope")
    return pd.Series(data=True, index=villages.index, name="in_scope")


def scope_weight(villages: pd.DataFrame, scope: Scope) -> pd.Series:
    """Return what each village counts for in `scope`: 1, or its households or people.

    Examples
    --------
    >>> v = pd.DataFrame({"households": [10, 30], "poor_households": [2, 0]})
    >>> scope_weight(v, Scope.POOR_HOUSEHOLDS).tolist()
    [2.0, 0.0]
    >>> scope_weight(v, Scope.ALL_VILLAGES).tolist()
    [1.0, 1.0]
    """
    column = scope.weight_column
    if column is None:
        return pd.Series(1.0, index=villages.index, name="weight")
    return villages[column].astype("float64").fillna(0.0).rename("weight")


@dataclass(frozen=True, slots=True)
class Clause:
    """A clause of the plan: its section (``"7(1)"``) and the sentence, quoted as translated.

    The quote keeps the machine translation's lost zeros ("217" is 2017): it is what the
    plan says, and a figure read from it is marked to confirm where digits are missing.
    """

    section: str
    text: str

    def __post_init__(self) -> None:
        """Refuse an empty section or sentence."""
        if not self.section.strip() or not self.text.strip():
            msg = f"a clause needs a `section` and its `text`, got {self.section!r}, {self.text!r}"
            raise ValueError(msg)

    def cite(self) -> str:
        """Return the clause as one line: section, then the quoted sentence.

        Examples
        --------
        >>> Clause("7(1)", "By 217, 425 kilometers of channels will be built.").cite()
        '7(1): "By 217, 425 kilometers of channels will be built."'
        """
        return f'{self.section}: "{" ".join(self.text.split())}"'
