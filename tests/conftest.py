"""Shared fixtures: small synthetic data in a metric CRS, the demo store, a live app, a browser."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pytest
import streamlit_folium
from shapely import LineString, Point

from geo import settings
from tests.helpers import ARTIFACTS, HOSTILE_NAMES, MARKDOWN_NAMES, ROOT

WORKING_CRS = "EPSG:4541"  # CGCS2000 / 3-degree Gauss-Kruger CM 96E


@pytest.fixture
def villages() -> gpd.GeoDataFrame:
    """Four villages on a line, 0, 1, 2.5 and 6 km east of a point near Guazhou."""
    x0, y0 = 500_000.0, 4_485_000.0
    return gpd.GeoDataFrame(
        {
            "code": ["620922100201", "620922100202", "620922100203", "620922100204"],
            "population": [300, 450, 500, 120],
        },
        geometry=[Point(x0 + d, y0) for d in (0.0, 1000.0, 2500.0, 6000.0)],
        crs=WORKING_CRS,
    )


@pytest.fixture
def bus_stops() -> gpd.GeoDataFrame:
    """Two stops: one 500 m north of the first village, one 200 m south of the fourth."""
    x0, y0 = 500_000.0, 4_485_000.0
    return gpd.GeoDataFrame(
        {"name": ["A", "B"], "year_opened": [2014, 2016]},
        geometry=[Point(x0, y0 + 500), Point(x0 + 6000, y0 - 200)],
        crs=WORKING_CRS,
    )


@pytest.fixture
def road() -> gpd.GeoDataFrame:
    """One long straight road along the villages."""
    x0, y0 = 500_000.0, 4_485_000.0
    return gpd.GeoDataFrame(
        {"road_class": ["county"]},
        geometry=[LineString([(x0 - 1000, y0), (x0 + 8000, y0)])],
        crs=WORKING_CRS,
    )


@pytest.fixture(scope="session", autouse=True)
def household_key_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The household key of this test session: a private file, never the user's own."""
    path = tmp_path_factory.mktemp("household-key") / "household.key"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VILLAGE_ATLAS_HOUSEHOLD_KEY_FILE", str(path))
        yield path


@pytest.fixture(scope="session")
def demo_store() -> Path:
    """The demo store, built by `make test` (or here if missing)."""
    if not settings.store_path.exists():
        from data import build_demo  # noqa: PLC0415

        build_demo.build()
    return settings.store_path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_app(
    env_extra: dict[str, str], log_name: str, address: str = "127.0.0.1"
) -> tuple[str, subprocess.Popen[bytes]]:
    """Start `streamlit run app.py` on a free port of `address`; return its URL (on 127.0.0.1)."""
    port = _free_port()
    env = {**os.environ, **env_extra}
    ARTIFACTS.mkdir(exist_ok=True)
    with (ARTIFACTS / log_name).open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "app.py",
                "--server.port",
                str(port),
                "--server.address",
                address,
                "--server.headless",
                "true",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:  # noqa: S310
                if r.status == 200:
                    return url, proc
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    pytest.fail(f"streamlit did not start; see {ARTIFACTS / log_name}")


@pytest.fixture(scope="session")
def app_url(demo_store: Path) -> Iterator[str]:
    """The app on the demo data."""
    url, proc = _start_app({}, "streamlit.log")
    yield url
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="session")
def hostile_store(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the demo data whose first villages carry script-injection names."""
    import layers  # noqa: PLC0415
    import store  # noqa: PLC0415
    from tests.helpers import copy_gpkg  # noqa: PLC0415

    folder = tmp_path_factory.mktemp("hostile")
    shutil.copy(settings.population_path, folder / "population.tif")
    path = copy_gpkg(demo_store, folder / "demo.gpkg")
    villages = layers.load("villages", path)
    for i, name in enumerate(HOSTILE_NAMES + MARKDOWN_NAMES):
        villages.loc[i, "name_zh"] = name
        villages.loc[i, "pinyin"] = name
        villages.loc[i, "problems"] = name
    store.open_store(path).replace_layers({"villages": villages}, who="test", source="hostile")
    return folder


@pytest.fixture(scope="session")
def hostile_app_url(hostile_store: Path) -> Iterator[str]:
    """The app on the hostile copy of the demo data."""
    url, proc = _start_app({"VILLAGE_ATLAS_DATA": str(hostile_store)}, "streamlit-hostile.log")
    yield url
    proc.terminate()
    proc.wait(timeout=20)


def chromium_path() -> str | None:
    """Debian's chromium binary, if installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Headless Debian chromium driven by Playwright (no browser download)."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    exe = chromium_path()
    if exe is None:
        pytest.fail("Debian's chromium is not installed: run `make test`, which installs it")
    with playwright_api.sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=exe,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield b
        b.close()


class PageLog:
    """What a page did: requests to other hosts (blocked) and console errors."""

    def __init__(self) -> None:
        self.foreign: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []


@pytest.fixture
def offline_page(browser: object) -> Iterator[tuple[object, PageLog]]:
    """A page whose every request to a non-local host is refused and recorded."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US")  # type: ignore[attr-defined]
    page = context.new_page()
    log = PageLog()

    def route(r: object) -> None:
        host = r.request.url.split("/")[2].split(":")[0] if "://" in r.request.url else ""  # type: ignore[attr-defined]
        if r.request.url.startswith(("data:", "blob:")) or host in {"127.0.0.1", "localhost"}:  # type: ignore[attr-defined]
            r.continue_()  # type: ignore[attr-defined]
        else:
            log.foreign.append(r.request.url)  # type: ignore[attr-defined]
            r.abort()  # type: ignore[attr-defined]

    page.route("**/*", route)
    page.on("console", lambda m: log.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: log.errors.append(str(e)))
    page.on("dialog", lambda d: (log.dialogs.append(d.message), d.dismiss()))
    yield page, log
    context.close()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[object]:
    """A throwaway PostgreSQL cluster with PostGIS, for the whole test session."""
    from tests.pgcluster import cluster  # noqa: PLC0415

    with cluster() as running:
        yield running


@pytest.fixture
def pg_url(pg_cluster: object) -> str:
    """The URL of a fresh, empty database with PostGIS (no store in it yet)."""
    return pg_cluster.new_database()  # type: ignore[attr-defined,no-any-return]


@pytest.fixture(params=["gpkg", "postgis"])
def backend_store(request: pytest.FixtureRequest, demo_store: Path, tmp_path: Path) -> str:
    """A private copy of the demo store in each backend: a .gpkg path or a PostGIS URL."""
    import store  # noqa: PLC0415
    from tests.helpers import copy_gpkg  # noqa: PLC0415

    if request.param == "gpkg":
        return str(copy_gpkg(demo_store, tmp_path / "store" / "demo.gpkg"))
    url = request.getfixturevalue("pg_url")
    store.copy_store(store.open_store(demo_store), store.create_store(url), who="test")
    return str(url)


@pytest.fixture
def on_the_network() -> Iterator[None]:
    """The app (AppTest) as served with ``--server.address 0.0.0.0``: logins required."""
    from streamlit import config  # noqa: PLC0415

    before = config.get_option("server.address")
    config.set_option("server.address", "0.0.0.0")
    yield
    config.set_option("server.address", before)


@pytest.fixture(scope="session")
def network_app_url(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app served on every address (0.0.0.0) from a store with accounts; reached on loopback.

    Accounts: ``boss`` (admin) and ``li`` (Transport editor), password ``correct horse 7``.
    """
    import store  # noqa: PLC0415
    from store import accounts  # noqa: PLC0415
    from tests.helpers import copy_gpkg  # noqa: PLC0415

    path = copy_gpkg(demo_store, tmp_path_factory.mktemp("network") / "demo.gpkg")
    handle = store.open_store(path)
    for name, role, bureau in (("boss", "admin", None), ("li", "editor", "transport")):
        accounts.add_user(
            handle, name, role=role, bureau=bureau, password="correct horse 7", who="t"
        )
    url, proc = _start_app({"VILLAGE_ATLAS_STORE": str(path)}, "streamlit-network.log", "0.0.0.0")
    yield url
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    """Everything a page hands to the streamlit-folium component, call by call."""
    calls: list[dict[str, object]] = []

    def record(**kwargs: object) -> object:
        calls.append(kwargs)
        return kwargs["default"]

    monkeypatch.setattr(streamlit_folium, "_component_func", record)
    return calls
