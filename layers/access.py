"""Who may do what: roles, and permissions read from the layer catalogue.

The catalogue is the one source of truth for responsibility: a layer's lead bureau may
import it, and each editable village field names the bureau that keeps it.

- **admin** manages accounts, imports and edits everything;
- **planner** reads everything, edits targets and scenarios;
- **editor** is bound to one bureau: imports and edits only what the catalogue assigns to it;
- **viewer** reads and exports.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

import geopandas as gpd
import pandas as pd

from geo.errors import AccessDeniedError
from layers import editable_fields, get_layer
from layers.bureaus import BUREAUS

__all__ = [
    "LOCAL_ADMIN",
    "Account",
    "Role",
    "editable_for",
    "indicators_refused",
    "may_edit_targets",
    "may_import",
    "may_import_indicators",
    "may_manage_accounts",
    "owned_rows",
    "problems",
]


class Role(enum.Enum):
    """What an account is for."""

    ADMIN = "admin"
    PLANNER = "planner"
    EDITOR = "editor"
    VIEWER = "viewer"

    @classmethod
    def _missing_(cls, value: object) -> Role | None:
        """Accept any case and the long form ``bureau editor``."""
        text = str(value).strip().lower().replace("bureau ", "").replace("bureau_", "")
        return next((role for role in cls if role.value == text), None)


@dataclass(frozen=True)
class Account:
    """A logged-in person: name, role, and (for an editor) the bureau they work for."""

    name: str
    role: Role
    bureau: str | None = None

    def label(self, lang: str = "en") -> str:
        """Return the name with the bureau, for the sidebar and the audit."""
        if self.bureau is None:
            return self.name
        return f"{self.name} ({BUREAUS[self.bureau].name(lang)})"


#: The one account of local mode: the app on 127.0.0.1 before any account exists.
LOCAL_ADMIN = Account("local", Role.ADMIN)


def problems(role: Role, bureau: str | None) -> list[str]:
    """Return what is wrong with a role and bureau pair (empty: it is valid).

    Examples
    --------
    >>> problems(Role.EDITOR, None)
    ['an editor must name a bureau (--bureau KEY)']
    >>> problems(Role.VIEWER, "water")
    ['only an editor is bound to a bureau']
    """
    found = []
    if role is Role.EDITOR and bureau is None:
        found.append("an editor must name a bureau (--bureau KEY)")
    if role is not Role.EDITOR and bureau is not None:
        found.append("only an editor is bound to a bureau")
    if bureau is not None and bureau not in BUREAUS:
        found.append(f"unknown bureau {bureau!r}; use one of {', '.join(BUREAUS)}")
    return found


def may_import(account: Account, key: str) -> bool:
    """Whether `account` may replace layer `key` with a file.

    Examples
    --------
    >>> may_import(Account("a", Role.EDITOR, "transport"), "bus_stops")
    True
    >>> may_import(Account("a", Role.EDITOR, "transport"), "water_works")
    False
    >>> may_import(Account("a", Role.EDITOR, "poverty_office"), "villages")  # holds others' fields
    False
    >>> may_import(Account("a", Role.EDITOR, "water"), "projects")  # its own projects
    True
    """
    spec = get_layer(key)
    if not spec.importable or account.role in (Role.PLANNER, Role.VIEWER):
        return False
    if account.role is Role.ADMIN:
        return True
    if spec.owner_column is not None:  # each row names its unit: an editor imports their own
        return account.bureau is not None
    # a layer that holds other bureaus' fields (the villages) would overwrite their records
    others = {owner for owner in spec.editable.values() if owner != account.bureau}
    return spec.bureau.key == account.bureau and not others


def may_import_register(account: Account) -> bool:
    """Whether `account` may replace the poor-household register with a household file.

    The Poverty Alleviation Office keeps the register ("one household, one card").

    Examples
    --------
    >>> may_import_register(Account("a", Role.EDITOR, "poverty_office"))
    True
    >>> may_import_register(Account("a", Role.EDITOR, "transport"))
    False
    """
    if account.role is Role.ADMIN:
        return True
    return account.role is Role.EDITOR and account.bureau == "poverty_office"


def indicators_refused(account: Account, columns: tuple[str, ...]) -> list[str]:
    """Return the indicator columns `account` may not import (empty: it may import them all).

    An administrator imports every indicator; an editor those its unit leads
    (`layers.indicators.Indicator.lead`: agriculture for 6(1), 6(4) and 6(5), People's
    Social Security for training and transfers, commerce for 6(3), the Poverty
    Alleviation Office for income); planners and viewers none.

    Examples
    --------
    >>> indicators_refused(Account("a", Role.EDITOR, "social_security"), ("trained", "sheep"))
    ['sheep']
    >>> indicators_refused(Account("a", Role.ADMIN, None), ("trained", "sheep"))
    []
    """
    from layers.indicators import INDICATORS  # noqa: PLC0415 (the vocabulary imports the store)

    if account.role is Role.ADMIN:
        return []
    mine = account.bureau if account.role is Role.EDITOR else None
    return [c for c in columns if c not in INDICATORS or INDICATORS[c].lead != mine]


def may_import_indicators(account: Account) -> bool:
    """Whether `account` may import some indicator (the Data page offers the upload).

    Examples
    --------
    >>> may_import_indicators(Account("a", Role.EDITOR, "commerce"))
    True
    >>> may_import_indicators(Account("a", Role.EDITOR, "transport"))
    False
    """
    from layers.indicators import INDICATORS  # noqa: PLC0415

    return bool(set(INDICATORS) - set(indicators_refused(account, tuple(INDICATORS))))


def owned_rows(
    account: Account,
    key: str,
    incoming: gpd.GeoDataFrame,
    existing: Callable[[], gpd.GeoDataFrame | None],
) -> gpd.GeoDataFrame:
    """Return what layer `key` becomes when `account` imports `incoming` over the stored one.

    An admin's file replaces the layer. In a layer whose rows each name their unit
    (`LayerSpec.owner_column`, the project register), an editor's file replaces that
    unit's rows only and keeps every other unit's. `existing` reads the stored layer
    (None: none yet), only when it is needed.

    Raises
    ------
    AccessDeniedError
        If an editor's file holds rows of another unit.
    """
    spec = get_layer(key)
    if account.role is Role.ADMIN or spec.owner_column is None:
        return incoming
    owner = spec.owner_column
    others = incoming[incoming[owner] != account.bureau]
    if len(others):
        units = ", ".join(sorted({str(u)[:40] for u in others[owner]})[:5])
        msg = (
            f"{account.name} may import only the rows of their own unit "
            f"({account.bureau}) into layer {key!r}: {len(others)} row(s) name {units}"
        )
        raise AccessDeniedError(msg)
    stored = existing()
    if stored is None or stored.empty:
        return incoming
    kept = stored[stored[owner] != account.bureau].to_crs(incoming.crs)
    merged = pd.concat([kept[list(incoming.columns)], incoming], ignore_index=True)
    return gpd.GeoDataFrame(merged, geometry=incoming.geometry.name, crs=incoming.crs)


def editable_for(account: Account, key: str) -> dict[str, str]:
    """Return the fields of layer `key` that `account` may edit -> their column type.

    Examples
    --------
    >>> editable_for(Account("a", Role.EDITOR, "water"), "villages")
    {'tap_water_year': 'year'}
    >>> editable_for(Account("v", Role.VIEWER), "villages")
    {}
    """
    if account.role is Role.ADMIN:
        return editable_fields(key)
    if account.role is Role.EDITOR:
        return editable_fields(key, bureau=account.bureau)
    return {}


def may_manage_accounts(account: Account) -> bool:
    """Whether `account` may add, change and disable accounts."""
    return account.role is Role.ADMIN


def may_edit_targets(account: Account) -> bool:
    """Whether `account` may change targets and scenarios."""
    return account.role in (Role.ADMIN, Role.PLANNER)
