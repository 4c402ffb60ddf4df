"""The bureau workbook: a summary sheet and one sheet per lead bureau with its gap list."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import layers
from exports.spec import read_once
from layers.i18n import t
from layers.provenance import Reading
from layers.rules import RULES, Loader, evaluate, gaps_by_bureau
from store import tables

__all__ = ["bureau_workbook"]


def bureau_workbook(year: int, path: Path, *, load: Loader = layers.load, lang: str = "zh") -> Path:
    """Write an .xlsx with a summary sheet and one sheet per lead bureau with its gap list.

    When a layer it was made from is synthetic demo data, a first sheet says so and lists
    the source of every layer (`store.tables.Note`).
    """
    read = Reading(read_once(load))
    villages = read("villages")
    summary = gaps_by_bureau(year, load=read).reset_index()
    sheets = {t("summary", lang): summary}
    for rule in RULES.values():
        name = rule.bureau.name(lang)
        covered = evaluate(rule, year, load=read)["covered"]
        gaps = villages.loc[~covered, ["code", "name_zh", "county", "township", "is_poor"]]
        gaps = pd.DataFrame(gaps).assign(missing=rule.title(lang), deadline=rule.target_year)
        sheets[name] = pd.concat([sheets.get(name, pd.DataFrame()), gaps], ignore_index=True)
    return tables.write_workbook(sheets, path, note=read.note(lang))
