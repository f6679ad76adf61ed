"""A one-sheet xlsx written row by row, several times faster than xlsxwriter cell by cell.

Writing the rolls' cells one by one through xlsxwriter took most of a city's
generation time. This writer puts out the same workbook: the package parts
are xlsxwriter's own (made once, from an empty workbook with the same sheet
and date format), and the sheet holds the cells in the very form xlsxwriter's
`constant_memory` mode gives them: inline strings, numbers, and dates as
serial numbers in the `yyyy-mm-dd` style. Only the sheet is written here,
straight into the zip, so memory does not depend on the number of rows.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import re
import zipfile
from typing import TYPE_CHECKING

import xlsxwriter

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

SHEET_PART = "xl/worksheets/sheet1.xml"
CREATED = dt.datetime(2026, 1, 1)
"""The creation time the workbooks carry, so the same rows give the same bytes."""
_PART_TIME = (1980, 1, 31, 0, 0, 0)
_PART_MODE = 0o100600 << 16
"""The time and file mode xlsxwriter gives the parts of a workbook it writes to a file."""
_EPOCH = dt.date(1899, 12, 30).toordinal()
_FIRST_DATE = dt.date(1900, 3, 1).toordinal()
_ESCAPE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f]")
_ESCAPED_ESCAPE = re.compile(r"(_x[0-9a-fA-F]{4}_)")
_EDGE_SPACE = re.compile(r"^\s|\s$")
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<dimension ref="A1:{last}"/><sheetViews><sheetView tabSelected="1" workbookViewId="0"/></sheetViews>'
    '<sheetFormatPr defaultRowHeight="15"/><sheetData>'
)
_TAIL = (
    '</sheetData><pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/></worksheet>'
)


@functools.cache
def _shell(sheet_name: str, *, dated: bool) -> tuple[tuple[str, bytes], ...]:
    """The parts xlsxwriter makes for a one-sheet workbook, in its order, the sheet left empty.

    Its styles hold the `yyyy-mm-dd` format only when a cell uses it (`dated`).
    """
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    book.set_properties({"created": CREATED})
    sheet = book.add_worksheet(sheet_name)
    date_format = book.add_format({"num_format": "yyyy-mm-dd"})
    if dated:
        sheet.write_datetime(1, 0, CREATED, date_format)
    book.close()
    with zipfile.ZipFile(buffer) as zf:
        return tuple((name, b"" if name == SHEET_PART else zf.read(name)) for name in zf.namelist())


def _text(value: str) -> str:
    r"""An inline string's `<t>` element, escaped as xlsxwriter escapes it.

    >>> _text(" a<b_x0001_\x02")
    '<t xml:space="preserve"> a&lt;b_x005F_x0001__x0002_</t>'
    """
    if "_x" in value or _CONTROL.search(value):
        value = _CONTROL.sub(lambda m: f"_x{ord(m.group()):04X}_", _ESCAPED_ESCAPE.sub(r"_x005F\1", value))
    value = value.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_").translate(_ESCAPE)
    if _EDGE_SPACE.search(value):
        return f'<t xml:space="preserve">{value}</t>'
    return f"<t>{value}</t>"


def row_xml(row: int, values: Sequence[object]) -> str:
    """Spreadsheet row `row` (1-based): strings inline, ints, dates in style 1; None and '' leave the cell out.

    Ints up to 15 digits (Excel's precision), dates from 1900-03-01.

    >>> row_xml(2, [1, "", "a&b", dt.date(2000, 1, 2)])
    '<row r="2"><c r="A2"><v>1</v></c><c r="C2" t="inlineStr"><is><t>a&amp;b</t></is></c><c r="D2" s="1"><v>36527</v></c></row>'
    """
    cells = [f'<row r="{row}">']
    for letter, value in zip(_LETTERS, values, strict=False):
        if isinstance(value, str):
            if value:
                cells.append(f'<c r="{letter}{row}" t="inlineStr"><is>{_text(value)}</is></c>')
        elif isinstance(value, dt.date):
            if value.toordinal() < _FIRST_DATE:
                raise ValueError(f"{value}: Excel counts days before 1900-03-01 differently")
            cells.append(f'<c r="{letter}{row}" s="1"><v>{value.toordinal() - _EPOCH}</v></c>')
        elif isinstance(value, int):
            cells.append(f'<c r="{letter}{row}"><v>{value}</v></c>')
        elif value is not None:
            raise TypeError(f"cannot write {type(value).__name__} to a cell")
    if len(cells) == 1:
        return ""  # a row without cells is left out
    cells.append("</row>")
    return "".join(cells)


def write_sheet(path: Path, sheet_name: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Write a workbook of one sheet: `header` in row 1, then `rows` (ints, strings, dates or None).

    Dates carry no time of day; the used range is as wide as the header and as long as the rows with a value.
    """
    if len(header) > len(_LETTERS):
        raise ValueError("at most 26 columns")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        dated = any(isinstance(value, dt.date) for row in rows for value in row)
        last = max((i + 2 for i, row in enumerate(rows) if any(v is not None and v != "" for v in row)), default=1)
        for part, data in _shell(sheet_name, dated=dated):
            info = zipfile.ZipInfo(part, _PART_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = _PART_MODE
            if part != SHEET_PART:
                zf.writestr(info, data)
                continue
            with zf.open(info, "w") as fh:
                fh.write(_HEAD.format(last=f"{_LETTERS[len(header) - 1]}{last}").encode())
                fh.write(row_xml(1, header).encode())
                for start in range(0, len(rows), 2000):
                    chunk = rows[start : start + 2000]
                    fh.write("".join(row_xml(start + i + 2, r) for i, r in enumerate(chunk)).encode())
                fh.write(_TAIL.encode())
