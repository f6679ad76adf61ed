"""Operator state and run history in SQLite (WAL): the web app writes it, the
nightly flow reads it, both at once."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    outcome TEXT NOT NULL,
    inputs TEXT NOT NULL DEFAULT '[]',
    counts TEXT NOT NULL DEFAULT '{}',
    timings TEXT NOT NULL DEFAULT '{}',
    error TEXT
);
"""


@contextmanager
def connect(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection in WAL mode with the schema in place; commits on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA busy_timeout=30000")
        conn.executescript(SCHEMA)
        yield conn
        conn.commit()
    finally:
        conn.close()


def record_run_start(path: Path, run_id: str, started_at: str) -> None:
    with connect(path) as conn:
        conn.execute("INSERT INTO runs (run_id, started_at, outcome) VALUES (?, ?, 'running')", (run_id, started_at))


def record_run_end(
    path: Path,
    run_id: str,
    *,
    finished_at: str,
    outcome: str,
    inputs: list[dict[str, Any]],
    counts: dict[str, Any],
    timings: dict[str, float],
    error: str | None = None,
) -> None:
    with connect(path) as conn:
        conn.execute(
            "UPDATE runs SET finished_at=?, outcome=?, inputs=?, counts=?, timings=?, error=? WHERE run_id=?",
            (
                finished_at,
                outcome,
                json.dumps(inputs, ensure_ascii=False),
                json.dumps(counts),
                json.dumps(timings),
                error,
                run_id,
            ),
        )


def runs(path: Path) -> list[dict[str, Any]]:
    """Every recorded run, oldest first."""
    with connect(path) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM runs ORDER BY started_at, run_id")]
