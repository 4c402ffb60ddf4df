"""Text from data shown as text: escaping for Streamlit's Markdown (headings, captions, labels)."""

from __future__ import annotations

import re

__all__ = ["md"]

_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&\"'=^%@,;?/])")
#: Where GitHub-flavoured Markdown turns plain text into a link (``http://``, ``www.``,
#: ``name@host``), even escaped: an invisible word joiner (U+2060) there keeps it text.
_AUTOLINK = re.compile(
    r"(?i)(?<=https)(?=://)|(?<=http)(?=://)|(?<=ftp)(?=://)|(?<=www)(?=\.)|(?=@)"
)
WORD_JOINER = "\u2060"


def md(text: object) -> str:
    r"""Return `text` escaped so Streamlit's Markdown shows it literally, on one line.

    Every ASCII punctuation character gets a backslash (CommonMark's escape), which also
    disarms Streamlit's own syntax (``$`` maths, ``:color[...]``, ``:emoji:``); line
    breaks become spaces, so a name cannot start a new block; and a word joiner breaks
    the patterns that GitHub-flavoured Markdown links on its own (``http://``, ``www.``,
    ``@``), which escaping does not stop.

    Examples
    --------
    >>> md("![x](http://host/t.png)")
    '\\!\\[x\\]\\(http\u2060\\:\\/\\/host\\/t\\.png\\)'
    >>> md("白水村")
    '白水村'
    """
    joined = _AUTOLINK.sub(WORD_JOINER, " ".join(str(text).split()))
    return _PUNCTUATION.sub(r"\\\1", joined)
