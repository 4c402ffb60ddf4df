"""The prefecture's seven counties: codes, names and seats (the only hand-entered geography)."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["COUNTIES", "PREFECTURE", "County"]


class County(NamedTuple):
    """A county-level unit of Jiuquan and its seat (WGS84 lon/lat)."""

    code: str
    name_zh: str
    name_en: str
    pinyin: str
    seat: tuple[float, float]


PREFECTURE = County("620900", "酒泉市", "Jiuquan", "Jiuquan Shi", (98.49, 39.73))

COUNTIES: tuple[County, ...] = (
    County("620902", "肃州区", "Suzhou District", "Suzhou Qu", (98.49, 39.73)),
    County("620921", "金塔县", "Jinta County", "Jinta Xian", (98.90, 39.98)),
    County("620922", "瓜州县", "Guazhou County", "Guazhou Xian", (95.78, 40.52)),
    County(
        "620923",
        "肃北蒙古族自治县",
        "Subei Mongol Autonomous County",
        "Subei Mengguzu Zizhixian",
        (94.88, 39.51),
    ),
    County(
        "620924",
        "阿克塞哈萨克族自治县",
        "Aksai Kazakh Autonomous County",
        "Akesai Hasakezu Zizhixian",
        (94.34, 39.63),
    ),
    County("620981", "玉门市", "Yumen City", "Yumen Shi", (97.05, 40.29)),
    County("620982", "敦煌市", "Dunhuang City", "Dunhuang Shi", (94.66, 40.14)),
)
