"""Door-visit worksheets: the workbook (validation, print setup, hidden tokens), and importing a filled one.

Round trip (export → fill → import → decisions → tonight's run shows them settled), partial presence, every
refused case row by row, a re-import that changes nothing, undo of an import as a unit, and files that are not
ours. The fast tests build a workbook from hand-made rows; the others use the published small city.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import sqlite3
import stat
from typing import TYPE_CHECKING, Any

import openpyxl
import pytest
import xlsxwriter

from schemas.codes import DecisionKind, Role, Side, VisitResult
from schemas.labels import RECORDED
from services import fieldwork
from services import worksheet as ws
from services.accounts import User
from services.audit import audit_log
from services.decisions import ItemKeys, active_decisions, decide, decide_batch, undo_last
from services.paths import DataPaths
from services.worksheet import apply as ws_apply
from services.worksheet import read as ws_read
from services.worksheet import to_visit
from services.worksheet import write as ws_write

# The published city and its users (tests/review/conftest.py); fast_test_setup makes their passwords cheap.
from tests.review.conftest import fast_test_setup, published_city, world  # noqa: F401

if TYPE_CHECKING:
    from pathlib import Path

    from tests.review.conftest import World


@pytest.fixture
def town(world: World) -> World:  # noqa: F811  the fixture imported above, under a name of this module
    return world


KEY = b"k" * 32
LABELS = [r.label for r in VisitResult]


def operator(town: World, username: str = "op") -> User:
    return User(username, Role.OPERATOR, town.community if username == "op" else town.other_community, True)


def data_rows(path: Path) -> list[dict[str, Any]]:
    """Every data row of every worksheet tab: tab, row, category, token members, and the cells."""
    book = openpyxl.load_workbook(path)
    out = []
    for sheet in book.worksheets:
        if not sheet.cell(1, ws.TOKEN_COL + 1).value:
            continue
        for row in range(ws.FIRST_ROW + 1, sheet.max_row + 1):
            token = sheet.cell(row, ws.TOKEN_COL + 1).value
            if token:
                members = json.loads(token)["m"]
                out.append({"tab": sheet.title, "row": row, "category": sheet.cell(row, 2).value, "members": members})
    return out


def fill(path: Path, out: Path, entries: dict[tuple[str, int], dict[int, Any]]) -> Path:
    """Write cells (1-based column → value) into rows of tabs, as a worker with Excel would, and save as `out`."""
    book = openpyxl.load_workbook(path)
    for (tab, row), cells in entries.items():
        for column, value in cells.items():
            book[tab].cell(row, column).value = value
    book.save(out)
    return out


RESULT, MEMBERS, NOTE = ws.RESULT_COL + 1, ws.MEMBERS_COL + 1, ws.NOTE_COL + 1


def sheet_of(town: World, tmp_path: Path, grid: str | None = None) -> ws.WorksheetSummary:
    return ws.build_worksheet(town.data, community=town.community, grid=grid, username="op", out=tmp_path / "ws.xlsx")


def decision_rows(town: World) -> int:
    with sqlite3.connect(town.state) as conn:
        return int(conn.execute("SELECT count(*) FROM decisions").fetchone()[0])


def status_of(town: World, side: str, record_key: str) -> tuple[Any, ...]:
    (row,) = town.sql(
        f"""SELECT s.status, s.verified_by, s.pending, s.decision FROM run.{side}_records r
            JOIN run.record_status s ON s.side = ? AND s.idx = r.idx WHERE r.record_key = ?""",  # noqa: S608
        [side, record_key],
    )
    return row


# --- fast: the workbook on its own ---------------------------------------------------------------------------------


def _visits() -> list[ws.Visit]:
    def member(n: int, side: Side, name: str, line: int = 1) -> ws.Member:
        return ws.Member(side, f"K{side.value[0]}{n}", f"F{n}", f"{line}. {name} 1980 男")

    return [
        ws.Visit(
            ws.HOUSEHOLD,
            "第1网格",
            "=HYPERLINK(1)幢",
            "无实有人口记录",
            "线索",
            ("a",),
            [member(1, Side.REGISTER, "+张伟")],
        ),
        ws.Visit(
            ws.FLAT,
            "第1网格",
            "@地址",
            f"{RECORDED}2人",
            "",
            ("b",),
            [member(2, Side.ROLL, "-王"), member(3, Side.ROLL, "李", 2)],
        ),
        ws.Visit(ws.HOUSEHOLD, ws.UNKNOWN_GRID, "地址", "无实有人口记录", "", ("c",), [member(4, Side.REGISTER, "赵")]),
    ]


def _meta(key: bytes = KEY) -> Any:
    return ws.SheetMeta("S1", "330282001001", "古塘&社区", "run1", "2026-01-02", key)


def test_workbook_layout_validation_and_print_setup(tmp_path: Path) -> None:
    out = tmp_path / "w.xlsx"
    neutralised = ws.write_workbook(_visits(), out, _meta())
    assert neutralised == 2  # =HYPERLINK… and @地址; members' lines start with their number
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["第1网格", ws.UNKNOWN_GRID, ws.GUIDE_TITLE]
    sheet = book["第1网格"]
    assert [c.value for c in sheet[2]][: len(ws.HEADERS)] == list(ws.HEADERS)
    lists = {str(v.sqref): v for v in sheet.data_validations.dataValidation if v.type == "list"}
    assert set(lists) == {"G3", "G4"}  # row 3 a 户籍户, row 4 a 居住房屋
    assert lists["G3"].formula1 == '"' + ",".join(label for label in LABELS if label != "新登记") + '"'
    assert lists["G4"].formula1 == '"' + ",".join(LABELS) + '"'
    assert all(v.showErrorMessage and v.errorStyle in (None, "stop") for v in lists.values())
    assert "新登记" in lists["G3"].error  # the message says why it is not offered
    (unknown,) = [v for v in book[ws.UNKNOWN_GRID].data_validations.dataValidation if v.type == "list"]
    assert "新登记" not in unknown.formula1  # a tab of 户籍户 rows only: one list
    assert sheet.page_setup.orientation == "landscape"
    assert int(sheet.page_setup.paperSize) == 9
    assert sheet.print_title_rows == "$1:$2"
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    assert (sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight) in ((None, 0), (1, 0))
    assert "古塘&&社区" in sheet.oddHeader.left.text
    assert "第1网格" in sheet.oddHeader.right.text
    assert "2026-01-02" in sheet.oddHeader.right.text
    assert "&P" in sheet.oddFooter.center.text
    assert "&N" in sheet.oddFooter.center.text
    assert sheet.freeze_panes == "A3"
    hidden = {i for d in sheet.column_dimensions.values() if d.hidden for i in range(d.min, d.max + 1)}
    assert hidden == {10, 11, 12}  # J, K, L: the tokens
    assert sheet["C3"].value == "=HYPERLINK(1)幢"
    assert sheet["C3"].data_type == "s"
    assert sheet["C3"].quotePrefix
    assert sheet["D3"].alignment.wrap_text
    assert sheet["D4"].value == "1. -王 1980 男\n2. 李 1980 男"
    guide = book[ws.GUIDE_TITLE]
    text = "\n".join(str(c.value) for row in guide.iter_rows() for c in row if c.value)
    assert all(label in text for label in LABELS)
    assert "在住成员序号" in text
    assert "户籍户行的下拉列表不含“新登记”" in text
    assert "社区登记" not in text  # the roll is 实有人口 (采集), never 登记, which reads as 户籍
    assert guide.sheet_state == "visible"


def test_each_category_gets_its_own_result_list_over_scattered_rows(tmp_path: Path) -> None:
    out = tmp_path / "w.xlsx"
    rows = [*_visits()[:2], _visits()[0], _visits()[0], _visits()[1]]  # 户籍户, 居住房屋, 户籍户, 户籍户, 居住房屋
    ws.write_workbook(rows, out, _meta())
    sheet = openpyxl.load_workbook(out)["第1网格"]
    lists = {v.formula1.count(",") + 1: str(v.sqref) for v in sheet.data_validations.dataValidation if v.type == "list"}
    assert lists == {5: "G3 G5:G6", 6: "G4 G7"}
    assert [r.label for r in ws.results_for(ws.HOUSEHOLD)] == [label for label in LABELS if label != "新登记"]
    assert [r.label for r in ws.results_for(ws.FLAT)] == LABELS


def test_what_the_roll_recorded_is_never_called_registration() -> None:
    assert ws.HEADERS[4] == "实有人口采集情况"
    record = {"evidence": None, "others_at_flat": 2, "others_since": dt.date(2024, 5, 1)}
    assert to_visit._household_recorded([record], 0) == "无实有人口记录"
    assert to_visit._household_recorded([record], 3) == f"{RECORDED}3人(自2024-05起)，其中本户1人"
    assert to_visit._household_recorded([record | {"evidence": "flat_empty"}], 0) == "实有人口记录为空置"


def test_tokens_read_back_and_tampering_is_told_apart(tmp_path: Path) -> None:
    out = tmp_path / "w.xlsx"
    ws.write_workbook(_visits(), out, _meta())
    book = openpyxl.load_workbook(out)
    sheet = book["第1网格"]
    sheet["G3"], sheet["G4"], sheet["H4"] = "不在住", "在住", "2"
    book.save(tmp_path / "f.xlsx")
    read = ws.read_book(tmp_path / "f.xlsx", KEY)
    assert (read.sheet_id, read.community) == ("S1", "330282001001")
    judged = [ws_apply._judge(row, read, KEY) for row in read.rows]
    first, second = judged[0], judged[1]
    assert isinstance(first, ws_apply._Candidate)
    assert first.kinds == [DecisionKind.CONFIRM_ABSENT]
    assert isinstance(second, ws_apply._Candidate)
    assert second.kinds == [DecisionKind.NOT_LIVING_HERE, DecisionKind.CONFIRM_UNREGISTERED]
    assert isinstance(judged[2], ws.RowReport)
    assert judged[2].code is ws.RowCode.EMPTY
    sheet["C3"] = "改过的地址"
    token = json.loads(sheet["J4"].value)
    token["m"][0][2] = "forged"
    sheet["J4"] = json.dumps(token)
    book.save(tmp_path / "t.xlsx")
    read = ws.read_book(tmp_path / "t.xlsx", KEY)
    codes = [r.code for r in (ws_apply._judge(row, read, KEY) for row in read.rows[:2]) if isinstance(r, ws.RowReport)]
    assert codes == [ws.RowCode.EDITED, ws.RowCode.FORGED]
    with pytest.raises(ws.WorksheetError, match=r"f\.xlsx"):
        ws.read_book(tmp_path / "f.xlsx", b"x" * 32)  # another data directory's key: not ours


def test_member_numbers_and_cell_text() -> None:
    assert ws_apply._present("1,3", 3) == {1, 3}
    assert ws_apply._present("1，3、2 ", 3) == {1, 2, 3}
    assert ws_apply._present("4", 3) is None
    assert ws_apply._present("a", 3) is None
    assert ws_apply._present("0", 3) is None
    assert ws_read._text(3.0) == "3"
    assert ws_read._text(None) == ""
    assert ws_read._text("a\r\nb") == "a\nb"
    assert ws_write.tab_names(["a/b", "说明", "a/b"]) == ["a_b", "说明_2", "a_b_2"]


def test_files_that_are_not_worksheets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = tmp_path / "notes.xlsx"
    text.write_text("not a workbook")
    with pytest.raises(ws.WorksheetError, match=r"notes\.xlsx: not an xlsx"):
        ws.read_book(text, KEY)
    other = tmp_path / "roll.xlsx"
    book = xlsxwriter.Workbook(str(other))
    book.add_worksheet("实有人口").write_row(0, 0, ["序号", "姓名"])
    book.close()
    with pytest.raises(ws.WorksheetError, match=r"roll\.xlsx: not a door-visit worksheet"):
        ws.read_book(other, KEY)
    monkeypatch.setattr(ws_read, "MAX_BYTES", 100)
    with pytest.raises(ws.WorksheetError, match="more than a worksheet may be"):
        ws.read_book(other, KEY)


# --- the published city ----------------------------------------------------------------------------------------------


def test_rows_are_the_open_records_grouped(town: World, tmp_path: Path) -> None:
    summary = sheet_of(town, tmp_path)
    rows = data_rows(summary.path)
    open_records = town.sql(
        """SELECT s.side, r.record_key FROM run.record_status s
           LEFT JOIN run.register_records r ON s.side = 'register' AND r.idx = s.idx
           WHERE s.community_code = ? AND s.pending AND s.side = 'register' AND s.status = 'absent'
           UNION ALL
           SELECT s.side, o.record_key FROM run.record_status s JOIN run.roll_records o ON o.idx = s.idx
           WHERE s.community_code = ? AND s.pending AND s.side = 'roll' AND s.status = 'unregistered'""",
        [town.community, town.community],
    )
    printed = sorted((m[0], m[1]) for r in rows for m in r["members"])
    assert printed == sorted((str(s), str(k)) for s, k in open_records)
    households = town.sql(
        """SELECT count(DISTINCT household_key) FROM run.record_status
           WHERE community_code = ? AND pending AND side = 'register' AND status = 'absent'""",
        [town.community],
    )[0][0]
    assert sum(r["category"] == ws.HOUSEHOLD for r in rows) == households == summary.households
    assert {r["category"] for r in rows} == {ws.HOUSEHOLD, ws.FLAT}
    assert all({m[0] for m in r["members"]} == {"register" if r["category"] == ws.HOUSEHOLD else "roll"} for r in rows)
    out = fieldwork.sheet(town.state, summary.sheet_id)
    assert out
    assert out["rows"] == summary.rows == len(rows)
    assert out["username"] == "op"


def test_grid_counts_are_the_rows_each_grids_worksheet_holds(town: World) -> None:
    rows = ws.visits(town.data, town.community)
    expected: dict[str, int] = {}
    for row in rows:  # in worksheet order: grids sorted, the unknown grid last
        expected[row.grid] = expected.get(row.grid, 0) + 1
    assert list(ws.grid_counts(town.data, town.community).items()) == list(expected.items())


def test_grid_filter_and_unknown_grid(town: World, tmp_path: Path) -> None:
    counts = ws.grid_counts(town.data, town.community)
    assert ws.UNKNOWN_GRID in counts
    assert len(counts) > 1
    grid = next(g for g in counts if g != ws.UNKNOWN_GRID)
    one = sheet_of(town, tmp_path, grid)
    assert one.tabs == (grid,)
    assert one.rows == counts[grid]
    unknown = ws.build_worksheet(
        town.data, community=town.community, grid=ws.UNKNOWN_GRID, username="op", out=tmp_path / "u.xlsx"
    )
    assert unknown.tabs == (ws.UNKNOWN_GRID,)
    assert unknown.rows == counts[ws.UNKNOWN_GRID]
    with pytest.raises(ws.NothingToVisit):
        ws.build_worksheet(town.data, community=town.community, grid="第99网格", username="op", out=tmp_path / "n.xlsx")


def test_round_trip_with_partial_presence_settles_the_records(town: World, tmp_path: Path) -> None:
    summary = sheet_of(town, tmp_path)
    rows = data_rows(summary.path)
    household = next(r for r in rows if r["category"] == ws.HOUSEHOLD and len(r["members"]) >= 2)
    flat = next(r for r in rows if r["category"] == ws.FLAT and len(r["members"]) >= 2)
    entries: dict[tuple[str, int], dict[int, Any]] = {}
    for r in rows:
        entries[(r["tab"], r["row"])] = {RESULT: "已迁出" if r["category"] == ws.HOUSEHOLD else "在住"}
    entries[(household["tab"], household["row"])] = {RESULT: "在住", MEMBERS: "1", NOTE: "长子已去外地"}
    entries[(flat["tab"], flat["row"])] = {RESULT: "在住", MEMBERS: "2"}
    report = ws.import_worksheet(town.data, fill(summary.path, tmp_path / "f.xlsx", entries), user=operator(town))
    assert report.ok
    assert report.count(ws.RowOutcome.APPLIED) == len(rows)
    assert report.made == sum(len(r["members"]) for r in rows)
    assert report.batch_id
    by_row = {(r.tab, r.row): r.reason for r in report.rows}
    others_said = "、".join(str(n) for n in range(2, len(household["members"]) + 1))
    assert by_row[(household["tab"], household["row"])] == f"1 在住；{others_said} 不在住：已记录为核查决定"
    absent = "、".join(str(n) for n in range(1, len(flat["members"]) + 1) if n != 2)
    assert by_row[(flat["tab"], flat["row"])] == f"{absent} 不在住；2 在住：已记录为核查决定"  # first said first
    moved_row = next(r for r in rows if r["category"] == ws.HOUSEHOLD and r is not household)
    everyone = "、".join(str(n) for n in range(1, len(moved_row["members"]) + 1))
    assert by_row[(moved_row["tab"], moved_row["row"])] == f"{everyone} 已迁出：已记录为核查决定"
    active = {(d["register_key"] or d["roll_key"]): d for d in active_decisions(town.state).iter_rows(named=True)}
    assert {d["source"] for d in active.values()} == {f"worksheet:{summary.sheet_id}"}
    assert len({d["batch"] for d in active.values()}) == 1
    head, *others = [m[1] for m in household["members"]]
    assert active[head]["kind"] == DecisionKind.FOUND_PRESENT
    assert {active[k]["kind"] for k in others} == {DecisionKind.CONFIRM_ABSENT}
    first, second, *rest = [m[1] for m in flat["members"]]
    assert active[second]["kind"] == DecisionKind.CONFIRM_UNREGISTERED
    assert {active[k]["kind"] for k in (first, *rest)} == {DecisionKind.NOT_LIVING_HERE}
    back = fieldwork.sheet(town.state, summary.sheet_id)
    assert back
    assert back["returned_by"] == "op"
    assert back["applied"] == len(rows)
    assert back["refused"] == 0
    with pytest.raises(ws.NothingToVisit):  # decided today: not printed again
        sheet_of(town, tmp_path)
    town.rerun()
    assert status_of(town, "register", head)[:3] == ("consistent", "operator", False)
    assert all(status_of(town, "register", k)[:3] == ("absent", "operator", False) for k in others)
    assert status_of(town, "roll", second)[:3] == ("unregistered", "operator", False)
    assert status_of(town, "roll", first)[2] is False
    moved = [m[1] for r in rows if r["category"] == ws.HOUSEHOLD and r is not household for m in r["members"]]
    assert all(status_of(town, "register", k)[3] == DecisionKind.MOVED_OUT for k in moved)
    again = ws.import_worksheet(town.data, tmp_path / "f.xlsx", user=operator(town))  # after the run: still nothing new
    assert again.ok
    assert again.made == 0
    assert again.count(ws.RowOutcome.UNCHANGED) == len(rows)


def test_reimport_changes_nothing_and_undo_withdraws_the_import(town: World, tmp_path: Path) -> None:
    summary = sheet_of(town, tmp_path)
    rows = data_rows(summary.path)[:3]
    entries = {(r["tab"], r["row"]): {RESULT: "不在住"} for r in rows}
    filled = fill(summary.path, tmp_path / "f.xlsx", entries)
    first = ws.import_worksheet(town.data, filled, user=operator(town))
    stored = decision_rows(town)
    second = ws.import_worksheet(town.data, filled, user=operator(town))
    assert second.made == 0
    assert second.unchanged == first.made
    assert second.batch_id is None
    assert second.count(ws.RowOutcome.UNCHANGED) == 3
    assert second.count(ws.RowOutcome.APPLIED) == 0
    assert decision_rows(town) == stored
    assert fieldwork.sheet_counts(town.state)[town.community] == {"out": 1, "back": 1}
    undone = undo_last(town.state, username="op")
    assert undone
    assert undone["withdrawn"] == first.made
    assert active_decisions(town.state).height == 0
    back = fieldwork.sheet(town.state, summary.sheet_id) or {}  # an undone import: the sheet is out, not back
    assert (back["returned_at"], back["returned_by"], back["applied"], back["refused"]) == (None, None, None, None)
    assert fieldwork.sheet_counts(town.state)[town.community] == {"out": 1, "back": 0}
    assert [e["item"] for e in audit_log(town.state) if e["action"] == "worksheet_withdrawn"] == [summary.sheet_id]
    third = ws.import_worksheet(town.data, filled, user=operator(town))  # after undo it applies again
    assert third.made == first.made
    assert fieldwork.sheet_counts(town.state)[town.community] == {"out": 1, "back": 1}


def test_refused_rows_are_reported_one_by_one(town: World, tmp_path: Path) -> None:
    summary = sheet_of(town, tmp_path)
    rows = data_rows(summary.path)
    households = [r for r in rows if r["category"] == ws.HOUSEHOLD]
    flats = [r for r in rows if r["category"] == ws.FLAT]
    assert len(households) >= 5
    assert len(flats) >= 2
    other = ws.build_worksheet(
        town.data, community=town.other_community, grid=None, username="op_other", out=tmp_path / "o.xlsx"
    )
    foreign = openpyxl.load_workbook(other.path).worksheets[0]
    book = openpyxl.load_workbook(summary.path)
    at = {(r["tab"], r["row"]): r for r in rows}
    h = [(r["tab"], r["row"]) for r in households]
    f = [(r["tab"], r["row"]) for r in flats]
    two = next((r["tab"], r["row"]) for r in households if len(r["members"]) >= 2)
    h = [k for k in h if k != two]
    cases = {
        h[0]: ({RESULT: "不在住", 3: "别的地址"}, ws.RowCode.EDITED),
        h[1]: ({RESULT: "搬走了"}, ws.RowCode.UNKNOWN_RESULT),
        h[2]: ({RESULT: "新登记"}, ws.RowCode.NOT_APPLICABLE),
        two: ({RESULT: "在住", MEMBERS: "1,9"}, ws.RowCode.BAD_MEMBERS),
        h[3]: ({RESULT: "不在住", MEMBERS: "1"}, ws.RowCode.MEMBERS_NOT_PRESENT),
        f[0]: ({RESULT: "新登记"}, ws.RowCode.APPLIED),
    }
    for (tab, row), (cells, _) in cases.items():
        for column, value in cells.items():
            book[tab].cell(row, column).value = value
    sheet = book[f[1][0]]
    end = sheet.max_row + 1
    for column in range(1, ws.ROW_MAC_COL + 2):  # another community's row pasted under ours, filled
        sheet.cell(end, column).value = foreign.cell(ws.FIRST_ROW + 1, column).value
        sheet.cell(end + 1, column).value = sheet.cell(f[1][1], column).value  # and one of ours twice
    sheet.cell(end, RESULT).value = "不在住"
    sheet.cell(end + 1, RESULT).value = sheet.cell(f[1][1], RESULT).value = "在住"
    sheet.cell(end + 2, 3).value, sheet.cell(end + 2, RESULT).value = "新来的一户", "在住"  # a row written in
    book.save(tmp_path / "f.xlsx")
    report = ws.import_worksheet(town.data, tmp_path / "f.xlsx", user=operator(town))
    by_row = {(r.tab, r.row): r for r in report.rows}
    for where, (_, code) in cases.items():
        assert by_row[where].code is code, (where, at[where]["category"])
    assert by_row[(f[1][0], end)].code is ws.RowCode.OTHER_COMMUNITY
    assert by_row[(f[1][0], end + 1)].code is by_row[f[1]].code is ws.RowCode.DUPLICATE
    assert by_row[(f[1][0], end + 2)].code is ws.RowCode.NO_TOKEN
    assert all(r.reason for r in report.rows)
    assert not report.ok
    assert report.count(ws.RowOutcome.APPLIED) == 1
    assert report.count(ws.RowOutcome.REFUSED) == 9
    assert report.made == len(at[f[0]]["members"])
    kinds = {d["kind"] for d in active_decisions(town.state).iter_rows(named=True)}
    assert kinds == {DecisionKind.REGISTERED_SINCE}
    assert (fieldwork.sheet(town.state, summary.sheet_id) or {})["refused"] == 9


def test_records_changed_or_gone_since_printing_are_refused(town: World, tmp_path: Path) -> None:
    summary = sheet_of(town, tmp_path)
    flats = [r for r in data_rows(summary.path) if r["category"] == ws.FLAT]
    changed_key, gone_key = flats[0]["members"][0][1], flats[1]["members"][0][1]
    rolls = tmp_path / "rolls"
    shutil.copytree(town.city["rolls"], rolls)
    located = {
        str(k): (str(f), int(str(r)))
        for k, f, r in town.sql(
            "SELECT record_key, source_file, source_row FROM run.roll_records WHERE record_key IN (?, ?)",
            [changed_key, gone_key],
        )
    }
    for key, edit in ((changed_key, "change"), (gone_key, "delete")):
        name, row = located[key]
        book = openpyxl.load_workbook(rolls / name)
        sheet = book.worksheets[0]
        header = [c.value for c in sheet[1]]
        if edit == "change":
            sheet.cell(row, header.index("身份证号") + 1).value = None  # a compared value: the fingerprint changes
            sheet.cell(row, header.index("出生日期") + 1).value = "1901-01-01"
        else:
            sheet.delete_rows(row)
        book.save(rolls / name)
    town.rerun(rolls)
    entries = {(r["tab"], r["row"]): {RESULT: "在住"} for r in flats[:2]}
    report = ws.import_worksheet(town.data, fill(summary.path, tmp_path / "f.xlsx", entries), user=operator(town))
    codes = {(r.tab, r.row): r.code for r in report.rows if r.outcome is ws.RowOutcome.REFUSED}
    assert codes == {
        (flats[0]["tab"], flats[0]["row"]): ws.RowCode.CHANGED,
        (flats[1]["tab"], flats[1]["row"]): ws.RowCode.GONE,
    }
    assert report.made == 0
    assert active_decisions(town.state).height == 0


def test_only_the_communitys_operators_import(town: World, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(town.data, copy)
    summary = sheet_of(town, tmp_path)
    rows = data_rows(summary.path)
    filled = fill(summary.path, tmp_path / "f.xlsx", {(rows[0]["tab"], rows[0]["row"]): {RESULT: "不在住"}})
    for user in (operator(town, "op_other"), User("sup", Role.SUPERVISOR, town.street, True)):
        with pytest.raises(ws.WorksheetRefused):
            ws.import_worksheet(town.data, filled, user=user)
    with pytest.raises(ws.WorksheetError, match=r"f\.xlsx: worksheet .* was not handed out"):
        ws.import_worksheet(copy, filled, user=operator(town))  # same secret, but never printed there
    assert not ws.may_work(User("root", Role.ADMIN, None, True), town.community)
    assert ws.may_work(operator(town), town.community)
    assert active_decisions(town.state).height == 0
    assert DataPaths(town.data).state.exists()


def _conflicts(report: ws.ImportReport) -> dict[tuple[str, int], str]:
    return {(r.tab, r.row): r.reason for r in report.rows if r.code is ws.RowCode.CONFLICT}


def test_a_later_import_never_overwrites_a_decision_made_after_its_sheet_was_printed(
    town: World, tmp_path: Path
) -> None:
    first = ws.build_worksheet(town.data, community=town.community, grid=None, username="op", out=tmp_path / "a.xlsx")
    second = ws.build_worksheet(town.data, community=town.community, grid=None, username="op", out=tmp_path / "b.xlsx")
    rows = [r for r in data_rows(first.path) if r["category"] == ws.HOUSEHOLD]
    disputed, agreed, partial = rows[0], rows[1], next(r for r in rows[2:] if len(r["members"]) >= 2)
    assert [r["members"] for r in data_rows(second.path)] == [r["members"] for r in data_rows(first.path)]
    at = [(r["tab"], r["row"]) for r in (disputed, agreed, partial)]
    a = ws.import_worksheet(
        town.data,
        fill(first.path, tmp_path / "fa.xlsx", {at[0]: {RESULT: "不在住"}, at[1]: {RESULT: "不在住"}}),
        user=operator(town),
    )
    assert a.ok
    assert a.made == len(disputed["members"]) + len(agreed["members"])
    standing = {d["register_key"]: d["id"] for d in active_decisions(town.state).iter_rows(named=True)}
    b = ws.import_worksheet(
        town.data,
        fill(
            second.path,
            tmp_path / "fb.xlsx",
            {at[0]: {RESULT: "在住"}, at[1]: {RESULT: "不在住"}, at[2]: {RESULT: "在住", MEMBERS: "1"}},
        ),
        user=operator(town),
    )
    outcomes = {(r.tab, r.row): r.outcome for r in b.rows}
    assert outcomes[at[0]] is ws.RowOutcome.REFUSED
    assert outcomes[at[1]] is ws.RowOutcome.UNCHANGED  # the same decision: as before
    assert outcomes[at[2]] is ws.RowOutcome.APPLIED  # nobody decided these since: applied as always
    (reason,) = _conflicts(b).values()
    everyone = "、".join(str(n) for n in range(1, len(disputed["members"]) + 1))
    assert reason.startswith(f"第{everyone}位成员在打印本表后已有决定“{DecisionKind.CONFIRM_ABSENT.label}”")
    assert f"核查表 {first.sheet_id}，op，" in reason
    assert "请与网格员核实" in reason
    after = {d["register_key"]: d for d in active_decisions(town.state).iter_rows(named=True)}
    for _, key, _ in disputed["members"]:  # A's decisions stand, untouched
        assert after[key]["id"] == standing[key]
        assert after[key]["kind"] == DecisionKind.CONFIRM_ABSENT
    assert (fieldwork.sheet(town.state, second.sheet_id) or {})["refused"] == 1
    again = ws.import_worksheet(town.data, tmp_path / "fb.xlsx", user=operator(town))  # still told, still refused
    assert set(_conflicts(again)) == {at[0]}
    corrected = fill(first.path, tmp_path / "fa2.xlsx", {at[0]: {RESULT: "已迁出"}, at[1]: {RESULT: "不在住"}})
    fixed = ws.import_worksheet(town.data, corrected, user=operator(town))  # sheet A corrects its own import
    assert fixed.ok
    assert fixed.made == len(disputed["members"])


def test_what_an_import_may_supersede_and_what_it_names(town: World, tmp_path: Path) -> None:
    summary = sheet_of(town, tmp_path)
    rows = [r for r in data_rows(summary.path) if r["category"] == ws.HOUSEHOLD]
    earlier, on_page, household, visit = rows[:4]

    def keys(row: dict[str, Any], n: int = 0) -> ItemKeys:
        _, key, fingerprint = row["members"][n]
        return ItemKeys(town.community, register_key=key, register_fingerprint=fingerprint)

    before = decide(town.state, username="op", kind=DecisionKind.DECEASED, keys=keys(earlier))
    with sqlite3.connect(town.state) as conn:  # made before the sheet was printed: what the visit supersedes
        conn.execute("UPDATE decisions SET decided_at = '2000-01-01T00:00:00+00:00' WHERE id = ?", (before,))
    decide(town.state, username="op2", kind=DecisionKind.FOUND_PRESENT, keys=keys(on_page))
    decide_batch(
        town.state,
        username="op",
        decisions=[(DecisionKind.MOVED_OUT, keys(household, n)) for n in range(len(household["members"]))],
        source="household",
    )
    decide(town.state, username="op", kind=DecisionKind.DOOR_VISIT, keys=keys(visit))
    at = [(r["tab"], r["row"]) for r in (earlier, on_page, household, visit)]
    report = ws.import_worksheet(
        town.data,
        fill(summary.path, tmp_path / "f.xlsx", {where: {RESULT: "不在住"} for where in at}),
        user=operator(town),
    )
    outcomes = {(r.tab, r.row): r.code for r in report.rows}
    assert [outcomes[where] for where in at] == [
        ws.RowCode.APPLIED,  # decided before printing: superseded
        ws.RowCode.CONFLICT,  # decided on the item page after printing
        ws.RowCode.CONFLICT,  # a household action after printing
        ws.RowCode.APPLIED,  # a door-visit request is what the sheet answers
    ]
    conflicts = _conflicts(report)
    assert f"“{DecisionKind.FOUND_PRESENT.label}”（记录页面，op2，" in conflicts[at[1]]
    assert conflicts[at[1]].startswith("第1位成员")
    assert f"“{DecisionKind.MOVED_OUT.label}”（户籍户整户操作，op，" in conflicts[at[2]]
    assert re.search(r"，\d{4}-\d{2}-\d{2} \d{2}:\d{2}）", conflicts[at[1]])  # local time, to the minute
    kinds = {d["register_key"]: d["kind"] for d in active_decisions(town.state).iter_rows(named=True)}
    assert kinds[keys(earlier).register_key] == DecisionKind.CONFIRM_ABSENT
    assert kinds[keys(on_page).register_key] == DecisionKind.FOUND_PRESENT
    assert kinds[keys(visit).register_key] == DecisionKind.CONFIRM_ABSENT
