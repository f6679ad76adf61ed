"""Handing worksheets out: build one for a community (and grid), record it, list those handed out."""

from __future__ import annotations

import secrets
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from services import fieldwork
from services.audit import now
from services.clock import local_time, local_today
from services.export import safe_file_name
from services.paths import DataPaths
from services.reader import published
from services.reader import run_id as published_run_id
from services.state import connect
from services.worksheet.layout import FLAT, HOUSEHOLD, SHEET_TITLE
from services.worksheet.to_visit import community_names, visits
from services.worksheet.tokens import sheet_key
from services.worksheet.write import SheetMeta, tab_names, write_workbook

if TYPE_CHECKING:
    from pathlib import Path


class NothingToVisit(ValueError):
    """No open 户在人不在 / 人在户不在 record in the community (or grid) asked for."""


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
        names = community_names(con)
        run_id = published_run_id(con)
    if community not in names:
        raise ValueError(f"no community {community!r} in the published results")
    read_at = now()  # before the rows are read: a decision made from here on is one the sheet did not see
    rows = visits(data_dir, community, grid or None)
    if not rows:
        where = f"{community} {grid}" if grid else community
        raise NothingToVisit(f"{where}: 没有待入户核查的记录 (nothing to visit: no open records)")
    today = local_today()  # the office's date, whatever zone the server runs in
    meta = SheetMeta(
        sheet_id=f"{today:%Y%m%d}-{secrets.token_hex(4)}",
        community=community,
        community_name=names[community],
        run_id=run_id,
        printed_on=today.isoformat(),
        key=sheet_key(data_dir),
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
        created_at=read_at,
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
        tabs=tuple(tab_names(list(dict.fromkeys(v.grid for v in rows)))),
    )


def sheets(state: Path, community: str) -> list[dict[str, Any]]:
    """The worksheets handed out for a community, newest first, with their import counts.

    Times as stored (UTC ISO), and as shown: `printed` and `returned` in the office's zone (`clock.local_time`).
    """
    if not state.exists():
        return []
    with connect(state) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute(
            "SELECT * FROM worksheets WHERE community_code = ? ORDER BY created_at DESC, sheet_id DESC", (community,)
        ).fetchall()
    return [dict(r) | {"printed": local_time(r["created_at"]), "returned": local_time(r["returned_at"])} for r in rows]
