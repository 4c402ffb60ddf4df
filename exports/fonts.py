"""Font discovery for print maps, and the matplotlib settings a print needs, applied locally."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import matplotlib as mpl
from matplotlib import font_manager

__all__ = ["cjk_font", "print_settings"]

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
