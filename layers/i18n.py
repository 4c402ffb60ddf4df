"""The translation table: every user-facing string of the app, in English and 简体中文."""

from __future__ import annotations

from types import MappingProxyType

__all__ = ["LANGUAGES", "STRINGS", "t"]

LANGUAGES = MappingProxyType({"en": "English", "zh": "简体中文"})

STRINGS = MappingProxyType(
    {
        "app_title": ("Village Atlas", "村情地图"),
        "app_tagline": (
            "Spatial planning map for precision poverty alleviation, Jiuquan",
            "酒泉市精准扶贫空间规划地图",
        ),
        "language": ("Language", "语言"),
        "synthetic_banner": (
            (
                "Demo data: villages and projects are SYNTHETIC (generated, not real records); "
                "county boundaries and relief are real."
            ),
            "演示数据：村庄与项目均为合成数据（程序生成，非真实记录）；县界与地形为真实数据。",
        ),
        "page_overview": ("Overview", "概览"),
        "page_catalogue": ("Layer catalogue", "图层目录"),
        "year": ("Year", "年份"),
        "villages": ("Villages", "行政村"),
        "poor_villages": ("Registered poor villages", "建档立卡贫困村"),
        "still_poor": ("Poor at year end", "年末未脱贫"),
        "exited": ("Exited", "已脱贫"),
        "population": ("Population", "人口"),
        "poor_people": ("Poor people", "贫困人口"),
        "county": ("County", "县（市、区）"),
        "township": ("Township", "乡镇"),
        "by_county": ("By county", "分县统计"),
        "layer": ("Layer", "图层"),
        "theme": ("Theme", "主题"),
        "geometry": ("Geometry", "几何类型"),
        "lead_bureau": ("Lead bureau", "牵头单位"),
        "cooperating": ("Cooperating units", "配合单位"),
        "source": ("Source", "来源"),
        "licence": ("Licence", "许可"),
        "date": ("Date", "日期"),
        "synthetic": ("Synthetic", "合成"),
        "features": ("Features", "要素数"),
        "no_data": (
            "The data store is missing or unreadable: {error}",
            "数据库缺失或无法读取：{error}",
        ),
        "building_demo": ("Building the demo data (first run)…", "正在生成演示数据（首次运行）…"),
        "yes": ("yes", "是"),
        "no": ("no", "否"),
    }
)


def t(key: str, lang: str = "en", **values: object) -> str:
    """Return string `key` in `lang` (``"en"`` or ``"zh"``), formatted with `values`.

    Examples
    --------
    >>> t("villages", "zh")
    '行政村'
    >>> t("no_data", "en", error="gone")
    'The data store is missing or unreadable: gone'
    """
    en, zh = STRINGS[key]
    text = zh if lang == "zh" else en
    return text.format(**values) if values else text
