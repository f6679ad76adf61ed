"""Operators' decisions, recorded with an append-only audit trail.

The nightly run reads them back and applies them by stable record keys (never row numbers).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from services.audit import audit, now
from services.state import connect

if TYPE_CHECKING:
    from pathlib import Path

    from schemas.codes import DecisionKind


def item_label(register_key: str | None, roll_key: str | None) -> str:
    """An item as the audit log names it: `register_key~roll_key`, '-' for an absent side."""
    return f"{register_key or '-'}~{roll_key or '-'}"


@dataclass(frozen=True, slots=True)
class ItemKeys:
    """The records an item is about (either side may be absent)."""

    community_code: str
    register_key: str | None = None
    roll_key: str | None = None
    register_fingerprint: str | None = None
    roll_fingerprint: str | None = None

    @property
    def label(self) -> str:
        """The item as the audit log names it."""
        return item_label(self.register_key, self.roll_key)


def _active_for(conn: sqlite3.Connection, keys: ItemKeys) -> sqlite3.Row | None:
    conn.row_factory = sqlite3.Row
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM decisions WHERE active = 1 AND register_key IS ? AND roll_key IS ? ORDER BY id DESC LIMIT 1",
        (keys.register_key, keys.roll_key),
    ).fetchone()
    return row


def decide(state: Path, *, username: str, kind: DecisionKind, keys: ItemKeys, note: str | None = None) -> int:
    """Record a decision (superseding an earlier one on the same item); returns its id."""
    with connect(state) as conn:
        previous = _active_for(conn, keys)
        if previous is not None:
            conn.execute("UPDATE decisions SET active = 0 WHERE id = ?", (previous["id"],))
        cur = conn.execute(
            """INSERT INTO decisions (kind, register_key, roll_key, register_fingerprint, roll_fingerprint,
                                      community_code, note, username, decided_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                kind.value,
                keys.register_key,
                keys.roll_key,
                keys.register_fingerprint,
                keys.roll_fingerprint,
                keys.community_code,
                note,
                username,
                now(),
            ),
        )
        audit(conn, username, "decide", keys.label, previous["kind"] if previous else None, kind.value, note)
        return int(cur.lastrowid or 0)


def undo_last(state: Path, *, username: str) -> dict[str, Any] | None:
    """Withdraw the user's own most recent active decision; restore the one it superseded."""
    with connect(state) as conn:
        conn.row_factory = sqlite3.Row
        last = conn.execute(
            "SELECT * FROM decisions WHERE username = ? AND active = 1 ORDER BY id DESC LIMIT 1", (username,)
        ).fetchone()
        if last is None:
            return None
        conn.execute("UPDATE decisions SET active = 0 WHERE id = ?", (last["id"],))
        earlier = conn.execute(
            """SELECT id, kind FROM decisions WHERE register_key IS ? AND roll_key IS ? AND id < ? AND active = 0
               ORDER BY id DESC LIMIT 1""",
            (last["register_key"], last["roll_key"], last["id"]),
        ).fetchone()
        if earlier is not None:
            conn.execute("UPDATE decisions SET active = 1 WHERE id = ?", (earlier["id"],))
        audit(
            conn,
            username,
            "undo",
            item_label(last["register_key"], last["roll_key"]),
            last["kind"],
            earlier["kind"] if earlier else None,
            None,
        )
        return dict(last)


def active_decisions(state: Path | None) -> pl.DataFrame:
    """Every active decision (what the nightly run applies); none without a state database."""
    schema = {
        "id": pl.Int64,
        "kind": pl.String,
        "register_key": pl.String,
        "roll_key": pl.String,
        "register_fingerprint": pl.String,
        "roll_fingerprint": pl.String,
        "community_code": pl.String,
        "username": pl.String,
        "decided_at": pl.String,
    }
    if state is None or not state.exists():
        return pl.DataFrame(schema=schema)
    with connect(state) as conn:
        rows = conn.execute(
            "SELECT id, kind, register_key, roll_key, register_fingerprint, roll_fingerprint, community_code,"
            " username, decided_at FROM decisions WHERE active = 1"
        ).fetchall()
    return pl.DataFrame(rows, schema=schema, orient="row")
