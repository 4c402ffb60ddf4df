"""Meeting exports: print maps, atlas, standalone HTML and workbooks, checked as a reader would."""

from __future__ import annotations

import functools
import html
import http.server
import io
import re
import threading
from pathlib import Path

import folium
import geopandas
import matplotlib.colors
import numpy as np
import pypdf
import pypdfium2
import pytest
from openpyxl import load_workbook
from PIL import Image

import exports as export
import layers
from exports.html import map_of
from exports.spec import CLASS_COLOURS, PROVINCE_PATH
from layers.i18n import t
from layers.rules import RULES, evaluate, facilities_for
from layers.targets import load_targets
from tests.helpers import ARTIFACTS, uncovered_by_hand

PT_PER_MM = 72 / 25.4


@pytest.fixture(scope="module")
def meeting_pdf(demo_store, tmp_path_factory) -> Path:
    spec = export.MapSpec(
        year=2017, rule="bus_2km", county="620982", watermark="内部资料", approval="甘S(2017)001号"
    )
    return export.save_figure(
        export.meeting_map(spec), tmp_path_factory.mktemp("pdf") / "meeting.pdf"
    )


def test_meeting_pdf_page_text_and_fonts(meeting_pdf):
    reader = pypdf.PdfReader(meeting_pdf)
    page = reader.pages[0]
    assert float(page.mediabox.width) == pytest.approx(297 * PT_PER_MM, abs=0.5)
    assert float(page.mediabox.height) == pytest.approx(210 * PT_PER_MM, abs=0.5)
    text = page.extract_text()
    for expected in (
        "敦煌市 · 2公里内有公交站点",
        "图例",
        "已覆盖",
        "未覆盖",
        "km",
        "北",
        "审图号：甘S(2017)001号",
        "坐标系：CGCS2000",
        "内部资料",
        "合成演示数据",
    ):
        assert expected in text, expected
    fonts = [f.get_object() for f in page["/Resources"]["/Font"].values()]
    assert any("WenQuanYi" in str(f["/BaseFont"]) for f in fonts)
    embedded = [d["/FontDescriptor"] for f in fonts for d in f.get("/DescendantFonts", [])]
    assert embedded
    assert all("/FontFile2" in d.get_object() for d in embedded)


def test_meeting_pdf_draws_a_map(meeting_pdf):
    pdf = pypdfium2.PdfDocument(str(meeting_pdf))
    image = np.asarray(pdf[0].render(scale=1).to_pil().convert("RGB")).astype(int)
    ARTIFACTS.mkdir(exist_ok=True)
    Image.fromarray(image.astype("uint8")).save(ARTIFACTS / "meeting-map.png")
    h, w, _ = image.shape
    frame = image[int(0.12 * h) : int(0.88 * h), int(0.04 * w) : int(0.78 * w)]
    assert frame.std() > 10  # not blank
    red = (frame[..., 0] > 180) & (frame[..., 1] < 80) & (frame[..., 2] < 80)
    green = (frame[..., 1] > 120) & (frame[..., 0] < 80) & (frame[..., 2] < 100)
    assert red.sum() > 20
    assert green.sum() > 20


def test_png_size_and_dpi(demo_store, tmp_path):
    spec = export.MapSpec(size="A3", orientation="portrait", dpi=150, rule=None, lang="en")
    fig = export.meeting_map(spec)
    out = export.save_figure(fig, tmp_path / "map.png")
    with Image.open(out) as png:
        assert png.size == pytest.approx((round(297 / 25.4 * 150), round(420 / 25.4 * 150)), abs=2)
        assert png.info["dpi"] == pytest.approx((150, 150), abs=0.1)


def test_legend_fits_a_portrait_page(demo_store):
    spec = export.MapSpec(size="A4", orientation="portrait", dpi=72, lang="en", county="620924")
    fig = export.meeting_map(spec)
    fig.savefig(io.BytesIO(), format="png")
    assert fig.legends[0].get_window_extent().x1 <= fig.bbox.x1


def test_atlas_has_a_map_indicators_and_gaps_per_county(demo_store, tmp_path):
    fractions = []
    out = export.atlas(
        export.MapSpec(),
        tmp_path / "atlas.pdf",
        counties=["620924", "620923"],
        progress=fractions.append,
    )
    reader = pypdf.PdfReader(out)
    texts = [p.extract_text() for p in reader.pages]
    assert fractions == [0.5, 1.0]
    assert len(reader.pages) >= 6
    assert "阿克塞哈萨克族自治县" in texts[0]
    towns = layers.load("townships")
    for name in towns.loc[towns["county_code"] == "620924", "name_zh"]:
        assert name in texts[0], name  # the county's map names its townships
    assert "目标进度" in texts[1]
    assert "配合单位" in texts[1]
    table = " ".join(texts[1].split())
    for target in load_targets():  # each measured target's units, lead marked when ours
        if target.measured and (not target.counties or "620924" in target.counties):
            assert " ".join(target.lead_text("zh").split()) in table, target.key
            names = "; ".join(u.name_zh for u in target.cooperating)
            assert " ".join(names.split()) in table, target.key
    assert "市扶贫办（规划未指明）" in table
    assert "缺口清单" in texts[2]
    villages = layers.load("villages")
    gaps = villages[
        (villages["county_code"] == "620924") & ~evaluate(RULES["bus_2km"], 2017)["covered"]
    ]
    for code in gaps["code"]:
        assert code in texts[2]


def test_atlas_lists_the_gaps_in_the_rules_scope(demo_store, tmp_path):
    """Subei in 2016: 2 poor villages lack a cooperative (gaps), 5 that are not poor too."""
    spec = export.MapSpec(year=2016, rule="cooperative", lang="en", dpi=72)
    out = export.atlas(spec, tmp_path / "atlas.pdf", counties=["620923"])
    texts = [p.extract_text() for p in pypdf.PdfReader(out).pages]
    gap_pages = " ".join(x for x in texts if "Gap list" in x)
    assert "The plan's measure (section 6(5))" in " ".join(texts[0].split())
    villages = layers.load("villages").set_index("code")
    left_out = {
        code: asked
        for code, asked in uncovered_by_hand("cooperative", 2016).items()
        if villages.loc[code, "county_code"] == "620923"
    }
    assert set(left_out.values()) == {True, False}
    for code, asked in left_out.items():
        assert (code in gap_pages) == asked, code


def test_standalone_html_works_offline(demo_store, browser, tmp_path, offline_page):
    html = export.html_map(export.MapSpec(rule="bus_2km", lang="en"))
    assert "<script src=" not in html
    assert "http://" not in html.replace("http://www.w3.org", "")
    assert "/app/static" not in html
    path = tmp_path / "map.html"
    path.write_text(html, encoding="utf-8")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    page, log = offline_page
    try:
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/map.html")
        page.wait_for_selector(".leaflet-overlay-pane canvas", timeout=30_000)
        assert page.locator(".leaflet-control-layers").count() == 1
        page.screenshot(path=str(ARTIFACTS / "standalone.png"))
    finally:
        server.shutdown()
        server.server_close()
    assert log.foreign == []
    assert log.errors == []


def test_workbook_neutralises_formulas(tmp_path):
    import pandas as pd  # noqa: PLC0415

    from store import tables  # noqa: PLC0415

    frame = pd.DataFrame(
        {"name": ['=HYPERLINK("http://evil.example","click")', "+1", "-2", "@SUM(A1)", "plain"]}
    )
    out = tables.write_workbook({"gaps": frame}, tmp_path / "w.xlsx")
    sheet = load_workbook(out)["gaps"]
    cells = [sheet.cell(row=r, column=1) for r in range(2, 7)]
    assert cells[0].value == '=HYPERLINK("http://evil.example","click")'
    assert all(c.data_type == "s" for c in cells)
    assert [c.quotePrefix for c in cells] == [True, True, True, True, False]


def test_bureau_workbook_has_a_sheet_per_bureau(demo_store, tmp_path):
    out = export.bureau_workbook(2017, tmp_path / "bureaus.xlsx", lang="en")
    book = load_workbook(out)
    assert book.sheetnames[:3] == ["About the data", "Summary", "Targets"]  # synthetic demo
    assert "Municipal Transportation Bureau" in book.sheetnames
    villages = layers.load("villages")

    def gaps(keys: tuple[str, ...]) -> int:  # brute force over the villages, in each scope
        count = 0
        for key in keys:
            covered = evaluate(RULES[key], 2017)["covered"]
            poor_only = RULES[key].scope.value == "poor villages"
            for row, ok in zip(villages.itertuples(), covered, strict=True):
                count += not ok and (row.is_poor or not poor_only)
        return count

    transport = book["Municipal Transportation Bureau"]
    assert transport.max_row - 1 == gaps(("bus_2km", "bus_service", "hardened_road"))
    commerce = book["Municipal Bureau of Commerce"]
    header = [c.value for c in commerce[1]]
    assert commerce.max_row - 1 == gaps(
        ("express_5km", "express_service", "fibre_1km", "broadband")
    )
    poor = header.index("is_poor") + 1
    assert all(commerce.cell(row=r, column=poor).value for r in range(2, commerce.max_row + 1))
    assert "provenance" in header


def test_bureau_workbook_summary_counts_the_plan_and_ours_apart(demo_store, tmp_path):
    """2016, in Chinese: each bureau named in Chinese; our measures in no total."""
    book = load_workbook(export.bureau_workbook(2016, tmp_path / "zh.xlsx", lang="zh"))
    sheet = book[t("summary", "zh")]
    header = [c.value for c in sheet[1]]
    rows = {r[0]: dict(zip(header, r, strict=True)) for r in sheet.iter_rows(2, values_only=True)}
    leads = {rule.bureau for rule in RULES.values()}
    assert set(rows) == {unit.name_zh for unit in leads}
    transport = rows["市交通运输局"]
    assert transport[t("unit_key", "zh")] == "transport"
    assert transport[t("plan_rules", "zh")] == "bus_service, hardened_road"
    counted = ("bus_service", "hardened_road")  # each need once: the bus, the road
    assert transport[t("open_gaps", "zh")] == sum(len(uncovered_by_hand(k, 2016)) for k in counted)
    assert transport[t("gaps_ours", "zh")] == len(uncovered_by_hand("bus_2km", 2016))
    plan = [k for k in RULES if k not in ("bus_2km", "express_5km", "fibre_1km")]
    total = sum(sum(uncovered_by_hand(k, 2016).values()) for k in plan)
    assert sum(r[t("open_gaps", "zh")] for r in rows.values()) == total
    sheet = book[t("page_targets", "zh")]
    header = [c.value for c in sheet[1]]
    listed = {r[0]: dict(zip(header, r, strict=True)) for r in sheet.iter_rows(2, values_only=True)}
    for target in load_targets():  # every cooperating unit the targets file names, in Chinese
        want = "; ".join(u.name_zh for u in target.cooperating) or None
        assert listed[target.key][t("cooperating", "zh")] == want, target.key
    assert (
        listed["cooperatives"][t("cooperating", "zh")] == "市国土资源局; 市扶贫办; 各县（市、区）"
    )


def test_bureau_workbook_says_what_is_an_assumption(demo_store, tmp_path):
    book = load_workbook(export.bureau_workbook(2017, tmp_path / "b.xlsx", lang="en"))
    sheet = book["Targets"]
    header = [c.value for c in sheet[1]]
    rows = {r[0]: dict(zip(header, r, strict=True)) for r in sheet.iter_rows(2, values_only=True)}
    assert rows["hardened_road"]["Provenance"] == "assumption"
    assert "500 m" in rows["hardened_road"]["Why"]
    assert rows["bus"]["Provenance"] == "plan"
    assert rows["land_improvement"]["Provenance"] == "plan, figure to confirm"
    assert rows["channels"]["Clause of the plan"].startswith("By 217, 425 kilometers")
    transport = book["Municipal Transportation Bureau"]
    column = [c.value for c in transport[1]].index("provenance")
    marks = {r[column] for r in transport.iter_rows(2, values_only=True)}
    assert marks == {"assumption", "plan"}


def test_bad_options_are_refused_together():
    with pytest.raises(ValueError, match=r"size must be A4 or A3.*dpi must be between 72 and 600"):
        export.MapSpec(size="B5", dpi=5)
    with pytest.raises(ValueError, match="unknown county 'Atlantis'"):
        export.county_code("Atlantis")
    assert export.county_code("Dunhuang") == "620982"
    assert export.county_code("敦煌市") == "620982"


def test_exports_change_no_global_matplotlib_setting(meeting_pdf):
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    import matplotlib as mpl  # noqa: PLC0415

    assert mpl.rcParams["pdf.fonttype"] == mpl.rcParamsDefault["pdf.fonttype"]  # after a save
    check = (
        "import matplotlib as mpl; before = dict(mpl.rcParams); import exports; "
        "assert dict(mpl.rcParams) == before"
    )
    subprocess.run([sys.executable, "-c", check], check=True, cwd=Path(__file__).parent.parent)


# Cartography: each check reads the rendered PDF's text or the pixels of a rendered page.


@pytest.fixture(scope="module", params=["zh", "en"])
def city_pdf(request, demo_store, tmp_path_factory) -> tuple[str, Path]:
    """The whole-city map of the bus rule, in Chinese and in English."""
    lang = request.param
    spec = export.MapSpec(rule="bus_2km", lang=lang, dpi=150)
    out = tmp_path_factory.mktemp(f"city-{lang}") / "city.pdf"
    return lang, export.save_figure(export.meeting_map(spec), out)


def _text(pdf: Path) -> str:
    return " ".join(pypdf.PdfReader(pdf).pages[0].extract_text().split())


def _pixels(pdf: Path, name: str) -> np.ndarray:
    image = pypdfium2.PdfDocument(str(pdf))[0].render(scale=2).to_pil().convert("RGB")
    ARTIFACTS.mkdir(exist_ok=True)
    image.save(ARTIFACTS / name)
    return np.asarray(image).astype(int)


def _near(image: np.ndarray, hex_colour: str, tol: int = 10) -> np.ndarray:
    rgb = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)])
    return (np.abs(image - rgb) <= tol).all(axis=-1)


def test_city_map_names_every_county(city_pdf):
    lang, pdf = city_pdf
    text = _text(pdf)
    counties = layers.load("counties")
    names = counties["name_zh" if lang == "zh" else "name_en"]
    assert len(names) == 7
    missing = [n for n in names if " ".join(n.split()) not in text]
    assert missing == []


def test_county_map_names_its_townships(meeting_pdf):
    text = _text(meeting_pdf)
    towns = layers.load("townships")
    names = towns.loc[towns["county_code"] == "620982", "name_zh"]
    assert len(names) > 0
    assert [n for n in names if n not in text] == []


def test_rule_map_draws_its_facilities(city_pdf):
    lang, pdf = city_pdf
    stops = facilities_for(RULES["bus_2km"], 2017)
    title = layers.get_layer("bus_stops").title(lang)
    assert f"{title} ({len(stops)})" in _text(pdf)  # the legend counts them
    image = _pixels(pdf, f"city-{lang}.png")
    h, w, _ = image.shape
    frame = image[int(0.12 * h) : int(0.88 * h), int(0.04 * w) : int(0.78 * w)]
    stop_pixels = _near(frame, layers.get_layer("bus_stops").style.color).sum()
    assert stop_pixels > 2 * len(stops)  # squares of 3 pt


def test_service_areas_on_request(demo_store, tmp_path):
    def shaded(service_areas: bool) -> int:
        spec = export.MapSpec(county="620982", dpi=100, service_areas=service_areas)
        out = export.save_figure(export.meeting_map(spec), tmp_path / f"{service_areas}.png")
        image = np.asarray(Image.open(out).convert("RGB")).astype(int)
        r, g, b = image[..., 0], image[..., 1], image[..., 2]
        return int(((b - r > 15) & (b > g + 4)).sum())  # the light blue of the service areas

    assert shaded(service_areas=False) < 50
    page = round(297 / 25.4 * 100) * round(210 / 25.4 * 100)
    assert 1000 < shaded(service_areas=True) < 0.05 * page  # 2 km discs, not 2000 degrees


def test_inset_locates_the_prefecture_in_gansu(city_pdf):
    lang, pdf = city_pdf
    gansu = geopandas.read_file(PROVINCE_PATH)
    prefecture = layers.load("prefecture").to_crs(gansu.crs)
    assert prefecture.union_all().buffer(-0.05).within(gansu.union_all())
    assert ("甘肃省" if lang == "zh" else "Gansu") in _text(pdf)
    image = _pixels(pdf, f"city-{lang}.png")
    h, w, _ = image.shape
    inset = image[int(0.12 * h) : int(0.31 * h), int(0.80 * w) : int(0.98 * w)]
    highlighted = _near(inset, "#fdae61").sum()
    rest_of_gansu = _near(inset, "#f2f2f2", tol=3).sum()
    assert highlighted > 500
    assert rest_of_gansu > 0.5 * highlighted  # Gansu beyond the prefecture is drawn


def test_legend_counts_classes_and_names_sources(city_pdf):
    lang, pdf = city_pdf
    text = _text(pdf)
    covered = int(evaluate(RULES["bus_2km"], 2017)["covered"].sum())
    assert f"{t('covered', lang)} ({covered})" in text
    assert f"{layers.get_layer('counties').title(lang)} (7)" in text
    assert t("sources", lang) in text
    for key in ("counties", "villages", "bus_stops", "relief"):
        assert " ".join(layers.get_layer(key).source.split()) in text, key


def test_legend_symbols_are_drawn_size(demo_store):
    fig = export.meeting_map(export.MapSpec(county="620982", dpi=72, lang="en"))
    handles = {h.get_label().split(" (")[0]: h for h in fig.legends[0].legend_handles}
    covered = handles["Covered"]
    colour = matplotlib.colors.to_rgb(covered.get_color())
    drawn = [
        c
        for c in fig.axes[0].collections
        if hasattr(c, "get_sizes")
        and len(c.get_sizes())
        and np.allclose(c.get_facecolor()[0][:3], colour)
    ]
    assert drawn
    assert drawn[0].get_sizes()[0] == pytest.approx(covered.get_markersize() ** 2)


@pytest.mark.parametrize("county", [None, "620924"])
def test_relief_has_no_band_along_the_frame_edge(demo_store, county):
    fig = export.meeting_map(export.MapSpec(rule=None, layers=(), county=county, dpi=100))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi)
    grey = np.asarray(Image.open(buffer).convert("L")).astype(float)
    x0, y0, x1, y1 = fig.axes[0].get_window_extent().extents
    h = grey.shape[0]
    frame = grey[int(h - y1) + 3 : int(h - y0) - 3, int(x0) + 3 : int(x1) - 3]
    edge, beside = frame[:, :5].mean(axis=1), frame[:, 5:15].mean(axis=1)
    assert np.abs(edge - beside).mean() < 2.0  # the old band: 6.5 grey levels darker
    assert frame[:, :5].std(axis=0).max() < 2.5 * np.median(frame[:, 5:].std(axis=0))


# A rule's provenance and scope on the maps: an assumption is never shown as the plan's.

OURS = {"en": "Our assumption, not the plan's figure", "zh": "本图假设，并非规划原文的数字"}


def test_print_map_of_an_assumed_rule_says_it_is_ours(city_pdf, meeting_pdf):
    lang, pdf = city_pdf
    text = _text(pdf)
    assert OURS[lang] in text
    reason = {"en": "2 km is our reading of a village served", "zh": "2公里内有站点是本图对"}
    assert reason[lang] in (" ".join(text.split()) if lang == "en" else "".join(text.split()))
    assert reason["en"] not in text or lang == "en"  # a Chinese map says why in Chinese
    assert {"en": "gaps counted in all villages", "zh": "缺口统计范围：所有村"}[lang] in text
    assert OURS["zh"] in _text(meeting_pdf)


@pytest.fixture(scope="module")
def cooperative_2016(demo_store, tmp_path_factory):
    """The whole-city map of a plan rule of poor villages in 2016, and its saved PDF."""
    fig = export.meeting_map(export.MapSpec(year=2016, rule="cooperative", lang="en", dpi=72))
    pdf = export.save_figure(fig, tmp_path_factory.mktemp("coop") / "cooperative.pdf")
    return fig, pdf


def test_print_map_of_a_plan_rule_says_it_is_the_plans(cooperative_2016):
    _, pdf = cooperative_2016
    text = _text(pdf)
    assert "The plan's measure (section 6(5))" in text
    assert "assumption" not in text.lower()
    assert "gaps counted in poor villages" in text


def _drawn(fig, colour: str) -> int:
    """Markers drawn on the map in `colour` (the villages of one class), counted."""
    rgb = matplotlib.colors.to_rgb(colour)
    return sum(
        len(c.get_offsets())
        for c in fig.axes[0].collections
        if len(c.get_facecolor()) and np.allclose(c.get_facecolor()[0][:3], rgb)
    )


def test_print_map_draws_villages_outside_the_scope_as_no_gaps(cooperative_2016):
    fig, pdf = cooperative_2016
    left_out = uncovered_by_hand("cooperative", 2016)
    gaps = sum(left_out.values())
    villages = layers.load("villages")
    not_poor = int((~villages["is_poor"]).sum())
    assert len(left_out) - gaps > 100  # villages that are not poor lack one too: no gaps
    assert _drawn(fig, CLASS_COLOURS["uncovered"]) == gaps
    assert _drawn(fig, CLASS_COLOURS["out_of_scope"]) == not_poor
    assert _drawn(fig, CLASS_COLOURS["covered"]) == int(villages["is_poor"].sum()) - gaps
    text = _text(pdf)
    assert f"Not covered ({gaps})" in text
    assert f"Outside the scope: not a gap ({not_poor})" in text


def _groups(fmap: folium.Map) -> dict[str, set[str]]:
    """The village codes each layer group of a folium map draws, by the group's title."""
    out = {}
    for child in fmap._children.values():
        if isinstance(child, folium.FeatureGroup):
            data = [c.data for c in child._children.values() if isinstance(c, folium.GeoJson)]
            out[child.layer_name] = {
                f["properties"].get("code") for d in data for f in d["features"]
            }
    return out


def test_html_map_draws_the_scope_and_says_whose_rule_it_is(demo_store):
    left_out = uncovered_by_hand("cooperative", 2016)
    villages = layers.load("villages")
    spec = export.MapSpec(year=2016, rule="cooperative", lang="en")
    groups = _groups(map_of(spec))
    assert groups["Not covered"] == {code for code, asked in left_out.items() if asked}
    assert groups["Outside the scope: not a gap"] == set(villages.loc[~villages["is_poor"], "code"])
    plan = _title_box(export.html_map(spec))
    assert "The plan's measure (section 6(5))" in plan
    assert "gaps counted in poor villages" in plan
    assert "assumption" not in plan.lower()
    page = export.html_map(export.MapSpec(rule="bus_2km", lang="zh"))
    assert OURS["zh"] in _title_box(page)
    assert "缺口统计范围：所有村" in _title_box(page)
    assert "范围外" not in html.unescape(page)  # the bus asks about every village: no such group


def _title_box(page: str) -> str:
    """The text of the standalone map's title box."""
    (box,) = re.findall(r'<div class="va-title"[^>]*>(.*?)</div>', page, flags=re.DOTALL)
    return html.unescape(re.sub(r"<[^>]+>", " ", box))
