"""The app in a real headless Chromium, with every non-local request refused."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

import layers
from tests.helpers import ARTIFACTS, HOSTILE_NAMES

pytestmark = pytest.mark.browser
MAP_FRAME = 'iframe[title="streamlit_folium.st_folium"]'


def _open(page, url: str, ready: str) -> None:
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_text(ready, exact=True).first.wait_for(timeout=60_000)


def _map_frame(page):
    page.locator(MAP_FRAME).wait_for(timeout=60_000)
    frame = next(f for f in page.frames if "st_folium" in f.url)
    frame.wait_for_function("typeof map_div !== 'undefined' && map_div._loaded", timeout=60_000)
    return frame


def _in_map(page, script: str, arg: object = None) -> object:
    """Evaluate `script` in the map's frame; Streamlit may swap the frame while the map
    reports its first view, so look it up again when that happens."""
    for _ in range(10):
        try:
            return _map_frame(page).evaluate(script, arg)
        except PlaywrightError as exc:
            if "detached" not in str(exc):
                raise
            page.wait_for_timeout(500)
    return _map_frame(page).evaluate(script, arg)


def _wait_in_map(page, script: str, done, timeout_s: float = 60.0) -> object:
    """Evaluate `script` in the map's frame every half second until `done(value)` holds
    (a rerun on a loaded CI machine can take seconds); return the last value."""
    value = _in_map(page, script)
    for _ in range(int(timeout_s * 2)):
        if done(value):
            break
        page.wait_for_timeout(500)
        value = _in_map(page, script)
    return value


def _steady_layers(page) -> None:
    """Wait until the map's count of Leaflet layers is the same twice a second apart."""
    last = None
    for _ in range(60):
        count = _in_map(page, "Object.keys(map_div._layers).length")
        if count == last:
            return
        last = count
        page.wait_for_timeout(1000)


def _click_village(page, village) -> tuple[float, float]:
    """Click where the map draws `village` (from Leaflet's own projection); return the pixel."""
    _steady_layers(page)  # the overlays arrive after the base map
    x, y = _in_map(
        page,
        "([lat, lng]) => { const p = map_div.latLngToContainerPoint([lat, lng]);"
        " return [p.x, p.y]; }",
        [village.geometry.y, village.geometry.x],
    )
    box = page.locator(MAP_FRAME).bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)
    return x, y


def _choose_language(page, name: str) -> None:
    box = page.get_by_test_id("stSelectbox").first
    box.scroll_into_view_if_needed()
    box.locator("input").click()
    page.keyboard.type(name)
    page.keyboard.press("Enter")


def _loneliest_village():
    villages = layers.load("villages")
    metric = villages.to_crs(4541)
    gap = metric.geometry.apply(lambda p: metric.distance(p).nsmallest(2).iloc[1])
    return villages.loc[gap.idxmax()]


def test_map_renders_offline_toggles_switches_language_and_opens_a_village(app_url, offline_page):
    page, log = offline_page
    _open(page, app_url, "Map")
    canvases = "document.querySelectorAll('.leaflet-overlay-pane canvas').length"
    assert _wait_in_map(page, canvases, lambda n: n >= 1) >= 1  # the villages are drawn
    _steady_layers(page)  # and every overlay has arrived
    layers_before = _in_map(page, "Object.keys(map_div._layers).length")
    page.get_by_text("Townships", exact=True).last.click()  # the layer's checkbox
    layers_after = _wait_in_map(
        page, "Object.keys(map_div._layers).length", lambda n: n < layers_before
    )
    assert layers_after < layers_before
    page.screenshot(path=str(ARTIFACTS / "map-en.png"))

    _choose_language(page, "简体中文")
    page.get_by_text("底图", exact=True).first.wait_for(timeout=30_000)
    village = _loneliest_village()
    _click_village(page, village)
    page.get_by_text(f"村情档案：{village['name_zh']} ({village['pinyin']})").wait_for(
        timeout=30_000
    )
    assert page.get_by_text("帮扶单位和干部").first.is_visible()
    page.screenshot(path=str(ARTIFACTS / "map-zh-village.png"))
    assert log.foreign == []
    assert log.errors == []


def test_overview_renders_offline_in_both_languages(app_url, offline_page):
    page, log = offline_page
    _open(page, app_url, "Map")
    page.get_by_role("link", name="Overview").click()
    page.get_by_text("Registered poor villages", exact=True).first.wait_for(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "overview-en.png"), full_page=True)
    _choose_language(page, "简体中文")
    page.get_by_text("建档立卡贫困村", exact=True).first.wait_for(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "overview-zh.png"), full_page=True)
    assert log.foreign == []
    assert log.errors == []


def test_hostile_village_names_run_no_script(hostile_app_url, offline_page):
    page, log = offline_page
    _open(page, hostile_app_url, "Map")
    page.wait_for_timeout(2000)
    hostile = layers.load("villages").iloc[0]
    x, y = _in_map(
        page,
        "([lat, lng]) => { const p = map_div.latLngToContainerPoint([lat, lng]);"
        " return [p.x, p.y]; }",
        [hostile.geometry.y, hostile.geometry.x],
    )
    box = page.locator(MAP_FRAME).bounding_box()
    page.mouse.move(box["x"] + x, box["y"] + y)  # show the tooltip
    page.wait_for_timeout(1000)
    page.get_by_test_id("stTextInput").locator("input").fill("__xss")
    page.keyboard.press("Enter")
    page.get_by_text("Matches", exact=True).wait_for(timeout=30_000)
    page.get_by_text("Village file:", exact=False).first.wait_for(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "hostile.png"))
    assert page.evaluate("window.__xss") is None
    assert _in_map(page, "window.__xss") is None
    assert log.dialogs == []
    assert page.get_by_text(HOSTILE_NAMES[0], exact=False).count() >= 1  # shown as text
    assert log.foreign == []


@pytest.mark.parametrize(
    ("link", "ready"),
    [
        ("Coverage", "By county"),
        ("Targets", "Progress by year"),
        ("Bureaus", "Gap list"),
        ("Change report", "Newly exited villages"),
        ("Data", "Import a layer"),
        ("Export", "What to export"),
    ],
)
def test_each_page_opens_offline(app_url, offline_page, link, ready):
    page, log = offline_page
    _open(page, app_url, "Map")
    page.get_by_role("link", name=link).click()
    page.get_by_text(ready, exact=False).first.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(ARTIFACTS / f"page-{link.lower().replace(' ', '-')}.png"))
    assert log.foreign == []
    assert log.errors == []


def test_data_page_imports_an_uploaded_file(hostile_app_url, hostile_store, offline_page, tmp_path):
    upload = tmp_path / "站点.geojson"
    upload.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"站名": name, "开通年份": 2016},
                        "geometry": {"type": "Point", "coordinates": [98.5 + i / 100, 39.7]},
                    }
                    for i, name in enumerate(["东站", "西站", "南站"])
                ],
            },
            ensure_ascii=False,
        )
    )
    page, log = offline_page
    _open(page, hostile_app_url, "Map")
    page.get_by_role("link", name="Data").click()
    page.get_by_text("Import a layer", exact=True).wait_for(timeout=30_000)
    layer_box = page.get_by_test_id("stSelectbox").nth(1)
    for _ in range(5):  # the page may still be settling: retry until the choice shows
        layer_box.locator("input").click()
        page.keyboard.type("Bus stops")
        page.keyboard.press("Enter")
        page.wait_for_timeout(1000)
        if layer_box.locator("input").input_value() == "Bus stops":
            break
    assert layer_box.locator("input").input_value() == "Bus stops"
    page.locator('input[type="file"]').first.set_input_files(str(upload))  # the layer upload
    page.get_by_text("3 features read, 3 ready to write", exact=False).wait_for(timeout=60_000)
    write = page.get_by_role("button", name="Write 3 features to “Bus stops”")
    done = page.get_by_text("Imported 3 features", exact=False)
    for _ in range(3):  # a click while the page reruns can be lost: click again if still there
        if write.is_visible():
            write.click()
        try:
            done.wait_for(timeout=40_000)
            break
        except PlaywrightTimeoutError:
            continue
    done.wait_for(timeout=1_000)
    page.screenshot(path=str(ARTIFACTS / "data-import.png"))
    stops = layers.load("bus_stops", hostile_store / "demo.gpkg")
    assert sorted(stops["name"]) == ["东站", "南站", "西站"]
    assert log.foreign == []
    assert log.errors == []


def test_data_page_previews_and_imports_indicators_with_the_year_box(
    hostile_app_url, hostile_store, offline_page, tmp_path
):
    """A file without a `year` column: the year box gives it one, the checked rows show
    before anything is written, and the button stores them."""
    import store  # noqa: PLC0415

    handle = store.open_store(hostile_store / "demo.gpkg")
    codes = handle.read_layer("villages")["code"].astype(str).tolist()[:3]
    before = handle.indicators().query("year == 2016").set_index("village_code")["sheep"]
    upload = tmp_path / "sheep.csv"
    upload.write_text(
        "village_code,sheep\n" + "".join(f"{c},{100 + i}\n" for i, c in enumerate(codes))
    )
    page, log = offline_page
    _open(page, hostile_app_url, "Map")
    page.get_by_role("link", name="Data").click()
    page.get_by_text("Village indicators (industry, labour, income)").wait_for(timeout=30_000)
    page.locator('input[type="file"]').last.set_input_files(str(upload))  # the indicators upload
    page.get_by_text("missing column `year`", exact=False).wait_for(timeout=60_000)
    year_box = page.get_by_label("Year of every row (for a file without a year column)")
    year_box.fill("2016")
    year_box.press("Enter")
    page.get_by_text("Checked: 3 rows of 3 villages (2016), reporting sheep", exact=False).wait_for(
        timeout=60_000
    )
    sheep_2016 = handle.indicators().query("year == 2016").set_index("village_code")["sheep"]
    assert sheep_2016.equals(before)  # nothing written yet
    page.get_by_role("button", name="Replace these indicators").click()
    page.get_by_text("3 rows of 3 villages imported (2016).", exact=False).wait_for(timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "data-indicators.png"))
    stored = handle.indicators().query("year == 2016").set_index("village_code")["sheep"]
    assert stored.dropna().to_dict() == {c: 100.0 + i for i, c in enumerate(codes)}
    assert log.foreign == []
    assert log.errors == []


VILLAGE_ROADS = """(() => { let n = 0; (window.feature_group || []).forEach(g => g.eachLayer(l => {
    if (l.eachLayer) l.eachLayer(f => { if (f.options && f.options.color === '#dfc27d') n++; });
})); return n; })()"""


def test_minor_roads_arrive_when_zoomed_in_and_only_for_the_view(app_url, offline_page):
    page, log = offline_page
    _open(page, app_url, "Map")
    page.wait_for_timeout(2000)
    assert _in_map(page, VILLAGE_ROADS) == 0  # zoom 7: major roads only
    _in_map(page, "void map_div.setView([39.75, 98.5], 12)")
    roads = layers.load("roads")
    everywhere = int((roads["road_class"] == "village").sum())
    near = 0
    for _ in range(60):  # zoom arrives first (all minor roads), then the view (clipped)
        page.wait_for_timeout(1000)
        near = _in_map(page, VILLAGE_ROADS)
        if 0 < near < everywhere:
            break
    assert 0 < near < everywhere
    assert log.foreign == []
    assert log.errors == []


def test_markdown_in_a_village_name_stays_text(hostile_app_url, offline_page):
    """A name written as a Markdown image or link shows as those characters: nothing fetched."""
    page, log = offline_page
    _open(page, hostile_app_url, "Map")
    page.get_by_test_id("stTextInput").locator("input").fill("va-markdown")
    page.keyboard.press("Enter")
    page.get_by_text("Village file:", exact=False).first.wait_for(timeout=30_000)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(ARTIFACTS / "hostile-markdown.png"))
    heading = page.locator("h3", has_text="Village file:").first.inner_text()
    assert "![__xss va-markdown](http://va-markdown.test/t.png)" in heading.replace("\u2060", "")
    assert page.locator("img[src*='va-markdown.test']").count() == 0
    assert page.locator("a[href*='va-markdown.test']").count() == 0
    assert log.foreign == []


def test_a_visitor_on_the_network_sees_only_the_login(network_app_url, offline_page):
    page, log = offline_page
    _open(page, network_app_url, "Log in to Village Atlas")
    page.wait_for_timeout(1000)
    assert page.locator(MAP_FRAME).count() == 0
    assert page.get_by_role("link", name="Data").count() == 0
    page.screenshot(path=str(ARTIFACTS / "login.png"))
    page.get_by_role("textbox", name="Account").fill("li")
    page.get_by_role("textbox", name="Password").fill("correct horse 7")
    page.get_by_role("button", name="Log in").click()
    page.get_by_text("Logged in:", exact=False).first.wait_for(timeout=60_000)
    page.get_by_role("link", name="Data").click()
    page.get_by_text("Import a layer", exact=True).first.wait_for(timeout=60_000)
    page.get_by_text("Bus since", exact=True).wait_for(timeout=60_000)  # the edit form is drawn
    assert page.get_by_text("Tap water since", exact=True).count() == 0  # water is not theirs
    assert page.get_by_text("Bus since", exact=True).count() == 1
    assert log.foreign == []


def _pixels_near(png: bytes, rgb: tuple[int, int, int], tolerance: int = 40) -> int:
    import io  # noqa: PLC0415

    import numpy as np  # noqa: PLC0415
    from PIL import Image  # noqa: PLC0415

    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    return int((np.abs(image - np.array(rgb)).sum(axis=2) < tolerance).sum())


def test_coverage_map_fits_the_villages_and_keeps_covered_ones_visible(app_url, offline_page):
    page, _ = offline_page
    _open(page, app_url, "Map")
    page.get_by_role("link", name="Coverage").click()
    page.get_by_text("By county", exact=False).first.wait_for(timeout=60_000)
    # fitted to the villages (the whole prefecture would be 6 or 7); a loaded machine may
    # take seconds to fit the map and draw its overlays: look again until both show
    zoom = _wait_in_map(page, "map_div.getZoom()", lambda z: z >= 8)
    green = red = 0
    for _ in range(30):
        shot = page.locator(MAP_FRAME).screenshot()
        green = _pixels_near(shot, (0x1A, 0x96, 0x41))  # covered: dots, under the rings
        red = _pixels_near(shot, (0xD7, 0x19, 0x1C))  # uncovered: rings on top
        if green > 500 and red > 500:
            break
        page.wait_for_timeout(1000)
    (ARTIFACTS / "coverage-map.png").write_bytes(shot)
    assert zoom >= 8
    assert green > 500, green
    assert red > 500, red


def _settle(page) -> None:
    """Wait until one map shows for 3 s in a row: the map drawn afresh has replaced the old."""
    steady = 0
    for _ in range(60):
        steady = steady + 1 if page.locator(MAP_FRAME).count() == 1 else 0
        if steady == 3:
            return
        page.wait_for_timeout(1000)
    raise AssertionError("the Planning map never settled")


def test_planning_draws_a_site_offline_and_takes_in_an_uploaded_file(
    app_url, offline_page, tmp_path
):
    """Leaflet.draw comes from this machine; a drawn marker and a file's points become sites."""
    page, log = offline_page
    _open(page, app_url, "Map")
    page.get_by_role("link", name="Planning").click()
    page.get_by_text("Best next sites (HiGHS)", exact=True).wait_for(timeout=60_000)
    frame = _map_frame(page)
    frame.locator(".leaflet-draw-draw-marker").wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    frame.locator(".leaflet-draw-draw-marker").click()
    x, y = _click_village(page, _loneliest_village())  # a marker drawn there
    lng, lat, pixel = _in_map(
        page,
        "([x, y]) => { const p = map_div.containerPointToLatLng([x, y]);"
        " const q = map_div.containerPointToLatLng([x + 1, y + 1]);"
        " return [p.lng, p.lat, Math.max(q.lng - p.lng, p.lat - q.lat)]; }",
        [x, y],
    )
    take = page.get_by_role("button", name="Add the 1 drawn sites and 0 road links to the scenario")
    take.wait_for(timeout=60_000)
    take.click()
    take.wait_for(state="detached", timeout=60_000)  # taken once: the drawing is now a site
    page.get_by_text("planned 1", exact=True).first.wait_for(state="attached", timeout=60_000)

    upload = tmp_path / "sites.geojson"
    upload.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {},
                        "geometry": {"type": "Point", "coordinates": c},
                    }
                    for c in ([98.50, 39.70], [98.52, 39.71])
                ],
            }
        )
    )
    page.get_by_text("A file of sites (points) and road links (lines)", exact=True).first.click()
    page.locator('input[type="file"]').first.set_input_files(str(upload))
    page.get_by_role("button", name="Add the file's sites and links").click()
    page.get_by_text("planned 3", exact=True).first.wait_for(state="attached", timeout=60_000)
    _settle(page)
    page.screenshot(path=str(ARTIFACTS / "planning.png"), full_page=True)
    sites = _in_map(
        page,
        """() => { const out = []; map_div.eachLayer(l => {
            if (l instanceof L.CircleMarker && l.options.color === '#e66101') {
                const p = l.getLatLng(); out.push([p.lng, p.lat]); } }); return out; }""",
    )
    assert len(sites) == 3
    drawn = min(sites, key=lambda s: abs(s[0] - lng) + abs(s[1] - lat))
    assert drawn == [pytest.approx(lng, abs=2 * pixel), pytest.approx(lat, abs=2 * pixel)]
    assert [98.52, 39.71] in [[round(a, 2), round(b, 2)] for a, b in sites]
    assert log.foreign == []
    assert log.errors == []
