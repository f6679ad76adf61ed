"""Importing a filled worksheet: each row checked, then the rest applied as one batch of decisions.

Importing refuses row by row (another community's row, an unknown or inapplicable result, bad member numbers, a
record changed since printing, a member decided otherwise after the sheet was printed) and applies the rest as ONE
batch of decisions (`services.decisions.decide_batch_in`), so a re-import changes nothing and `undo_last`
withdraws an import as a unit. What stands is read, the rows judged against it, the decisions recorded and the
sheet marked back in one transaction: two imports at once cannot overwrite each other unseen.

A decision standing on a member's record is what the row supersedes when it was made before the sheet was printed
(the worker saw the household at the door after it). One made after the printing that says otherwise (another
sheet, a household or flat action, an item page) is not overwritten: the row is refused (`RowCode.CONFLICT`) and
the report names it. Not counted as such: the same decision, a door-visit request (the visit is what the sheet
brings back) and this sheet's own earlier import (a corrected re-import of the same sheet applies).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from schemas.codes import DecisionKind, Side, VisitResult
from services import fieldwork
from services.access import DECIDING_ROLES
from services.clock import local_time, when
from services.decisions import ItemKeys, active_on, decide_batch_in, is_same, source_label
from services.paths import DataPaths
from services.reader import dict_rows, published, record_table
from services.state import connect
from services.worksheet.access import WorksheetRefused, check_access
from services.worksheet.layout import FLAT, HOUSEHOLD, MEMBERS_COL, NOTE_COL, RESULT_COL
from services.worksheet.read import WorksheetError, read_book
from services.worksheet.report import REASONS, ImportReport, RowCode, RowOutcome, RowReport
from services.worksheet.to_visit import LONE_STATUS
from services.worksheet.tokens import row_token, sheet_key

if TYPE_CHECKING:
    import datetime as dt
    import sqlite3
    from collections.abc import Iterable
    from pathlib import Path

    from services.accounts import User
    from services.worksheet.read import Book, Row

_MEMBER_SPLIT = re.compile(r"[,，、;；/\s]+")


@dataclass(slots=True)
class _Candidate:
    """A row that passed the checks on its own: its members and the decision each gets."""

    source: Row
    community: str
    members: list[tuple[Side, str, str]]
    kinds: list[DecisionKind]
    results: list[VisitResult]
    """What the row says of each member (the row's result, or 不在住 for a member not listed as present)."""
    note: str | None

    def keys(self) -> list[ItemKeys]:
        """The members' items, as decisions name them."""
        return [_keys(self.community, side, key, fingerprint) for side, key, fingerprint in self.members]

    def recorded(self) -> str:
        """What the row records per member, by member number only: `1、3 在住；2 不在住`."""
        numbers: dict[VisitResult, list[str]] = {}
        for number, result in enumerate(self.results, start=1):
            numbers.setdefault(result, []).append(str(number))
        return "；".join(f"{'、'.join(n)} {result.label}" for result, n in numbers.items())


def _refused(row: Row, code: RowCode, detail: str = "", persons: int = 0) -> RowReport:
    outcome = RowOutcome.SKIPPED if code is RowCode.EMPTY else RowOutcome.REFUSED
    return RowReport(row.tab, row.row, row.number, outcome, code, detail + REASONS[code], persons)


def _present(text: str, members: int) -> set[int] | None:
    """Member numbers of 在住成员序号 ("1,3", "1、3", "1 3"), or None if any is not a member's number."""
    numbers: set[int] = set()
    for part in filter(None, _MEMBER_SPLIT.split(text.strip())):
        if not part.isdigit() or not 1 <= int(part) <= members:
            return None
        numbers.add(int(part))
    return numbers or None


def _judge(row: Row, book: Book, key: bytes) -> _Candidate | RowReport | None:
    """A row on its own: None if blank, a report if skipped or refused, else the decisions it asks for."""
    result_text, members_text = row.cells[RESULT_COL].strip(), row.cells[MEMBERS_COL].strip()
    if row.blank:
        return None
    if not result_text and not members_text:
        return _refused(row, RowCode.EMPTY)
    token = row_token(row.cells, key)
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
    results: list[VisitResult] = []
    for number, (side, _, _) in enumerate(members, start=1):
        said = result if present is None or number in present else VisitResult.NOT_PRESENT
        kind = said.decision(side)
        if kind is None:
            category = HOUSEHOLD if side is Side.REGISTER else FLAT
            return _refused(row, RowCode.NOT_APPLICABLE, f"“{said.label}”/{category}：", len(members))
        kinds.append(kind)
        results.append(said)
    note = row.cells[NOTE_COL].strip() or None
    return _Candidate(row, book.community, members, kinds, results, note)


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
    if record["status"] == LONE_STATUS[side].value:
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


def _after_printing(standing: dict[str, Any], printed_at: dt.datetime | None) -> bool:
    """Whether a standing decision was made after the sheet was printed (the same second counts as after)."""
    decided_at = when(standing["decided_at"])
    return printed_at is None or decided_at is None or decided_at >= printed_at


def _conflict(
    candidate: _Candidate, standing: list[dict[str, Any] | None], printed_at: dt.datetime | None, own: str
) -> RowReport | None:
    """Refuse the row if a member's record was decided otherwise after the sheet was printed; name that decision.

    Args:
        candidate: The row, checked on its own and against tonight's records.
        standing: The active decision on each member's record (None where none), in member order.
        printed_at: When the sheet was handed out (`worksheets.created_at`).
        own: This sheet's decision source: its own earlier import is what a re-import corrects.

    Returns:
        The refusal, or None when nothing made after the printing says otherwise.
    """
    found: dict[tuple[str, str, str, str], list[str]] = {}
    for number, (kind, decision) in enumerate(zip(candidate.kinds, standing, strict=True), start=1):
        if (
            decision is None
            or decision["kind"] in (kind.value, DecisionKind.DOOR_VISIT.value)
            or decision["source"] == own
            or not _after_printing(decision, printed_at)
        ):
            continue
        said = (decision["kind"], decision["source"] or "", decision["username"], local_time(decision["decided_at"]))
        found.setdefault(said, []).append(str(number))
    if not found:
        return None
    details = [
        f"第{'、'.join(numbers)}位成员在打印本表后已有决定“{DecisionKind(kind).label}”"
        f"（{source_label(source or None)}，{username}，{at}）"
        for (kind, source, username, at), numbers in found.items()
    ]
    return _refused(candidate.source, RowCode.CONFLICT, "；".join(details) + "：", len(candidate.members))


def _apply(
    conn: sqlite3.Connection, book: Book, candidates: list[_Candidate], username: str
) -> tuple[list[RowReport], tuple[int, int, str | None]]:
    """In the import's transaction: judge each row against what stands, record the rest as one batch.

    Returns:
        The rows' reports (applied, unchanged or refused as a conflict), and (made, unchanged, batch id).
    """
    printed = fieldwork.sheet_in(conn, book.sheet_id)
    printed_at = when(printed["created_at"]) if printed else None
    own = fieldwork.worksheet_source(book.sheet_id)
    reports: list[RowReport] = []
    planned: list[tuple[DecisionKind, ItemKeys]] = []
    notes: list[str | None] = []
    for candidate in candidates:
        keys = candidate.keys()
        standing = [active_on(conn, k) for k in keys]
        refused = _conflict(candidate, standing, printed_at, own)
        if refused is not None:
            reports.append(refused)
            continue
        new = not all(is_same(s, kind, k) for s, kind, k in zip(standing, candidate.kinds, keys, strict=True))
        planned.extend(zip(candidate.kinds, keys, strict=True))
        notes.extend([candidate.note] * len(keys))
        code = RowCode.APPLIED if new else RowCode.UNCHANGED
        outcome = RowOutcome.APPLIED if new else RowOutcome.UNCHANGED
        row = candidate.source
        reason = f"{candidate.recorded()}：{REASONS[code]}"
        reports.append(RowReport(row.tab, row.row, row.number, outcome, code, reason, len(candidate.members)))
    if not planned:
        return reports, (0, 0, None)
    result = decide_batch_in(conn, username=username, decisions=planned, source=own, notes=notes)
    return reports, (result.made, result.unchanged, result.batch_id)


def import_worksheet(data_dir: Path, path: Path, *, user: User) -> ImportReport:
    """Apply a filled worksheet: refuse row by row, record the rest as one batch of decisions, record it back.

    Rows are checked on their own and against tonight's records first; then, in one transaction, against the
    decisions standing now (`_conflict`), recorded (source `worksheet:<sheet id>`, each row's 备注 on its people's
    decisions only) and the sheet marked back.

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
    book = read_book(path, sheet_key(data_dir))
    check_access(user, book.community)
    if fieldwork.sheet(paths.state, book.sheet_id) is None:
        raise WorksheetError(f"{path.name}: worksheet {book.sheet_id} was not handed out from this data directory")
    reports, candidates = _judge_all(book, sheet_key(data_dir))
    tonight = _tonight(data_dir, ((side, k) for c in candidates for side, k, _ in c.members))
    fresh: list[_Candidate] = []
    for candidate in candidates:
        refused = _against_tonight(candidate, tonight)
        if refused is not None:
            reports.append(refused)
        else:
            fresh.append(candidate)
    order = {(row.tab, row.row): i for i, row in enumerate(book.rows)}  # the workbook's tab and row order
    with connect(paths.state) as conn:
        conn.execute("BEGIN IMMEDIATE")
        judged, (made, unchanged, batch_id) = _apply(conn, book, fresh, user.username)
        report = ImportReport(
            file=path.name,
            sheet_id=book.sheet_id,
            community_code=book.community,
            rows=tuple(sorted([*reports, *judged], key=lambda r: order[(r.tab, r.row)])),
            made=made,
            unchanged=unchanged,
            batch_id=batch_id,
        )
        fieldwork.mark_back(
            conn,
            sheet_id=book.sheet_id,
            username=user.username,
            applied=report.count(RowOutcome.APPLIED) + report.count(RowOutcome.UNCHANGED),
            refused=report.count(RowOutcome.REFUSED),
        )
    return report
