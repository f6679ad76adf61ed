"""Operators' decisions, recorded with an append-only audit trail.

The nightly run reads them back and applies them by stable record keys (never row numbers).
An item has at most one active decision (a unique index in `services.state`); a new one
supersedes it and names it (`supersedes`), and undo brings back exactly that one. Deciding and
undoing hold the write lock from their first read (`BEGIN IMMEDIATE`), so two at once serialise.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from services import fieldwork
from services.audit import audit, now
from services.state import connect

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from pathlib import Path

    from schemas.codes import DecisionKind


SOURCE_APP = "app"
"""`decisions.source` of a decision made on one item's page; others name the household, flat or worksheet."""
SOURCE_HOUSEHOLD = "household"
"""`decisions.source` of a whole registered household's decision (全户不在 / 部分在住)."""
SOURCE_FLAT = "flat"
"""`decisions.source` of a decision on all unregistered occupants of one flat."""

_SOURCE_LABELS = {SOURCE_APP: "记录页面", SOURCE_HOUSEHOLD: "户籍户整户操作", SOURCE_FLAT: "居住房屋整处操作"}


def source_label(source: str | None) -> str:
    """Where a decision was made, in Chinese: 记录页面, 户籍户整户操作, 居住房屋整处操作 or 核查表 <sheet id>."""
    sheet_id = fieldwork.sheet_of_source(source)
    if sheet_id is not None:
        return f"核查表 {sheet_id}"
    return _SOURCE_LABELS.get(source or SOURCE_APP, source or "")


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


def _active_for(conn: sqlite3.Connection, register_key: str | None, roll_key: str | None) -> sqlite3.Row | None:
    """The item's active decision on an open connection (rows come back as `sqlite3.Row` from here on)."""
    conn.row_factory = sqlite3.Row
    row: sqlite3.Row | None = conn.execute(
        """SELECT * FROM decisions WHERE active = 1
           AND coalesce(register_key, '') = coalesce(?, '') AND coalesce(roll_key, '') = coalesce(?, '')""",
        (register_key, roll_key),
    ).fetchone()
    return row


def _insert(
    conn: sqlite3.Connection,
    *,
    username: str,
    kind: DecisionKind,
    keys: ItemKeys,
    note: str | None,
    batch: str | None = None,
    source: str = SOURCE_APP,
) -> int:
    """Supersede the item's active decision (if any) with a new one, audited; returns its id."""
    previous = _active_for(conn, keys.register_key, keys.roll_key)
    if previous is not None:
        conn.execute("UPDATE decisions SET active = 0 WHERE id = ?", (previous["id"],))
    cur = conn.execute(
        """INSERT INTO decisions (kind, register_key, roll_key, register_fingerprint, roll_fingerprint,
                                  community_code, note, username, decided_at, supersedes, batch, source)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
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
            previous["id"] if previous else None,
            batch,
            source,
        ),
    )
    audit(conn, username, "decide", keys.label, previous["kind"] if previous else None, kind.value, note)
    return int(cur.lastrowid or 0)


def decide(state: Path, *, username: str, kind: DecisionKind, keys: ItemKeys, note: str | None = None) -> int:
    """Record a decision (superseding the active one on the same item, if any); returns its id."""
    with connect(state) as conn:
        conn.execute("BEGIN IMMEDIATE")
        return _insert(conn, username=username, kind=kind, keys=keys, note=note)


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What one household, flat or worksheet action recorded."""

    batch_id: str | None
    """Shared by the decisions it made (None when it made none)."""
    made: int
    unchanged: int
    """Decisions already standing exactly so (same kind, same records): left as they were."""


def active_on(conn: sqlite3.Connection, keys: ItemKeys) -> dict[str, Any] | None:
    """The active decision on an item, read in the caller's transaction (None if it has none)."""
    row = _active_for(conn, keys.register_key, keys.roll_key)
    return dict(row) if row is not None else None


def is_same(active: sqlite3.Row | dict[str, Any] | None, kind: DecisionKind, keys: ItemKeys) -> bool:
    """Whether `active` already says exactly this: the same kind on the same records (same fingerprints)."""
    return bool(
        active is not None
        and active["kind"] == kind.value
        and active["register_fingerprint"] == keys.register_fingerprint
        and active["roll_fingerprint"] == keys.roll_fingerprint
    )


def decide_batch(
    state: Path,
    *,
    username: str,
    decisions: Sequence[tuple[DecisionKind, ItemKeys]],
    source: str,
    note: str | None = None,
    notes: Sequence[str | None] | None = None,
) -> BatchResult:
    """Record several decisions as one action (a household, a flat, a worksheet), in one transaction.

    Each is recorded and audited per person, and all share a batch id, so `undo_last` withdraws them as a
    unit. A decision identical to the one already standing on its item is left as it is: doing the same
    again (re-importing a worksheet) changes nothing. `note` goes on every decision, or `notes` gives each its
    own (a worksheet row's 备注 belongs to that row's people only).
    """
    with connect(state) as conn:
        conn.execute("BEGIN IMMEDIATE")
        return decide_batch_in(conn, username=username, decisions=decisions, source=source, note=note, notes=notes)


def decide_batch_in(
    conn: sqlite3.Connection,
    *,
    username: str,
    decisions: Sequence[tuple[DecisionKind, ItemKeys]],
    source: str,
    note: str | None = None,
    notes: Sequence[str | None] | None = None,
) -> BatchResult:
    """`decide_batch` on the caller's open transaction (it holds the write lock: `BEGIN IMMEDIATE`).

    For a caller that checks what stands and records in one transaction (a worksheet's import).

    Raises:
        ValueError: `notes` not one per decision.
    """
    if notes is not None and len(notes) != len(decisions):
        raise ValueError("one note per decision")
    batch = secrets.token_hex(8)
    made = unchanged = 0
    for i, (kind, keys) in enumerate(decisions):
        if is_same(_active_for(conn, keys.register_key, keys.roll_key), kind, keys):
            unchanged += 1
            continue
        own = notes[i] if notes is not None else note
        _insert(conn, username=username, kind=kind, keys=keys, note=own, batch=batch, source=source)
        made += 1
    if made:
        audit(conn, username, "batch", batch, None, {"source": source, "made": made, "unchanged": unchanged}, None)
    return BatchResult(batch if made else None, made, unchanged)


def undo_last(state: Path, *, username: str) -> dict[str, Any] | None:
    """Withdraw the user's own most recent active decision; restore exactly the one it superseded, if any.

    Never an older, unrelated decision: one withdrawn by an earlier undo stays withdrawn. A worksheet's import is
    withdrawn as a unit, and in the same transaction the sheet stops counting as back (`fieldwork.withdrawn`).
    """
    with connect(state) as conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.row_factory = sqlite3.Row
        last = conn.execute(
            "SELECT * FROM decisions WHERE username = ? AND active = 1 ORDER BY id DESC LIMIT 1", (username,)
        ).fetchone()
        if last is None:
            return None
        unit = [last]
        if last["batch"] is not None:  # a household, flat or worksheet action: undone as a unit
            unit = conn.execute(
                "SELECT * FROM decisions WHERE batch = ? AND active = 1 ORDER BY id", (last["batch"],)
            ).fetchall()
        for decision in unit:
            _withdraw(conn, username, decision)
        if last["batch"] is not None:
            audit(conn, username, "undo_batch", last["batch"], None, {"withdrawn": len(unit)}, None)
            fieldwork.withdrawn(conn, source=last["source"], username=username)
        return dict(last) | {"withdrawn": len(unit)}


def _withdraw(conn: sqlite3.Connection, username: str, decision: sqlite3.Row) -> None:
    """Withdraw one active decision and bring back the one it superseded, if nothing else stands there; audited."""
    conn.execute("UPDATE decisions SET active = 0 WHERE id = ?", (decision["id"],))
    earlier = None
    if decision["supersedes"] is not None and _active_for(conn, decision["register_key"], decision["roll_key"]) is None:
        earlier = conn.execute("SELECT id, kind FROM decisions WHERE id = ?", (decision["supersedes"],)).fetchone()
    if earlier is not None:
        conn.execute("UPDATE decisions SET active = 1 WHERE id = ?", (earlier["id"],))
    audit(
        conn,
        username,
        "undo",
        item_label(decision["register_key"], decision["roll_key"]),
        decision["kind"],
        earlier["kind"] if earlier else None,
        None,
    )


def rekey_decisions(state: Path, moved: pl.DataFrame) -> int:
    """Store decisions under tonight's record keys (`reconcile.decisions.rekeyed`); returns how many moved."""
    with connect(state) as conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            """UPDATE decisions SET register_key = ?, roll_key = ?, register_fingerprint = ?, roll_fingerprint = ?
               WHERE id = ?""",
            [
                (r["register_key"], r["roll_key"], r["register_fingerprint"], r["roll_fingerprint"], r["id"])
                for r in moved.iter_rows(named=True)
            ],
        )
        audit(
            conn, "system", "rekey", None, None, moved.height, "record keys now keyed with the data directory's secret"
        )
    return moved.height


def active_decisions(
    state: Path | None, *, keys: Iterable[tuple[str | None, str | None]] | None = None
) -> pl.DataFrame:
    """Every active decision (what the nightly run applies); none without a state database.

    `keys`: only the decisions on a record of these items' (register_key, roll_key), what a page needs (more than
    the items themselves: a caller looks each item's pair up).
    """
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
        "batch": pl.String,
        "source": pl.String,
    }
    if state is None or not state.exists():
        return pl.DataFrame(schema=schema)
    columns = ", ".join(schema)
    sql, params = f"SELECT {columns} FROM decisions WHERE active = 1", []  # noqa: S608  column names above
    if keys is not None:
        # One indexed lookup per side (an OR of the two would scan every active decision).
        sql = f"""SELECT {columns} FROM decisions WHERE active = 1 AND register_key IN (SELECT value FROM json_each(?))
                  UNION
                  SELECT {columns} FROM decisions WHERE active = 1 AND roll_key IN (SELECT value FROM json_each(?))"""  # noqa: S608  column names above
        pairs = list(keys)
        params = [json.dumps(sorted({k for k, _ in pairs if k})), json.dumps(sorted({k for _, k in pairs if k}))]
    with connect(state) as conn:
        rows = conn.execute(sql, params).fetchall()
    return pl.DataFrame(rows, schema=schema, orient="row")
