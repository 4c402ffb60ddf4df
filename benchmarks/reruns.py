"""Server time per rerun when a user moves a widget, for every page (Streamlit AppTest).

    .venv/bin/python benchmarks/reruns.py                      # the store the app serves
    VILLAGE_ATLAS_DATA=/tmp/big .venv/bin/python benchmarks/reruns.py   # a grown demo
    .venv/bin/python benchmarks/reruns.py map coverage                  # some pages only

Each page is opened, then each widget is moved back and forth: the first two moves warm
the caches (what a user pays once), the median of the next six is the rerun a user feels.
The goal is 300 ms. Printed as a table with the store's village count.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from streamlit.testing.v1 import AppTest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import layers

APP = str(Path(__file__).resolve().parent.parent / "app.py")
GOAL_S = 0.3

Move = Callable[[AppTest, int], None]


def _year(at: AppTest, i: int) -> None:
    at.slider(key="year_slider").set_value(2016 + i % 2)


def _radio(key: str) -> Move:
    def move(at: AppTest, i: int) -> None:
        box = at.radio(key=key)
        box.set_value(box.options[i % 2])

    return move


def _select(key: str) -> Move:
    def move(at: AppTest, i: int) -> None:
        box = at.selectbox(key=key)
        box.set_value(box.options[i % 2])

    return move


#: page -> widget name -> how to move it
CASES: dict[str, dict[str, Move]] = {
    "map": {"year": _year, "basemap": _select("map_basemap")},
    "coverage": {"year": _year, "straight / along roads": _radio("cov_mode")},
    "targets": {"year": _year, "target": _select("targets_pick")},
    "plan": {"year": _year},
    "bureaus": {"year": _year, "bureau": _select("bureau_pick")},
    "changes": {"from year": _select("chg_from")},
    "overview": {"year": _year},
}


def timed_moves(page: str, move: Move, n: int = 8) -> tuple[float, float]:
    """Return (first move, median of the warm moves) in seconds."""
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    at.switch_page(f"pages/{page}.py").run()
    if at.exception:
        raise SystemExit(f"{page}: {at.exception}")
    times = []
    for i in range(n):
        move(at, i)
        start = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - start)
        if at.exception:
            raise SystemExit(f"{page}: {at.exception}")
    return times[0], statistics.median(times[2:])


def main() -> None:
    """Print one row per page and widget."""
    n = len(layers.load("villages"))
    print(f"| page, widget ({n:,} villages) | first move | rerun (median) | goal 0.3 s |")
    print("|---|---|---|---|")
    wanted = sys.argv[1:] or list(CASES)  # pages to time (default: all)
    for page, widgets in CASES.items():
        if page not in wanted:
            continue
        for name, move in widgets.items():
            first, warm = timed_moves(page, move)
            mark = "yes" if warm <= GOAL_S else "no"
            print(f"| {page}, {name} | {first:.2f} s | {warm:.2f} s | {mark} |", flush=True)


if __name__ == "__main__":
    main()
