"""Writing a worksheet's workbook: a tab per grid (layout, formats, validation, page setup) and the guide.

The worker writes the result (a list restricted by Excel data validation to the `VisitResult` labels that apply to
the row's category: all six on a 居住房屋 row, all but 新登记 on a 户籍户 row), which members are present when only
some are (在住成员序号), and a remark; every other cell is printed by the system and every row and tab carries its
hidden token and MACs (`services.worksheet.tokens`).
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import xlsxwriter
from xlsxwriter.utility import xl_range

from schemas.codes import Side, VisitResult
from services.export import looks_like_formula, private_file
from services.worksheet.layout import (
    FIRST_ROW,
    FLAT,
    GUIDE_TITLE,
    GUIDE_WIDTH,
    HEADER_ROW,
    HEADERS,
    HIDDEN_HEADERS,
    HOUSEHOLD,
    MEMBERS_COL,
    NOTE_COL,
    PRINTED,
    RESULT_COL,
    ROW_MAC_COL,
    SHEET_TITLE,
    TITLE_ROW,
    TOKEN_COL,
    TOKEN_MAC_COL,
    WIDTHS,
)
from services.worksheet.tokens import row_cells, sheet_cells

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from services.worksheet.to_visit import Visit


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _lines(text: str, width: int) -> int:
    """How many lines a wrapped cell `width` characters wide takes (a CJK character is two wide)."""
    return sum(max(1, math.ceil(_display_width(line) / max(width - 1, 1))) for line in text.split("\n"))


def _row_height(cells: Sequence[str]) -> float:
    """Points for a row: its tallest wrapped cell, and room to write by hand (at least two lines)."""
    lines = max([2, *(_lines(text, width) for text, width in zip(cells, WIDTHS, strict=False))])
    return 14.0 * lines + 4


def _header_text(text: str) -> str:
    """Text for a page header or footer: `&` doubled (it starts a code there)."""
    return text.replace("&", "&&")


class _Formats:
    """The workbook's cell formats."""

    def __init__(self, book: Any) -> None:
        base = {"font_name": "宋体", "font_size": 10, "valign": "top", "border": 1, "text_wrap": True}
        self.title = book.add_format({"font_name": "宋体", "bold": True, "font_size": 14})
        self.header = book.add_format(base | {"bold": True, "bg_color": "#DDEBF7", "align": "center"})
        self.text = book.add_format(base | {"num_format": "@"})
        self.quoted = book.add_format(base | {"num_format": "@", "quote_prefix": True})
        self.number = book.add_format(base | {"align": "center"})
        self.entry = book.add_format(base | {"num_format": "@", "bg_color": "#FFF2CC", "locked": False})
        self.hidden = book.add_format({"num_format": "@"})
        self.plain = book.add_format({"font_name": "宋体", "font_size": 11, "text_wrap": True, "valign": "top"})


def _write_text(sheet: Any, row: int, col: int, text: str, formats: _Formats) -> int:
    """Write a text cell that stays text in Excel/WPS; returns 1 if it looked like a formula."""
    if looks_like_formula(text):
        sheet.write_string(row, col, text, formats.quoted)
        return 1
    sheet.write_string(row, col, text, formats.text)
    return 0


@dataclass(frozen=True, slots=True)
class SheetMeta:
    """What every tab of one worksheet shares: its id, community, run, print date and the MAC key."""

    sheet_id: str
    community: str
    community_name: str
    run_id: str
    printed_on: str
    key: bytes


def _page_setup(sheet: Any, meta: SheetMeta, grid: str, last_row: int) -> None:
    """A4 landscape, one page wide, header rows on every page, community, grid and date on top, page numbers."""
    sheet.set_landscape()
    sheet.set_paper(9)
    sheet.fit_to_pages(1, 0)
    sheet.repeat_rows(TITLE_ROW, HEADER_ROW)
    sheet.print_area(TITLE_ROW, 0, last_row, len(HEADERS) - 1)
    sheet.set_margins(left=0.4, right=0.4, top=0.75, bottom=0.75)
    sheet.center_horizontally()
    community = _header_text(f"{meta.community_name}（{meta.community}）")
    sheet.set_header(f"&L{community}&C{SHEET_TITLE}&R{_header_text(grid)}  打印日期 {meta.printed_on}")
    sheet.set_footer(f"&L表号 {meta.sheet_id}&C第 &P 页，共 &N 页&R核查人：__________")
    sheet.freeze_panes(FIRST_ROW, 0)


CATEGORY_SIDE = {HOUSEHOLD: Side.REGISTER, FLAT: Side.ROLL}
"""Whose records a row of each category lists."""


def results_for(category: str) -> list[VisitResult]:
    """The results a row of this category may take: those that decide its side's records (户籍户: not 新登记)."""
    return [r for r in VisitResult if r.decision(CATEGORY_SIDE[category]) is not None]


def _ranges(rows: Sequence[int], col: int) -> str:
    """Zero-based rows of one column as an Excel range list: `G3 G5:G7`."""
    runs: list[list[int]] = []
    for row in sorted(rows):
        if runs and row == runs[-1][1] + 1:
            runs[-1][1] = row
        else:
            runs.append([row, row])
    return " ".join(xl_range(first, col, end, col) for first, end in runs)


def _result_validation(sheet: Any, rows: Sequence[int], category: str) -> None:
    """The 核查结果 list on the rows of one category (zero-based; none: nothing), stopping any other entry."""
    if not rows:
        return
    labels = [r.label for r in results_for(category)]
    excluded = [r.label for r in VisitResult if r.label not in labels]
    extra = f"（{category}不适用“{'、'.join(excluded)}”）" if excluded else ""
    sheet.data_validation(
        min(rows),
        RESULT_COL,
        max(rows),
        RESULT_COL,
        {
            "validate": "list",
            "source": labels,
            "multi_range": _ranges(rows, RESULT_COL),
            "error_type": "stop",
            "error_title": "核查结果",
            "error_message": f"{category}只能选择：" + "、".join(labels) + extra,
            "input_title": "核查结果",
            "input_message": "请从下拉列表中选择" + extra,
        },
    )


def _write_tab(book: Any, name: str, grid: str, rows: Sequence[Visit], meta: SheetMeta, formats: _Formats) -> int:
    """One grid's tab: title, headers, a row per visit with its hidden token and MACs; returns formula-like cells."""
    sheet = book.add_worksheet(name)
    for col, width in enumerate(WIDTHS):
        sheet.set_column(col, col, width)
    sheet.set_column(TOKEN_COL, ROW_MAC_COL, 12, formats.hidden, {"hidden": True})
    title = f"{SHEET_TITLE} · {meta.community_name}（{meta.community}）· {grid} · 打印日期 {meta.printed_on} · 表号 {meta.sheet_id}"
    sheet.merge_range(TITLE_ROW, 0, TITLE_ROW, len(HEADERS) - 1, title, formats.title)
    sheet_token, sheet_mac = sheet_cells(meta.key, meta.sheet_id, meta.community, grid)
    sheet.write_string(TITLE_ROW, TOKEN_COL, sheet_token, formats.hidden)
    sheet.write_string(TITLE_ROW, TOKEN_MAC_COL, sheet_mac, formats.hidden)
    for col, header in enumerate((*HEADERS, *HIDDEN_HEADERS)):
        sheet.write_string(HEADER_ROW, col, header, formats.header if col < len(HEADERS) else formats.hidden)
    sheet.set_row(HEADER_ROW, 20)
    neutralised = 0
    for i, visit in enumerate(rows):
        row, printed = FIRST_ROW + i, visit.printed(i + 1)
        sheet.write_number(row, 0, i + 1, formats.number)
        for col in range(1, PRINTED):
            neutralised += _write_text(sheet, row, col, printed[col], formats)
        for col in (RESULT_COL, MEMBERS_COL, NOTE_COL):
            sheet.write_blank(row, col, None, formats.entry)
        token, token_mac, row_mac = row_cells(meta.key, meta.sheet_id, meta.community, visit, printed)
        sheet.write_string(row, TOKEN_COL, token, formats.hidden)
        sheet.write_string(row, TOKEN_MAC_COL, token_mac, formats.hidden)
        sheet.write_string(row, ROW_MAC_COL, row_mac, formats.hidden)
        sheet.set_row(row, _row_height(printed))
    last = FIRST_ROW + max(len(rows), 1) - 1
    for category in (HOUSEHOLD, FLAT):
        _result_validation(sheet, [FIRST_ROW + i for i, v in enumerate(rows) if v.category == category], category)
    sheet.data_validation(
        FIRST_ROW,
        MEMBERS_COL,
        last,
        MEMBERS_COL,
        {
            "validate": "any",
            "input_title": "在住成员序号",
            "input_message": "部分成员在住时填写：在住成员的序号，如 1,3；核查结果选“在住”，其余成员记为不在住",
        },
    )
    _page_setup(sheet, meta, grid, last)
    return neutralised


GUIDE: tuple[str, ...] = (
    "一、每一行是一处要上门核查的地方：",
    "  “户籍户”：户籍在本社区、实有人口中没有采集到的成员（户在人不在）。",
    "  “居住房屋”：实有人口采集在此居住、户籍不在本址的人员（人在户不在）。",
    f"  “{HEADERS[4]}”是实有人口在该房屋采集到的情况（“无实有人口记录”：实有人口中没有该房屋的记录，"
    "不是没有户籍）；“线索”是系统根据数据给出的提示，仅供参考。",
    "二、入户或电话核实后，在“核查结果”一列从下拉列表中选择一项（对本行全部成员适用）。"
    "户籍户行的下拉列表不含“新登记”（只适用于居住房屋），居住房屋行可选全部六项：",
    "三、部分成员在住：核查结果选“在住”，并在“在住成员序号”中填写在住成员的序号（如 1,3），其余成员记为“不在住”。"
    "只有核查结果为“在住”时才可填写此列。",
    "四、“备注”可填写说明（如迁往何处、联系电话），随核查决定一并保存，请勿填写与核查无关的个人信息。",
    "五、只可填写“核查结果”“在住成员序号”“备注”三列。不要改动其他列，不要增删、复制行，不要改动隐藏列：",
    "  被改动的行、其他社区或其他核查表的行、记录自打印后已变更的行，以及与本表打印后已作出的决定"
    "（其他核查表、整户操作、记录页面）不一致的行，导入时逐行拒绝，并在导入报告中说明原因。",
    "  未填写核查结果的行导入时跳过，可以以后再填再导入；同一张表重复导入不会重复记录。",
    "六、本表含个人信息，请妥善保管，不得拍照外传；核查完毕交回社区，导入后销毁。",
)
"""The guide sheet's paragraphs (the results' meanings follow as a table)."""


def _result_meaning(result: VisitResult) -> tuple[str, str]:
    """What a result means on a 户籍户 row and on a 居住房屋 row."""
    meanings = {
        VisitResult.PRESENT: ("确在户籍地址居住（实有人口漏采，转为人户一致）", "确在此居住（确认人在户不在）"),
        VisitResult.NOT_PRESENT: ("不在户籍地址居住（确认户在人不在）", "不在此居住（实有人口记录有误，需更正）"),
        VisitResult.MOVED_OUT: ("已搬离（确认户在人不在，已迁出）", "已搬离（实有人口记录需更正）"),
        VisitResult.DECEASED: ("已死亡（确认户在人不在，已死亡）", "已死亡（实有人口记录需更正）"),
        VisitResult.NO_SUCH_PERSON: ("该地址无人知道此人（确认户在人不在）", "此处查无此人（实有人口记录需更正）"),
        VisitResult.NEWLY_REGISTERED: ("不适用（户籍户行的下拉列表无此项）", "已在本址办理户口登记"),
    }
    return meanings[result]


def _write_guide(book: Any, meta: SheetMeta, grids: Sequence[str], formats: _Formats) -> None:
    """The visible 说明 sheet: what the sheet is, what each result means, the partial-presence column."""
    sheet = book.add_worksheet(GUIDE_TITLE)
    sheet.set_column(0, 0, 12)
    sheet.set_column(1, 2, (GUIDE_WIDTH - 12) // 2)
    facts = (
        ("表号", meta.sheet_id),
        ("社区", f"{meta.community_name}（{meta.community}）"),
        ("网格", "、".join(grids)),
        ("打印日期", meta.printed_on),
        ("数据批次", meta.run_id),
    )
    sheet.merge_range(0, 0, 0, 2, f"{SHEET_TITLE}填写说明", formats.title)
    row = 1
    for label, value in facts:
        sheet.write_string(row, 0, label, formats.header)
        _write_text(sheet, row, 1, value, formats)
        row += 1
    row += 1
    for paragraph in GUIDE:
        sheet.merge_range(row, 0, row, 2, paragraph, formats.plain)
        sheet.set_row(row, 15.0 * _lines(paragraph, GUIDE_WIDTH) + 2)
        row += 1
        if paragraph.startswith("二、"):
            for col, header in enumerate(("核查结果", HOUSEHOLD, FLAT)):
                sheet.write_string(row, col, header, formats.header)
            row += 1
            for result in VisitResult:
                sheet.write_string(row, 0, result.label, formats.text)
                for col, text in enumerate(_result_meaning(result), start=1):
                    sheet.write_string(row, col, text, formats.text)
                row += 1
    sheet.set_landscape()
    sheet.set_paper(9)
    sheet.fit_to_pages(1, 1)


def tab_names(grids: Sequence[str]) -> list[str]:
    """Tab names for the grids: Excel's forbidden characters replaced, at most 31 characters, unique."""
    names: list[str] = []
    for grid in grids:
        base = re.sub(r"[\[\]:*?/\\']", "_", grid)[:28] or "_"
        name, n = base, 1
        while name in names or name == GUIDE_TITLE:
            n += 1
            name = f"{base}_{n}"
        names.append(name)
    return names


def write_workbook(rows: Sequence[Visit], out: Path, meta: SheetMeta) -> int:
    """The workbook: a tab per grid, then the guide; file 0600. Returns how many cells looked like formulas."""
    grids = list(dict.fromkeys(v.grid for v in rows))
    with private_file(out, "wb") as fh:
        book = xlsxwriter.Workbook(
            fh, {"strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False}
        )
        formats = _Formats(book)
        neutralised = 0
        for grid, name in zip(grids, tab_names(grids), strict=True):
            neutralised += _write_tab(book, name, grid, [v for v in rows if v.grid == grid], meta, formats)
        _write_guide(book, meta, grids, formats)
        book.close()
    return neutralised
