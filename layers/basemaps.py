"""Basemaps: the offline relief by default, online tile services as optional extras.

Like xyzservices' providers, each entry is a record with a name, a URL template and an
attribution. Online ones are probed (a short request from the server) before use, so
the app can say when one is unreachable instead of showing a blank map.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from types import MappingProxyType

from layers.spec import Titled

__all__ = ["BASEMAPS", "Basemap", "probe", "tile_url"]


@dataclass(frozen=True, slots=True)
class Basemap(Titled):
    """A basemap: `url` is None for the offline relief; `gcj02` tiles need shifted overlays."""

    key: str
    title_en: str
    title_zh: str
    url: str | None = None
    attribution: str = ""
    gcj02: bool = False
    token_env: str | None = None


_ALL = (
    Basemap("relief", "Relief (offline)", "地形晕渲（离线）"),
    Basemap(
        "osm",
        "OpenStreetMap (online)",
        "OpenStreetMap（在线）",
        url="https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        attribution="&copy; OpenStreetMap contributors",
    ),
    Basemap(
        "tianditu",
        "Tianditu (online, token)",
        "天地图（在线，需密钥）",
        url="https://t0.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
        "&LAYER=vec&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}"
        "&TILECOL={x}&tk={token}",
        attribution="&copy; 天地图 Tianditu",
        token_env="VILLAGE_ATLAS_TIANDITU_TOKEN",  # noqa: S106 (a variable name, not a secret)
    ),
    Basemap(
        "amap",
        "AMap (online, GCJ-02)",
        "高德地图（在线，GCJ-02）",
        url="https://webrd01.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8"
        "&x={x}&y={y}&z={z}",
        attribution="&copy; 高德 AMap",
        gcj02=True,
    ),
)

#: Every basemap by key.
BASEMAPS = MappingProxyType({b.key: b for b in _ALL})


def tile_url(basemap: Basemap, token: str | None = None) -> str:
    """Return the Leaflet URL template of an online basemap, with its token filled in.

    Raises
    ------
    ValueError
        If the basemap is offline, or needs a token and none is given or set.
    """
    if basemap.url is None:
        msg = f"{basemap.key!r} is the offline relief, not a tile service"
        raise ValueError(msg)
    if basemap.token_env is None:
        return basemap.url
    token = token or os.environ.get(basemap.token_env)
    if not token:
        msg = (
            f"{basemap.title_en} needs a token: set {basemap.token_env} or "
            "`tianditu_token` in .streamlit/secrets.toml"
        )
        raise ValueError(msg)
    return basemap.url.replace("{token}", token)


def probe(url: str, *, timeout: float = 2.0) -> bool:
    """Return whether one tile of `url` (a Leaflet template) can be fetched within `timeout`."""
    z, x, y = 5, 24, 12
    target = url.replace("{z}", str(z)).replace("{x}", str(x)).replace("{y}", str(y))
    if not target.startswith("https://"):
        return False
    request = urllib.request.Request(target, headers={"User-Agent": "village-atlas"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return bool(200 <= response.status < 300)  # noqa: PLR2004
    except (OSError, urllib.error.URLError, ValueError):
        return False
