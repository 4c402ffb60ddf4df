"""The project register for people: which project serves each gap, and projects completed."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

import ui
from layers import projects

__all__ = ["completed_table", "gap_projects", "linked", "register", "village_projects"]


def register() -> gpd.GeoDataFrame:
    """Return the project register of the store (cached; empty when it holds none)."""
    return projects.register(ui.layer)


def linked(found: pd.DataFrame) -> pd.DataFrame:
    """Return the projects serving each gap of a gap list (`projects.link`)."""
    return projects.link(found, register(), projects.measure_rules(ui.load_targets()))


def gap_projects(served: pd.DataFrame) -> pd.DataFrame:
    """Return the project columns of gaps (`linked`), named and worded in the chosen language."""
    lang = ui.lang()
    return pd.DataFrame(
        {
            ui.tr("project"): served["project"],
            ui.tr("project_status"): served["project_status"].map(
                lambda s: projects.status_text(s, lang)
            ),
            ui.tr("project_year"): served["project_year"],
            ui.tr("budget_wan_yuan"): served["budget_wan_yuan"],
            ui.tr("fund_source"): served["fund_source"].map(lambda s: projects.fund_text(s, lang)),
        },
        index=served.index,
    )


def completed_table(start: int, end: int) -> pd.DataFrame:
    """Return the projects done after `start` and by the end of `end`, in the chosen language."""
    done = projects.completed(register(), start, end)
    return projects.listing(done, ui.lang(), ui.load_targets())


def village_projects(code: str) -> pd.DataFrame:
    """Return the projects of village `code`, in the chosen language."""
    found = register()
    mine = found[found["village_code"] == code]
    return projects.listing(mine, ui.lang(), ui.load_targets())
