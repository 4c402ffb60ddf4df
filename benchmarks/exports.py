"""Time the meeting exports against their goals: the prefecture PDF < 10 s, the atlas < 1 min.

.venv/bin/python benchmarks/exports.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import exports as export


def timed(label: str, goal: float, work: object) -> None:
    start = time.perf_counter()
    work()  # type: ignore[operator]
    elapsed = time.perf_counter() - start
    print(f"{label:45} {elapsed:6.2f} s  (goal {goal:g} s: {elapsed / goal:.2f} of it)", flush=True)


def main() -> None:
    folder = Path(tempfile.mkdtemp())
    spec = export.MapSpec(year=2017, rule="bus_2km", size="A4", dpi=200)
    export.cjk_font()  # font lookup once, as in a running app
    timed(
        "meeting map, whole prefecture, A4 PDF",
        10,
        lambda: export.save_figure(export.meeting_map(spec), folder / "map.pdf"),
    )
    timed(
        "meeting map, whole prefecture, A3 PNG 300 dpi",
        10,
        lambda: export.save_figure(
            export.meeting_map(export.MapSpec(size="A3", dpi=300)), folder / "map.png"
        ),
    )
    timed("county atlas, 7 counties, PDF", 60, lambda: export.atlas(spec, folder / "atlas.pdf"))
    timed("bureau workbook", 10, lambda: export.bureau_workbook(2017, folder / "b.xlsx"))
    timed("standalone HTML map", 10, lambda: (folder / "m.html").write_text(export.html_map(spec)))


if __name__ == "__main__":
    main()
