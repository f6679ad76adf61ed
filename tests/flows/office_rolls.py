"""Roll workbooks (实有人口登记表) built the way community offices hand them in, for reader tests.

Builders take plain row dicts keyed by the canonical column names of the data contract (§1.2); a missing key
or an empty string is an empty cell. Every value is written as a text cell (ID numbers never become numbers),
except 序号, which a builder fills with the running number on the sheet (an integer cell) when the row has none.
Each builder returns `Written`: where the rows went, as a spreadsheet program numbers them (§1.3).
"""

from __future__ import annotations

import datetime as dt
import random
import re
import zipfile
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from pathlib import Path

ROLL_HEADER: tuple[str, ...] = (
    "序号",
    "网格",
    "姓名",
    "性别",
    "身份证号",
    "出生日期",
    "联系电话",
    "现住地址",
    "房屋性质",
    "登记日期",
    "备注",
)
HELPER_HEADER = "位数"
"""Header of the hidden helper column `footers_and_hidden_column` puts right after 身份证号."""
COMMUNITY = "青少年宫路社区"

_THIN = Side(style="thin")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_CENTER = Alignment(horizontal="center", vertical="center")
_CN_DIGITS = "零一二三四五六七八九"


@dataclass(frozen=True)
class Written:
    """What a builder wrote, for the test to check against: per sheet name, the spreadsheet row numbers
    (1-based, as Excel shows them) of each person row in input order; the footer rows; the sheets that hold no roll.

    `persons` holds the cell values as written (non-empty cells only, 序号 as text), so a grid a builder blanked
    or refolded shows here as it is in the file. Roll sheets appear as keys of the dicts even when they are empty.
    """

    person_rows: dict[str, list[int]]
    persons: dict[str, list[dict[str, str]]]
    footer_rows: dict[str, list[int]]
    blank_rows: dict[str, list[int]]
    """Entirely empty rows the builder left: spacers above a title, gaps in or after the data (some of them carry
    only borders or a row height)."""
    other_sheets: list[str]


class _Log:
    """Mutable counterpart of `Written`, filled while a workbook is built."""

    def __init__(self) -> None:
        self.person_rows: dict[str, list[int]] = {}
        self.persons: dict[str, list[dict[str, str]]] = {}
        self.footer_rows: dict[str, list[int]] = {}
        self.blank_rows: dict[str, list[int]] = {}
        self.other_sheets: list[str] = []

    def roll_sheet(self, name: str) -> None:
        self.person_rows[name] = []
        self.persons[name] = []
        self.footer_rows[name] = []
        self.blank_rows[name] = []

    def frozen(self) -> Written:
        return Written(self.person_rows, self.persons, self.footer_rows, self.blank_rows, self.other_sheets)


# ---------------------------------------------------------------------------------------------------------------
# Sample rows


_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石"
    "廖贾夏韦方邹熊白孟秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴莫孔汤"
)
_GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂华建国文辉玲婷雪梅鑫宇浩然晨阳佳怡欣悦子涵雨萱志海燕春兰红琴亮"
_COMPOUNDS = ("金山花园", "城东新村", "文化广场", "华联公寓", "青少年宫路小区", "阳光家园", "明珠苑", "新城大厦")
_VILLAGES = ("长河", "周塘", "龙南", "潮塘")
_TENURE = ("自有", "租赁", "借住", "单位宿舍")
_NOTES = ("外出务工", "独居老人", "新迁入", "租户", "已核实")
_OLD_AREAS = ("330222", "332221", "339009")


def gb11643_check(first17: str) -> str:
    """MOD 11-2 check character (GB 11643) for the first 17 digits of an ID number."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, weights, strict=True)) % 11]


def _date(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randrange((end - start).days + 1))


def _address(rng: random.Random) -> str:
    if rng.random() < 0.1:
        return f"{rng.choice(_VILLAGES)}村{rng.randint(1, 12)}组{rng.randint(1, 120)}号"
    building, unit, floor, room = rng.randint(1, 30), rng.randint(1, 4), rng.randint(1, 18), rng.randint(1, 4)
    return f"{rng.choice(_COMPOUNDS)}{building}幢{unit}单元{floor}{room:02d}室"


def sample_people(n: int, *, seed: int = 0) -> list[dict[str, str]]:
    """`n` plausible roll rows keyed by canonical column name (no 序号; blank fields are left out).

    About 60% carry a well-formed 18-digit ID with a correct check digit (unique within the list), the rest none;
    网格 is '第1网格' … '第9网格'.
    """
    rng = random.Random(seed)
    people: list[dict[str, str]] = []
    seen: set[str] = set()
    for _ in range(n):
        male = rng.random() < 0.5
        born = _date(rng, dt.date(1935, 1, 1), dt.date(2024, 12, 31))
        person = {
            "网格": f"第{rng.randint(1, 9)}网格",
            "姓名": rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2, 2)))),
            "现住地址": _address(rng),
            "房屋性质": rng.choices(_TENURE, weights=(60, 30, 5, 5))[0],
            "登记日期": _date(rng, dt.date(2026, 3, 1), dt.date(2026, 11, 20)).isoformat(),
        }
        if rng.random() < 0.9:
            person["性别"] = "男" if male else "女"
        if rng.random() < 0.6:
            area = rng.choice(_OLD_AREAS) if born.year < 1985 and rng.random() < 0.3 else "330282"
            while True:
                sequence = rng.randrange(500) * 2 + (1 if male else 0)  # odd for men, even for women
                first17 = f"{area}{born:%Y%m%d}{sequence:03d}"
                number = first17 + gb11643_check(first17)
                if number not in seen:
                    break
            seen.add(number)
            person["身份证号"] = number
            if rng.random() < 0.8:
                person["出生日期"] = born.isoformat()
        elif rng.random() < 0.5:
            person["出生日期"] = born.strftime(rng.choice(("%Y-%m-%d", "%Y-%m-%d", "%Y/%m/%d", "%Y%m%d")))
        if rng.random() < 0.7:
            person["联系电话"] = "1" + rng.choice("3578") + "".join(rng.choice("0123456789") for _ in range(9))
        if rng.random() < 0.05:
            person["备注"] = rng.choice(_NOTES)
        people.append(person)
    return people


# ---------------------------------------------------------------------------------------------------------------
# Cell writing


def _cells(person: Mapping[str, str], number: int) -> dict[str, str | int]:
    """The non-empty cells of one person row; 序号 is the running number unless the row brings its own."""
    unknown = set(person) - set(ROLL_HEADER)
    if unknown:
        raise ValueError(f"not roll columns: {sorted(unknown)}")
    cells: dict[str, str | int] = {k: v for k, v in person.items() if v != ""}
    cells.setdefault("序号", number)
    return cells


def _put(ws: Any, row: int, column: int, value: str | int | None, *, border: bool = True) -> Any:
    """Write one cell; strings stay text even when they look like numbers or formulas."""
    cell = ws.cell(row=row, column=column, value=value)
    if isinstance(value, str):
        cell.data_type = "s"
    if border:
        cell.border = _BOX
    return cell


def _write_person(
    ws: Any,
    log: _Log,
    sheet: str,
    row: int,
    columns: Sequence[str],
    person: Mapping[str, str],
    number: int,
    *,
    first_column: int = 1,
) -> None:
    cells = _cells(person, number)
    for column, name in enumerate(columns, start=first_column):
        if name in cells:
            _put(ws, row, column, cells[name])
        elif name in ROLL_HEADER:
            _put(ws, row, column, None)  # an empty cell inside the table still carries its border
    log.person_rows[sheet].append(row)
    log.persons[sheet].append({k: str(v) for k, v in cells.items()})


def _write_header(ws: Any, row: int, columns: Sequence[str], *, first_column: int = 1) -> None:
    for column, name in enumerate(columns, start=first_column):
        _put(ws, row, column, name).font = Font(bold=True)
        ws.column_dimensions[get_column_letter(column)].width = 20 if name in ("身份证号", "现住地址") else 11


def _merge(ws: Any, row: int, first: int, last: int, value: str, *, size: int | None = None) -> None:
    """A value in the top-left cell of a merged range, as Excel leaves it."""
    cell = _put(ws, row, first, value, border=False)
    cell.alignment = _CENTER
    if size:
        cell.font = Font(bold=True, size=size)
    if last > first:
        ws.merge_cells(start_row=row, start_column=first, end_row=row, end_column=last)


def _total_row(ws: Any, log: _Log, sheet: str, row: int, columns: Sequence[str], count: int) -> None:
    """'合计' in 序号's column and '共 N 人' in 姓名's column."""
    for column in range(1, len(columns) + 1):
        _put(ws, row, column, None)
    _put(ws, row, columns.index("序号") + 1, "合计")
    _put(ws, row, columns.index("姓名") + 1, f"共 {count} 人")
    log.footer_rows[sheet].append(row)


def _save(wb: Workbook, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)


def _cache_results(path: Path, member: str, results: Mapping[str, str]) -> None:
    """Give formula cells the cached result Excel stores with them (openpyxl writes an empty `<v/>`)."""
    with zipfile.ZipFile(path) as zf:
        entries = [(info, zf.read(info)) for info in zf.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in entries:
            if info.filename == member:
                xml = data.decode("utf-8")
                for ref, value in results.items():
                    xml, found = re.subn(
                        rf'(<c r="{ref}"[^>]*>\s*<f>[^<]*</f>)\s*<v\s*/>', rf"\g<1><v>{value}</v>", xml
                    )
                    if found != 1:
                        raise RuntimeError(f"formula cell {ref} not found in {member}")
                data = xml.encode("utf-8")
            zf.writestr(info, data)


def _new_book() -> tuple[Workbook, Any]:
    wb = Workbook()
    return wb, wb.active


# ---------------------------------------------------------------------------------------------------------------
# Grids


def chinese_number(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 23 → 二十三 (1..99)."""
    if not 1 <= n <= 99:
        raise ValueError(n)
    tens, ones = divmod(n, 10)
    return ("" if tens == 0 else ("十" if tens == 1 else _CN_DIGITS[tens] + "十")) + (_CN_DIGITS[ones] if ones else "")


_GRID_NUMBER = {chinese_number(n): n for n in range(1, 100)}
_SHEET_STYLES = ("{n}网格", "第{cn}网格", "网格{n}", "第{n}网格", "{cn}网格", "网格（{n}）")


def grid_number(value: str) -> int | None:
    """The grid number in '第3网格', '网格3', '三网格' …; None when there is none."""
    if match := re.search(r"\d+", value):
        return int(match.group())
    for chars in sorted(re.findall(f"[{_CN_DIGITS}十]+", value), key=len, reverse=True):
        if chars in _GRID_NUMBER:
            return _GRID_NUMBER[chars]
    return None


def _grid_sheets(people: Iterable[dict[str, str]], grids: int) -> list[list[dict[str, str]]]:
    """People by grid, 1..grids: the number in their 网格 folded into range; no number goes round robin.

    A folded number rewrites the cell to '第k网格' so the file never contradicts its sheet.
    """
    sheets: list[list[dict[str, str]]] = [[] for _ in range(grids)]
    for i, person in enumerate(people):
        number = grid_number(person.get("网格", ""))
        if number is None:
            sheets[i % grids].append(dict(person))
            continue
        k = (number - 1) % grids + 1
        sheets[k - 1].append(dict(person) if k == number else {**person, "网格": f"第{k}网格"})
    return sheets


def sheet_per_grid(
    path: Path, people: list[dict[str, str]], *, grids: int = 9, shuffle_columns: bool = True, seed: int = 0
) -> Written:
    """One sheet per 网格 (every grid gets one, maybe with nothing but its header), each with its header in row 1.

    Sheet names come in varied styles ('1网格', '第二网格', '网格3' …). With `shuffle_columns` each sheet's column
    order differs from the one before. Seeded, each at least once where the rows allow: some sheets leave the
    网格 cell of some rows empty, have an empty row between two person rows, or end in a '合计' row (sometimes after
    a blank row); some carry bordered empty rows after the data.
    """
    if not 1 <= grids <= 99:
        raise ValueError(f"grids must be 1..99, not {grids}")
    rng = random.Random(seed)
    log = _Log()
    wb, ws = _new_book()
    by_grid = _grid_sheets(people, grids)
    filled = [k for k, rows in enumerate(by_grid) if rows]
    blank_grid = set(rng.sample(filled, max(1, len(filled) // 3))) if filled else set()
    totals = {k for k in filled if rng.random() < 0.4} or ({filled[-1]} if filled else set())
    gappable = [k for k in filled if len(by_grid[k]) >= 2]
    gaps = {k for k in gappable if rng.random() < 0.3} or ({gappable[0]} if gappable else set())
    styles = rng.sample(_SHEET_STYLES, len(_SHEET_STYLES))
    order = list(ROLL_HEADER)
    for k, rows in enumerate(by_grid):
        n = k + 1
        name = styles[k % len(styles)].format(n=n, cn=chinese_number(n))
        if k:
            ws = wb.create_sheet(name)
        else:
            ws.title = name
        log.roll_sheet(name)
        if shuffle_columns:
            previous = order[:]
            while order == previous:
                rng.shuffle(order)
        _write_header(ws, 1, order)
        if k in blank_grid:
            empty = {i for i in range(len(rows)) if rng.random() < 0.4} or {rng.randrange(len(rows))}
            rows = [{**p, "网格": ""} if i in empty else p for i, p in enumerate(rows)]
        gap_after = rng.randrange(1, len(rows)) if k in gaps else None
        row = 2
        for i, person in enumerate(rows):
            _write_person(ws, log, name, row, order, person, i + 1)
            row += 1
            if gap_after == i + 1:
                log.blank_rows[name].append(row)
                row += 1
        if k in totals:
            if rng.random() < 0.5:
                log.blank_rows[name].append(row)
                row += 1
            _total_row(ws, log, name, row, order, len(rows))
            row += 1
        if rng.random() < 0.3:  # rows pre-formatted with borders for entries that never came
            for _ in range(3):
                for column in range(1, len(order) + 1):
                    _put(ws, row, column, None)
                log.blank_rows[name].append(row)
                row += 1
    _save(wb, path)
    return log.frozen()


# ---------------------------------------------------------------------------------------------------------------
# Cover, title, footers


def cover_sheet_first(path: Path, people: list[dict[str, str]]) -> Written:
    """A '封面' sheet (merged title, 填报单位, date, a small per-grid count table headed '网格'), then the roll
    on '实有人口' with its header in row 1, then a '填表说明' instructions sheet."""
    log = _Log()
    wb, cover = _new_book()
    cover.title = "封面"
    _merge(cover, 1, 1, 6, f"慈溪市浒山街道{COMMUNITY}", size=18)
    _merge(cover, 2, 1, 6, "实有人口登记表", size=22)
    _put(cover, 4, 1, "填报单位：", border=False)
    _merge(cover, 4, 2, 5, f"{COMMUNITY}居民委员会")
    _put(cover, 5, 1, "填报日期：", border=False)
    _merge(cover, 5, 2, 5, "2026年11月20日")
    counts = Counter(person.get("网格") or "未分网格" for person in people)
    _put(cover, 7, 1, "网格")
    _put(cover, 7, 2, "人数")
    row = 8
    for grid, count in sorted(counts.items(), key=lambda item: (grid_number(item[0]) or 999, item[0])):
        _put(cover, row, 1, grid)
        _put(cover, row, 2, count)
        row += 1
    _put(cover, row, 1, "合计")
    _put(cover, row, 2, len(people))
    log.other_sheets.append("封面")

    ws = wb.create_sheet("实有人口")
    log.roll_sheet("实有人口")
    _write_header(ws, 1, ROLL_HEADER)
    for i, person in enumerate(people):
        _write_person(ws, log, "实有人口", i + 2, ROLL_HEADER, person, i + 1)

    notes = wb.create_sheet("填表说明")
    _merge(notes, 1, 1, 8, "填表说明", size=14)
    for i, line in enumerate(
        (
            "1. 本表由社区网格员入户采集填写，一人一行。",
            "2. 身份证号请填写18位号码，无法获取的可空缺。",
            "3. 出生日期格式为 YYYY-MM-DD。",
            "4. 房屋性质填写：自有、租赁、借住、单位宿舍。",
            "5. 本表每月25日前报街道。",
        ),
        start=3,
    ):
        _merge(notes, i, 1, 8, line)
        notes.cell(row=i, column=1).alignment = Alignment(horizontal="left")
    log.other_sheets.append("填表说明")
    _save(wb, path)
    return log.frozen()


_GROUPS = (("基本信息", "序号", "出生日期"), ("居住信息", "联系电话", "房屋性质"), ("其他", "登记日期", "备注"))


def title_and_two_row_header(
    path: Path, people: list[dict[str, str]], *, top_margin: int = 0, left_margin: int = 0
) -> Written:
    """One sheet ('Sheet1'): merged title row, an empty row, merged group cells ('基本信息', '居住信息', '其他'),
    the column names, then the data (title in row 1, names in row 4, data from row 5 by default).

    `top_margin` puts that many empty rows above the title (with a custom height, so they exist in the sheet XML
    as Excel writes them); `left_margin` that many empty columns before the table. Margin rows count as blank rows.
    """
    log = _Log()
    wb, ws = _new_book()
    name = "Sheet1"
    ws.title = name
    log.roll_sheet(name)
    for row in range(1, top_margin + 1):
        ws.row_dimensions[row].height = 24
        log.blank_rows[name].append(row)
    title, left = top_margin + 1, left_margin + 1
    _merge(ws, title, left, left_margin + len(ROLL_HEADER), f"{COMMUNITY}实有人口登记表", size=16)
    log.blank_rows[name].append(title + 1)
    for group, first, last in _GROUPS:
        start, end = left_margin + ROLL_HEADER.index(first) + 1, left_margin + ROLL_HEADER.index(last) + 1
        _merge(ws, title + 2, start, end, group)
        for column in range(start, end + 1):
            ws.cell(row=title + 2, column=column).border = _BOX
    _write_header(ws, title + 3, ROLL_HEADER, first_column=left)
    for i, person in enumerate(people):
        _write_person(ws, log, name, title + 4 + i, ROLL_HEADER, person, i + 1, first_column=left)
    _save(wb, path)
    return log.frozen()


def footers_and_hidden_column(path: Path, people: list[dict[str, str]]) -> Written:
    """One sheet ('人口信息') with the header in row 1 and a hidden helper column `HELPER_HEADER` right after
    身份证号 holding `=LEN(…)` formulas with their cached results ('18', '0'); after the data a blank row, a '合计' row ('共 N 人'
    in 姓名's column), a merged '填表说明：…' row and a '填表人：… 审核人：… 填表日期：…' row spread over cells."""
    log = _Log()
    wb, ws = _new_book()
    name = "人口信息"
    ws.title = name
    log.roll_sheet(name)
    at = ROLL_HEADER.index("身份证号") + 1
    columns = (*ROLL_HEADER[:at], HELPER_HEADER, *ROLL_HEADER[at:])
    id_letter, helper_letter = get_column_letter(at), get_column_letter(at + 1)
    _write_header(ws, 1, columns)
    ws.column_dimensions[helper_letter].hidden = True
    cached: dict[str, str] = {}
    row = 2
    for i, person in enumerate(people):
        _write_person(ws, log, name, row, columns, person, i + 1)
        ws[f"{helper_letter}{row}"] = f"=LEN({id_letter}{row})"
        cached[f"{helper_letter}{row}"] = str(len(person.get("身份证号", "")))
        row += 1
    log.blank_rows[name].append(row)
    row += 1
    _total_row(ws, log, name, row, columns, len(people))
    row += 1
    _merge(
        ws,
        row,
        1,
        len(columns),
        "填表说明：1. 身份证号填写18位；2. 网格按社区划分填写；3. 房屋性质填自有/租赁/借住/单位宿舍。",
    )
    ws.cell(row=row, column=1).alignment = Alignment(horizontal="left")
    log.footer_rows[name].append(row)
    row += 1
    for column, text in ((1, "填表人：王丽"), (5, "审核人：陈建国"), (9, "填表日期：2026年11月20日")):
        _put(ws, row, column, text, border=False)
    log.footer_rows[name].append(row)
    _save(wb, path)
    _cache_results(path, "xl/worksheets/sheet1.xml", cached)
    return log.frozen()
