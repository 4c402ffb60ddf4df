"""Benchmark the map: bytes shipped to the browser and time to first paint, in Chromium.

    .venv/bin/python benchmarks/map.py

For the demo data and a synthetic set of 10,000 villages on 100,000 road segments, builds
the map as the Map page does (1 m coordinates, only the tooltip's columns, canvas renderer,
minor roads held back until zoomed in, more than 2,000 villages grouped by zoom) and as
plain folium would (``folium.GeoJson`` of the whole layers, SVG renderer), serves each from
127.0.0.1 with the Leaflet files, and opens it in headless Debian chromium: ``paint`` is the
browser's first contentful paint, ``ready`` the moment every overlay is drawn (two animation
frames after the map script ran).
"""

from __future__ import annotations

import functools
import http.server
import shutil
import sys
import tempfile
import threading
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
from playwright.sync_api import Browser, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import layers
from benchmarks.coverage_engine import points, road_grid
from geo.status import poverty_status
from layers import assets, render

READY = (
    "<script>requestAnimationFrame(() => requestAnimationFrame(() => {"
    " window.__ready = performance.now(); }));</script>"
)
TOOLTIP = {"name_zh": "名称", "pinyin": "拼音", "code": "代码", "status": "状态"}
MAJOR = ("expressway", "national", "provincial")


def demo() -> dict[str, gpd.GeoDataFrame]:
    villages = layers.load("villages")
    villages["status"] = poverty_status(villages, 2017)
    return {
        "counties": layers.load("counties"),
        "villages": villages,
        "roads": layers.load("roads"),
    }


def synthetic() -> dict[str, gpd.GeoDataFrame]:
    rng = np.random.default_rng(9)
    villages = points(10_000, 8)
    villages["name_zh"] = [f"村{i}" for i in range(len(villages))]
    villages["pinyin"] = [f"Cun {i}" for i in range(len(villages))]
    villages["code"] = [f"62090210{i:04d}" for i in range(len(villages))]
    villages["status"] = rng.choice(["poor", "exited", "not_poor"], len(villages))
    villages["households"] = rng.integers(100, 600, len(villages))
    villages["problems"] = "饮水不安全；道路未硬化"
    roads = road_grid(100_000, 3)
    roads["road_class"] = rng.choice(
        [*MAJOR, "county", "township", "village"],
        len(roads),
        p=[0.01, 0.01, 0.02, 0.1, 0.3, 0.56],
    )
    roads["name"] = "路"
    return {"counties": layers.load("counties"), "villages": villages, "roads": roads}


def ours(data: dict[str, gpd.GeoDataFrame]) -> folium.Map:
    fmap = render.base_map(data["counties"].total_bounds)
    render.relief_overlay(*render.relief_image(layers.raster_path("relief"))).add_to(fmap)
    roads = data["roads"][data["roads"]["road_class"].isin(MAJOR)]  # zoom 7: major roads
    villages = render.grouped_points(
        data["villages"], 7, category="status", label="{n} villages (zoom in to see each)"
    )  # beyond 2,000: grouped by zoom, as the Map page does
    village_tip = TOOLTIP if "count" not in villages else {"name_zh": "名称"}
    for key, gdf, tip in (
        ("counties", data["counties"], {}),
        ("roads", roads, {}),
        ("villages", villages, village_tip),
    ):
        render.feature_group(layers.get_layer(key), gdf, title=key, tooltip=tip)[0].add_to(fmap)
    return fmap


def plain(data: dict[str, gpd.GeoDataFrame]) -> folium.Map:
    bounds = data["counties"].total_bounds
    fmap = folium.Map(
        location=[(bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2],
        zoom_start=7,
        tiles=None,
    )
    assets.localize(fmap)  # offline it would be blank otherwise; same files for both
    for key, gdf in data.items():
        columns = [c for c in gdf.columns if c != "geometry"][:12]
        folium.GeoJson(
            gdf[[*columns, "geometry"]].to_json(default=str),
            name=key,
            tooltip=folium.GeoJsonTooltip(columns[:4]) if key == "villages" else None,
        ).add_to(fmap)
    return fmap


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        del args


def serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def measure(browser: Browser, url: str) -> tuple[float, float]:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(url)
    page.wait_for_function("window.__ready !== undefined", timeout=180_000)
    ready = page.evaluate("window.__ready")
    paint = page.evaluate(
        "(performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime"
    )
    page.close()
    return float("nan" if paint is None else paint), float(ready)


def main() -> None:
    root = Path(tempfile.mkdtemp())
    assets.install(root / "app" / "static")
    asset_bytes = sum(
        p.stat().st_size
        for p in (root / "app").rglob("*")
        if p.suffix in {".js", ".css"} and "markercluster" not in str(p)
    )
    server, base = serve(root)
    chromium = shutil.which("chromium")
    print(f"Leaflet files (served once, cached after): {asset_bytes / 1e3:.0f} kB")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        for name, build in (("demo", demo), ("10k villages, 100k roads", synthetic)):
            data = build()
            results = {}
            for how, make in (("ours", ours), ("plain folium", plain)):
                page = make(data).get_root().render().replace("</html>", READY + "</html>")
                path = root / f"{how.replace(' ', '_')}.html"
                path.write_text(page)
                paint, ready = measure(browser, f"{base}/{path.name}")
                results[how] = (len(page.encode()), paint, ready)
            (b, p, r), (b0, p0, r0) = results["ours"], results["plain folium"]
            print(
                f"{name:26} ours: {b / 1e6:6.2f} MB, paint {p:6.0f} ms, ready {r:6.0f} ms"
                f"  | plain folium: {b0 / 1e6:6.2f} MB, paint {p0:6.0f} ms, ready {r0:6.0f} ms"
                f"  | ratio bytes {b / b0:.2f}, ready {r / r0:.2f}",
                flush=True,
            )
        browser.close()
    server.shutdown()
    shutil.rmtree(root)


if __name__ == "__main__":
    main()
