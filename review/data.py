"""What the review app reads from the published database (READ_ONLY, per request)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from reconcile.classify import status_if_same_person
from reconcile.compare import FIELDS, LEVEL_LABELS
from reconcile.dwelling import Grade
from schemas.codes import Role
from services.accounts import User
from services.reader import published


@contextmanager
def database(data_dir: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with published(data_dir) as con:
        yield con


def _dicts(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def communities(con: duckdb.DuckDBPyConnection, user: User) -> list[dict[str, Any]]:
    """The communities this user may see, with their summary rows."""
    rows = _dicts(con, "SELECT * FROM community_summary ORDER BY community_code")
    if user.role is Role.ADMIN:
        return rows
    if user.role is Role.OPERATOR:
        return [r for r in rows if r["community_code"] == user.scope]
    if user.role is Role.SUPERVISOR:
        return [r for r in rows if r["street"] == user.scope]
    return [r for r in rows if r["police_station"] == user.scope]


def queue_items(con: duckdb.DuckDBPyConnection, community: str) -> list[dict[str, Any]]:
    """Every queue item touching a community, in queue order, with display fields."""
    return _dicts(
        con,
        """SELECT q.*, r.name AS register_name, r.id_clean AS register_id, r.address_raw AS register_address,
                  o.name AS roll_name, o.id_clean AS roll_id, o.address_raw AS roll_address
           FROM queue q
           LEFT JOIN run.register_records r ON r.idx = q.register_idx
           LEFT JOIN run.roll_records o ON o.idx = q.roll_idx
           WHERE q.community_code = ? OR q.other_community_code = ?
           ORDER BY (q.community_code <> ?), q.item_id""",
        [community, community, community],
    )


def item(con: duckdb.DuckDBPyConnection, item_id: int) -> dict[str, Any] | None:
    rows = _dicts(con, "SELECT * FROM queue WHERE item_id = ?", [item_id])
    return rows[0] if rows else None


def record(con: duckdb.DuckDBPyConnection, side: str, idx: int | None) -> dict[str, Any] | None:
    if idx is None:
        return None
    rows = _dicts(con, f"SELECT * FROM run.{side}_records WHERE idx = ?", [idx])
    return rows[0] if rows else None


def household(con: duckdb.DuckDBPyConnection, household_key: str, exclude: int | None) -> list[dict[str, Any]]:
    """Other members of a registered household, with their status."""
    return _dicts(
        con,
        """SELECT r.*, s.status FROM run.register_records r
           LEFT JOIN run.record_status s ON s.side = 'register' AND s.idx = r.idx
           WHERE r.household_key = ? AND r.idx IS DISTINCT FROM ? ORDER BY r.source_file, r.source_sheet, r.source_row""",
        [household_key, exclude],
    )


def residents(con: duckdb.DuckDBPyConnection, flat: str | None, exclude: int | None) -> list[dict[str, Any]]:
    """Other people the roll records at the same flat (the registered flat their addresses name)."""
    if not flat:
        return []
    return _dicts(
        con,
        """SELECT o.*, s.status FROM run.roll_records o
           LEFT JOIN run.record_status s ON s.side = 'roll' AND s.idx = o.idx
           WHERE o.flat = ? AND o.idx IS DISTINCT FROM ? ORDER BY o.source_file, o.source_sheet, o.source_row""",
        [flat, exclude],
    )


def explanation(con: duckdb.DuckDBPyConnection, register_idx: int, roll_idx: int) -> dict[str, Any] | None:
    """The engine's per-field agreement levels and weights for one pair."""
    rows = _dicts(con, "SELECT * FROM run.links WHERE rid = ? AND lid = ?", [register_idx, roll_idx])
    if not rows:
        return None
    link = rows[0]
    fields = [
        {
            "field": f,
            "level": link[f"{f}_lvl"],
            "label": LEVEL_LABELS[f].get(link[f"{f}_lvl"], ""),
            "weight": link[f"w_{f}"],
        }
        for f in FIELDS
    ]
    prior = link["match_weight"] - sum(f["weight"] for f in fields)
    statuses = dict(
        con.execute(
            """SELECT side, address_incomplete FROM run.record_status
               WHERE (side = 'register' AND idx = ?) OR (side = 'roll' AND idx = ?)""",
            [register_idx, roll_idx],
        ).fetchall()
    )
    return {
        "dwelling": LEVEL_LABELS["address"].get(link["address_lvl"], ""),
        "dwelling_hint": "一方省略了单元或小区名，其余相符" if link["address_lvl"] == Grade.COMPATIBLE else "",
        "if_same": status_if_same_person(link["address_lvl"]),
        "address_incomplete": bool(statuses.get("roll")),
        "prior": prior,
        "fields": fields,
        "match_weight": link["match_weight"],
        "match_probability": link["match_probability"],
        "unexplained": bool(link.get("unexplained")),
    }


def search(con: duckdb.DuckDBPyConnection, side: str, text: str, limit: int = 20) -> list[dict[str, Any]]:
    """Records of one side whose name or ID number matches `text` (city-wide)."""
    text = text.strip()
    if len(text) < 2:
        return []
    return _dicts(
        con,
        f"""SELECT x.*, s.status FROM run.{side}_records x
            LEFT JOIN run.record_status s ON s.side = ? AND s.idx = x.idx
            WHERE x.name = ? OR x.name LIKE ? OR x.id_clean = ? OR x.id_clean LIKE ?
            ORDER BY (x.name = ?) DESC, x.source_file, x.source_sheet, x.source_row LIMIT ?""",
        [side, text, f"%{text}%", text.upper(), f"{text.upper()}%", text, limit],
    )


def run_id(con: duckdb.DuckDBPyConnection) -> str:
    row = con.execute("SELECT run_id FROM published").fetchone()
    return str(row[0]) if row else ""
