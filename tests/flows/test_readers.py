"""One bad roll file neither fails the run nor silently shortens it (issue 11, finding 8).

Every row a reader takes in is a record, a malformed row, a blank row or a footer; a file it cannot take in is a
`FileError` naming the file.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path

import fastexcel
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from flows import stages
from flows.io import sources
from flows.io.sources import FileError, RawTable, read_table
from schemas.codes import FileProblem
from schemas.inputs import REGISTER, ROLL

HEADER = "姓名,现住地址,备注"
CODE = "330282001001"


def _csv(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def _person(i: int) -> str:
    return f"张{i},金山花园{i}幢1单元101室,"


def _accounted(table: RawTable) -> int:
    return table.frame.height + len(table.malformed) + table.blank_rows + table.footer_rows


@pytest.mark.parametrize("quoted", [True, False])
def test_a_cell_over_the_csv_field_limit_is_a_malformed_row(tmp_path: Path, quoted: bool) -> None:
    big = "金" * (200 * 1024)
    cell = f'"{big}"' if quoted else big
    path = _csv(tmp_path / f"{CODE}_a.csv", [HEADER, _person(1), f"李四,{cell},", _person(3)])
    table = read_table(path, ROLL)
    assert table.frame["source_row"].to_list() == [2, 4]
    assert [row for row, _ in table.malformed] == [3]
    assert _accounted(table) == 3


def test_a_stray_opening_quote_does_not_swallow_the_rows_after_it(tmp_path: Path) -> None:
    lines = [HEADER, _person(1), '王五,"金山花园2幢,', *(_person(i) for i in range(4, 40))]
    table = read_table(_csv(tmp_path / f"{CODE}_a.csv", lines), ROLL)
    malformed = [row for row, _ in table.malformed]
    assert 3 in malformed
    assert table.frame["source_row"].to_list()[0] == 2
    assert _accounted(table) == len(lines) - 1


def test_a_stray_quote_closed_lines_later_is_not_one_record(tmp_path: Path) -> None:
    # The quote closes on a later line and the field count happens to match the header's.
    lines = [HEADER, _person(1), '王五,"金山花园2幢,', _person(4), _person(5), '赵六,"金山花园"6幢,', _person(7)]
    table = read_table(_csv(tmp_path / f"{CODE}_a.csv", lines), ROLL)
    assert [row for row, _ in table.malformed] == [3, 4, 5, 6]
    assert table.frame["source_row"].to_list() == [2, 7]
    assert _accounted(table) == len(lines) - 1


def test_a_line_break_inside_a_quoted_cell_stays_one_record(tmp_path: Path) -> None:
    lines = [HEADER, _person(1), '王五,"金山花园2幢\n1单元101室",', _person(3)]
    table = read_table(_csv(tmp_path / f"{CODE}_a.csv", lines), ROLL)
    assert table.malformed == []
    assert table.frame["source_row"].to_list() == [2, 3, 4]


def test_a_short_row_is_malformed_not_padded(tmp_path: Path) -> None:
    path = _csv(tmp_path / f"{CODE}_a.csv", [HEADER, _person(1), "李四,金山花园3幢", _person(3)])
    table = read_table(path, ROLL)
    assert table.frame["source_row"].to_list() == [2, 4]
    assert table.malformed == [(3, "李四,金山花园3幢")]


def test_a_row_of_empty_fields_is_blank_whatever_its_length(tmp_path: Path) -> None:
    path = _csv(tmp_path / f"{CODE}_a.csv", [HEADER, _person(1), ",", "", " , , ,", _person(3)])
    table = read_table(path, ROLL)
    assert table.malformed == []
    assert table.blank_rows == 3
    assert table.frame["source_row"].to_list() == [2, 6]


@settings(max_examples=30, deadline=None)
@given(
    titles=st.lists(
        st.sampled_from(["余姚市实有人口登记表（三凤社区）,,", "", "填报单位：三凤社区,,", ",,", "序号,姓名,"]),
        max_size=6,
    ),
    encoding=st.sampled_from(["utf-8-sig", "gb18030"]),
)
def test_a_csv_header_is_found_under_title_rows(titles: list[str], encoding: str) -> None:
    """A roll saved as CSV from a sheet with a title keeps it above the header: its people are read all the same,
    each at the row a spreadsheet shows."""
    with tempfile.TemporaryDirectory() as tmp:
        path = _csv(Path(tmp) / f"{CODE}_a.csv", [*titles, HEADER, _person(1), _person(2)], encoding)
        table = read_table(path, ROLL)
    assert table.frame["name_raw"].to_list() == ["张1", "张2"]
    assert table.frame["source_row"].to_list() == [len(titles) + 2, len(titles) + 3]


def test_a_csv_without_the_roll_header_near_its_top_says_what_the_first_row_lacks(tmp_path: Path) -> None:
    path = _csv(tmp_path / f"{CODE}_a.csv", ["标题,,", *[_person(i) for i in range(30)], HEADER])
    with pytest.raises(FileError, match="missing required column") as raised:
        read_table(path, ROLL)
    assert raised.value.problem is FileProblem.MISSING_COLUMNS


def test_a_repeated_csv_header_keeps_the_first_column(tmp_path: Path) -> None:
    path = _csv(tmp_path / f"{CODE}_a.csv", ["姓名,现住地址,备注,备注", "张一,金山花园1幢,first,second"])
    table = read_table(path, ROLL)
    assert table.frame["note"].to_list() == ["first"]
    assert table.duplicate_headers == ["备注"]


def _workbook(path: Path, rows: list[list[str | None]]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "一网格"
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def test_a_repeated_xlsx_header_is_read_and_reported(tmp_path: Path) -> None:
    rows: list[list[str | None]] = [
        ["姓名", "现住地址", "备注", "备注", "备注"],
        ["张一", "金山花园1幢", "first", "second", "third"],
        ["李二", "金山花园2幢", None, "second", None],
    ]
    table = read_table(_workbook(tmp_path / f"{CODE}_a.xlsx", rows), ROLL)
    assert table.frame["name_raw"].to_list() == ["张一", "李二"]
    assert table.frame["note"].to_list() == ["first", None]
    (sheet,) = table.sheets
    assert sheet.read
    assert sheet.duplicate_headers == ["备注", "备注"]


def _bulky_workbook(path: Path, people: int) -> Path:
    rows: list[list[str | None]] = [["姓名", "现住地址"]]
    rows += [[f"张{i}", f"金山花园{i}幢1单元101室"] for i in range(people)]
    return _workbook(path, rows)


def test_an_xlsx_over_the_compressed_size_limit_is_a_file_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _bulky_workbook(tmp_path / f"{CODE}_big.xlsx", 200)
    monkeypatch.setattr(sources, "MAX_XLSX_BYTES", path.stat().st_size - 1)
    with pytest.raises(FileError) as caught:
        read_table(path, ROLL)
    assert caught.value.problem is FileProblem.TOO_LARGE
    assert caught.value.file == path.name
    assert str(caught.value).startswith(path.name)


def test_an_xlsx_that_unpacks_over_the_limit_is_a_file_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _bulky_workbook(tmp_path / f"{CODE}_bomb.xlsx", 200)
    with zipfile.ZipFile(path) as zf:
        unpacked = sum(info.file_size for info in zf.infolist())
    monkeypatch.setattr(sources, "MAX_XLSX_UNPACKED", unpacked - 1)

    def never(*_: object, **__: object) -> None:
        raise AssertionError("the workbook was loaded before its size was checked")

    monkeypatch.setattr(fastexcel, "read_excel", never)
    with pytest.raises(FileError) as caught:
        read_table(path, ROLL)
    assert caught.value.problem is FileProblem.TOO_LARGE
    assert caught.value.file == path.name


def test_a_roll_over_the_limits_is_reported_and_the_others_are_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    register = _csv(
        tmp_path / "register.csv",
        ["公民身份号码,姓名,户号,户籍地址,社区代码", f"33028219800101001X,甲乙,1,金山花园1幢1单元101室,{CODE}"],
    )
    rolls = tmp_path / "rolls"
    rolls.mkdir()
    big = _bulky_workbook(rolls / f"{CODE}_big.xlsx", 300)
    _bulky_workbook(rolls / "330282001002_small.xlsx", 3)
    monkeypatch.setattr(sources, "MAX_XLSX_BYTES", big.stat().st_size - 1)
    counts = stages.ingest(register, rolls, tmp_path / "run")
    assert counts["roll_rows"] == 3
    assert counts["roll_files_unreadable"] == 1
    reports = {r["file"]: r for r in json.loads((tmp_path / "run" / "files.json").read_text())}
    assert reports[big.name]["status"] == "error"
    assert reports[big.name]["problem"] == FileProblem.TOO_LARGE.value
    assert reports["330282001002_small.xlsx"]["status"] == "ok"


def test_a_repeated_required_header_still_finds_the_header_row(tmp_path: Path) -> None:
    rows: list[list[str | None]] = [
        ["某社区实有人口登记表"],
        ["姓名", "现住地址", "姓名"],
        ["张一", "金山花园1幢", "张三"],
    ]
    table = read_table(_workbook(tmp_path / f"{CODE}_a.xlsx", rows), ROLL)
    assert table.frame["name_raw"].to_list() == ["张一"]
    assert table.frame["source_row"].to_list() == [3]
    assert table.sheets[0].duplicate_headers == ["姓名"]


def test_a_sheet_with_a_huge_used_range_is_reported_not_loaded(tmp_path: Path) -> None:
    book = Workbook()
    grid = book.active
    assert grid is not None
    grid.title = "一网格"
    grid.append(["姓名", "现住地址"])
    grid.append(["张一", "金山花园1幢"])
    stray = book.create_sheet("二网格")
    stray.append(["姓名", "现住地址"])
    stray["XFD1048576"] = "x"  # one cell far away: the reader would hold 17 billion cells
    path = tmp_path / f"{CODE}_a.xlsx"
    book.save(path)
    table = read_table(path, ROLL)
    assert table.frame["name_raw"].to_list() == ["张一"]
    reports = {s.sheet: s for s in table.sheets}
    assert not reports["二网格"].read
    assert reports["二网格"].reason
    assert "cells" in reports["二网格"].reason


def test_a_gb18030_file_failing_late_is_refused_whole(tmp_path: Path) -> None:
    """Read as it is decoded, a GB18030 file with a bad byte far down names it as if checked first, and writes nothing."""
    rows = [HEADER, *(_person(i) for i in range(5000))]
    good = ("\n".join(rows) + "\n").encode("gb18030")
    path = tmp_path / f"{CODE}_a.csv"
    path.write_bytes(good[:-50] + b"\x81\x20" + good[-50:])
    out = tmp_path / "raw.parquet"
    with pytest.raises(FileError) as refused:
        sources.table_to_parquet(path, ROLL, out, batch_rows=100)
    assert refused.value.problem is FileProblem.ENCODING
    assert str(refused.value) == (
        f"{path.name}: not UTF-8 or GB18030 text (utf-8-sig fails at byte 0; gb18030 fails at byte {len(good) - 50})"
    )
    assert not out.exists()  # the batches written before the bad byte are gone


def test_a_bad_header_of_a_file_that_is_no_text_is_an_encoding_error(tmp_path: Path) -> None:
    path = tmp_path / f"{CODE}_a.csv"
    path.write_bytes("名字,地址\n张三,1\n".encode("gb18030") + b"\x81\x20")
    with pytest.raises(FileError) as refused:
        read_table(path, ROLL)
    assert refused.value.problem is FileProblem.ENCODING


def test_a_csv_rolls_total_and_note_rows_are_footers_not_people(tmp_path: Path) -> None:
    """A sheet saved as CSV keeps its 以下为出租户 divider and 合计 row: counted as footers, as a workbook's are."""
    header = "序号,姓名,现住地址"
    lines = [
        header,
        "1,张1,金山花园1幢1单元101室",
        "以下为出租户（外来人口）,,",
        "2,张2,金山花园2幢1单元101室",
        "合计,共2人,",
    ]
    table = read_table(_csv(tmp_path / f"{CODE}_a.csv", lines), ROLL)
    assert table.frame["source_row"].to_list() == [2, 4]
    assert table.footers == [3, 5]
    assert _accounted(table) == len(lines) - 1
    register = _csv(tmp_path / "register.csv", ["身份证号,姓名,户号,住址,社区", "合计,张三,1,金山花园1幢,金山社区"])
    assert read_table(register, REGISTER).frame.height == 1  # an extract's rows are all records
