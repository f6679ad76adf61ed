"""Door-visit worksheets out and back, as the operator state records them (table `worksheets`).

A worksheet's import records its decisions under the source `worksheet:<sheet id>` (`worksheet_source`); the
rule that a sheet counts as back while an import of it stands, and no longer once that import is withdrawn, is
kept here (`mark_back`, `withdrawn`), applied in the transaction that imports or undoes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.audit import audit, now
from services.state import connect

if TYPE_CHECKING:
    import sqlite3
    from pathlib import Path

WORKSHEET_SOURCE = "worksheet:"
"""`decisions.source` of a worksheet import starts so and names the sheet: `worksheet:<sheet id>`."""


def worksheet_source(sheet_id: str) -> str:
    """The `decisions.source` of the decisions a worksheet's import makes."""
    return WORKSHEET_SOURCE + sheet_id


def sheet_of_source(source: str | None) -> str | None:
    """The sheet id a decision's source names, or None for a decision not made by a worksheet import."""
    if source and source.startswith(WORKSHEET_SOURCE):
        return source.removeprefix(WORKSHEET_SOURCE) or None
    return None


def sheet_out(
    state: Path,
    *,
    sheet_id: str,
    community_code: str,
    grid: str | None,
    run_id: str,
    rows: int,
    username: str,
    created_at: str | None = None,
) -> None:
    """Record a worksheet handed out (audited).

    `created_at` (UTC ISO, default now) is when its rows were read: a decision made after it is one the sheet
    did not see, which its import will not overwrite (`services.worksheet.apply`).
    """
    with connect(state) as conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            """INSERT INTO worksheets (sheet_id, community_code, grid, run_id, rows, username, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?)""",
            (sheet_id, community_code, grid, run_id, rows, username, created_at or now()),
        )
        audit(conn, username, "worksheet_out", sheet_id, None, {"community": community_code, "rows": rows}, grid)


def sheet_in(conn: sqlite3.Connection, sheet_id: str) -> dict[str, Any] | None:
    """One worksheet's record read on an open connection (the caller's transaction), or None if never handed out."""
    cur = conn.execute("SELECT * FROM worksheets WHERE sheet_id = ?", (sheet_id,))
    row = cur.fetchone()
    return dict(zip([c[0] for c in cur.description], row, strict=True)) if row else None


def sheet(state: Path, sheet_id: str) -> dict[str, Any] | None:
    """One worksheet's record, or None for a sheet this data directory never handed out."""
    with connect(state) as conn:
        return sheet_in(conn, sheet_id)


def mark_back(conn: sqlite3.Connection, *, sheet_id: str, username: str, applied: int, refused: int) -> None:
    """Record a worksheet's import on the caller's open transaction: when, by whom, rows applied and refused (audited)."""
    conn.execute(
        "UPDATE worksheets SET returned_at = ?, returned_by = ?, applied = ?, refused = ? WHERE sheet_id = ?",
        (now(), username, applied, refused, sheet_id),
    )
    audit(conn, username, "worksheet_back", sheet_id, None, {"applied": applied, "refused": refused}, None)


def sheet_back(state: Path, *, sheet_id: str, username: str, applied: int, refused: int) -> None:
    """Record a worksheet's import in its own transaction (`mark_back`)."""
    with connect(state) as conn:
        conn.execute("BEGIN IMMEDIATE")
        mark_back(conn, sheet_id=sheet_id, username=username, applied=applied, refused=refused)


def withdrawn(conn: sqlite3.Connection, *, source: str | None, username: str) -> str | None:
    """After an undo withdrew a batch from `source` (caller's transaction): a worksheet's import no longer counts.

    When the batch was a worksheet's import and none of that sheet's decisions stands any more, the sheet is no
    longer back: its returned_at, returned_by, applied and refused are cleared (audited), so the worksheets page and
    `sheet_counts` no longer count it. An earlier import of the same sheet whose decisions still stand keeps it back.

    Args:
        conn: The open connection, inside the undo's transaction.
        source: The withdrawn batch's `decisions.source`.
        username: Who undid it.

    Returns:
        The sheet id cleared, or None (not a worksheet's batch, or the sheet is still back).
    """
    sheet_id = sheet_of_source(source)
    if sheet_id is None:
        return None
    standing = conn.execute(
        "SELECT count(*) FROM decisions WHERE active = 1 AND source = ?", (worksheet_source(sheet_id),)
    ).fetchone()[0]
    before = conn.execute(
        "SELECT returned_at, returned_by, applied, refused FROM worksheets WHERE sheet_id = ?", (sheet_id,)
    ).fetchone()
    if standing or before is None or before[0] is None:
        return None
    conn.execute(
        """UPDATE worksheets SET returned_at = NULL, returned_by = NULL, applied = NULL, refused = NULL
           WHERE sheet_id = ?""",
        (sheet_id,),
    )
    was = dict(zip(("returned_at", "returned_by", "applied", "refused"), before, strict=True))
    audit(conn, username, "worksheet_withdrawn", sheet_id, was, None, "import undone: the sheet is no longer back")
    return sheet_id


def sheet_counts(state: Path) -> dict[str, dict[str, int]]:
    """Worksheets handed out and returned, per community: {community_code: {"out": n, "back": n}}."""
    if not state.exists():
        return {}
    with connect(state) as conn:
        rows = conn.execute(
            """SELECT community_code, count(*), count(returned_at) FROM worksheets GROUP BY community_code"""
        ).fetchall()
    return {code: {"out": int(out), "back": int(back)} for code, out, back in rows}
