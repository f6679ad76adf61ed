"""What the review app reads from the published database (READ_ONLY, per request)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from reconcile.classify import status_if_same_person
from reconcile.compare import ADDRESS, COMPARISONS
from schemas.codes import Side
from services.access import may_see
from services.reader import RunTable, community_rows, dict_rows, published, record_table
from services.reader import run_id as run_id  # the routers read the published run here

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    import duckdb

    from services.accounts import User


@contextmanager
def database(data_dir: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """The published database, read-only, for one request."""
    with published(data_dir) as con:
        yield con


def communities(con: duckdb.DuckDBPyConnection, user: User) -> list[dict[str, Any]]:
    """The communities this user may see, with their summary rows."""
    return [r for r in community_rows(con) if may_see(user, r)]


def queue_items(con: duckdb.DuckDBPyConnection, community: str) -> list[dict[str, Any]]:
    """Every queue item touching a community, in queue order, with display fields."""
    return dict_rows(
        con,
        f"""SELECT q.*, r.name AS register_name, r.id_clean AS register_id, r.address_raw AS register_address,
                  o.name AS roll_name, o.id_clean AS roll_id, o.address_raw AS roll_address
           FROM queue q
           LEFT JOIN {record_table(Side.REGISTER)} r ON r.idx = q.register_idx
           LEFT JOIN {record_table(Side.ROLL)} o ON o.idx = q.roll_idx
           WHERE q.community_code = ? OR q.other_community_code = ?
           ORDER BY (q.community_code <> ?), q.item_id""",  # noqa: S608  tables from services.reader
        [community, community, community],
    )


def item(con: duckdb.DuckDBPyConnection, item_id: int) -> dict[str, Any] | None:
    """One queue item by id, or None."""
    rows = dict_rows(con, "SELECT * FROM queue WHERE item_id = ?", [item_id])
    return rows[0] if rows else None


def record(con: duckdb.DuckDBPyConnection, side: Side, idx: int | None) -> dict[str, Any] | None:
    """One record of one side by its index in the run, or None."""
    if idx is None:
        return None
    rows = dict_rows(con, f"SELECT * FROM {record_table(side)} WHERE idx = ?", [idx])  # noqa: S608  table from services.reader
    return rows[0] if rows else None


def household(con: duckdb.DuckDBPyConnection, household_key: str, exclude: int | None) -> list[dict[str, Any]]:
    """Other members of a registered household, with their status."""
    return dict_rows(
        con,
        f"""SELECT r.*, s.status FROM {record_table(Side.REGISTER)} r
           LEFT JOIN {RunTable.RECORD_STATUS.qualified} s ON s.side = ? AND s.idx = r.idx
           WHERE r.household_key = ? AND r.idx IS DISTINCT FROM ? ORDER BY r.source_file, r.source_sheet, r.source_row""",  # noqa: S608  tables from services.reader
        [Side.REGISTER.value, household_key, exclude],
    )


def residents(con: duckdb.DuckDBPyConnection, flat: str | None, exclude: int | None) -> list[dict[str, Any]]:
    """Other people the roll records at the same flat (the registered flat their addresses name)."""
    if not flat:
        return []
    return dict_rows(
        con,
        f"""SELECT o.*, s.status FROM {record_table(Side.ROLL)} o
           LEFT JOIN {RunTable.RECORD_STATUS.qualified} s ON s.side = ? AND s.idx = o.idx
           WHERE o.flat = ? AND o.idx IS DISTINCT FROM ? ORDER BY o.source_file, o.source_sheet, o.source_row""",  # noqa: S608  tables from services.reader
        [Side.ROLL.value, flat, exclude],
    )


def explanation(con: duckdb.DuckDBPyConnection, register_idx: int, roll_idx: int) -> dict[str, Any] | None:
    """The engine's per-field agreement levels and weights for one pair."""
    sql = f"SELECT * FROM {RunTable.LINKS.qualified} WHERE rid = ? AND lid = ?"  # noqa: S608  table from services.reader
    rows = dict_rows(con, sql, [register_idx, roll_idx])
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
            f"""SELECT side, address_incomplete FROM {RunTable.RECORD_STATUS.qualified}
               WHERE (side = ? AND idx = ?) OR (side = ? AND idx = ?)""",  # noqa: S608  table from services.reader
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
    # The tables come from services.reader; every value is a parameter.
    sql = f"""SELECT x.*, s.status FROM {record_table(side)} x
              LEFT JOIN {RunTable.RECORD_STATUS.qualified} s ON s.side = ? AND s.idx = x.idx
              WHERE x.name = ? OR x.name LIKE ? OR x.id_clean = ? OR x.id_clean LIKE ?
              ORDER BY (x.name = ?) DESC, x.source_file, x.source_sheet, x.source_row LIMIT ?"""  # noqa: S608
    return dict_rows(con, sql, [str(side), text, f"%{text}%", text.upper(), f"{text.upper()}%", text, limit])
