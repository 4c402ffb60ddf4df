"""The project register: which project closes which gap, and which projects were completed.

A project serves one measure (`measure`: a coverage rule's key, or a target's key; a
target measured by a rule serves that rule) and is sited at a village (`village_code`)
or along a line or over an area. A gap (`layers.rules.gap_list`: a village a rule leaves
out) is linked to the projects of the same village that serve the same rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import geopandas as gpd
import pandas as pd

from geo import settings
from geo.errors import StoreError, TargetsError
from layers.bureaus import BUREAUS
from layers.catalogue import CATALOGUE, PROJECT_STATUSES
from layers.i18n import t
from layers.rules import RULES, Loader
from layers.targets import Target, load_targets

__all__ = [
    "FUNDED",
    "LINK_COLUMNS",
    "NO_PROJECT",
    "completed",
    "done_but_open",
    "empty_register",
    "fund_text",
    "known_measures",
    "link",
    "listing",
    "measure_rules",
    "problems",
    "register",
    "status_text",
]

#: The status of a gap no project serves.
NO_PROJECT = "none"
#: Statuses of a project whose money is there: funded, and on from there.
FUNDED = PROJECT_STATUSES[PROJECT_STATUSES.index("funded") :]
#: Columns `link` adds to a gap list.
LINK_COLUMNS = ["project", "project_status", "project_year", "budget_wan_yuan", "fund_source"]
_RANK = {status: rank for rank, status in enumerate(PROJECT_STATUSES)}


def measure_rules(plan: Iterable[Target] = ()) -> dict[str, str]:
    """Return measure key -> the coverage rule it serves: every rule, and targets with a rule.

    Examples
    --------
    >>> measure_rules()["tap_water"]
    'tap_water'
    """
    found = {key: key for key in RULES}
    for target in plan:
        if target.rule is not None:
            found.setdefault(target.key, target.rule)
    return found


def known_measures() -> set[str]:
    """Return every key a project's `measure` may hold: the rules' and the targets' keys."""
    try:
        plan = load_targets()
    except (OSError, TargetsError):
        plan = ()
    return set(RULES) | {target.key for target in plan}


def problems(projects: pd.DataFrame) -> list[str]:
    """Return what is wrong with a project register beyond its schema (empty: nothing).

    Each `measure` is a rule's or a target's key, budgets are not negative, a village
    project names its village by a 12-digit code.
    """
    found = []
    if "measure" in projects.columns:
        known = known_measures()
        bad = projects["measure"][~projects["measure"].isin(known)]
        if len(bad):
            shown = ", ".join(repr(str(v))[:40] for v in bad.unique()[:5])
            found.append(
                f"column `measure` must name a coverage rule or a target of the plan: "
                f"{len(bad)} bad row(s) ({', '.join(map(str, bad.index[:5]))}): {shown}"
            )
    if "budget_wan_yuan" in projects.columns:
        budget = pd.to_numeric(projects["budget_wan_yuan"], errors="coerce")
        if (budget < 0).any():
            found.append(
                f"column `budget_wan_yuan` must be >= 0: {int((budget < 0).sum())} bad row(s)"
            )
    if {"site", "village_code"} <= set(projects.columns):
        code = projects["village_code"].astype("string").str.fullmatch(r"\d{12}")
        bad_site = (projects["site"] == "village") & ~code.fillna(value=False).astype(bool)
        if bad_site.any():
            found.append(
                f"a village project needs a 12-digit `village_code`: {int(bad_site.sum())} "
                f"bad row(s) ({', '.join(map(str, projects.index[bad_site][:5]))})"
            )
    return found


def link(
    gaps: pd.DataFrame, projects: pd.DataFrame, rule_of: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """Return, for each gap, the projects of its village that serve its rule.

    Parameters
    ----------
    gaps
        A gap list (`layers.rules.gap_list`): `code` (village) and `rule` per row.
    projects
        The project register (the ``projects`` layer).
    rule_of
        Measure key -> the rule it serves (default `measure_rules` of the rules only).

    Returns
    -------
    pandas.DataFrame
        Indexed like `gaps`: `project` (id and name of each, the furthest along first),
        `project_status` (the furthest along, `NO_PROJECT` when none), `project_year`
        (its year: done in, or due in), `budget_wan_yuan` (their sum) and `fund_source`.

    Examples
    --------
    >>> gaps = pd.DataFrame({"code": ["620902100001", "620902100002"], "rule": ["power"] * 2})
    >>> register = pd.DataFrame({"project_id": ["P1"], "name": ["grid"], "measure": ["power"],
    ...     "village_code": ["620902100002"], "year": [2018], "budget_wan_yuan": [40.0],
    ...     "fund_source": ["central"], "status": ["funded"]})
    >>> link(gaps, register)["project_status"].tolist()
    ['none', 'funded']
    """
    rule_of = dict(rule_of) if rule_of is not None else measure_rules()
    served = projects[projects["village_code"].notna()].assign(
        rule=projects["measure"].map(rule_of)
    )
    served = served[served["rule"].notna()]
    out = pd.DataFrame(index=gaps.index, columns=LINK_COLUMNS)
    out["project"] = ""
    out["project_status"] = NO_PROJECT
    out["project_year"] = pd.array([pd.NA] * len(gaps), dtype="Int64")
    out["budget_wan_yuan"] = float("nan")
    out["fund_source"] = ""
    pairs = (
        gaps[["code", "rule"]]
        .reset_index(names="_gap")
        .merge(served, left_on=["code", "rule"], right_on=["village_code", "rule"])
    )
    if pairs.empty:
        return out
    pairs = pairs.assign(
        _rank=pairs["status"].map(_RANK),
        _label=pairs["project_id"].astype(str) + " " + pairs["name"].astype(str),
    ).sort_values(["_gap", "_rank", "year"], ascending=[True, False, True], kind="stable")
    summary = pairs.groupby("_gap", sort=False).agg(
        project=("_label", "; ".join),
        project_status=("status", "first"),
        project_year=("year", "first"),
        budget_wan_yuan=("budget_wan_yuan", "sum"),
        fund_source=("fund_source", _sources),
    )
    for column in LINK_COLUMNS:
        out.loc[summary.index, column] = summary[column].to_numpy()
    out["project_year"] = pd.to_numeric(out["project_year"]).astype("Int64")
    out["budget_wan_yuan"] = out["budget_wan_yuan"].astype(float)
    return out


def _sources(cells: pd.Series) -> str:
    """Return the fund sources of several projects, each once, in the order first met.

    Examples
    --------
    >>> _sources(pd.Series(["central, local", "local", "loan"]))
    'central, local, loan'
    """
    parts = (p for cell in cells.dropna().astype(str) for p in cell.split(", ") if p)
    return ", ".join(dict.fromkeys(parts))


def done_but_open(linked: pd.DataFrame, year: int) -> pd.Series:
    """Return which gaps have a project recorded done by the end of `year`: it should have closed.

    `linked` is `link`'s result for the gaps as of `year`; such a gap means the register
    or the village file is wrong (or the project did not do what it was for).

    Examples
    --------
    >>> linked = pd.DataFrame({"project_status": ["done", "done", "funded", "none"],
    ...                        "project_year": pd.array([2016, 2018, 2016, None], dtype="Int64")})
    >>> done_but_open(linked, 2017).tolist()
    [True, False, False, False]
    """
    done = (linked["project_status"] == "done") & (linked["project_year"] <= year)
    return done.fillna(value=False).astype(bool).rename("done_but_open")


def completed(projects: pd.DataFrame, start: int, end: int) -> pd.DataFrame:
    """Return the projects done after the end of `start` and by the end of `end`.

    Examples
    --------
    >>> register = pd.DataFrame({"status": ["done", "done", "funded"], "year": [2015, 2017, 2017]})
    >>> completed(register, 2015, 2017).index.tolist()
    [1]
    """
    year = pd.to_numeric(projects["year"], errors="coerce")
    done = (projects["status"] == "done") & (year > start) & (year <= end)
    return projects[done.fillna(value=False).astype(bool)]


def register(load: Loader) -> gpd.GeoDataFrame:
    """Return the project register through `load`; empty when the store holds none yet."""
    try:
        return load("projects")
    except StoreError:
        return empty_register()


def empty_register(crs: object = settings.storage_crs) -> gpd.GeoDataFrame:
    """Return a register with no projects: the layer's columns, no rows."""
    columns = next(spec.columns for spec in CATALOGUE if spec.key == "projects")
    return gpd.GeoDataFrame(
        {column: pd.Series(dtype=object) for column in columns},
        geometry=gpd.GeoSeries([], crs=crs),
    )


def status_text(status: str, lang: str = "en") -> str:
    """Return a project status (or `NO_PROJECT`) in words.

    Examples
    --------
    >>> status_text("under_construction"), status_text("none", "zh")
    ('Under construction', '无项目')
    """
    return t(f"pst_{status}", lang)


def fund_text(sources: str, lang: str = "en") -> str:
    """Return fund sources (one, or several joined by ``", "``) in words.

    Examples
    --------
    >>> fund_text("central, pairing")
    'Central, Pairing unit'
    """
    sep = "、" if lang == "zh" else ", "
    return sep.join(t(f"fund_{s}", lang) for s in sources.split(", ") if s)


def _measure_title(key: str, plan: Iterable[Target], lang: str) -> str:
    """Return the title of a rule or target key (the key itself when neither knows it)."""
    if key in RULES:
        return RULES[key].title(lang)
    return next((target.title(lang) for target in plan if target.key == key), key)


def listing(projects: pd.DataFrame, lang: str, plan: Iterable[Target] = ()) -> pd.DataFrame:
    """Return projects as a table for people: every column named and its values in words."""
    plan = tuple(plan)
    return pd.DataFrame(
        {
            t("project_id", lang): projects["project_id"],
            t("name", lang): projects["name"],
            t("measure", lang): projects["measure"].map(lambda k: _measure_title(k, plan, lang)),
            t("project_site", lang): projects["site"].map(lambda k: t(f"site_{k}", lang)),
            t("code", lang): projects["village_code"],
            t("lead_bureau", lang): projects["lead"].map(lambda k: _unit_name(k, lang)),
            t("project_year", lang): projects["year"],
            t("budget_wan_yuan", lang): projects["budget_wan_yuan"],
            t("fund_source", lang): projects["fund_source"].map(lambda k: fund_text(k, lang)),
            t("project_status", lang): projects["status"].map(lambda k: status_text(k, lang)),
        }
    )


def _unit_name(key: str, lang: str) -> str:
    """Return a unit's name from its key."""
    return BUREAUS[key].name(lang) if key in BUREAUS else key
