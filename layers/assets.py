"""Leaflet and its plugins, served from installed packages: the map needs no internet.

folium points every script and style sheet at public CDNs. `install` copies the
files from the PyPI ``xstatic-*`` packages, and Leaflet.draw from the npm package that
``make`` installs (``npm ci``: `package-lock.json` pins it), into the app's ``static/vendor`` folder
(served by Streamlit at ``/app/static/vendor``) and `localize` points a map at
them. Bootstrap, awesome-markers and Font Awesome are dropped: nothing here uses
them.
"""

from __future__ import annotations

import filecmp
import shutil
from pathlib import Path

import folium
import folium.plugins
import xstatic.pkg.jquery as xs_jquery
import xstatic.pkg.leaflet as xs_leaflet
import xstatic.pkg.leaflet_markercluster as xs_cluster

__all__ = [
    "BASE_URL",
    "CLUSTER_CSS",
    "CLUSTER_JS",
    "CSS",
    "DRAW_CSS",
    "DRAW_JS",
    "JS",
    "STATIC_DIR",
    "install",
    "localize",
    "vendor_files",
]

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
NPM_DIR = STATIC_DIR.parent / "node_modules"
_DRAW = NPM_DIR / "leaflet-draw" / "dist"
BASE_URL = "/app/static/vendor"

#: Served path under ``vendor/`` -> source file in an installed package.
_FILES = {
    "leaflet/leaflet.js": Path(xs_leaflet.BASE_DIR) / "leaflet.js",
    "leaflet/leaflet.css": Path(xs_leaflet.BASE_DIR) / "leaflet.css",
    **{
        f"leaflet/images/{p.name}": p
        for p in sorted((Path(xs_leaflet.BASE_DIR) / "images").glob("*.png"))
    },
    "markercluster/leaflet.markercluster.js": Path(xs_cluster.BASE_DIR)
    / "leaflet.markercluster.js",
    "markercluster/MarkerCluster.css": Path(xs_cluster.BASE_DIR) / "MarkerCluster.css",
    "markercluster/MarkerCluster.Default.css": Path(xs_cluster.BASE_DIR)
    / "MarkerCluster.Default.css",
    "jquery/jquery.min.js": Path(xs_jquery.BASE_DIR) / "jquery.min.js",
    "leaflet-draw/leaflet.draw.js": _DRAW / "leaflet.draw.js",
    "leaflet-draw/leaflet.draw.css": _DRAW / "leaflet.draw.css",
    **{
        f"leaflet-draw/images/{name}": _DRAW / "images" / name
        for name in ("spritesheet.png", "spritesheet-2x.png", "spritesheet.svg")
    },
}

JS = [
    ("leaflet", f"{BASE_URL}/leaflet/leaflet.js"),
    ("jquery", f"{BASE_URL}/jquery/jquery.min.js"),
]
CSS = [("leaflet_css", f"{BASE_URL}/leaflet/leaflet.css")]
CLUSTER_JS = [("markerclusterjs", f"{BASE_URL}/markercluster/leaflet.markercluster.js")]
CLUSTER_CSS = [
    ("markerclustercss", f"{BASE_URL}/markercluster/MarkerCluster.css"),
    ("markerclusterdefaultcss", f"{BASE_URL}/markercluster/MarkerCluster.Default.css"),
]

DRAW_JS = [("leaflet_draw_js", f"{BASE_URL}/leaflet-draw/leaflet.draw.js")]
DRAW_CSS = [("leaflet_draw_css", f"{BASE_URL}/leaflet-draw/leaflet.draw.css")]


def vendor_files() -> dict[str, Path]:
    """Return served path (under ``vendor/``) -> installed source file."""
    return dict(_FILES)


def install(static_dir: Path = STATIC_DIR) -> Path:
    """Copy the vendor files into `static_dir`/vendor (only those missing or changed)."""
    missing = sorted(str(source) for source in _FILES.values() if not source.is_file())
    if missing:
        msg = (
            f"the map's local front-end files are missing ({', '.join(missing)}): "
            "run `make run` (or `npm ci` in the project folder) to install them"
        )
        raise FileNotFoundError(msg)
    target = static_dir / "vendor"
    for rel, source in _FILES.items():
        dest = target / rel
        if not dest.exists() or not filecmp.cmp(source, dest, shallow=False):
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, dest)
    return target


def localize(element: folium.MacroElement) -> folium.MacroElement:
    """Point `element` (a map or plugin) at the local files instead of CDNs; return it."""
    if isinstance(element, folium.Map):
        element.default_js = list(JS)
        element.default_css = list(CSS)
    elif isinstance(element, folium.plugins.MarkerCluster):
        element.default_js = list(CLUSTER_JS)
        element.default_css = list(CLUSTER_CSS)
    elif isinstance(element, folium.plugins.Draw):
        element.default_js = list(DRAW_JS)
        element.default_css = list(DRAW_CSS)
    else:
        msg = f"no local assets for {type(element).__name__}"
        raise TypeError(msg)
    return element
