"""Meeting exports: print maps (PNG/PDF), a county atlas, a standalone HTML map, workbooks.

Nothing here changes matplotlib's global settings: the print settings (embedded TrueType
fonts) apply only while a file is saved. Only pages, the command line, benchmarks and tests
import this package.
"""

from __future__ import annotations

from exports.atlas import atlas
from exports.fonts import cjk_font
from exports.html import html_map, standalone_html
from exports.printmap import meeting_map, save_figure
from exports.spec import PAPER_MM, MapSpec, county_code
from exports.workbook import bureau_workbook, scenario_workbook

__all__ = [
    "PAPER_MM",
    "MapSpec",
    "atlas",
    "bureau_workbook",
    "cjk_font",
    "county_code",
    "html_map",
    "meeting_map",
    "save_figure",
    "scenario_workbook",
    "standalone_html",
]
