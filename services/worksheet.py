"""Door-visit worksheets (入户核查表): built from the published run, filled in by hand, applied as decisions.

A worksheet lists, per grid, every registered household with open 户在人不在 members (类别 户籍户) and every flat
with open 人在户不在 occupants (类别 居住房屋), sorted by address so a grid worker visits a building once. The worker
writes the result (a list restricted by Excel data validation to the six `VisitResult` labels), which members are
present when only some are (在住成员序号), and a remark.

Each row carries, in hidden columns at the right, a token naming the sheet, the community and each member's
record key and fingerprint, and two MACs keyed with the data directory's secret: one over the token (a forged or
pasted token is refused) and one over the token and the printed cells (a row whose printed cells were edited is
refused). Every tab carries the sheet's own token and MAC in its first row: a workbook without one is not ours.

Importing refuses row by row (another community's row, an unknown or inapplicable result, bad member numbers, a
record changed since printing) and applies the rest as ONE batch of decisions (`services.decisions.decide_batch`),
so a re-import changes nothing and `undo_last` withdraws an import as a unit. Only the operators of the sheet's
community export and import its worksheets.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import math
import re
import secrets
import sqlite3
import unicodedata
import zipfile
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import xlsxwriter

from schemas.codes import DecisionKind, Evidence, Side, Status, VisitResult
from services import fieldwork
from services.access import DECIDING_ROLES
from services.decisions import ItemKeys, active_decisions, decide_batch
from services.digest_key import load_or_create
from services.export import looks_like_formula, private_file, safe_file_name
from services.paths import DataPaths
from services.reader import dict_rows, published, record_table
from services.reader import run_id as published_run_id
from services.state import connect

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence
    from pathlib import Path

    import duckdb

    from services.accounts import User

UNKNOWN_GRID = "网格未定"
"""The grid of rows whose grid nobody knows (a building the roll never names); also accepted as a grid filter."""
SHEET_TITLE = "入户核查表"
GUIDE_TITLE = "说明"
HOUSEHOLD = "户籍户"
"""类别 of a registered household with open 户在人不在 members."""
FLAT = "居住房屋"
"""类别 of a flat with open 人在户不在 occupants."""

HEADERS = ("序号", "类别", "地址", "成员", "社区登记情况", "线索", "核查结果", "在住成员序号", "备注")
PRINTED = 6
"""Columns A..F are printed by the system: the row MAC covers them."""
RESULT_COL, MEMBERS_COL, NOTE_COL = 6, 7, 8
TOKEN_COL, TOKEN_MAC_COL, ROW_MAC_COL = 9, 10, 11
"""Hidden columns J, K, L: the row's token, its MAC and the MAC over the token and the printed cells."""
HIDDEN_HEADERS = ("凭据", "凭据校验", "行校验")
WIDTHS = (5, 7, 26, 30, 17, 17, 10, 10, 22)
"""Column widths in characters (A4 landscape, fit to one page wide)."""
GUIDE_WIDTH = 112
"""The guide sheet's width in characters (its paragraphs span it)."""
TITLE_ROW, HEADER_ROW, FIRST_ROW = 0, 1, 2
"""Zero-based rows: the title (and the sheet's token), the column headers, the first data row."""

MAX_BYTES = 20 * 1024 * 1024
"""A filled worksheet larger than this is not read (a community's sheet is well under 1 MB)."""
MAX_UNPACKED = 200 * 1024 * 1024
"""Nor one that unpacks to more than this (a zip bomb)."""
MAX_ROWS = 50_000
"""Nor one with more rows than this on a tab."""
TOKEN_VERSION = 1
_MAC_LABEL = b"hukou-recon worksheet v1"
_MEMBER_SPLIT = re.compile(r"[,，、;；/\s]+")
_LONE_STATUS = {Side.REGISTER: Status.ABSENT, Side.ROLL: Status.UNREGISTERED}


class WorksheetError(ValueError):
    """A file that is not a worksheet of this data directory, or cannot be read as one."""


class WorksheetRefused(PermissionError):
    """This user may not export or import this community's worksheets."""


class NothingToVisit(ValueError):
    """No open 户在人不在 / 人在户不在 record in the community (or grid) asked for."""


class RowOutcome(StrEnum):
    """What became of one row of an imported worksheet."""

    APPLIED = "applied"
    UNCHANGED = "unchanged"
    """Its decisions already stood exactly so (a re-import)."""
    REFUSED = "refused"
    SKIPPED = "skipped"
    """No result written."""

    @property
    def label(self) -> str:
        """The Chinese word the report shows."""
        return {"applied": "已导入", "unchanged": "无变化", "refused": "拒绝", "skipped": "未填"}[self.value]


class RowCode(StrEnum):
    """Why a row came out as it did (the machine-readable half of the report)."""

    APPLIED = "applied"
    UNCHANGED = "unchanged"
    EMPTY = "empty"
    NO_TOKEN = "no_token"  # noqa: S105  a reason code, not a secret
    FORGED = "forged"
    EDITED = "edited"
    OTHER_SHEET = "other_sheet"
    OTHER_COMMUNITY = "other_community"
    DUPLICATE = "duplicate"
    UNKNOWN_RESULT = "unknown_result"
    NOT_APPLICABLE = "not_applicable"
    BAD_MEMBERS = "bad_members"
    MEMBERS_NOT_PRESENT = "members_not_present"
    CHANGED = "changed"
    GONE = "gone"
    CLOSED = "closed"


REASONS: dict[RowCode, str] = {
    RowCode.APPLIED: "已记录为核查决定",
    RowCode.UNCHANGED: "与已记录的决定相同，未作改动",
    RowCode.EMPTY: "未填写核查结果",
    RowCode.NO_TOKEN: "不是本表打印的行（缺少隐藏凭据），新增的行不能导入",
    RowCode.FORGED: "隐藏凭据无效（伪造或从别处粘贴）",
    RowCode.EDITED: "打印内容被改动（只可填写核查结果、在住成员序号、备注）",
    RowCode.OTHER_SHEET: "该行来自另一张核查表",
    RowCode.OTHER_COMMUNITY: "该行属于其他社区",
    RowCode.DUPLICATE: "同一户籍户或房屋在表中出现多次",
    RowCode.UNKNOWN_RESULT: "核查结果不是可选值（在住、不在住、已迁出、已死亡、查无此人、新登记）",
    RowCode.NOT_APPLICABLE: "该核查结果不适用于此类别",
    RowCode.BAD_MEMBERS: "在住成员序号须为本行成员的序号，如 1,3",
    RowCode.MEMBERS_NOT_PRESENT: "只有核查结果为“在住”时才可填写在住成员序号",
    RowCode.CHANGED: "成员的记录自打印后已变更，请重新打印核查表后再核查",
    RowCode.GONE: "成员的记录已不在最新数据中",
    RowCode.CLOSED: "成员已不在待核查之列（已关联或已核实）",
}
"""The Chinese reason of each code, as the report states it."""


def may_work(user: User, community: str) -> bool:
    """Whether a user may export and import this community's worksheets: its own operators only.

    Worksheets carry full names and birth years to be taken out of the office, and come back as decisions,
    which only operators make (`services.access.DECIDING_ROLES`).
    """
    return user.role in DECIDING_ROLES and user.scope == community


def check_access(user: User, community: str) -> None:
    """Raise `WorksheetRefused` unless `may_work`."""
    if not may_work(user, community):
        raise WorksheetRefused(f"{user.username} may not use the worksheets of {community}: only its operators")


@dataclass(frozen=True, slots=True)
class Member:
    """One person on a row: which record, as printed."""

    side: Side
    record_key: str
    fingerprint: str
    line: str
    """`1. 姓名 与户主关系 出生年 性别` as printed (numbered)."""


@dataclass(slots=True)
class Visit:
    """One row of a worksheet: a registered household or a flat, and the people on it."""

    category: str
    grid: str
    address: str
    recorded: str
    clues: str
    order: tuple[str, ...]
    members: list[Member] = field(default_factory=list)

    def printed(self, number: int) -> tuple[str, ...]:
        """The read-only cells A..F as the sheet holds them."""
        lines = "\n".join(m.line for m in self.members)
        return (str(number), self.category, self.address, lines, self.recorded, self.clues)


@dataclass(frozen=True, slots=True)
class WorksheetSummary:
    """What `build_worksheet` wrote."""

    sheet_id: str
    path: Path
    community_code: str
    community_name: str
    grid: str | None
    run_id: str
    rows: int
    households: int
    flats: int
    persons: int
    tabs: tuple[str, ...]

    @property
    def download_name(self) -> str:
        """A file name for a download: 入户核查表_<community>_<grid>_<date>.xlsx."""
        parts = [SHEET_TITLE, self.community_name or self.community_code, self.grid or "全部网格"]
        return safe_file_name("_".join([*parts, self.sheet_id[:8]]), limit=80) + ".xlsx"


@dataclass(frozen=True, slots=True)
class RowReport:
    """One row of an imported worksheet: where, what became of it and why."""

    tab: str
    row: int
    """The spreadsheet's row number (as Excel shows it)."""
    number: str
    """The row's 序号."""
    outcome: RowOutcome
    code: RowCode
    reason: str
    persons: int = 0


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What importing a worksheet did, row by row."""

    file: str
    sheet_id: str
    community_code: str
    rows: tuple[RowReport, ...]
    made: int
    unchanged: int
    batch_id: str | None

    def count(self, outcome: RowOutcome) -> int:
        """How many rows came out so."""
        return sum(r.outcome is outcome for r in self.rows)

    @property
    def totals(self) -> dict[str, int]:
        """Rows per outcome, and decisions made and left unchanged."""
        out = {o.value: self.count(o) for o in RowOutcome}
        return out | {"decisions_made": self.made, "decisions_unchanged": self.unchanged}

    @property
    def ok(self) -> bool:
        """Nothing was refused."""
        return self.count(RowOutcome.REFUSED) == 0


# --- what to visit -----------------------------------------------------------------------------------------------


def _sheet_key(data_dir: Path) -> bytes:
    """The worksheets' MAC key: derived from the data directory's digest secret, for this use only."""
    return hmac.new(load_or_create(DataPaths(data_dir).digest_key), _MAC_LABEL, hashlib.sha256).digest()


def _mac(key: bytes, *parts: str) -> str:
    return hmac.new(key, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()[:32]


def _decided_today(state: Path) -> set[tuple[str, str]]:
    """(record key, fingerprint) of lone records an operator settled since the run: not printed again.

    A door-visit decision settles nothing: those records are exactly the ones to print.
    """
    frame = active_decisions(state)
    out: set[tuple[str, str]] = set()
    for d in frame.iter_rows(named=True):
        if d["kind"] == DecisionKind.DOOR_VISIT.value or (d["register_key"] and d["roll_key"]):
            continue
        key, fingerprint = (
            (d["register_key"], d["register_fingerprint"])
            if d["register_key"]
            else (d["roll_key"], d["roll_fingerprint"])
        )
        if key:
            out.add((key, fingerprint or ""))
    return out


def _open_records(con: duckdb.DuckDBPyConnection, side: Side, community: str) -> list[dict[str, Any]]:
    """The community's open lone records of one side, with what a worker needs to find them."""
    extra = (
        "r.relation_raw, s.household_key" if side is Side.REGISTER else "NULL AS relation_raw, NULL AS household_key"
    )
    grid = "s.grid" if side is Side.REGISTER else "coalesce(r.grid, s.grid)"
    return dict_rows(
        con,
        f"""SELECT s.flat, {grid} AS grid, s.evidence, s.others_at_flat, s.others_since, s.hint_community,
                   r.record_key, r.fingerprint, r.name, r.name_raw, r.birth, r.sex, r.address_raw, {extra}
            FROM run.record_status s JOIN {record_table(side)} r ON r.idx = s.idx
            WHERE s.side = ? AND s.status = ? AND s.pending AND s.community_code = ?
            ORDER BY r.source_file, r.source_sheet, r.source_row""",  # noqa: S608  tables from services.reader, fragments fixed here
        [side.value, _LONE_STATUS[side].value, community],
    )


def _counts_at(con: duckdb.DuckDBPyConnection, side: Side, flats: Iterable[str]) -> dict[str, int]:
    """How many records of one side name each flat (the register's active, non-duplicate ones)."""
    wanted = sorted({f for f in flats if f})
    if not wanted:
        return {}
    sql = (
        f"SELECT flat, count(*) FROM {record_table(Side.ROLL)} WHERE flat IN (SELECT unnest(?)) GROUP BY flat"  # noqa: S608
        if side is Side.ROLL
        else """SELECT flat, count(*) FROM run.record_status WHERE side = 'register'
                AND status NOT IN ('inactive', 'duplicate') AND flat IN (SELECT unnest(?)) GROUP BY flat"""
    )
    return {str(f): int(n) for f, n in con.execute(sql, [wanted]).fetchall()}


def _member_line(number: int, record: dict[str, Any]) -> str:
    """`1. 张伟 户主 1980 男`: what a worker reads out at the door (no ID number)."""
    name = record["name"] or (record["name_raw"] or "").strip() or "(无姓名)"
    birth = record["birth"]
    year = f"{birth.year:04d}" if isinstance(birth, dt.date) else ""
    parts = [name, (record["relation_raw"] or "").strip(), year, (record["sex"] or "").strip()]
    return f"{number}. " + " ".join(p for p in parts if p)


def _clues(records: Sequence[dict[str, Any]], names: dict[str, str]) -> str:
    """The members' evidence labels, once each (a namesake's community named)."""
    labels: list[str] = []
    for record in records:
        if not record["evidence"]:
            continue
        label = Evidence(record["evidence"]).label
        if record["evidence"] == Evidence.NAMESAKE_ELSEWHERE and record["hint_community"]:
            label += f"（{names.get(record['hint_community'], record['hint_community'])}）"
        if label not in labels:
            labels.append(label)
    return "；".join(labels)


def _household_recorded(records: Sequence[dict[str, Any]], at_flat: int) -> str:
    """社区登记情况 of a household's flat: 登记3人(自2024-05起)，其中本户1人 / 未登记 / 登记为空置."""
    if any(r["evidence"] == Evidence.FLAT_EMPTY for r in records):
        return "登记为空置"
    if at_flat == 0:
        return "未登记"
    others = max((r["others_at_flat"] or 0) for r in records)
    since = min((r["others_since"] for r in records if r["others_since"]), default=None)
    text = f"登记{at_flat}人" + (f"(自{since:%Y-%m}起)" if since else "")
    return text + (f"，其中本户{at_flat - others}人" if at_flat > others else "")


def _grid(records: Sequence[dict[str, Any]]) -> str:
    grids = sorted({str(r["grid"]) for r in records if r["grid"]})
    return grids[0] if grids else UNKNOWN_GRID


def _households(con: duckdb.DuckDBPyConnection, community: str, skip: set[tuple[str, str]]) -> list[Visit]:
    """One row per registered household with open 户在人不在 members."""
    records = [
        r for r in _open_records(con, Side.REGISTER, community) if (r["record_key"], r["fingerprint"]) not in skip
    ]
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(record["household_key"] or f"?{record['record_key']}", []).append(record)
    flats = {r["flat"] for r in records}
    at_flat = _counts_at(con, Side.ROLL, [f for f in flats if f])
    names = _community_names(con)
    visits = []
    for household, members in groups.items():
        flat = next((m["flat"] for m in members if m["flat"]), None)
        address = next((m["address_raw"] for m in members if (m["relation_raw"] or "").strip() == "户主"), None)
        visits.append(
            Visit(
                category=HOUSEHOLD,
                grid=_grid(members),
                address=(address or members[0]["address_raw"] or "").strip(),
                recorded=_household_recorded(members, at_flat.get(flat, 0) if flat else 0),
                clues=_clues(members, names),
                order=((flat or "").lstrip("~"), "0", household),
                members=[
                    Member(Side.REGISTER, m["record_key"], m["fingerprint"], _member_line(i, m))
                    for i, m in enumerate(members, start=1)
                ],
            )
        )
    return visits


def _flats(con: duckdb.DuckDBPyConnection, community: str, skip: set[tuple[str, str]]) -> list[Visit]:
    """One row per flat with open 人在户不在 occupants (a flat the register does not know too: its own key)."""
    records = [r for r in _open_records(con, Side.ROLL, community) if (r["record_key"], r["fingerprint"]) not in skip]
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(record["flat"] or f"?{record['record_key']}", []).append(record)
    at_flat = _counts_at(con, Side.ROLL, groups)
    registered = _counts_at(con, Side.REGISTER, groups)
    names = _community_names(con)
    visits = []
    for flat, occupants in groups.items():
        addresses = list(dict.fromkeys((o["address_raw"] or "").strip() for o in occupants if o["address_raw"]))
        here = registered.get(flat, 0)
        recorded = f"登记{at_flat.get(flat, len(occupants))}人；" + (f"本址户籍{here}人" if here else "本址无户籍")
        visits.append(
            Visit(
                category=FLAT,
                grid=_grid(occupants),
                address="\n".join(addresses[:3]),
                recorded=recorded,
                clues=_clues(occupants, names),
                order=(flat.lstrip("~?"), "1", flat),
                members=[
                    Member(Side.ROLL, o["record_key"], o["fingerprint"], _member_line(i, o))
                    for i, o in enumerate(occupants, start=1)
                ],
            )
        )
    return visits


def _community_names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return {
        str(c): str(n or c)
        for c, n in con.execute("SELECT community_code, community_name FROM community_summary").fetchall()
    }


def visits(data_dir: Path, community: str, grid: str | None = None) -> list[Visit]:
    """The rows a worksheet of this community (and grid) would hold, in grid and address order.

    Open records only: pending tonight, and not settled by an operator since (a door-visit decision settles
    nothing). A grid of `UNKNOWN_GRID` selects the rows whose grid is unknown.
    """
    skip = _decided_today(DataPaths(data_dir).state)
    with published(data_dir) as con:
        rows = _households(con, community, skip) + _flats(con, community, skip)
    if grid:
        rows = [v for v in rows if v.grid == grid]
    return sorted(rows, key=lambda v: (v.grid == UNKNOWN_GRID, v.grid, v.order))


def grid_counts(data_dir: Path, community: str) -> dict[str, int]:
    """Rows to visit per grid (`UNKNOWN_GRID` last): what the app offers to print."""
    counts: dict[str, int] = {}
    for visit in visits(data_dir, community):
        counts[visit.grid] = counts.get(visit.grid, 0) + 1
    return counts


# --- writing -----------------------------------------------------------------------------------------------------


def _token(sheet_id: str, community: str, visit: Visit) -> str:
    members = [[m.side.value, m.record_key, m.fingerprint] for m in visit.members]
    payload = {"v": TOKEN_VERSION, "s": sheet_id, "c": community, "m": members}
    return json.dumps(payload, ensure_ascii=True, separators=(",", ":"))


def _sheet_token(sheet_id: str, community: str, grid: str) -> str:
    payload = {"v": TOKEN_VERSION, "sheet": sheet_id, "c": community, "g": grid}
    return json.dumps(payload, ensure_ascii=True, separators=(",", ":"))


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


def _write_tab(book: Any, name: str, grid: str, rows: Sequence[Visit], meta: SheetMeta, formats: _Formats) -> int:
    """One grid's tab: title, headers, a row per visit with its hidden token and MACs; returns formula-like cells."""
    sheet = book.add_worksheet(name)
    for col, width in enumerate(WIDTHS):
        sheet.set_column(col, col, width)
    sheet.set_column(TOKEN_COL, ROW_MAC_COL, 12, formats.hidden, {"hidden": True})
    title = f"{SHEET_TITLE} · {meta.community_name}（{meta.community}）· {grid} · 打印日期 {meta.printed_on} · 表号 {meta.sheet_id}"
    sheet.merge_range(TITLE_ROW, 0, TITLE_ROW, len(HEADERS) - 1, title, formats.title)
    sheet_token = _sheet_token(meta.sheet_id, meta.community, grid)
    sheet.write_string(TITLE_ROW, TOKEN_COL, sheet_token, formats.hidden)
    sheet.write_string(TITLE_ROW, TOKEN_MAC_COL, _mac(meta.key, "sheet", sheet_token), formats.hidden)
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
        token = _token(meta.sheet_id, meta.community, visit)
        sheet.write_string(row, TOKEN_COL, token, formats.hidden)
        sheet.write_string(row, TOKEN_MAC_COL, _mac(meta.key, "token", token), formats.hidden)
        sheet.write_string(row, ROW_MAC_COL, _mac(meta.key, "row", token, *printed), formats.hidden)
        sheet.set_row(row, _row_height(printed))
    last = FIRST_ROW + max(len(rows), 1) - 1
    sheet.data_validation(
        FIRST_ROW,
        RESULT_COL,
        last,
        RESULT_COL,
        {
            "validate": "list",
            "source": [r.label for r in VisitResult],
            "error_type": "stop",
            "error_title": "核查结果",
            "error_message": "只能选择：" + "、".join(r.label for r in VisitResult),
            "input_title": "核查结果",
            "input_message": "请从下拉列表中选择",
        },
    )
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
    "  “户籍户”：户籍登记在本社区、社区居住登记中没有的成员（户在人不在）。",
    "  “居住房屋”：社区登记在此居住、户籍不在本址的人员（人在户不在）。",
    "  “社区登记情况”是社区居住登记在该房屋记录的情况；“线索”是系统根据数据给出的提示，仅供参考。",
    "二、入户或电话核实后，在“核查结果”一列从下拉列表中选择一项（对本行全部成员适用）：",
    "三、部分成员在住：核查结果选“在住”，并在“在住成员序号”中填写在住成员的序号（如 1,3），其余成员记为“不在住”。"
    "只有核查结果为“在住”时才可填写此列。",
    "四、“备注”可填写说明（如迁往何处、联系电话），随核查决定一并保存，请勿填写与核查无关的个人信息。",
    "五、只可填写“核查结果”“在住成员序号”“备注”三列。不要改动其他列，不要增删、复制行，不要改动隐藏列：",
    "  被改动的行、其他社区或其他核查表的行、记录自打印后已变更的行，导入时逐行拒绝，并在导入报告中说明原因。",
    "  未填写核查结果的行导入时跳过，可以以后再填再导入；同一张表重复导入不会重复记录。",
    "六、本表含个人信息，请妥善保管，不得拍照外传；核查完毕交回社区，导入后销毁。",
)
"""The guide sheet's paragraphs (the results' meanings follow as a table)."""


def _result_meaning(result: VisitResult) -> tuple[str, str]:
    """What a result means on a 户籍户 row and on a 居住房屋 row."""
    meanings = {
        VisitResult.PRESENT: ("确在户籍地址居住（社区登记遗漏，转为人户一致）", "确在此居住（确认人在户不在）"),
        VisitResult.NOT_PRESENT: ("不在户籍地址居住（确认户在人不在）", "不在此居住（社区登记有误，需更正）"),
        VisitResult.MOVED_OUT: ("已搬离（确认户在人不在，已迁出）", "已搬离（社区登记需更正）"),
        VisitResult.DECEASED: ("已死亡（确认户在人不在，已死亡）", "已死亡（社区登记需更正）"),
        VisitResult.NO_SUCH_PERSON: ("该地址无人知道此人（确认户在人不在）", "此处查无此人（社区登记需更正）"),
        VisitResult.NEWLY_REGISTERED: ("不适用（导入时拒绝）", "已在本址办理户口登记"),
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


def _tab_names(grids: Sequence[str]) -> list[str]:
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
        for grid, name in zip(grids, _tab_names(grids), strict=True):
            neutralised += _write_tab(book, name, grid, [v for v in rows if v.grid == grid], meta, formats)
        _write_guide(book, meta, grids, formats)
        book.close()
    return neutralised


def build_worksheet(data_dir: Path, *, community: str, grid: str | None, username: str, out: Path) -> WorksheetSummary:
    """Write a door-visit worksheet of one community (and grid) to `out` (0600) and record it as handed out.

    The caller has checked the user's right (`check_access`).

    Args:
        data_dir: The data directory.
        community: The community's 12-digit code.
        grid: One grid (`UNKNOWN_GRID` for rows whose grid is unknown), or None for all, a tab each.
        username: Who prints it (recorded and audited).
        out: The .xlsx file to write.

    Returns:
        What was written.

    Raises:
        ValueError: the community is not published.
        NothingToVisit: nothing open to visit there.
    """
    with published(data_dir) as con:
        names = _community_names(con)
        run_id = published_run_id(con)
    if community not in names:
        raise ValueError(f"no community {community!r} in the published results")
    rows = visits(data_dir, community, grid or None)
    if not rows:
        where = f"{community} {grid}" if grid else community
        raise NothingToVisit(f"{where}: 没有待入户核查的记录 (nothing to visit: no open records)")
    today = dt.date.today()
    meta = SheetMeta(
        sheet_id=f"{today:%Y%m%d}-{secrets.token_hex(4)}",
        community=community,
        community_name=names[community],
        run_id=run_id,
        printed_on=today.isoformat(),
        key=_sheet_key(data_dir),
    )
    write_workbook(rows, out, meta)
    fieldwork.sheet_out(
        DataPaths(data_dir).state,
        sheet_id=meta.sheet_id,
        community_code=community,
        grid=grid or None,
        run_id=run_id,
        rows=len(rows),
        username=username,
    )
    return WorksheetSummary(
        sheet_id=meta.sheet_id,
        path=out,
        community_code=community,
        community_name=meta.community_name,
        grid=grid or None,
        run_id=run_id,
        rows=len(rows),
        households=sum(v.category == HOUSEHOLD for v in rows),
        flats=sum(v.category == FLAT for v in rows),
        persons=sum(len(v.members) for v in rows),
        tabs=tuple(_tab_names(list(dict.fromkeys(v.grid for v in rows)))),
    )


# --- reading and importing ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Row:
    """One data row as read back: where it is and its cells A..L as text."""

    tab: str
    row: int
    cells: tuple[str, ...]

    @property
    def number(self) -> str:
        return self.cells[0]

    @property
    def blank(self) -> bool:
        return not any(self.cells)


@dataclass(frozen=True, slots=True)
class Book:
    """A worksheet read back (`read_book`): its sheet id and community (from a tab's token) and its data rows."""

    sheet_id: str
    community: str
    rows: list[_Row]


@dataclass(slots=True)
class _Candidate:
    """A row that passed the checks on its own: its members and the decision each gets."""

    source: _Row
    community: str
    members: list[tuple[Side, str, str]]
    kinds: list[DecisionKind]
    note: str | None


def _text(value: Any) -> str:
    """A cell as text, whatever Excel or WPS made of it: 3.0 is "3", None is ""."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value).replace("\r\n", "\n")


def _check_file(path: Path) -> None:
    """Refuse what is not an xlsx of a sane size before it is opened (size, zip directory)."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise WorksheetError(f"{path.name}: cannot be read ({type(exc).__name__})") from exc
    if size > MAX_BYTES:
        raise WorksheetError(f"{path.name}: {size} bytes, more than a worksheet may be ({MAX_BYTES})")
    try:
        with zipfile.ZipFile(path) as zf:
            unpacked = sum(info.file_size for info in zf.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise WorksheetError(f"{path.name}: not an xlsx workbook (save it as .xlsx)") from exc
    if unpacked > MAX_UNPACKED:
        raise WorksheetError(f"{path.name}: unpacks to {unpacked} bytes, more than a worksheet may ({MAX_UNPACKED})")


def _json(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _tab_token(first: Sequence[str], key: bytes) -> dict[str, Any] | None:
    """The sheet token of a tab's first row, if it is one of ours (its MAC holds)."""
    if len(first) <= TOKEN_MAC_COL or not first[TOKEN_COL]:
        return None
    if not hmac.compare_digest(first[TOKEN_MAC_COL].encode(), _mac(key, "sheet", first[TOKEN_COL]).encode()):
        return None
    token = _json(first[TOKEN_COL])
    if not token or token.get("v") != TOKEN_VERSION or not token.get("sheet") or not token.get("c"):
        return None
    return token


def _tab_rows(ws: Any) -> Iterator[tuple[int, tuple[str, ...]]]:
    """(row number, cells A..L as text) of a tab, streamed; at most `MAX_ROWS` rows."""
    for number, values in enumerate(ws.iter_rows(min_row=1, max_col=ROW_MAC_COL + 1, values_only=True), start=1):
        if number > MAX_ROWS + FIRST_ROW:
            raise WorksheetError(f"more than {MAX_ROWS} rows on tab {ws.title!r}")
        cells = tuple(_text(v) for v in values)
        yield number, cells + ("",) * (ROW_MAC_COL + 1 - len(cells))


def read_book(path: Path, key: bytes) -> Book:
    """The worksheet tabs of a workbook: those whose first row holds a sheet token with a good MAC.

    Raises:
        WorksheetError: not an xlsx, too large, or no tab of ours (or tabs of two different sheets).
    """
    _check_file(path)
    from openpyxl import load_workbook  # read-only, streaming: never the whole sheet in memory

    try:
        book = load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many kinds, also for zip and XML errors
        raise WorksheetError(f"{path.name}: not a readable xlsx workbook ({type(exc).__name__})") from exc
    tokens: list[dict[str, Any]] = []
    rows: list[_Row] = []
    try:
        for ws in book.worksheets:
            numbered = _tab_rows(ws)
            first = next(numbered, None)
            token = _tab_token(first[1], key) if first else None
            if token is None:
                continue
            tokens.append(token)
            rows.extend(_Row(ws.title, n, cells) for n, cells in numbered if n > FIRST_ROW)
    except WorksheetError as exc:
        raise WorksheetError(f"{path.name}: {exc}") from exc
    except Exception as exc:
        raise WorksheetError(f"{path.name}: not a readable xlsx workbook ({type(exc).__name__})") from exc
    finally:
        book.close()
    if not tokens:
        raise WorksheetError(f"{path.name}: not a door-visit worksheet of this system (no worksheet tab in it)")
    if len({(t["sheet"], t["c"]) for t in tokens}) > 1:
        raise WorksheetError(f"{path.name}: holds tabs of several worksheets; import each worksheet on its own")
    return Book(str(tokens[0]["sheet"]), str(tokens[0]["c"]), rows)


def _refused(row: _Row, code: RowCode, detail: str = "", persons: int = 0) -> RowReport:
    outcome = RowOutcome.SKIPPED if code is RowCode.EMPTY else RowOutcome.REFUSED
    return RowReport(row.tab, row.row, row.number, outcome, code, detail + REASONS[code], persons)


def _row_token(row: _Row, key: bytes) -> dict[str, Any] | RowCode:
    """The row's token if it is genuine and the printed cells are as printed; else why not."""
    token_text, token_mac, row_mac = row.cells[TOKEN_COL], row.cells[TOKEN_MAC_COL], row.cells[ROW_MAC_COL]
    if not token_text:
        return RowCode.NO_TOKEN
    if not hmac.compare_digest(token_mac.encode(), _mac(key, "token", token_text).encode()):
        return RowCode.FORGED
    token = _json(token_text)
    members = token.get("m") if token else None
    if not token or token.get("v") != TOKEN_VERSION or not isinstance(members, list) or not members:
        return RowCode.FORGED
    if not hmac.compare_digest(row_mac.encode(), _mac(key, "row", token_text, *row.cells[:PRINTED]).encode()):
        return RowCode.EDITED
    return token


def _present(text: str, members: int) -> set[int] | None:
    """Member numbers of 在住成员序号 ("1,3", "1、3", "1 3"), or None if any is not a member's number."""
    numbers: set[int] = set()
    for part in filter(None, _MEMBER_SPLIT.split(text.strip())):
        if not part.isdigit() or not 1 <= int(part) <= members:
            return None
        numbers.add(int(part))
    return numbers or None


def _judge(row: _Row, book: Book, key: bytes) -> _Candidate | RowReport | None:
    """A row on its own: None if blank, a report if skipped or refused, else the decisions it asks for."""
    result_text, members_text = row.cells[RESULT_COL].strip(), row.cells[MEMBERS_COL].strip()
    if row.blank:
        return None
    if not result_text and not members_text:
        return _refused(row, RowCode.EMPTY)
    token = _row_token(row, key)
    if isinstance(token, RowCode):
        return _refused(row, token)
    members = [(Side(m[0]), str(m[1]), str(m[2])) for m in token["m"]]
    if token.get("c") != book.community:
        return _refused(row, RowCode.OTHER_COMMUNITY, persons=len(members))
    if token.get("s") != book.sheet_id:
        return _refused(row, RowCode.OTHER_SHEET, persons=len(members))
    try:
        result = VisitResult.from_label(result_text)
    except ValueError:
        return _refused(
            row, RowCode.UNKNOWN_RESULT if result_text else RowCode.MEMBERS_NOT_PRESENT, f"“{result_text}”："
        )
    present: set[int] | None = None
    if members_text:
        if result is not VisitResult.PRESENT:
            return _refused(row, RowCode.MEMBERS_NOT_PRESENT, persons=len(members))
        present = _present(members_text, len(members))
        if present is None:
            return _refused(row, RowCode.BAD_MEMBERS, f"“{members_text}”：", len(members))
    kinds: list[DecisionKind] = []
    for number, (side, _, _) in enumerate(members, start=1):
        said = result if present is None or number in present else VisitResult.NOT_PRESENT
        kind = said.decision(side)
        if kind is None:
            category = HOUSEHOLD if side is Side.REGISTER else FLAT
            return _refused(row, RowCode.NOT_APPLICABLE, f"“{said.label}”/{category}：", len(members))
        kinds.append(kind)
    note = row.cells[NOTE_COL].strip() or None
    return _Candidate(row, book.community, members, kinds, note)


def _tonight(data_dir: Path, keys: Iterable[tuple[Side, str]]) -> dict[tuple[Side, str], dict[str, Any]]:
    """Tonight's published records by (side, record key): fingerprint, status and the decision applied to it."""
    out: dict[tuple[Side, str], dict[str, Any]] = {}
    wanted: dict[Side, list[str]] = {}
    for side, record_key in keys:
        wanted.setdefault(side, []).append(record_key)
    with published(data_dir) as con:
        for side, record_keys in wanted.items():
            for record in dict_rows(
                con,
                f"""SELECT r.record_key, r.fingerprint, s.status, s.decision, s.decision_outcome
                    FROM {record_table(side)} r JOIN run.record_status s ON s.side = ? AND s.idx = r.idx
                    WHERE r.record_key IN (SELECT unnest(?))""",  # noqa: S608  tables from services.reader
                [side.value, sorted(set(record_keys))],
            ):
                out.setdefault((side, record["record_key"]), record)
    return out


_LONE_KINDS = frozenset(k.value for k in DecisionKind if not k.is_pair)


def _still_open(record: dict[str, Any], side: Side) -> bool:
    """Whether a lone decision may still be made on this record: it is lone tonight, or rests on a lone decision."""
    if record["status"] == _LONE_STATUS[side].value:
        return True
    return record["decision"] in _LONE_KINDS and record["decision_outcome"] == "applied"


def _against_tonight(candidate: _Candidate, tonight: dict[tuple[Side, str], dict[str, Any]]) -> RowReport | None:
    """Refuse the row if a member's record is gone, changed since printing, or no longer open."""
    worst: dict[RowCode, list[str]] = {}
    for number, (side, record_key, fingerprint) in enumerate(candidate.members, start=1):
        record = tonight.get((side, record_key))
        if record is None:
            code = RowCode.GONE
        elif record["fingerprint"] != fingerprint:
            code = RowCode.CHANGED
        elif not _still_open(record, side):
            code = RowCode.CLOSED
        else:
            continue
        worst.setdefault(code, []).append(str(number))
    for code in (RowCode.CHANGED, RowCode.GONE, RowCode.CLOSED):
        if code in worst:
            return _refused(candidate.source, code, f"第{'、'.join(worst[code])}位成员：", len(candidate.members))
    return None


def _keys(community: str, side: Side, record_key: str, fingerprint: str) -> ItemKeys:
    if side is Side.REGISTER:
        return ItemKeys(community, register_key=record_key, register_fingerprint=fingerprint)
    return ItemKeys(community, roll_key=record_key, roll_fingerprint=fingerprint)


def _standing(state: Path) -> dict[tuple[str | None, str | None], tuple[str, str | None, str | None]]:
    """The active decisions: (register_key, roll_key) → (kind, register_fingerprint, roll_fingerprint)."""
    return {
        (d["register_key"], d["roll_key"]): (d["kind"], d["register_fingerprint"], d["roll_fingerprint"])
        for d in active_decisions(state).iter_rows(named=True)
    }


def _judge_all(book: Book, key: bytes) -> tuple[list[RowReport], list[_Candidate]]:
    """Every row on its own, then rows naming the same person twice refused together."""
    reports: list[RowReport] = []
    candidates: list[_Candidate] = []
    for row in book.rows:
        judged = _judge(row, book, key)
        if isinstance(judged, RowReport):
            reports.append(judged)
        elif judged is not None:
            candidates.append(judged)
    seen: dict[tuple[Side, str], int] = {}
    for candidate in candidates:
        for side, record_key, _ in candidate.members:
            seen[(side, record_key)] = seen.get((side, record_key), 0) + 1
    kept = []
    for candidate in candidates:
        if any(seen[(side, record_key)] > 1 for side, record_key, _ in candidate.members):
            reports.append(_refused(candidate.source, RowCode.DUPLICATE, persons=len(candidate.members)))
        else:
            kept.append(candidate)
    return reports, kept


def import_worksheet(data_dir: Path, path: Path, *, user: User) -> ImportReport:
    """Apply a filled worksheet: refuse row by row, record the rest as one batch of decisions, record it back.

    Args:
        data_dir: The data directory.
        path: The filled .xlsx.
        user: Who imports it: an operator of the sheet's community.

    Returns:
        The report, row by row (spreadsheet row numbers), with the decisions made and left unchanged.

    Raises:
        WorksheetError: not a worksheet of this data directory (names the file).
        WorksheetRefused: the user may not import this community's worksheets.
    """
    paths = DataPaths(data_dir)
    if user.role not in DECIDING_ROLES:  # before the file is even opened
        raise WorksheetRefused(f"{user.username} may not import worksheets: only a community's operators")
    book = read_book(path, _sheet_key(data_dir))
    check_access(user, book.community)
    if fieldwork.sheet(paths.state, book.sheet_id) is None:
        raise WorksheetError(f"{path.name}: worksheet {book.sheet_id} was not handed out from this data directory")
    reports, candidates = _judge_all(book, _sheet_key(data_dir))
    tonight = _tonight(data_dir, ((side, k) for c in candidates for side, k, _ in c.members))
    standing = _standing(paths.state)
    planned: list[tuple[DecisionKind, ItemKeys, str | None]] = []
    for candidate in candidates:
        refused = _against_tonight(candidate, tonight)
        if refused is not None:
            reports.append(refused)
            continue
        new = False
        for (side, record_key, fingerprint), kind in zip(candidate.members, candidate.kinds, strict=True):
            keys = _keys(candidate.community, side, record_key, fingerprint)
            now = (kind.value, keys.register_fingerprint, keys.roll_fingerprint)
            new |= standing.get((keys.register_key, keys.roll_key)) != now
            planned.append((kind, keys, candidate.note))
        code = RowCode.APPLIED if new else RowCode.UNCHANGED
        outcome = RowOutcome.APPLIED if new else RowOutcome.UNCHANGED
        row = candidate.source
        reports.append(RowReport(row.tab, row.row, row.number, outcome, code, REASONS[code], len(candidate.members)))
    result = _record(paths.state, username=user.username, planned=planned, sheet_id=book.sheet_id)
    order = {(row.tab, row.row): i for i, row in enumerate(book.rows)}  # the workbook's tab and row order
    report = ImportReport(
        file=path.name,
        sheet_id=book.sheet_id,
        community_code=book.community,
        rows=tuple(sorted(reports, key=lambda r: order[(r.tab, r.row)])),
        made=result[0],
        unchanged=result[1],
        batch_id=result[2],
    )
    fieldwork.sheet_back(
        paths.state,
        sheet_id=book.sheet_id,
        username=user.username,
        applied=report.count(RowOutcome.APPLIED) + report.count(RowOutcome.UNCHANGED),
        refused=report.count(RowOutcome.REFUSED),
    )
    return report


def _record(
    state: Path, *, username: str, planned: Sequence[tuple[DecisionKind, ItemKeys, str | None]], sheet_id: str
) -> tuple[int, int, str | None]:
    """Record the planned decisions as one batch (source `worksheet:<sheet id>`): (made, unchanged, batch id).

    Each planned decision carries its row's 备注, stored on that row's people's decisions only.
    """
    if not planned:
        return 0, 0, None
    result = decide_batch(
        state,
        username=username,
        decisions=[(kind, keys) for kind, keys, _ in planned],
        source=f"worksheet:{sheet_id}",
        notes=[remark for _, _, remark in planned],
    )
    return result.made, result.unchanged, result.batch_id


def sheets(state: Path, community: str) -> list[dict[str, Any]]:
    """The worksheets handed out for a community, newest first, with their import counts."""
    if not state.exists():
        return []
    with connect(state) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute(
            "SELECT * FROM worksheets WHERE community_code = ? ORDER BY created_at DESC, sheet_id DESC", (community,)
        ).fetchall()
    return [dict(r) for r in rows]
