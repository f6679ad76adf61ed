"""Door-visit worksheets out and back, as the operator state records them (table `worksheets`)."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from services.audit import audit, now
from services.state import connect

if TYPE_CHECKING:
    from pathlib import Path


def sheet_out(
    state: Path, *, sheet_id: str, community_code: str, grid: str | None, run_id: str, rows: int, username: str
) -> None:
    """Record a worksheet handed out (audited)."""
    with connect(state) as conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            """INSERT INTO worksheets (sheet_id, community_code, grid, run_id, rows, username, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?)""",
            (sheet_id, community_code, grid, run_id, rows, username, now()),
        )
        audit(conn, username, "worksheet_out", sheet_id, None, {"community": community_code, "rows": rows}, grid)


def sheet(state: Path, sheet_id: str) -> dict[str, Any] | None:
    """One worksheet's record, or None for a sheet this data directory never handed out."""
    with connect(state) as conn:
        conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT * FROM worksheets WHERE sheet_id = ?", (sheet_id,)).fetchone()
    return dict(row) if row else None


def sheet_back(state: Path, *, sheet_id: str, username: str, applied: int, refused: int) -> None:
    """Record a worksheet's import: when, by whom, how many rows were applied and refused (audited)."""
    with connect(state) as conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            """UPDATE worksheets SET returned_at = ?, returned_by = ?, applied = ?, refused = ?
               WHERE sheet_id = ?""",
            (now(), username, applied, refused, sheet_id),
        )
        audit(conn, username, "worksheet_back", sheet_id, None, {"applied": applied, "refused": refused}, None)


def sheet_counts(state: Path) -> dict[str, dict[str, int]]:
    """Worksheets handed out and returned, per community: {community_code: {"out": n, "back": n}}."""
    if not state.exists():
        return {}
    with connect(state) as conn:
        rows = conn.execute(
            """SELECT community_code, count(*), count(returned_at) FROM worksheets GROUP BY community_code"""
        ).fetchall()
    return {code: {"out": int(out), "back": int(back)} for code, out, back in rows}
