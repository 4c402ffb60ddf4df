"""Font discovery for print maps, the settings a print needs (applied locally), text widths."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import matplotlib as mpl
from matplotlib import font_manager

__all__ = ["cjk_font", "ems", "print_settings", "wrap"]

_CJK_FONTS = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Source Han Sans SC", "Noto Sans SC")


def cjk_font() -> str:
    """Return the family name of an installed CJK font, registering it with matplotlib.

    Raises
    ------
    RuntimeError
        If none is installed; the message says which package to install.
    """
    for family in _CJK_FONTS:
        try:
            found = subprocess.run(
                ["fc-match", "-f", "%{family}|%{file}", family],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
        except FileNotFoundError:  # no fontconfig on this machine
            break
        names, _, file = found.partition("|")
        if family.lower() in names.lower() and Path(file).is_file():
            font_manager.fontManager.addfont(file)
            return font_manager.FontProperties(fname=file).get_name()
    msg = "no CJK font installed: install Debian's fonts-wqy-microhei (make test does)"
    raise RuntimeError(msg)


@contextmanager
def print_settings() -> Iterator[None]:
    """Apply the settings a print needs only inside the block: embedded TrueType, plain text.

    Text drawn in the block is never read as mathtext: a name from the data such as
    ``$x^2$`` prints as typed. Figures are drawn and saved inside it.
    """
    with mpl.rc_context({"pdf.fonttype": 42, "text.parse_math": False}):  # TrueType: Chinese too
        yield


def ems(text: str) -> float:
    """Return the rough width of `text` in ems: a CJK character is one, a Latin one about half.

    Examples
    --------
    >>> ems("市林业局"), round(ems("bus"), 2)
    (4.0, 1.65)
    """
    return sum(1.0 if ord(ch) >= 0x2E80 else 0.55 for ch in text)  # noqa: PLR2004


def wrap(text: str, width: float) -> list[str]:
    """Break `text` into lines at most `width` ems wide (`ems`): between words, CJK anywhere.

    A word wider than `width` keeps a line of its own.

    Examples
    --------
    >>> wrap("Municipal Forestry Bureau; Counties", 10)
    ['Municipal Forestry', 'Bureau; Counties']
    >>> wrap("市林业局市扶贫办", 3)
    ['市林业', '局市扶', '贫办']
    """
    lines: list[str] = []
    line = ""
    for word in re.findall(r"[\u2e80-\uffff]|[^\s\u2e80-\uffff]+\s*|\s+", text):
        if line.strip() and ems(line + word.rstrip()) > width:
            lines.append(line.rstrip())
            line = word.lstrip()
        else:
            line += word
    return [*lines, line.rstrip()] if line.strip() else lines
