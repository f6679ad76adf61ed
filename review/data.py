"""What the review app reads from the published database (READ_ONLY, per request)."""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NamedTuple

from reconcile import idnumber, names
from reconcile.classify import status_if_same_person
from reconcile.compare import ADDRESS, COMPARISONS
from schemas.codes import QueueKind, Side
from services.access import may_see
from services.reader import RunTable, View, community_rows, dict_rows, has_view, published, record_table
from services.reader import run_id as run_id  # the routers read the published run here

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    import duckdb

    from services.accounts import User

SEARCH_LIMIT = 20
"""The most records one search shows."""
MIN_ID_LENGTH = 15
"""The shortest ID number searched (a legacy number has 15 characters)."""
MIN_NAME_LENGTH = 2
"""The shortest full name searched (after normalisation)."""
_ID_LIKE = re.compile(r"\d+X?")


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
    """Other members of a registered household, with their status and the community of the record they are linked to."""
    return dict_rows(
        con,
        f"""SELECT r.*, s.status, s.other_community_code, s.verified_by FROM {record_table(Side.REGISTER)} r
           LEFT JOIN {RunTable.RECORD_STATUS.qualified} s ON s.side = ? AND s.idx = r.idx
           WHERE r.household_key = ? AND r.idx IS DISTINCT FROM ? ORDER BY r.source_file, r.source_sheet, r.source_row""",  # noqa: S608  tables from services.reader
        [Side.REGISTER.value, household_key, exclude],
    )


def residents(con: duckdb.DuckDBPyConnection, flat: str | None, exclude: int | None) -> list[dict[str, Any]]:
    """Other people the roll records at the same flat (the registered flat their addresses name).

    With their status and the community of the register record they are linked to (`other_community_code`: set
    when that is another community).
    """
    if not flat:
        return []
    return dict_rows(
        con,
        f"""SELECT o.*, s.status, s.other_community_code, s.verified_by FROM {record_table(Side.ROLL)} o
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


class Query(NamedTuple):
    """What a search looks for: a full name or ID number (`kind` "name" or "id"), or nothing ("refused")."""

    kind: str
    text: str


def search_query(text: str) -> Query:
    """The query a search text makes: a normalised full name, an ID number of 15+ characters, or refused.

    Digits are an ID number: shorter than `MIN_ID_LENGTH`, nothing is searched (no prefix browsing).

    >>> search_query(" 張 偉 "), search_query("330282"), search_query("%%")
    (Query(kind='name', text='张伟'), Query(kind='refused', text=''), Query(kind='refused', text=''))
    """
    number = idnumber.clean(text) or ""
    if number and _ID_LIKE.fullmatch(number):
        return Query("id", number) if len(number) >= MIN_ID_LENGTH else Query("refused", "")
    folded = names.fold(text) or ""
    name = names.simplified(folded) if folded else ""
    if len(name) < MIN_NAME_LENGTH or not all(c.isalpha() or c == "·" for c in name):
        return Query("refused", "")
    return Query("name", name)


def search(con: duckdb.DuckDBPyConnection, side: Side, query: Query, limit: int = SEARCH_LIMIT) -> list[dict[str, Any]]:
    """Records of one side with exactly this name or ID number (city-wide, at most `limit`)."""
    if query.kind == "name":
        where, params = "x.name = ?", [query.text]
    elif query.kind == "id":
        legacy = len(query.text) == MIN_ID_LENGTH and query.text.isdigit()
        upgraded = idnumber.upgrade15(query.text) if legacy else query.text
        where, params = "(x.id_clean = ? OR x.id18 = ?)", [query.text, upgraded]
    else:
        return []
    # The tables come from services.reader and `where` from above; every value is a parameter.
    sql = f"""SELECT x.*, s.status FROM {record_table(side)} x
              LEFT JOIN {RunTable.RECORD_STATUS.qualified} s ON s.side = ? AND s.idx = x.idx
              WHERE {where}
              ORDER BY x.community_code, x.source_file, x.source_sheet, x.source_row LIMIT ?"""  # noqa: S608
    return dict_rows(con, sql, [str(side), *params, limit])


def record_by_key(con: duckdb.DuckDBPyConnection, side: Side, record_key: str) -> dict[str, Any] | None:
    """One record of one side by its record key, with its published link, or None."""
    sql = f"""SELECT x.*, s.status, s.other_community_code, s.linked_file, s.linked_sheet, s.linked_row, s.verified_by
              FROM {record_table(side)} x
              LEFT JOIN {RunTable.RECORD_STATUS.qualified} s ON s.side = ? AND s.idx = x.idx
              WHERE x.record_key = ? ORDER BY x.idx LIMIT 1"""  # noqa: S608  tables from services.reader
    rows = dict_rows(con, sql, [str(side), record_key])
    return rows[0] if rows else None


def linked_community(found: dict[str, Any], partner: dict[str, Any] | None) -> str | None:
    """The community of the record a found record is published as linked to, unless that is `partner`.

    A record the engine or a decision linked names its partner's lineage; the partner is in
    `other_community_code` when that is another community, else in the record's own.
    """
    if not found.get("linked_file") or not found.get("verified_by"):
        return None
    if partner is not None and (found["linked_file"], found["linked_sheet"], found["linked_row"]) == (
        partner["source_file"],
        partner["source_sheet"],
        partner["source_row"],
    ):
        return None
    return str(found.get("other_community_code") or found["community_code"])


def record_status(con: duckdb.DuckDBPyConnection, side: Side, idx: int | None) -> dict[str, Any] | None:
    """One record's published status row: status, evidence, flat, household and grid (None without one)."""
    if idx is None:
        return None
    sql = f"SELECT * FROM {RunTable.RECORD_STATUS.qualified} WHERE side = ? AND idx = ?"  # noqa: S608  table from services.reader
    rows = dict_rows(con, sql, [str(side), idx])
    return rows[0] if rows else None


def community_names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Every community's name by its code (names are no personal data: any user may read another's)."""
    return {r["community_code"]: r["community_name"] or r["community_code"] for r in community_rows(con)}


_ITEM_COLUMNS = """q.item_id, q.kind, q.community_code AS item_community, q.register_key, q.roll_key,
                   q.register_fingerprint, q.roll_fingerprint, q.changed"""
"""A lone record's queue item, as `household_members` and `flat_occupants` add it (null columns without one)."""


def _with_items(
    con: duckdb.DuckDBPyConnection, side: Side, community: str, column: str, value: str
) -> list[dict[str, Any]]:
    """One side's records of a community sharing `column` (a household or a flat), with status, link and lone item.

    `column` is a name of this module, never user input.
    """
    kind = QueueKind.ABSENT if side is Side.REGISTER else QueueKind.UNREGISTERED
    return dict_rows(
        con,
        f"""SELECT x.*, s.status, s.evidence, s.other_community_code, s.verified_by, {_ITEM_COLUMNS}
           FROM {record_table(side)} x
           LEFT JOIN {RunTable.RECORD_STATUS.qualified} s ON s.side = ? AND s.idx = x.idx
           LEFT JOIN {View.QUEUE} q ON q.{side}_idx = x.idx AND q.kind = ?
           WHERE x.community_code = ? AND x.{column} = ?
           ORDER BY x.source_file, x.source_sheet, x.source_row""",  # noqa: S608  tables from services.reader, names from here
        [side.value, kind.value, community, value],
    )


def household_members(con: duckdb.DuckDBPyConnection, community: str, household_key: str) -> list[dict[str, Any]]:
    """Every member of a registered household, with their status, link and their 户在人不在 item (if they have one)."""
    return _with_items(con, Side.REGISTER, community, "household_key", household_key)


def flat_occupants(con: duckdb.DuckDBPyConnection, community: str, flat: str) -> list[dict[str, Any]]:
    """Everyone a community's roll records at one flat, with their status, link and their 人在户不在 item (if any)."""
    return _with_items(con, Side.ROLL, community, "flat", flat)


def coverage(con: duckdb.DuckDBPyConnection, codes: list[str]) -> list[dict[str, Any]]:
    """Roll coverage per building of these communities (none before the coverage view was published)."""
    if not has_view(con, View.COVERAGE):
        return []
    return dict_rows(
        con,
        f"""SELECT * FROM {View.COVERAGE} WHERE list_contains(?::VARCHAR[], community_code)
            ORDER BY community_code, grid NULLS FIRST, building""",  # noqa: S608  the view's name from the View enum
        [codes],
    )


def building_coverage(con: duckdb.DuckDBPyConnection, community: str, building: str | None) -> dict[str, Any] | None:
    """The coverage row of one building of a community by its label, or None."""
    if not building or not has_view(con, View.COVERAGE):
        return None
    rows = dict_rows(
        con,
        f"SELECT * FROM {View.COVERAGE} WHERE community_code = ? AND building = ? LIMIT 1",  # noqa: S608  the View enum
        [community, building],
    )
    return rows[0] if rows else None
