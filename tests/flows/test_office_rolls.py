"""Rolls as offices hand them in: every sheet read, every row accounted for, nothing skipped in silence.

The workbooks are built with openpyxl the way offices keep them (`tests/flows/office_rolls.py`): a sheet per
网格 with its own column order, a cover sheet first, a title and a two-row header with merged group cells,
footers under the data and a hidden helper column.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from flows.pipeline import LOCAL, run_pipeline
from flows.settings import Settings
from services.paths import DataPaths
from tests.flows import office_rolls as office
from tests.flows.office_rolls import Written

CODE = "330282001001"
Builder = Callable[[Path, list[dict[str, str]]], Written]
BUILDERS: dict[str, Builder] = {
    "sheet_per_grid": lambda p, people: office.sheet_per_grid(p, people, seed=3),
    "cover_sheet_first": office.cover_sheet_first,
    "title_and_two_row_header": lambda p, people: office.title_and_two_row_header(p, people, top_margin=2),
    "footers_and_hidden_column": office.footers_and_hidden_column,
}


def _register(path: Path) -> None:
    """A register of the community the rolls belong to (the rolls' people are not in it: they are 人在户不在)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["公民身份号码", "姓名", "户号", "户籍地址", "社区", "社区代码", "街道", "所属派出所"])
        writer.writerow(
            [
                "33028219800101001X",
                "甲乙",
                "1",
                "浙江省慈溪市浒山街道金山花园1幢1单元101室",
                office.COMMUNITY,
                CODE,
                "浒山街道",
                "浒山派出所",
            ]
        )


@pytest.fixture(scope="module")
def delivery(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Written]]:
    root = tmp_path_factory.mktemp("office")
    _register(root / "register" / "register.csv")
    rolls = root / "rolls"
    rolls.mkdir()
    written = {}
    for i, (name, build) in enumerate(BUILDERS.items()):
        written[name] = build(rolls / f"{CODE}_{name}.xlsx", office.sample_people(60, seed=i))
    data = root / "data"
    run_pipeline(root / "register", rolls, Settings(data_dir=data), LOCAL)
    return data, written


def _sql(data: Path, query: str, params: list[object] | None = None) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(DataPaths(data).published), read_only=True)
    try:
        return con.execute(query, params or []).fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("kind", list(BUILDERS))
def test_every_row_of_every_sheet_is_accounted_for(delivery: tuple[Path, dict[str, Written]], kind: str) -> None:
    data, written = delivery
    book = written[kind]
    file = f"{CODE}_{kind}.xlsx"
    ((status, records, blank, footer, sheets_json),) = _sql(
        data, "SELECT status, rows, blank_rows, footer_rows, sheets FROM input_files WHERE file = ?", [file]
    )
    assert status == "ok"
    sheets = {s["sheet"]: s for s in json.loads(str(sheets_json))}
    # The report names every sheet of the workbook; those without the roll's columns say why.
    assert set(sheets) == set(book.person_rows) | set(book.other_sheets)
    for other in book.other_sheets:
        assert not sheets[other]["read"]
        assert sheets[other]["reason"]
    # Rows in = records + quarantined + blank + footer, and the footers are the rows the office wrote.
    published = _sql(data, "SELECT source_sheet, source_row FROM record_status WHERE source_file = ?", [file])
    quarantined = _sql(data, "SELECT source_sheet, source_row FROM quarantine WHERE source_file = ?", [file])
    people = {(sheet, row) for sheet, rows in book.person_rows.items() for row in rows}
    assert set(published) | set(quarantined) == people
    assert len(published) + len(quarantined) == len(people) == records
    assert footer == sum(len(r) for r in book.footer_rows.values())
    for sheet, rows in book.footer_rows.items():
        assert sheets[sheet]["footer_rows"] == rows
    # Blank rows count where they separate data; spacers above a title and empty rows after the last one do not.
    inside = sum(len([r for r in rows if _within(book, sheet, r)]) for sheet, rows in book.blank_rows.items())
    assert blank == inside
    assert records + blank + footer == len(people) + footer + inside


def _within(book: Written, sheet: str, row: int) -> bool:
    rows = book.person_rows[sheet] + book.footer_rows.get(sheet, [])
    return bool(rows) and min(rows) < row < max(rows)


@pytest.mark.parametrize("kind", list(BUILDERS))
def test_each_person_keeps_sheet_row_and_name(delivery: tuple[Path, dict[str, Written]], kind: str) -> None:
    data, written = delivery
    book = written[kind]
    file = f"{CODE}_{kind}.xlsx"
    got = {
        (sheet, row): (name, grid)
        for sheet, row, name, grid in _sql(
            data, "SELECT source_sheet, source_row, name_raw, grid FROM run.roll_records WHERE source_file = ?", [file]
        )
    }
    for sheet, rows in book.person_rows.items():
        for row, person in zip(rows, book.persons[sheet], strict=True):
            name, grid = got[(sheet, row)]
            assert name == person["姓名"].strip()
            # A grid left empty on a sheet named for its grid is that grid.
            expected_grid = person.get("网格") or (sheet if kind == "sheet_per_grid" else None)
            assert grid == expected_grid


def test_a_workbook_without_any_roll_sheet_is_an_error(tmp_path: Path) -> None:
    from openpyxl import Workbook

    from flows.io.sources import FileError, read_table
    from schemas.codes import FileProblem
    from schemas.inputs import ROLL

    book = Workbook()
    book.active.title = "封面"
    book.active["A1"] = "实有人口登记表"
    book.create_sheet("说明")["A1"] = "填表说明：按户填写"
    path = tmp_path / f"{CODE}_cover_only.xlsx"
    book.save(path)
    with pytest.raises(FileError) as caught:
        read_table(path, ROLL)
    assert caught.value.problem is FileProblem.MISSING_COLUMNS
    assert "封面" in str(caught.value)
    assert "说明" in str(caught.value)


def test_a_hidden_sheet_is_read_and_a_copy_is_set_aside(tmp_path: Path) -> None:
    """Contract §1.2: every sheet whose header carries the roll's columns holds records, hidden or not, and the
    report says which were hidden; a sheet that repeats the others' people (here a hidden copy of the roll) is
    set aside as a repeat, so nobody is counted twice."""
    from openpyxl import load_workbook

    from flows.io.sources import read_table
    from schemas.inputs import ROLL

    path = tmp_path / f"{CODE}_hidden.xlsx"
    office.footers_and_hidden_column(path, office.sample_people(8, seed=1))
    book = load_workbook(path)
    copy = book.copy_worksheet(book.worksheets[0])
    copy.title = "上月"
    copy.sheet_state = "hidden"
    other = book.copy_worksheet(book.worksheets[0])
    other.title = "新增"
    other.sheet_state = "hidden"
    other.delete_rows(2, 8)  # the header and the footers only: a hidden sheet with nobody new
    book.save(path)
    table = read_table(path, ROLL)
    assert table.frame.group_by("source_sheet").len().rows() == [("人口信息", 8)]
    got = {s.sheet: (s.read, s.hidden, s.repeated_rows) for s in table.sheets}
    assert got == {"人口信息": (True, False, 0), "上月": (False, True, 8), "新增": (True, True, 0)}


def test_a_summary_sheet_over_the_grid_sheets_is_not_counted_twice(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    from flows.io.sources import read_table
    from schemas.inputs import ROLL

    path = tmp_path / f"{CODE}_summary.xlsx"
    people = office.sample_people(40, seed=2)
    written = office.sheet_per_grid(path, people, grids=4, shuffle_columns=False)
    book = load_workbook(path)
    summary = book.create_sheet("汇总", 0)
    summary.append(list(office.ROLL_HEADER))
    for sheet in written.persons.values():
        for person in sheet:
            summary.append([person.get(column, "") for column in office.ROLL_HEADER])
    book.save(path)
    table = read_table(path, ROLL)
    assert table.frame.height == sum(len(rows) for rows in written.person_rows.values())
    assert "汇总" not in table.frame["source_sheet"].to_list()
    (report,) = [s for s in table.sheets if s.sheet == "汇总"]
    assert (report.read, report.repeated_rows) == (False, table.frame.height)
