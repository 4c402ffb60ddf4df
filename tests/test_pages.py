"""AppTest smoke tests: every page runs without an exception and shows its key widgets."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

import layers
from tests.conftest import ROOT

APP = str(ROOT / "app.py")


@pytest.fixture
def app(demo_store):
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    return at


def test_overview_shows_the_headline_figures(app):
    villages = layers.load("villages")
    poor = villages[villages["is_poor"]]
    assert app.title[0].value == "Village Atlas"
    metrics = {m.label: int(m.value) for m in app.metric}
    assert metrics["Villages"] == len(villages)
    assert metrics["Registered poor villages"] == len(poor)
    assert metrics["Exited"] == int((poor["exit_year"] <= 2017).sum())
    assert metrics["Poor at year end"] + metrics["Exited"] == len(poor)
    assert "SYNTHETIC" in app.info[0].value


def test_year_changes_the_figures(app):
    app.sidebar.slider[0].set_value(2014).run()
    assert not app.exception
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Exited"] == "0"


def test_language_switch_to_chinese(app):
    app.sidebar.selectbox[0].set_value("zh").run()
    assert not app.exception
    assert app.title[0].value == "村情地图"
    assert "行政村" in [m.label for m in app.metric]


def test_catalogue_page_lists_every_layer(app):
    app.switch_page("pages/catalogue.py").run()
    assert not app.exception
    table = app.dataframe[0].value
    assert list(table["key"]) == list(layers.REGISTRY)
