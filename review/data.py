"""What the review app reads from the published database (READ_ONLY, per request)."""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NamedTuple

import duckdb

from reconcile import idnumber, names
from reconcile.classify import status_if_same_person
from reconcile.compare import ADDRESS, COMPARISONS
from schemas.codes import Side
from services.access import may_see
from services.reader import (
    GROUPS,
    LONE_ITEM_COLUMNS,
    RunTable,
    View,
    community_rows,
    dict_rows,
    has_view,
    once_a_publish,
    published,
    queue_with_names,
    record_table,
)
from services.reader import run_id as run_id  # the routers read the published run here

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

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
    return [r for r in _summary_rows(con) if may_see(user, r)]


def per_publish(
    con: duckdb.DuckDBPyConnection, what: tuple[str, ...], read: Callable[[], list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """`read()` once a publish (`what` names it); each call gets copies of its rows (pages annotate the rows they get).

    For what the pages read of a published database that no decision changes.
    """
    return [dict(r) for r in once_a_publish(con, what, read)]


def _summary_rows(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return per_publish(con, ("summary",), lambda: community_rows(con))


def queue_items(con: duckdb.DuckDBPyConnection, community: str) -> list[dict[str, Any]]:
    """Every queue item touching a community, in queue order (its own items first), as its queue page lists them.

    With `QUEUE_LINE` (more when read from an older database); read once a publish. The names and ID numbers of
    the items a page shows: `queue_shown`.
    """
    return [dict(r) for r in _queue_lines(con, community)]


def _queue_lines(con: duckdb.DuckDBPyConnection, community: str) -> list[dict[str, Any]]:
    def read() -> list[dict[str, Any]]:
        try:
            return dict_rows(
                con,
                f"""SELECT {", ".join(QUEUE_LINE)} FROM {RunTable.QUEUE_PAGES.qualified}
                    WHERE page_community = ? ORDER BY elsewhere, item_id""",  # noqa: S608  table and columns from here
                [community],
            )
        except duckdb.CatalogException:  # published before the queue's pages were made there
            return dict_rows(con, f"{QUEUE_OF} ORDER BY (q.community_code <> ?), q.item_id", [community] * 3)

    return once_a_publish(con, ("queue", community), read)


def queue_shown(con: duckdb.DuckDBPyConnection, community: str, item_ids: list[int]) -> dict[int, dict[str, Any]]:
    """What a queue page shows of these items of a community's queue besides `QUEUE_LINE`, by item id."""
    if not item_ids:
        return {}
    try:
        rows = dict_rows(
            con,
            f"""SELECT item_id, {", ".join(QUEUE_SHOWN)} FROM {RunTable.QUEUE_PAGES.qualified}
                WHERE page_community = ? AND list_contains(?, item_id)""",  # noqa: S608  table and columns from here
            [community, item_ids],
        )
    except duckdb.CatalogException:  # published before the queue's pages were made there: queue_items has them
        return {}
    return {int(r.pop("item_id")): r for r in rows}


QUEUE_LINE = (
    "item_id",
    "kind",
    "community_code",
    "other_community_code",
    "grid",
    "evidence",
    "changed",
    "register_key",
    "roll_key",
    "register_fingerprint",
    "roll_fingerprint",
)
"""What a queue page counts and filters every item by, and tells whether it is open by."""
QUEUE_SHOWN = ("match_probability", "others_at_flat", "register_name", "register_id", "roll_name", "roll_id")
"""What a queue page shows of the items on it besides `QUEUE_LINE`."""


def items_after(con: duckdb.DuckDBPyConnection, community: str, item_id: int) -> Iterator[dict[str, Any]]:
    """The queue items of a community's own after `item_id`, in queue order, as `queue_items` (read, never change)."""
    return (it for it in _queue_lines(con, community) if it["community_code"] == community and it["item_id"] > item_id)


QUEUE_OF = f"{queue_with_names()} WHERE q.community_code = ? OR q.other_community_code = ?"
"""The queue's items touching a community, as a database without `RunTable.QUEUE_PAGES` is read."""


def item(con: duckdb.DuckDBPyConnection, item_id: int) -> dict[str, Any] | None:
    """One queue item by id, or None."""
    rows = dict_rows(con, f"SELECT * FROM {RunTable.QUEUE.qualified} WHERE item_id = ?", [item_id])  # noqa: S608  table from services.reader
    return rows[0] if rows else None


def record(con: duckdb.DuckDBPyConnection, side: Side, idx: int | None) -> dict[str, Any] | None:
    """One record of one side by its index in the run, or None."""
    if idx is None:
        return None
    rows = dict_rows(con, f"SELECT * FROM {record_table(side)} WHERE idx = ?", [idx])  # noqa: S608  table from services.reader
    return rows[0] if rows else None


def household(con: duckdb.DuckDBPyConnection, household_key: str, exclude: int | None) -> list[dict[str, Any]]:
    """Other members of a registered household, with their status and the community of the record they are linked to."""
    return _members(con, Side.REGISTER, household_key, exclude)


def residents(con: duckdb.DuckDBPyConnection, flat: str | None, exclude: int | None) -> list[dict[str, Any]]:
    """Other people the roll records at the same flat (the registered flat their addresses name).

    With their status and the community of the register record they are linked to (`other_community_code`: set
    when that is another community).
    """
    return _members(con, Side.ROLL, flat, exclude) if flat else []


def _members(
    con: duckdb.DuckDBPyConnection, side: Side, group: str, exclude: int | None, community: str | None = None
) -> list[dict[str, Any]]:
    """One side's people of a household (register) or flat (roll), in source order, but `exclude`.

    Their records, with status, evidence, link and lone item (who they are: `RunTable.HOUSEHOLD_MEMBERS`,
    `RunTable.FLAT_OCCUPANTS`, made once a publish; each record by its index); `community`: only that community's.
    """
    table, column, _ = GROUPS[side]
    try:  # one equality only: a filter with more is not looked up by the index
        rows = dict_rows(con, f"SELECT * FROM {table.qualified} WHERE {column} = ?", [group])  # noqa: S608  names from here
    except duckdb.CatalogException:  # published before these tables were made there
        return members_joined(con, side, group, exclude, community)
    wanted = [r for r in rows if r["idx"] != exclude and (community is None or r["community_code"] == community)]
    return [{**(record(con, side, r["idx"]) or {}), **r} for r in _in_order(wanted, _SOURCE_ORDER)]


_SOURCE_ORDER = ("source_file", "source_sheet", "source_row")
"""Where a record stands in the delivery: the order people are listed in."""


def _in_order(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> list[dict[str, Any]]:
    """`rows` sorted by `columns`, nulls last, as SQL's ORDER BY sorts them."""
    return sorted(rows, key=lambda r: tuple((r[c] is None, r[c]) for c in columns))


def members_joined(
    con: duckdb.DuckDBPyConnection, side: Side, group: str, exclude: int | None, community: str | None = None
) -> list[dict[str, Any]]:
    """`_members` joined from the records, statuses and queue, as a database published before its tables is read."""
    _, column, kind = GROUPS[side]
    return dict_rows(
        con,
        f"""SELECT x.*, s.status, s.evidence, s.other_community_code, s.verified_by, {LONE_ITEM_COLUMNS}
           FROM {record_table(side)} x
           LEFT JOIN {RunTable.RECORD_STATUS.qualified} s ON s.side = ? AND s.idx = x.idx
           LEFT JOIN {View.QUEUE} q ON q.{side}_idx = x.idx AND q.kind = ?
           WHERE x.{column} = ? AND x.idx IS DISTINCT FROM ? AND (?::VARCHAR IS NULL OR x.community_code = ?)
           ORDER BY x.source_file, x.source_sheet, x.source_row""",  # noqa: S608  names from this module
        [side.value, kind.value, group, exclude, community, community],
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
    roll_status = record_status(con, Side.ROLL, roll_idx) or {}
    address = link[ADDRESS.column]
    return {
        "dwelling": ADDRESS.labels.get(address, "") or f"{ADDRESS.label_zh}不明",
        "dwelling_hint": "一方省略了单元或小区名，其余相符" if address == ADDRESS.level("compatible").value else "",
        "if_same": status_if_same_person(address),
        "address_incomplete": bool(roll_status.get("address_incomplete")),
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
    """Records of one side with exactly this name or ID number (city-wide, at most `limit`), with their status."""
    if query.kind == "name":
        lookups = [("name", query.text)]
    elif query.kind == "id":
        legacy = len(query.text) == MIN_ID_LENGTH and query.text.isdigit()
        lookups = [("id_clean", query.text), ("id18", idnumber.upgrade15(query.text) if legacy else query.text)]
    else:
        return []
    found: dict[int, dict[str, Any]] = {}
    for column, value in lookups:  # one equality a query, no join: a scan of one column (an OR or a join scans more)
        sql = f"SELECT * FROM {record_table(side)} WHERE {column} = ?"  # noqa: S608  table from services.reader, column from above
        found |= {r["idx"]: r for r in dict_rows(con, sql, [value])}
    hits = _in_order(list(found.values()), ("community_code", *_SOURCE_ORDER))[:limit]
    for hit in hits:
        hit["status"] = (record_status(con, side, hit["idx"]) or {}).get("status")
    return hits


def record_by_key(con: duckdb.DuckDBPyConnection, side: Side, record_key: str) -> dict[str, Any] | None:
    """One record of one side by its record key, with its published link, or None."""
    sql = f"SELECT * FROM {record_table(side)} WHERE record_key = ? ORDER BY idx LIMIT 1"  # noqa: S608  table from services.reader
    rows = dict_rows(con, sql, [record_key])
    if not rows:
        return None
    status = record_status(con, side, rows[0]["idx"]) or {}
    link = ("status", "other_community_code", "linked_file", "linked_sheet", "linked_row", "verified_by")
    return rows[0] | {c: status.get(c) for c in link}


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
    # By `idx` alone, so that its index is used; both sides' records share numbers.
    sql = f"SELECT * FROM {RunTable.RECORD_STATUS.qualified} WHERE idx = ?"  # noqa: S608  table from services.reader
    return next((r for r in dict_rows(con, sql, [idx]) if r["side"] == side), None)


def community_names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Every community's name by its code (names are no personal data: any user may read another's)."""
    return {r["community_code"]: r["community_name"] or r["community_code"] for r in _summary_rows(con)}


def household_members(con: duckdb.DuckDBPyConnection, community: str, household_key: str) -> list[dict[str, Any]]:
    """Every member of a registered household, with their status, link and their 户在人不在 item (if they have one)."""
    return _members(con, Side.REGISTER, household_key, None, community)


def flat_occupants(con: duckdb.DuckDBPyConnection, community: str, flat: str) -> list[dict[str, Any]]:
    """Everyone a community's roll records at one flat, with their status, link and their 人在户不在 item (if any)."""
    return _members(con, Side.ROLL, flat, None, community)


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
