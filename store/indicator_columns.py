"""The columns of the village indicators table (`store.indicators`), and their limits.

Kept apart so that the store's schema (`store.base`) can name them without the importer.
"""

from __future__ import annotations

__all__ = ["COLUMNS", "INDICATORS_KEY", "LIMITS", "TABLE_COLUMNS"]

#: The largest value one village may report in one year, by column (the smallest is 0).
LIMITS: dict[str, float] = {
    "cultivated_mu": 200_000,
    "vegetables_mu": 50_000,
    "grapes_mu": 50_000,
    "medlar_mu": 50_000,
    "sheep": 100_000,
    "farmland_mu": 200_000,
    "standardised_pct": 100,
    "three_products": 1,
    "trained": 5_000,
    "transferred": 10_000,
    "ecommerce_points": 100,
    "tourism_projects": 100,
    "pv_projects": 100,
    "produce_t": 1_000_000,
    "processing_pct": 100,
    "land_registered_pct": 100,
    "entity_share_pct": 100,
    "income_yuan": 200_000,
}
#: The indicator columns, in the order they are stored.
COLUMNS = tuple(LIMITS)
#: The key under which the store records the table's origin and revision.
INDICATORS_KEY = "village_indicators"
#: Every column of the table, keys first.
TABLE_COLUMNS = ("village_code", "year", *COLUMNS)
