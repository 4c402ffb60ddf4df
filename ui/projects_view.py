"""The project register for people: which project serves each gap, and projects completed."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

import ui
from layers import projects

__all__ = ["completed_table", "gap_projects", "register", "village_projects"]


def register() -> gpd.GeoDataFrame:
    """Return the project register of the store (cached; empty when it holds none)."""
    return projects.register(ui.layer)


def gap_projects(found: pd.DataFrame) -> pd.DataFrame:
    """Return the project columns of a gap list, in the chosen language (see `projects.link`)."""
    lang = ui.lang()
    linked = projects.link(found, register(), projects.measure_rules(ui.load_targets()))
    return pd.DataFrame(
        {
            ui.tr("project"): linked["project"],
            ui.tr("project_status"): linked["project_status"].map(
                lambda s: projects.status_text(s, lang)
            ),
            ui.tr("project_year"): linked["project_year"],
            ui.tr("budget_wan_yuan"): linked["budget_wan_yuan"],
            ui.tr("fund_source"): linked["fund_source"].map(lambda s: projects.fund_text(s, lang)),
        },
        index=found.index,
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
