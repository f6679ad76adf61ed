"""The audit trail: who did what to which item, when.

Append-only (triggers in `services.state`) and tamper-evident: each row stores
the hash of the row before it (`prev_hash`) and its own `hash` over its content
and `prev_hash`, so a row edited, removed or replaced behind the triggers' back
breaks the chain from there on (`verify_chain`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from typing import TYPE_CHECKING, Any

from services.state import AUDIT_TRIGGERS, connect

if TYPE_CHECKING:
    from pathlib import Path

GENESIS = "0" * 64
"""The `prev_hash` of the first row."""

CONTENT = ("id", "at", "username", "action", "item", "before", "after", "note")
"""The columns a row's hash covers, besides `prev_hash`."""


def now() -> str:
    """The current UTC time as ISO 8601, to the second."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def row_hash(row: dict[str, Any], prev_hash: str) -> str:
    """The hash of an audit row: SHA-256 over its content (`CONTENT`) and the previous row's hash."""
    payload = json.dumps([prev_hash, *(row[c] for c in CONTENT)], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def _last(conn: sqlite3.Connection) -> tuple[int, str]:
    """The id and hash of the newest row; (0, GENESIS) for an empty log."""
    row = conn.execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    return (int(row[0]), str(row[1])) if row else (0, GENESIS)


def audit(
    conn: sqlite3.Connection, username: str, action: str, item: str | None, before: Any, after: Any, note: str | None
) -> None:
    """Append one entry to the audit trail (`before` and `after` are stored as JSON), chained to the last one."""
    if not conn.in_transaction:  # hold the write lock from reading the last row to appending the next
        conn.execute("BEGIN IMMEDIATE")
    last_id, prev_hash = _last(conn)
    row = {
        "id": last_id + 1,
        "at": now(),
        "username": username,
        "action": action,
        "item": item,
        "before": json.dumps(before, ensure_ascii=False),
        "after": json.dumps(after, ensure_ascii=False),
        "note": note,
    }
    conn.execute(
        "INSERT INTO audit (id, at, username, action, item, before, after, note, prev_hash, hash)"
        " VALUES (:id, :at, :username, :action, :item, :before, :after, :note, :prev_hash, :hash)",
        {**row, "prev_hash": prev_hash, "hash": row_hash(row, prev_hash)},
    )


def log_event(state: Path, *, username: str, action: str, item: str | None, after: Any = None) -> None:
    """Append one entry that changes nothing (a search, a full-record view) in its own transaction."""
    with connect(state) as conn:
        audit(conn, username, action, item, None, after, None)


def _rows(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    cur = conn.cursor()
    cur.row_factory = sqlite3.Row
    return [dict(r) for r in cur.execute("SELECT * FROM audit ORDER BY id")]


def seal(conn: sqlite3.Connection) -> None:
    """Chain the rows logged before the log was chained (a migration step, within its transaction).

    Only those: the unchained rows before the first chained one. A row that lost its hash later
    stays unchained, and `verify_chain` reports it.
    """
    legacy = []
    for row in _rows(conn):
        if row["hash"]:
            break
        legacy.append(row)
    if not legacy:
        return
    conn.execute("DROP TRIGGER IF EXISTS audit_no_update")
    prev_hash = GENESIS
    for row in legacy:
        row["hash"] = row_hash(row, prev_hash)
        conn.execute("UPDATE audit SET prev_hash = ?, hash = ? WHERE id = ?", (prev_hash, row["hash"], row["id"]))
        prev_hash = row["hash"]
    for trigger in AUDIT_TRIGGERS:
        conn.execute(trigger)


def head(state: Path) -> str:
    """The hash of the newest row (GENESIS for an empty log): note it elsewhere to anchor the chain."""
    with connect(state) as conn:
        return _last(conn)[1]


def verify_chain(state: Path) -> int | None:
    """The id of the first row that breaks the chain (edited, replaced, or after a removed row); None if intact."""
    with connect(state) as conn:
        rows = _rows(conn)
    prev_hash = GENESIS
    for row in rows:
        if row["prev_hash"] != prev_hash or row["hash"] != row_hash(row, prev_hash):
            return int(row["id"])
        prev_hash = row["hash"]
    return None


def audit_log(state: Path) -> list[dict[str, Any]]:
    """The whole audit trail, oldest first."""
    with connect(state) as conn:
        return _rows(conn)
