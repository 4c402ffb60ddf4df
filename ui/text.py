"""Text from data shown as text: escaping for Streamlit's Markdown (headings, captions, labels)."""

from __future__ import annotations

import re

__all__ = ["md"]

_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&\"'=^%@,;?/])")


def md(text: object) -> str:
    r"""Return `text` escaped so Streamlit's Markdown shows it literally, on one line.

    Every ASCII punctuation character gets a backslash (CommonMark's escape), which also
    disarms Streamlit's own syntax (``$`` maths, ``:color[...]``, ``:emoji:``); line
    breaks become spaces, so a name cannot start a new block.

    Examples
    --------
    >>> md("![x](http://host/t.png)")
    '\\!\\[x\\]\\(http\\:\\/\\/host\\/t\\.png\\)'
    >>> md("白水村")
    '白水村'
    """
    return _PUNCTUATION.sub(r"\\\1", " ".join(str(text).split()))
