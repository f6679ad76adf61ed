"""The audit trail: who did what to which item, when; append-only (triggers in `services.state`)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from typing import TYPE_CHECKING, Any

from services.state import connect

if TYPE_CHECKING:
    from pathlib import Path


def now() -> str:
    """The current UTC time as ISO 8601, to the second."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def audit(
    conn: sqlite3.Connection, username: str, action: str, item: str | None, before: Any, after: Any, note: str | None
) -> None:
    """Append one entry to the audit trail (`before` and `after` are stored as JSON)."""
    conn.execute(
        "INSERT INTO audit (at, username, action, item, before, after, note) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            now(),
            username,
            action,
            item,
            json.dumps(before, ensure_ascii=False),
            json.dumps(after, ensure_ascii=False),
            note,
        ),
    )


def audit_log(state: Path) -> list[dict[str, Any]]:
    """The whole audit trail, oldest first."""
    with connect(state) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM audit ORDER BY id")]
