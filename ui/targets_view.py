"""Tables of the plan for people: targets with their clause and provenance, rules, gap lists.

Every row says whether its figure is the plan's, a figure to confirm, or the atlas's own
assumption: an assumption is never shown as the plan's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd
import streamlit as st

import ui
from layers import BUREAUS
from layers.clauses import Provenance
from layers.rules import RULES, CoverageRule
from layers.targets import Target, counts_text
from ui.tables import status_label

__all__ = ["board_caption", "gap_table", "provenance_label", "rules_table", "targets_table"]


def provenance_label(value: str) -> str:
    """Return a provenance (``plan``, ``plan, figure to confirm``, ``assumption``) in words."""
    return Provenance(value).label(ui.lang())


def _units(keys: str, lang: str) -> str:
    return "; ".join(BUREAUS[k].name(lang) for k in keys.split("; ") if k in BUREAUS)


def targets_table(plan: Sequence[Target], board: pd.DataFrame) -> pd.DataFrame:
    """Return the board's rows for `plan` in the chosen language, with clause and provenance."""
    lang = ui.lang()
    rows = board.loc[[p.key for p in plan]]
    return pd.DataFrame(
        {
            ui.tr("target"): [p.title(lang) for p in plan],
            ui.tr("target_status"): rows["status"].map(status_label).to_numpy(),
            ui.tr("goal"): rows["goal"].to_numpy(),
            ui.tr("unit_of_goal"): [p.unit_text(lang) for p in plan],
            ui.tr("scope"): [p.scope_text(lang) for p in plan],
            ui.tr("deadline"): rows["deadline"].to_numpy(),
            ui.tr("current"): rows["current"].to_numpy(),
            ui.tr("counts"): [counts_text(r, lang) for r in rows.to_dict("records")],
            ui.tr("expected"): rows["expected"].to_numpy(),
            ui.tr("baseline"): rows["baseline"].to_numpy(),
            ui.tr("provenance"): rows["provenance"].map(provenance_label).to_numpy(),
            ui.tr("reason"): rows["reason"].to_numpy(),
            ui.tr("lead_bureau"): [p.lead_text(lang) for p in plan],
            ui.tr("cooperating"): [_units(c, lang) for c in rows["cooperating"]],
            ui.tr("section"): rows["section"].to_numpy(),
            ui.tr("clause"): rows["clause"].to_numpy(),
        }
    )


def rules_table(rules: Iterable[CoverageRule]) -> pd.DataFrame:
    """Return coverage rules (the village measures) with scope, deadline and provenance."""
    lang = ui.lang()
    rules = list(rules)
    return pd.DataFrame(
        {
            ui.tr("measure"): [r.title(lang) for r in rules],
            ui.tr("scope"): [r.scope.label(lang) for r in rules],
            ui.tr("deadline"): [r.target_year for r in rules],
            ui.tr("provenance"): [provenance_label(r.provenance.value) for r in rules],
            ui.tr("reason"): [r.reason_text(lang) for r in rules],
            ui.tr("section"): [r.clause.section if r.clause else "" for r in rules],
            ui.tr("clause"): [r.clause.text if r.clause else "" for r in rules],
        }
    )


def gap_table(found: pd.DataFrame, linked: pd.DataFrame | None = None) -> pd.DataFrame:
    """Return a gap list (`layers.rules.gap_list`) with its columns in the chosen language.

    `linked`: columns to add, indexed like `found` (the projects serving each gap).
    """
    lang = ui.lang()
    table = pd.DataFrame(
        {
            ui.tr("code"): found["code"],
            ui.tr("name"): found["name_zh"],
            ui.tr("county"): found["county_code"].map(ui.county_names()),
            ui.tr("township"): found["township"],
            ui.tr("missing"): found["rule"].map(lambda k: RULES[k].title(lang)),
            ui.tr("scope"): found["rule"].map(lambda k: RULES[k].scope.label(lang)),
            ui.tr("deadline"): found["deadline"],
            ui.tr("days_overdue"): found["days_overdue"],
            ui.tr("col_poor"): found["is_poor"],
            ui.tr("provenance"): found["provenance"].map(provenance_label),
        }
    )
    return table if linked is None else table.join(linked)


def board_caption(year: int) -> None:
    """Say which sources measuring the board as of `year` are synthetic demo data.

    Its layers, then the household register and the village indicators with their
    sources (`ui.board_sources`); nothing when none of them is synthetic.
    """
    notice = ui.synthetic_notice(ui.board_sources(year))
    if notice is not None:
        st.caption(notice)
