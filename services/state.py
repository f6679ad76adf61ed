"""Operator state and run history in SQLite (WAL).

The web app writes it, the nightly flow reads it, both at once.

Tables: users, sessions, login_attempts, decisions (one active per item, each
naming the decision it superseded), audit (append-only, enforced by triggers,
and hash-chained by `services.audit`), exports and runs. Older databases are
migrated on connection (`SCHEMA_VERSION`, kept in `PRAGMA user_version`).
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

AUDIT_TRIGGERS = (
    """CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS audit_no_replace BEFORE INSERT ON audit
WHEN EXISTS (SELECT 1 FROM audit WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
)
"""No update, no delete, no insert over an existing row (`INSERT OR REPLACE` would delete it unseen)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    scope TEXT,
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL REFERENCES users(username),
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS login_attempts (
    username TEXT NOT NULL,
    ip TEXT NOT NULL,
    at TEXT NOT NULL,
    ok INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS login_attempts_at ON login_attempts(at);
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    register_key TEXT,
    roll_key TEXT,
    register_fingerprint TEXT,
    roll_fingerprint TEXT,
    community_code TEXT NOT NULL,
    note TEXT,
    username TEXT NOT NULL,
    decided_at TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    supersedes INTEGER REFERENCES decisions(id),
    batch TEXT,
    source TEXT
);
CREATE INDEX IF NOT EXISTS decisions_register ON decisions(register_key) WHERE active = 1;
CREATE INDEX IF NOT EXISTS decisions_roll ON decisions(roll_key) WHERE active = 1;
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    username TEXT NOT NULL,
    action TEXT NOT NULL,
    item TEXT,
    before TEXT,
    after TEXT,
    note TEXT,
    prev_hash TEXT,
    hash TEXT
);
CREATE TABLE IF NOT EXISTS exports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    username TEXT NOT NULL,
    run_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    manifest TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS worksheets (
    sheet_id TEXT PRIMARY KEY,
    community_code TEXT NOT NULL,
    grid TEXT,
    run_id TEXT NOT NULL,
    rows INTEGER NOT NULL,
    username TEXT NOT NULL,
    created_at TEXT NOT NULL,
    returned_at TEXT,
    returned_by TEXT,
    applied INTEGER,
    refused INTEGER
);
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
""" + "".join(f"{trigger};\n" for trigger in AUDIT_TRIGGERS)

SCHEMA_VERSION = 2
"""1: decisions.supersedes and one active decision per item; audit.prev_hash and audit.hash.
2: decisions.batch and decisions.source (household, flat and worksheet decisions); worksheets.
Raise it with any change to `SCHEMA`: a database at this version is taken to have all of it."""

ONE_ACTIVE_DECISION = """CREATE UNIQUE INDEX IF NOT EXISTS decisions_one_active
ON decisions(coalesce(register_key, ''), coalesce(roll_key, '')) WHERE active = 1"""
"""At most one active decision per item (NULL keys are distinct in an index, hence `coalesce`)."""


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {str(row[1]) for row in conn.execute(f"PRAGMA table_info({table})")}


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring a database made by an older version up to `SCHEMA_VERSION`, in one write transaction."""
    if conn.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    if conn.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:  # migrated meanwhile
        conn.rollback()
        return
    if "supersedes" not in _columns(conn, "decisions"):
        conn.execute("ALTER TABLE decisions ADD COLUMN supersedes INTEGER REFERENCES decisions(id)")
    for column in ("batch", "source"):
        if column not in _columns(conn, "decisions"):
            conn.execute(f"ALTER TABLE decisions ADD COLUMN {column} TEXT")
    # Of several active decisions on one item only the newest stays active.
    duplicates = conn.execute(
        """UPDATE decisions SET active = 0 WHERE active = 1 AND id < (
               SELECT max(d.id) FROM decisions d WHERE d.active = 1
               AND coalesce(d.register_key, '') = coalesce(decisions.register_key, '')
               AND coalesce(d.roll_key, '') = coalesce(decisions.roll_key, ''))"""
    ).rowcount
    conn.execute(ONE_ACTIVE_DECISION)
    for column in ("prev_hash", "hash"):
        if column not in _columns(conn, "audit"):
            conn.execute(f"ALTER TABLE audit ADD COLUMN {column} TEXT")
    from services.audit import audit, seal  # services.audit imports this module

    seal(conn)  # a no-op on a chain already sealed
    if duplicates:
        audit(conn, "system", "migrate", None, None, {"duplicate_decisions_withdrawn": duplicates}, None)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    conn.commit()


@contextmanager
def connect(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection in WAL mode with the schema in place; commits on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA busy_timeout=30000")
        if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:  # not on every page's connection
            conn.executescript(SCHEMA)
            _migrate(conn)
        yield conn
        conn.commit()
    finally:
        conn.close()


def record_run_start(path: Path, run_id: str, started_at: str) -> None:
    """Add run `run_id` to the run history as running."""
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
    """Record how run `run_id` ended: its outcome, inputs, counts, timings and error, if any."""
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
