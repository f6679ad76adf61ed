"""Claims on records another community holds, and the audit of searches.

An operator who links by hand a record already linked (by the engine or an
operator) to someone in a community they cannot see does not override that
link: a claim is filed instead, shown on the other community's queue, for
its operator to settle. Claims live in the state database (`claims`).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from services.audit import audit, now
from services.decisions import item_label
from services.state import connect

if TYPE_CHECKING:
    from pathlib import Path

    from schemas.codes import Side

OPEN = "open"
"""The status of a claim nobody has settled yet."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS claims (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    username TEXT NOT NULL,
    community_code TEXT NOT NULL,
    held_by TEXT NOT NULL,
    side TEXT NOT NULL,
    register_key TEXT,
    roll_key TEXT,
    register_fingerprint TEXT,
    roll_fingerprint TEXT,
    note TEXT,
    status TEXT NOT NULL DEFAULT 'open'
);
CREATE INDEX IF NOT EXISTS claims_held_by ON claims(held_by) WHERE status = 'open';
"""

_KEY_COLUMNS = {"register": ("register_key", "roll_key"), "roll": ("roll_key", "register_key")}
"""Per side: the decisions' column holding a record of that side, and the column of the other side."""


@dataclass(frozen=True, slots=True)
class Claim:
    """A hand link that would take a record from a community the claimant cannot see."""

    community_code: str
    """The community of the claimant's item."""
    held_by: str
    """The community whose link (or decision) on the found record stands."""
    side: Side
    """The side of the found (claimed) record."""
    register_key: str | None
    roll_key: str | None
    register_fingerprint: str | None
    roll_fingerprint: str | None


def _ready(conn: sqlite3.Connection) -> sqlite3.Connection:
    conn.executescript(_SCHEMA)
    return conn


def file_claim(state: Path, *, username: str, claim: Claim, note: str | None) -> int:
    """Store an open claim and audit it (action `claim`); returns its id."""
    with connect(state) as conn:
        _ready(conn).execute("BEGIN IMMEDIATE")
        cur = conn.execute(
            """INSERT INTO claims (at, username, community_code, held_by, side, register_key, roll_key,
                                   register_fingerprint, roll_fingerprint, note)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                now(),
                username,
                claim.community_code,
                claim.held_by,
                str(claim.side),
                claim.register_key,
                claim.roll_key,
                claim.register_fingerprint,
                claim.roll_fingerprint,
                note,
            ),
        )
        claim_id = int(cur.lastrowid or 0)
        after = {"claim": claim_id, "community": claim.community_code, "held_by": claim.held_by}
        audit(conn, username, "claim", item_label(claim.register_key, claim.roll_key), None, after, note)
        return claim_id


def open_claims(state: Path, community: str) -> list[dict[str, Any]]:
    """The open claims on records a community holds, oldest first."""
    if not state.exists():
        return []
    with connect(state) as conn:
        cur = _ready(conn).cursor()
        cur.row_factory = sqlite3.Row
        rows = cur.execute(
            "SELECT * FROM claims WHERE held_by = ? AND status = ? ORDER BY id", (community, OPEN)
        ).fetchall()
        return [dict(r) for r in rows]


def decision_holders(state: Path, side: Side, record_key: str, *, besides: str | None) -> set[str]:
    """The communities whose active decisions name a record (other than a pair with the record `besides`)."""
    if not state.exists():
        return set()
    mine, other = _KEY_COLUMNS[str(side)]
    with connect(state) as conn:
        rows = conn.execute(
            # The column names come from _KEY_COLUMNS; every value is a parameter.
            f"SELECT DISTINCT community_code FROM decisions WHERE active = 1 AND {mine} = ? AND {other} IS NOT ?",  # noqa: S608
            (record_key, besides),
        ).fetchall()
    return {str(r[0]) for r in rows}
