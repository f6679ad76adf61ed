"""What the review app reads from the published database (READ_ONLY, per request)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from reconcile.classify import status_if_same_person
from reconcile.compare import ADDRESS, COMPARISONS
from schemas.codes import Side
from services.access import may_see
from services.reader import published

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    import duckdb

    from services.accounts import User

RECORD_TABLES = {Side.REGISTER: "run.register_records", Side.ROLL: "run.roll_records"}
"""The only tables a side's records are read from (a whitelist for the formatted SQL below)."""


@contextmanager
def database(data_dir: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """The published database, read-only, for one request."""
    with published(data_dir) as con:
        yield con


def _dicts(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def communities(con: duckdb.DuckDBPyConnection, user: User) -> list[dict[str, Any]]:
    """The communities this user may see, with their summary rows."""
    rows = _dicts(con, "SELECT * FROM community_summary ORDER BY community_code")
    return [r for r in rows if may_see(user, r)]


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
    """One queue item by id, or None."""
    rows = _dicts(con, "SELECT * FROM queue WHERE item_id = ?", [item_id])
    return rows[0] if rows else None


def record(con: duckdb.DuckDBPyConnection, side: Side, idx: int | None) -> dict[str, Any] | None:
    """One record of one side by its index in the run, or None."""
    if idx is None:
        return None
    table = RECORD_TABLES[Side(side)]
    rows = _dicts(con, f"SELECT * FROM {table} WHERE idx = ?", [idx])  # noqa: S608 -- table from RECORD_TABLES
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
            "field": c.name,
            "field_label": c.label_zh,
            "level": link[c.column],
            "label": c.labels.get(link[c.column], ""),
            "weight": link[c.weight_column],
        }
        for c in COMPARISONS
    ]
    prior = link["match_weight"] - sum(f["weight"] for f in fields)
    statuses = dict(
        con.execute(
            """SELECT side, address_incomplete FROM run.record_status
               WHERE (side = ? AND idx = ?) OR (side = ? AND idx = ?)""",
            [Side.REGISTER.value, register_idx, Side.ROLL.value, roll_idx],
        ).fetchall()
    )
    address = link[ADDRESS.column]
    return {
        "dwelling": ADDRESS.labels.get(address, "") or f"{ADDRESS.label_zh}不明",
        "dwelling_hint": "一方省略了单元或小区名，其余相符" if address == ADDRESS.level("compatible").value else "",
        "if_same": status_if_same_person(address),
        "address_incomplete": bool(statuses.get(Side.ROLL)),
        "prior": prior,
        "fields": fields,
        "match_weight": link["match_weight"],
        "match_probability": link["match_probability"],
        "unexplained": bool(link.get("unexplained")),
    }


def search(con: duckdb.DuckDBPyConnection, side: Side, text: str, limit: int = 20) -> list[dict[str, Any]]:
    """Records of one side whose name or ID number matches `text` (city-wide)."""
    text = text.strip()
    if len(text) < 2:
        return []
    table = RECORD_TABLES[Side(side)]
    # The table comes from the RECORD_TABLES whitelist; every value is a parameter.
    sql = f"""SELECT x.*, s.status FROM {table} x
              LEFT JOIN run.record_status s ON s.side = ? AND s.idx = x.idx
              WHERE x.name = ? OR x.name LIKE ? OR x.id_clean = ? OR x.id_clean LIKE ?
              ORDER BY (x.name = ?) DESC, x.source_file, x.source_sheet, x.source_row LIMIT ?"""  # noqa: S608
    return _dicts(con, sql, [str(side), text, f"%{text}%", text.upper(), f"{text.upper()}%", text, limit])


def run_id(con: duckdb.DuckDBPyConnection) -> str:
    """The id of the published run."""
    row = con.execute("SELECT run_id FROM published").fetchone()
    return str(row[0]) if row else ""
