"""The roll workbook writer: the very bytes xlsxwriter writes, row by row and much faster."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synth.xlsx import CREATED, row_xml, write_sheet

if TYPE_CHECKING:
    from pathlib import Path

HEADER = ("序号", "网格", "姓名", "出生日期", "现住地址", "备注")
_text = st.one_of(
    st.text(st.characters(exclude_categories=["Cs"]), max_size=10),
    st.lists(
        st.sampled_from([" ", "金山花园", "&", "<", ">", "\x01", "\t", "\n", "_x0041_", "\ufffe", "３", "·", "", '"']),
        max_size=5,
    ).map("".join),
)
_value = st.one_of(
    st.none(),
    _text,
    st.integers(min_value=0, max_value=10**15 - 1),
    st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(2100, 12, 31)),
)
_rows = st.lists(st.lists(_value, min_size=len(HEADER), max_size=len(HEADER)), max_size=30)


def _with_xlsxwriter(path: Path, rows: list[list[object]]) -> None:
    """What the generator wrote before: xlsxwriter's constant_memory mode, cell by cell by type."""
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    book.set_properties({"created": CREATED})
    sheet = book.add_worksheet("实有人口")
    date_format = book.add_format({"num_format": "yyyy-mm-dd"})
    sheet.write_row(0, 0, HEADER)
    for r, values in enumerate(rows, start=1):
        for c, value in enumerate(values):
            if isinstance(value, str):
                if value:
                    sheet.write_string(r, c, value)
            elif isinstance(value, dt.date):
                sheet.write_datetime(r, c, dt.datetime.combine(value, dt.time()), date_format)
            elif isinstance(value, int):
                sheet.write_number(r, c, value)
    book.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_rows)
def test_the_same_bytes_as_xlsxwriter(tmp_path: Path, rows: list[list[object]]) -> None:
    _with_xlsxwriter(tmp_path / "a.xlsx", rows)
    write_sheet(tmp_path / "b.xlsx", "实有人口", HEADER, rows)
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()


def test_rows_leave_blank_cells_out_and_refuse_what_they_cannot_write() -> None:
    assert row_xml(3, [None, "", 7]) == '<row r="3"><c r="C3"><v>7</v></c></row>'
    with pytest.raises(TypeError):
        row_xml(2, [1.5])
    with pytest.raises(ValueError, match="1900-03-01"):
        row_xml(2, [dt.date(1900, 2, 28)])
