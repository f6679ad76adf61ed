"""Readers are total: whatever the bytes, every row taken in is accounted for, or the file is a `FileError`.

Per file: rows in = records + malformed + blank + footer (+ rows of a sheet set aside as a copy of the others),
and nothing raises but `FileError`.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from flows.io import sources
from flows.io.sources import FileError, RawTable, iter_table, read_table
from schemas.codes import FileProblem
from schemas.inputs import ROLL

CODE = "330282001001"
ROLL_HEADERS = ("序号", "网格", "姓名", "性别", "身份证号", "出生日期", "联系电话", "现住地址", "房屋性质", "备注")
NOISE = ('"', ",", "\n", "\r", "\r\n", " ", "合计", "金山花园1幢", "张伟", "\ufeff", "\x00", "·", "，")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _accounted(table: RawTable) -> int:
    repeated = sum(s.repeated_rows for s in table.sheets)
    return table.frame.height + len(table.malformed) + table.blank_rows + table.footer_rows + repeated


def _read(path: Path) -> RawTable | FileError:
    """The file's rows, or the `FileError` it was refused with (nothing else may be raised)."""
    try:
        return read_table(path, ROLL)
    except FileError as exc:
        return exc


def _check_rows(table: RawTable) -> None:
    """Rows in = records + malformed + blank + footer, and no row is counted twice."""
    assert table.rows_in == _accounted(table)
    if not table.sheets:  # CSV: records and malformed rows have distinct rows in the file
        rows = table.frame["source_row"].to_list() + [r for r, _ in table.malformed]
        assert len(rows) == len(set(rows))
        assert all(2 <= r <= table.rows_in + 1 for r in rows)


_cell_text = st.one_of(
    st.text(st.characters(exclude_categories=["Cs"]), max_size=12),
    st.lists(st.sampled_from(NOISE), max_size=4).map("".join),
    st.sampled_from(["金" * (130 * 1024), "a" * 40]),
)


@st.composite
def _csv_file(draw: st.DrawFn) -> tuple[bytes, bool]:
    """A roll CSV: a header, rows of random field counts and contents, written raw or quoted; (bytes, plain)."""
    header = draw(st.lists(st.sampled_from((*ROLL_HEADERS, "其他", "")), max_size=6))
    header = draw(st.permutations(["姓名", "现住地址", *header]))
    rows = draw(
        st.lists(
            st.lists(_cell_text, max_size=len(header) + 2).map(lambda r: r if r else []),
            max_size=25,
        )
    )
    quoted = draw(st.booleans())
    buf = io.StringIO()
    buf.write(",".join(header) + draw(st.sampled_from(["\n", "\r\n"])))
    for row in rows:
        if quoted:
            csv.writer(buf, lineterminator="\n").writerow(row)
        else:
            buf.write(",".join(row) + "\n")
    text = buf.getvalue()
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "gb18030-bom"]))
    data = text.encode("gb18030") if encoding.startswith("gb18030") else text.encode(encoding)
    if encoding == "gb18030-bom":
        data = "\ufeff".encode("gb18030") + data
    if draw(st.booleans()):  # a few random bytes somewhere
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(max_size=8)) + data[at:]
        return data, False
    body = text.split("\n", 1)[1] if "\n" in text else ""
    plain = '"' not in body and "\x00" not in body
    return data, plain


def _physical_lines(data: bytes) -> int:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        return -1
    lines = _LINE_BREAK.split(text)
    return len(lines) - (1 if lines[-1] == "" else 0) - 1  # without the header and after the last line break


@FUZZ
@given(_csv_file(), st.integers(1, 8))
def test_the_csv_reader_accounts_for_every_row(file: tuple[bytes, bool], batch_rows: int) -> None:
    data, plain = file
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{CODE}_fuzz.csv"
        path.write_bytes(data)
        whole = _read(path)
        if isinstance(whole, FileError):
            assert whole.file == path.name
            return
        batches = list(iter_table(path, ROLL, batch_rows=batch_rows))
    _check_rows(whole)
    assert sum(b.rows_in for b in batches) == whole.rows_in
    assert sum(_accounted(b) for b in batches) == whole.rows_in
    if plain:  # without quotes every physical line is one row
        assert whole.rows_in == _physical_lines(data)


def _whole(path: Path, batch_rows: int) -> tuple[Any, ...]:
    """All a CSV reader makes of a file, whole and in batches: frames, malformed rows and counts, or its refusal."""
    try:
        whole = read_table(path, ROLL)
        batches = list(iter_table(path, ROLL, batch_rows=batch_rows))
    except FileError as exc:
        return (exc.problem, str(exc))
    frame = whole.frame.to_dict(as_series=False)
    counts = (whole.blank_rows, whole.rows_in, whole.encoding, whole.duplicate_headers)
    in_batches = [b.frame.height for b in batches], [m for b in batches for m in b.malformed]
    totals = sum(b.blank_rows for b in batches), sum(b.rows_in for b in batches)
    return frame, whole.malformed, counts, sum(in_batches[0]), in_batches[1], totals


@FUZZ
@given(_csv_file(), st.integers(1, 8), st.sampled_from([1 << 20, 61, 4096]))
def test_plain_lines_are_read_as_the_csv_reader_reads_them(
    file: tuple[bytes, bool], batch_rows: int, chunk: int
) -> None:
    """Lines without a quote are split all at once: the same records, rows and refusals as through `csv.reader`."""
    data, _ = file
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as patch:
        path = Path(tmp) / f"{CODE}_fuzz.csv"
        path.write_bytes(data)
        patch.setattr(sources, "_CHUNK", chunk)  # the text is decoded in chunks ending anywhere
        at_once = _whole(path, batch_rows)
        patch.setattr(sources, "_is_plain", lambda line: False)
        patch.setattr(sources._Text, "plain_lines", lambda self, most: [])
        line_by_line = _whole(path, batch_rows)
    assert at_once == line_by_line


@FUZZ
@given(
    st.lists(st.sampled_from(["a", ",", "\r", "\n", "\r\n", '"', "金", "\x85", "\u2028"]), max_size=40).map("".join),
    st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]),
    st.integers(1, 9),
    st.lists(st.integers(0, 9), min_size=1, max_size=12),
)
def test_lines_are_those_of_a_text_file(text: str, encoding: str, chunk: int, steps: list[int]) -> None:
    """The CSV reader's lines are those `open(newline="").readline(limit)` gives, taken plain or one by one."""
    data = text.encode(encoding)
    expected = io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline="")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sources, "_CHUNK", chunk)
        lines = sources._Text(io.BytesIO(data), encoding, None)
        for step in steps * 20:
            if step == 0:  # plain lines come without their line feed, the CR LF's CR left on
                for line in lines.plain_lines(3):
                    assert '"' not in line
                    assert "\r" not in line[:-1]
                    assert expected.readline() == line + "\n"
            else:
                line = lines.readline(step)
                assert line == expected.readline(step)
                if not line:
                    break


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_are_rows_or_a_file_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for name in (f"{CODE}_fuzz.csv", f"{CODE}_fuzz.xlsx"):
            path = Path(tmp) / name
            path.write_bytes(data)
            table = _read(path)
            if isinstance(table, FileError):
                assert table.file == path.name
            else:
                _check_rows(table)


_xlsx_text = st.text(st.characters(exclude_categories=["Cs", "Cc"]), max_size=10)
_xlsx_cell = st.one_of(
    st.none(), _xlsx_text, st.integers(-(10**6), 10**6), st.sampled_from(["合计", "填表人：王", " ", "张伟"])
)
_sheet_name = st.text(st.characters(categories=("L", "N")), min_size=1, max_size=12)


@st.composite
def _roll_sheet(draw: st.DrawFn) -> dict[str, Any]:
    """Title rows, maybe a merged group row, a header (duplicates allowed), then random rows and blank rows."""
    extra = draw(st.lists(st.sampled_from((*ROLL_HEADERS, "其他", None)), max_size=5))
    header = draw(st.permutations(["姓名", "现住地址", *extra]))
    rows = draw(
        st.lists(
            st.one_of(st.just([]), st.lists(_xlsx_cell, max_size=len(header) + 1)),
            max_size=15,
        )
    )
    return {
        "kind": draw(st.sampled_from(["roll", "roll", "cover", "empty"])),
        "titles": draw(st.integers(0, 2)),
        "group": draw(st.booleans()),
        "header": header,
        "rows": rows,
        "hidden": draw(st.booleans()),
    }


def _write_sheet(ws: Any, spec: dict[str, Any]) -> int | None:
    """Write one sheet; the number of rows under its header up to the last row with a value (None: no roll)."""
    if spec["kind"] == "empty":
        return None
    if spec["kind"] == "cover":
        ws.append(["实有人口登记表", "说明"])
        ws.append(["请按网格填写"])
        return None
    for _ in range(spec["titles"]):
        ws.append(["某社区实有人口登记表"])
    if spec["group"]:
        ws.append(["基本信息", None, "居住信息"])
        ws.merge_cells(start_row=ws.max_row, start_column=1, end_row=ws.max_row, end_column=2)
    ws.append(spec["header"])
    header_row = ws.max_row
    last = header_row
    for offset, row in enumerate(spec["rows"], start=1):
        for column, value in enumerate(row, start=1):
            ws.cell(header_row + offset, column, value)
        if any(v is not None and v != "" for v in row):
            last = header_row + offset
    return last - header_row


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_sheet_name, _roll_sheet()), min_size=1, max_size=3, unique_by=lambda s: s[0].lower()))
def test_the_xlsx_reader_accounts_for_every_row(sheets: list[tuple[str, dict[str, Any]]]) -> None:
    book = Workbook()
    default = book.active
    assert default is not None
    book.remove(default)
    expected: dict[str, int] = {}
    for name, spec in sheets:
        ws = book.create_sheet(name)
        rows = _write_sheet(ws, spec)
        if rows is not None:
            expected[name] = rows
        if spec["hidden"] and len(book.sheetnames) > 1:
            ws.sheet_state = "hidden"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{CODE}_fuzz.xlsx"
        book.save(path)
        table = _read(path)
    if isinstance(table, FileError):
        assert table.file == path.name
        # A workbook with a roll sheet is refused only when no sheet holds a row.
        assert not expected or table.problem is FileProblem.EMPTY
        return
    _check_rows(table)
    reports = {r.sheet: r for r in table.sheets}
    assert all(reports[name].read or reports[name].repeated_rows for name in expected)
    for report in table.sheets:
        taken = report.records + report.blank_rows + len(report.footer_rows) + report.repeated_rows
        assert taken == report.rows_in
        if report.sheet in expected and (report.read or report.repeated_rows):
            assert report.rows_in == expected[report.sheet]
