"""AppTest smoke tests: every page runs without an exception and shows its key widgets."""

from __future__ import annotations

import json
import re

import pytest
from streamlit.testing.v1 import AppTest

import layers
from layers import projects, targets
from layers.rules import RULES, evaluate, evaluate_many, gap_list
from tests.helpers import ROOT, log_in, uncovered_by_hand
from ui.coverage_view import CLASSES

APP = str(ROOT / "app.py")


@pytest.fixture
def app(demo_store):
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    return at


def test_overview_shows_the_headline_figures(app):
    app.switch_page("pages/overview.py").run()
    villages = layers.load("villages")
    poor = villages[villages["is_poor"]]
    assert app.title[0].value == "Village Atlas"
    metrics = {m.label: int(m.value) for m in app.metric}
    assert metrics["Villages"] == len(villages)
    assert metrics["Registered poor villages"] == len(poor)
    assert metrics["Exited"] == int((poor["exit_year"] <= 2017).sum())
    assert metrics["Poor at year end"] + metrics["Exited"] == len(poor)
    assert app.info[0].value.startswith("Synthetic demo data")


def test_year_changes_the_figures(app):
    app.switch_page("pages/overview.py").run()
    app.sidebar.slider[0].set_value(2014).run()
    assert not app.exception
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Exited"] == "0"


def test_language_switch_to_chinese(app):
    app.sidebar.selectbox[0].set_value("zh").run()
    assert not app.exception
    assert app.title[0].value == "地图"
    assert "底图" in [s.label for s in app.sidebar.selectbox]
    app.switch_page("pages/overview.py").run()
    assert app.title[0].value == "村情地图"
    assert "行政村" in [m.label for m in app.metric]


def test_catalogue_page_lists_every_layer(app):
    app.switch_page("pages/catalogue.py").run()
    assert not app.exception
    table = app.dataframe[0].value
    records = ["household_register", "village_indicators"]  # read besides the layers
    assert list(table["key"]) == [*layers.REGISTRY, *records]


# --- map page -------------------------------------------------------------------------------

URL = re.compile(r"https?://[^\s\"'<>)]+")


def test_map_page_is_the_home_page_with_its_controls(app, sent):
    assert app.title[0].value == "Map"
    labels = ["Language / 语言", "Basemap", "Indicator (industry, labour, income)"]
    assert [s.label for s in app.sidebar.selectbox] == labels
    assert [m.label for m in app.sidebar.multiselect] == ["Counties", "Townships", "Poverty status"]
    layer_boxes = [c.label for c in app.sidebar.checkbox]
    assert "Administrative villages" in layer_boxes
    assert "Roads" in layer_boxes
    assert app.text_input[0].label.startswith("Find a village")
    app.run()
    args = sent[-1]
    assert URL.findall(json.dumps(args, default=str)) == []
    assert "feature_group_feature_group_0" in args["feature_group"]


def test_layers_and_filters_change_what_is_sent(app, sent):
    app.run()
    full = len(sent[-1]["feature_group"])
    next(c for c in app.sidebar.checkbox if c.label == "Roads").uncheck().run()
    assert not app.exception
    assert len(sent[-1]["feature_group"]) < full
    app.sidebar.multiselect[0].select("620924").run()  # Aksai only
    assert not app.exception
    aksai = layers.load("villages").query("county_code == '620924'")
    script = sent[-1]["feature_group"]
    assert script.count('"code":') == len(aksai)


def test_the_map_draws_projects_by_status(app, sent):
    next(c for c in app.sidebar.checkbox if c.label == "Projects and funds").check().run()
    assert not app.exception
    script = sent[-1]["feature_group"]
    register = layers.load("projects")
    for status, colour in layers.get_layer("projects").style.categories.items():
        assert (register["status"] == status).any()
        assert colour in script, status
    assert "Project status" in script  # the hover label, translated
    counts = {s: script.count(f'"status": "{s}"') for s in register["status"].unique()}
    assert counts == register["status"].value_counts().to_dict()


def test_search_opens_the_village_file(app):
    village = layers.load("villages").iloc[3]
    app.text_input[0].input(village["pinyin"].split()[0]).run()
    assert not app.exception
    codes = app.selectbox[0].options
    assert any(village["code"] in o for o in codes)
    app.selectbox[0].select(village["code"]).run()
    assert not app.exception
    headers = [h.value for h in app.subheader]
    assert any(village["name_zh"] in h for h in headers)
    assert any(frame.value.shape[0] == len(RULES) for frame in app.dataframe)


def test_the_village_file_says_a_clause_does_not_ask_about_the_village(app):
    left_out = uncovered_by_hand("cooperative", 2017)
    code = next(c for c, asked in left_out.items() if not asked)  # not poor, no cooperative
    village = layers.load("villages").set_index("code").loc[code]
    app.text_input[0].input(village["pinyin"]).run()
    app.selectbox[0].select(code).run()
    assert not app.exception
    (measures,) = [f.value for f in app.dataframe if len(f.value) == len(RULES)]
    met = dict(zip(measures["Measure"], measures["Met"], strict=True))
    assert met["A cooperative or mutual fund association"] == "Outside the scope: not a gap"
    assert met["Bus stop within 2 km"] in ("yes", "no")


def test_the_village_file_lists_its_projects(app):
    register = layers.load("projects")
    code = register["village_code"].dropna().value_counts().index[0]  # the busiest village
    village = layers.load("villages").set_index("code").loc[code]
    app.text_input[0].input(village["pinyin"]).run()
    app.selectbox[0].select(code).run()
    assert not app.exception
    (listed,) = [f.value for f in app.dataframe if "Project ID" in f.value.columns]
    assert sorted(listed["Project ID"]) == sorted(
        register.loc[register["village_code"] == code, "project_id"]
    )


def test_unreachable_basemap_says_so_and_keeps_the_relief(app, sent, monkeypatch):
    monkeypatch.setattr("ui.probe", lambda _url: False)
    app.sidebar.selectbox[1].select("osm").run()
    assert not app.exception
    assert any("cannot be reached" in w.value for w in app.warning)
    assert "tile.openstreetmap.org" not in json.dumps(sent[-1], default=str)
    assert "imageOverlay" in sent[-1]["script"]


# --- coverage, targets, bureaus, changes ----------------------------------------------------


def _counts_caption(app: AppTest) -> str:
    """The caption under the Coverage page's map: the count of each class, the scope."""
    return next(c.value for c in app.caption if c.value.startswith("Covered: "))


def test_coverage_page_figures_equal_the_engine(app, sent):
    app.switch_page("pages/coverage.py").run()
    assert not app.exception
    result = evaluate_many([RULES["bus_2km"]], 2017)
    caption = _counts_caption(app)
    assert f"Covered: {int(result['covered'].sum())}" in caption
    assert f"Not covered: {int((~result['covered']).sum())}" in caption
    assert "Gaps are counted in: all villages." in caption
    assert "outside the scope" not in caption
    drawn = _drawn_codes(str(sent[-1]["feature_group"]))
    assert CLASSES["out_of_scope"].color not in drawn  # the bus asks about every village
    assert len(drawn[CLASSES["uncovered"].color]) == int((~result["covered"]).sum())
    county_table = app.dataframe[0].value
    assert int(county_table["Covered"].sum()) == int(result["covered"].sum())
    app.radio[0].set_value("network").run()
    assert not app.exception
    along = evaluate_many([RULES["bus_2km"]], 2017, along_roads=True)
    straight_only = int((along["straight_covered"] & ~along["covered"]).sum())
    assert f"Covered straight, not along roads: {straight_only}" in _counts_caption(app)
    assert URL.findall(json.dumps(sent[-1], default=str)) == []


def test_coverage_page_combines_rules(app):
    app.switch_page("pages/coverage.py").run()
    app.multiselect[0].set_value(["bus_2km", "tap_water"]).run()
    assert not app.exception
    both = evaluate_many([RULES["bus_2km"], RULES["tap_water"]], 2017)
    assert f"Covered: {int(both['covered'].sum())}" in _counts_caption(app)


def test_coverage_rule_picker_says_what_is_our_assumption(app):
    app.switch_page("pages/coverage.py").run()
    assert not app.exception
    picker = app.multiselect[0]
    assert "Bus stop within 2 km · assumption" in picker.options
    assert "Bus service in the village · plan" in picker.options
    assert picker.value == ["bus_2km"]  # the default is ours: its reason is shown
    notes = [c.value for c in app.caption]
    assert any(n.startswith("Bus stop within 2 km: Our assumption, not the plan's") for n in notes)
    picker.set_value(["bus_service"]).run()
    assert not app.exception
    assert not any("Our assumption" in c.value for c in app.caption)


@pytest.mark.parametrize("key", [k for k, r in RULES.items() if r.scope.value == "poor villages"])
def test_coverage_page_counts_a_poor_village_rule_in_poor_villages(app, sent, key):
    """2016: many villages that are not poor lack the service; they are shown, not counted."""
    left_out = uncovered_by_hand(key, 2016)
    gaps = {code for code, asked in left_out.items() if asked}
    outside = len(left_out) - len(gaps)
    assert outside > 0
    app.sidebar.slider[0].set_value(2016).run()
    app.switch_page("pages/coverage.py").run()
    app.multiselect[0].set_value([key]).run()
    assert not app.exception
    villages = layers.load("villages")
    poor = int(villages["is_poor"].sum())
    caption = _counts_caption(app)
    assert f"Not covered: {len(gaps)}" in caption
    assert f"Covered: {poor - len(gaps)}" in caption
    assert "Gaps are counted in: poor villages." in caption
    assert f"{len(villages) - poor} villages outside the scope" in caption
    by_county = app.dataframe[0].value
    assert int(by_county["Villages"].sum()) == poor
    assert int(by_county["Covered"].sum()) == poor - len(gaps)
    assert any(h.value == "Gap list · poor villages" for h in app.subheader)
    listed = app.dataframe[-1].value
    assert set(listed["Code"]) == gaps
    assert len(listed) == len(gaps)
    assert set(listed["Scope"]) == {"poor villages"}
    assert set(listed["Provenance"]) == {RULES[key].provenance.value}
    drawn = _drawn_codes(str(sent[-1]["feature_group"]))
    assert drawn[CLASSES["uncovered"].color] == gaps  # red rings: the gaps only
    assert drawn[CLASSES["out_of_scope"].color] == set(villages.loc[~villages["is_poor"], "code"])


def _drawn_codes(script: str) -> dict[str, set[str]]:
    """The village codes each class's group draws on the Coverage map, by the class colour."""
    out: dict[str, set[str]] = {}
    for chunk in script.split("L.featureGroup(")[1:]:
        colours = [s.color for s in CLASSES.values() if s.color in chunk]
        if not colours:  # the service area
            continue
        (colour,) = colours
        out[colour] = set(re.findall(r'"code": "(\d+)"', chunk))
    return out


def test_export_page_says_whose_rule_the_map_shows(app):
    app.switch_page("pages/export.py").run()
    assert not app.exception
    picker = app.selectbox(key="exp_rule")
    assert picker.value == "bus_2km"
    assert "Bus stop within 2 km · assumption" in picker.options
    assert "Power supply · plan" in picker.options
    notes = [c.value for c in app.caption]
    assert any(n.startswith("Our assumption, not the plan's figure: A map measure") for n in notes)
    picker.set_value("power").run()
    assert not app.exception
    notes = [c.value for c in app.caption]
    assert "The plan's measure (section 7(4))" in notes
    assert not any("Our assumption" in n for n in notes)


def test_targets_page_shows_the_board(app):
    app.switch_page("pages/targets.py").run()
    assert not app.exception
    board = targets.board(targets.load_targets(), 2017)
    metrics = {m.label: int(m.value) for m in app.metric}
    assert metrics["overdue"] == int((board["status"] == "overdue").sum())
    assert metrics["done"] == int((board["status"] == "done").sum())
    assert metrics["not measured"] == int((board["status"] == "not_measured").sum())
    shown = app.dataframe[0].value
    assert list(shown["Current"].fillna(-1)) == list(board["current"].fillna(-1))
    assert list(shown["Provenance"]) == list(board["provenance"])
    assert list(shown["Clause of the plan"]) == list(board["clause"])


def test_targets_page_follows_an_edited_file(app, monkeypatch, tmp_path):
    edited = tmp_path / "targets.toml"
    edited.write_text(
        targets.TARGETS_PATH.read_text().replace('key = "tap_water"', 'key = "tap_water_edited"')
    )
    monkeypatch.setattr(targets, "TARGETS_PATH", edited)
    app.switch_page("pages/targets.py").run()
    assert not app.exception
    assert "Safe drinking water for every household" in app.selectbox[0].options
    app.selectbox[0].set_value("tap_water_edited").run()
    assert not app.exception
    assert app.session_state["targets_pick"] == "tap_water_edited"


def _bureau_gaps(keys: tuple[str, ...], year: int = 2017) -> int:
    """Gaps of `keys` counted over the villages one by one, each in its rule's scope."""
    return sum(sum(uncovered_by_hand(key, year).values()) for key in keys)


OPEN = "Open gaps (each need once)"
OURS = "Gaps by our map measures that repeat the plan's (counted apart)"
FUNDED = "Gaps with a funded project (each need once)"


def test_bureau_page_lists_its_gaps(app):
    app.switch_page("pages/bureaus.py").run()
    app.selectbox[0].set_value("transport").run()
    assert not app.exception
    # the hardened road within 500 m is ours but the clause's only measure: in the total
    plan, ours = _bureau_gaps(("bus_service", "hardened_road")), _bureau_gaps(("bus_2km",))
    metrics = {m.label: m.value for m in app.metric}
    assert int(metrics[OPEN]) == plan
    assert int(metrics[OURS]) == ours
    assert len(app.dataframe[-1].value) == plan + ours  # each row says whose measure it is
    assert set(app.dataframe[-1].value["Provenance"]) == {"assumption", "plan"}
    note = next(c.value for c in app.caption if c.value.startswith("Our own map measures"))
    assert f"Bus stop within 2 km: {_bureau_gaps(('bus_2km',))}" in note


def test_bureau_page_totals_count_a_village_once(app):
    """2016: villages without a bus service are gaps of bus_service and of our bus_2km."""
    app.sidebar.slider[0].set_value(2016).run()
    app.switch_page("pages/bureaus.py").run()
    app.selectbox[0].set_value("transport").run()
    assert not app.exception
    bus = uncovered_by_hand("bus_service", 2016)
    assert set(bus) & set(uncovered_by_hand("bus_2km", 2016))
    metrics = {m.label: m.value for m in app.metric}
    road = uncovered_by_hand("hardened_road", 2016)
    assert int(metrics[OPEN]) == len(bus) + len(road)
    repeats = ("bus_2km", "express_5km", "fibre_1km")  # by hand: ours, repeating the plan's
    city = sum(_bureau_gaps((k,), 2016) for k in RULES if k not in repeats)
    share = metrics["Share of the city's open gaps (each need once)"]
    assert share == f"{(len(bus) + len(road)) / city:.1%}"


def test_bureau_page_counts_poor_village_clauses_in_poor_villages(app):
    app.switch_page("pages/bureaus.py").run()
    app.selectbox[0].set_value("commerce").run()
    assert not app.exception
    plan = _bureau_gaps(("express_service", "broadband"))
    ours = _bureau_gaps(("express_5km", "fibre_1km"))
    metrics = {m.label: m.value for m in app.metric}
    assert int(metrics[OPEN]) == plan
    assert int(metrics[OURS]) == ours
    listed = app.dataframe[-1].value
    assert len(listed) == plan + ours
    assert listed["Poor village"].all()


def test_every_unit_sees_its_targets_on_the_bureau_page(app):
    app.switch_page("pages/bureaus.py").run()
    assert set(app.selectbox[0].options) >= {
        layers.BUREAUS[k].name_en for k in ("forestry", "land", "poverty_office", "tourism")
    }
    app.selectbox[0].set_value("forestry").run()
    assert not app.exception
    led = app.dataframe[0].value
    assert list(led["Target"]) == ["Farmland forest network, green passage and sand prevention"]
    assert list(led["Provenance"]) == ["assumption"]  # counted in the immigrant areas: ours
    assert any("no village-level measure" in i.value for i in app.info)
    app.selectbox[0].set_value("tourism").run()
    assert not app.exception
    assert list(app.dataframe[0].value["Target"]) == [
        "Rural modern services: e-commerce service points",
        "Rural tourism projects",
        "Photovoltaic poverty alleviation projects",
    ]


def test_targets_and_bureaus_in_chinese(app):
    app.sidebar.selectbox[0].set_value("zh").run()
    app.switch_page("pages/targets.py").run()
    assert not app.exception
    board = app.dataframe[0].value
    assert "本图假设" in set(board["来源"])
    assert "%（贫困户）" in set(board["单位"])
    app.switch_page("pages/bureaus.py").run()
    app.selectbox[0].set_value("womens_federation").run()
    assert not app.exception
    assert "每年培训劳动力" in list(app.dataframe[0].value["目标"])


def test_change_report_counts_exits(app):
    app.switch_page("pages/changes.py").run()
    assert not app.exception
    app.selectbox[1].set_value(2016).run()
    v = layers.load("villages")
    exited = int(((v["exit_year"] > 2015) & (v["exit_year"] <= 2016)).sum())
    assert any(h.value == f"Newly exited villages: {exited}" for h in app.subheader)


def test_bureau_page_says_which_project_serves_each_gap(app):
    app.switch_page("pages/bureaus.py").run()
    app.selectbox[0].set_value("transport").run()  # the bureau with gaps left in 2017
    assert not app.exception
    listed = app.dataframe[-1].value
    mine = [r for r in RULES.values() if r.bureau.key == "transport"]
    measures = {r.key: evaluate(r, 2017) for r in mine}
    gaps = gap_list(layers.load("villages"), measures, 2017, rules=mine)
    linked = projects.link(
        gaps, layers.load("projects"), projects.measure_rules(targets.load_targets())
    )
    assert list(listed["Project status"]) == [
        projects.status_text(s) for s in linked["project_status"]
    ]
    assert list(listed["Project"]) == list(linked["project"])
    assert {"Funded", "Under construction", "No project"} <= set(listed["Project status"])
    funded = linked["project_status"].isin(["funded", "under_construction", "done"])
    plan = gaps["rule"] != "bus_2km"  # each need once: our repeat of the bus apart
    assert int({m.label: m.value for m in app.metric}[FUNDED]) == int((funded & plan).sum())
    assert 0 < int((funded & plan).sum()) < int(plan.sum())


def test_change_report_lists_the_projects_completed(app):
    app.switch_page("pages/changes.py").run()
    app.selectbox[0].set_value(2014).run()
    app.selectbox[1].set_value(2016).run()
    assert not app.exception
    register = layers.load("projects")
    done = register[(register["status"] == "done") & register["year"].between(2015, 2016)]
    assert len(done) > 0
    assert any(h.value == f"Projects completed: {len(done)}" for h in app.subheader)
    (table,) = [d.value for d in app.dataframe if "Project ID" in d.value.columns]
    assert sorted(table["Project ID"]) == sorted(done["project_id"])
    assert (table["Project status"] == "Done").all()
    budget = f"{done['budget_wan_yuan'].sum():,.1f}"
    assert f"Their budget: {budget} (10,000 yuan)" in [c.value for c in app.caption]


# --- data page ----------------------------------------------------------------------------------


@pytest.fixture
def private_store(demo_store, tmp_path, monkeypatch):
    """The app pointed at a copy of the demo data, so edits stay in the test."""
    from tests.helpers import copy_gpkg  # noqa: PLC0415

    copy = copy_gpkg(demo_store, tmp_path / "demo.gpkg")
    monkeypatch.setenv("VILLAGE_ATLAS_STORE", str(copy))
    return copy


def test_data_page_edits_a_village_with_an_audit_trail(private_store, on_the_network):
    import store  # noqa: PLC0415

    at = _open_data_page("张伟")
    code = at.selectbox(key="data_village").value
    at.number_input(key=f"edit_tap_water_year_{code}").set_value(2016)
    next(b for b in at.button if b.label == "Save").click().run()
    assert not at.exception
    values, version = store.open_store(private_store).current("villages", code, ["tap_water_year"])
    assert values["tap_water_year"] == 2016
    assert version == 1
    trail = at.dataframe[-1].value
    assert trail["By"].tolist() == ["张伟"]
    assert trail["New value"].tolist() == ["2016"]
    assert trail["Field"].tolist() == ["Tap water since"]


def test_hostile_project_names_show_as_text_on_the_bureau_page(private_store):
    import geopandas as gpd  # noqa: PLC0415

    import store  # noqa: PLC0415
    from layers.access import LOCAL_ADMIN  # noqa: PLC0415
    from store import accounts  # noqa: PLC0415
    from tests.helpers import HOSTILE_NAMES, MARKDOWN_NAMES  # noqa: PLC0415

    villages = layers.load("villages", private_store)
    open_gap = ~evaluate(RULES["bus_service"], 2017, load=lambda k: layers.load(k, private_store))[
        "covered"
    ]
    chosen = villages[open_gap.to_numpy()].head(3)
    names = [MARKDOWN_NAMES[0], HOSTILE_NAMES[0], MARKDOWN_NAMES[1]]
    hostile = gpd.GeoDataFrame(
        {
            "project_id": ["H1", "H2", "H3"],
            "name": names,
            "measure": ["bus_service"] * 3,
            "site": ["village"] * 3,
            "village_code": chosen["code"].tolist(),
            "lead": ["transport"] * 3,
            "year": [2018, 2018, 2016],
            "budget_wan_yuan": [10.0] * 3,
            "fund_source": ["central"] * 3,
            "status": ["funded", "funded", "done"],  # done, yet the gap is open: a warning
        },
        geometry=chosen.geometry.to_numpy(),
        crs=villages.crs,
    )
    handle = store.open_store(private_store)
    accounts.import_as(
        handle, LOCAL_ADMIN, "projects", layers.validate("projects", hostile), source="h.xlsx"
    )
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/bureaus.py").run()
    at.selectbox[0].set_value("transport").run()
    assert not at.exception
    listed = at.dataframe[-1].value
    shown = listed[listed["Missing"] == RULES["bus_service"].title("en")].set_index("Code")
    statuses = ["Funded", "Funded", "Done"]
    for code, name, pid, status in zip(
        chosen["code"], names, ["H1", "H2", "H3"], statuses, strict=True
    ):
        assert shown.loc[code, "Project"] == f"{pid} {name}"  # the text itself, as text
        assert shown.loc[code, "Project status"] == status
    (warning,) = [w.value for w in at.warning]
    assert warning.startswith("1 gap(s) have a project recorded done by 2017, yet the village")
    rendered = [m.value for m in at.markdown] + [c.value for c in at.caption]
    assert not [text for text in rendered if "__xss" in text]


def _open_data_page(who: str) -> AppTest:
    """Log `who` in (an admin account, made if missing) and open the Data page."""
    import store  # noqa: PLC0415
    from store import accounts  # noqa: PLC0415

    handle = store.open_store()
    if handle.account(who) is None:
        accounts.add_user(handle, who, role="admin", bureau=None, password="password 1", who="t")
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    log_in(at, who, "password 1")
    at.switch_page("pages/data.py").run()
    assert not at.exception
    return at


def _save(at: AppTest) -> None:
    next(b for b in at.button if b.label == "Save").click().run()
    assert not at.exception


def test_two_people_on_the_data_page_see_a_conflict_instead_of_a_revert(
    private_store, on_the_network
):
    """Both open the same village; the second save must not revert the first person's change."""
    import store  # noqa: PLC0415

    first, second = _open_data_page("王芳"), _open_data_page("李强")
    code = first.selectbox(key="data_village").value
    assert second.selectbox(key="data_village").value == code
    handle = store.open_store(private_store)
    before, _ = handle.current("villages", code, ["cadre", "tap_water_year"])
    first.number_input(key=f"edit_tap_water_year_{code}").set_value(2016)
    _save(first)
    second.text_input(key=f"edit_cadre_{code}").input("赵六")  # a different field
    _save(second)
    values, version = handle.current("villages", code, ["cadre", "tap_water_year"])
    assert values == {"cadre": before["cadre"], "tap_water_year": 2016}  # nothing reverted
    assert version == 1
    assert any("changed by someone else" in e.value for e in second.error)
    shown = second.dataframe[0].value
    assert shown["Your value"].tolist() == ["赵六"]
    assert shown["Stored now"].tolist() == [before["cadre"]]
    next(b for b in second.button if b.key == "data_keep_mine").click().run()
    assert not second.exception
    values, version = handle.current("villages", code, ["cadre", "tap_water_year"])
    assert values == {"cadre": "赵六", "tap_water_year": 2016}  # only the field she changed
    assert version == 2
    trail = handle.history(code)
    assert trail[["who", "column"]].to_numpy().tolist() == [
        ["李强", "cadre"],
        ["王芳", "tap_water_year"],
    ]


def test_taking_theirs_discards_mine(private_store, on_the_network):
    import store  # noqa: PLC0415

    first, second = _open_data_page("王芳"), _open_data_page("李强")
    code = first.selectbox(key="data_village").value
    first.number_input(key=f"edit_tap_water_year_{code}").set_value(2016)
    _save(first)
    second.number_input(key=f"edit_tap_water_year_{code}").set_value(2017)
    _save(second)
    next(b for b in second.button if b.key == "data_take_theirs").click().run()
    assert not second.exception
    assert second.number_input(key=f"edit_tap_water_year_{code}").value == 2016
    values, version = store.open_store(private_store).current("villages", code, ["tap_water_year"])
    assert (values["tap_water_year"], version) == (2016, 1)


def test_a_bad_store_is_one_sentence_on_the_page(tmp_path, monkeypatch):
    monkeypatch.setenv("VILLAGE_ATLAS_STORE", str(tmp_path))  # a folder, not a store
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    shown = at.error[0].value.replace("\\", "")  # the message is escaped as Markdown
    assert shown.startswith("The data store is missing or unreadable:")
    assert "is a folder, not a store" in shown
    assert not list(tmp_path.iterdir())  # nothing created


def test_a_read_only_store_browses_and_says_editing_is_unavailable(
    demo_store, tmp_path, monkeypatch
):
    from tests.helpers import read_only_copy  # noqa: PLC0415

    with read_only_copy(demo_store, tmp_path / "ro") as path:
        monkeypatch.setenv("VILLAGE_ATLAS_STORE", str(path))
        at = AppTest.from_file(APP, default_timeout=60)
        at.run()
        assert not at.exception
        at.switch_page("pages/data.py").run()
        assert not at.exception
        assert any("read-only" in i.value for i in at.info)
        assert not [b for b in at.button if b.label == "Save"]
