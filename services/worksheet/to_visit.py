"""What a worksheet holds: the households and flats to visit, read from the published run.

A row is a registered household with open 户在人不在 members (类别 户籍户) or a flat with open 人在户不在
occupants (类别 居住房屋), sorted by grid and address so a grid worker visits a building once. Records an
operator settled since the run are left out (a door-visit decision settles nothing: those are printed again).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from schemas.codes import DecisionKind, Evidence, Side, Status
from schemas.labels import RECORDED
from services.decisions import active_decisions
from services.paths import DataPaths
from services.reader import dict_rows, once_a_publish, published, record_table
from services.worksheet.layout import FLAT, HOUSEHOLD, UNKNOWN_GRID

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from pathlib import Path

    import duckdb

LONE_STATUS = {Side.REGISTER: Status.ABSENT, Side.ROLL: Status.UNREGISTERED}
"""The status of an open lone record of each side: what a worksheet lists and an import may still settle."""


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
    """The community's open lone records of one side, with what a worker needs to find them (read, never change).

    Read once a publish (`services.reader.once_a_publish`): what operators decided since is skipped afterwards.
    """
    return once_a_publish(con, ("open records", side, community), lambda: _read_open_records(con, side, community))


def _flat_counts(con: duckdb.DuckDBPyConnection, counted: Side, community: str, of: Side) -> dict[str, int]:
    """`_counts_at` of every flat the community's open records of side `of` name, once a publish (read only)."""
    return once_a_publish(
        con,
        ("flat counts", counted, community, of),
        lambda: _counts_at(con, counted, {r["flat"] for r in _open_records(con, of, community)}),
    )


def _read_open_records(con: duckdb.DuckDBPyConnection, side: Side, community: str) -> list[dict[str, Any]]:
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
        [side.value, LONE_STATUS[side].value, community],
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


NO_ROLL_RECORD = "无实有人口记录"
"""实有人口采集情况 of a flat no roll row names (never 未登记: that reads as "no 户籍")."""
ROLL_EMPTY = "实有人口记录为空置"
"""实有人口采集情况 of a flat the roll records as empty."""


def _household_recorded(records: Sequence[dict[str, Any]], at_flat: int) -> str:
    """实有人口采集情况 of a household's flat: 实有已采集3人(自2024-05起)，其中本户1人 / 无实有人口记录 / 空置."""
    if any(r["evidence"] == Evidence.FLAT_EMPTY for r in records):
        return ROLL_EMPTY
    if at_flat == 0:
        return NO_ROLL_RECORD
    others = max((r["others_at_flat"] or 0) for r in records)
    since = min((r["others_since"] for r in records if r["others_since"]), default=None)
    text = f"{RECORDED}{at_flat}人" + (f"(自{since:%Y-%m}起)" if since else "")
    return text + (f"，其中本户{at_flat - others}人" if at_flat > others else "")


def _grid(records: Sequence[dict[str, Any]]) -> str:
    grids = sorted({str(r["grid"]) for r in records if r["grid"]})
    return grids[0] if grids else UNKNOWN_GRID


def _grouped(
    records: Iterable[dict[str, Any]], side: Side, skip: set[tuple[str, str]]
) -> dict[str, list[dict[str, Any]]]:
    """A worksheet's rows: open records (not in `skip`) by registered household (register) or flat (roll).

    A record without one is a row of its own.
    """
    by = "household_key" if side is Side.REGISTER else "flat"
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        if (record["record_key"], record["fingerprint"]) not in skip:
            groups.setdefault(record[by] or f"?{record['record_key']}", []).append(record)
    return groups


def _households(con: duckdb.DuckDBPyConnection, community: str, skip: set[tuple[str, str]]) -> list[Visit]:
    """One row per registered household with open 户在人不在 members."""
    groups = _grouped(_open_records(con, Side.REGISTER, community), Side.REGISTER, skip)
    at_flat = _flat_counts(con, Side.ROLL, community, Side.REGISTER)  # of every open record's flat: these among them
    names = community_names(con)
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
    groups = _grouped(_open_records(con, Side.ROLL, community), Side.ROLL, skip)
    at_flat = _flat_counts(con, Side.ROLL, community, Side.ROLL)  # of every open record's flat: these among them
    registered = _flat_counts(con, Side.REGISTER, community, Side.ROLL)
    names = community_names(con)
    visits = []
    for flat, occupants in groups.items():
        addresses = list(dict.fromkeys((o["address_raw"] or "").strip() for o in occupants if o["address_raw"]))
        here = registered.get(flat, 0)
        recorded = f"{RECORDED}{at_flat.get(flat, len(occupants))}人；" + (
            f"本址户籍{here}人" if here else "本址无户籍"
        )
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


def community_names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Every published community's name by its code (the code where it has no name)."""
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
    """Rows to visit per grid (`UNKNOWN_GRID` last): what the app offers to print (the rows `visits` would make)."""
    skip = _decided_today(DataPaths(data_dir).state)
    counts: dict[str, int] = {}
    with published(data_dir) as con:
        for side in Side:
            for members in _grouped(_open_records(con, side, community), side, skip).values():
                grid = _grid(members)
                counts[grid] = counts.get(grid, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: (item[0] == UNKNOWN_GRID, item[0])))
