"""The published database: its shape, and reading it READ_ONLY (attached once a file, a connection per use).

The publisher (`flows.publish`) creates the relations named here and its readers (the review app, the CLI, the
export) read them by these names, so the database's shape is spelled once.

>>> record_table(Side.ROLL)
'run.roll_records'
>>> RunTable.LINKS.qualified
'run.links'
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

import duckdb

from schemas.codes import QueueKind, Side
from services.paths import DataPaths

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

T = TypeVar("T")

RUN_SCHEMA = "run"
"""The schema holding the run's tables, copied from its Parquet."""

PUBLISHED = "published"
"""The one-row table in `main` naming the published run: `run_id`, `published_at`."""


class View(StrEnum):
    """The views in `main` that readers query."""

    LINKS = "links"
    RECORD_STATUS = "record_status"
    COMMUNITY_SUMMARY = "community_summary"
    QUEUE = "queue"
    QUARANTINE = "quarantine"
    INPUT_FILES = "input_files"
    MODEL_PARAMETERS = "model_parameters"
    RUNS = "runs"
    COVERAGE = "coverage"
    PROGRESS = "progress"


class RunTable(StrEnum):
    """The tables in the `run` schema."""

    LINKS = "links"
    RECORD_STATUS = "record_status"
    COMMUNITY_SUMMARY = "community_summary"
    QUARANTINE = "quarantine"
    QUEUE = "queue"
    REGISTER_KEYS = "register_keys"
    ROLL_KEYS = "roll_keys"
    REGISTER_RECORDS = "register_records"
    ROLL_RECORDS = "roll_records"
    INPUT_FILES = "input_files"
    MODEL_PARAMETERS = "model_parameters"
    RUNS = "runs"
    COVERAGE = "coverage"
    PROGRESS = "progress"
    HOUSEHOLD_MEMBERS = "household_members"
    """Each registered person's household, status and lone (户在人不在) item, by `idx`: made once a publish."""
    FLAT_OCCUPANTS = "flat_occupants"
    """Each person the rolls record: flat, status and lone (人在户不在) item, by `idx`: made once a publish."""
    QUEUE_PAGES = "queue_pages"
    """Each community's queue as its page lists it, made once a publish (`flows.publish`): an item once for its
    community (`page_community`) and once more for the other community it touches (`elsewhere`), with the
    records' display fields, in page order."""

    @property
    def qualified(self) -> str:
        """The table's name with its schema, as SQL names it."""
        return f"{RUN_SCHEMA}.{self.value}"


_RECORD_TABLES: dict[Side, RunTable] = {Side.REGISTER: RunTable.REGISTER_RECORDS, Side.ROLL: RunTable.ROLL_RECORDS}
_KEY_TABLES: dict[Side, RunTable] = {Side.REGISTER: RunTable.REGISTER_KEYS, Side.ROLL: RunTable.ROLL_KEYS}


GROUPS: dict[Side, tuple[RunTable, str, QueueKind]] = {
    Side.REGISTER: (RunTable.HOUSEHOLD_MEMBERS, "household_key", QueueKind.ABSENT),
    Side.ROLL: (RunTable.FLAT_OCCUPANTS, "flat", QueueKind.UNREGISTERED),
}
"""Per side: the table of who is where, the column grouping people (household, flat), the kind of a lone item."""
LONE_ITEM_COLUMNS = """q.item_id, q.kind, q.community_code AS item_community, q.register_key, q.roll_key,
                       q.register_fingerprint, q.roll_fingerprint, q.changed"""
"""A person's lone item (`q`, null columns without one), as `GROUPS`' tables hold it."""


def queue_with_names() -> str:
    """The queue's items with each record's name, ID number and address (`q`, `r` register, `o` roll): SQL.

    What a queue page shows; the publish writes it per community (`RunTable.QUEUE_PAGES`).
    """
    return f"""SELECT q.*, r.name AS register_name, r.id_clean AS register_id, r.address_raw AS register_address,
                      o.name AS roll_name, o.id_clean AS roll_id, o.address_raw AS roll_address
               FROM {RunTable.QUEUE.qualified} q
               LEFT JOIN {record_table(Side.REGISTER)} r ON r.idx = q.register_idx
               LEFT JOIN {record_table(Side.ROLL)} o ON o.idx = q.roll_idx"""  # noqa: S608  names from this module


def record_table(side: Side) -> str:
    """The table holding one side's records, schema-qualified (a whitelist for formatted SQL).

    Args:
        side: The register or the roll (a `Side` or its value).

    Returns:
        `run.register_records` or `run.roll_records`.
    """
    return _RECORD_TABLES[Side(side)].qualified


def key_table(side: Side) -> str:
    """The table holding one side's record keys (file, sheet, row, community, person), schema-qualified.

    Args:
        side: The register or the roll (a `Side` or its value).

    Returns:
        `run.register_keys` or `run.roll_keys`.
    """
    return _KEY_TABLES[Side(side)].qualified


@dataclass(frozen=True, slots=True)
class _Attached:
    """One published file attached READ_ONLY to a database of its own.

    With the file's identity when it was looked at (to see a swap), and which publish the attached file holds, as
    read from it (`_published_as`): a publish may swap the file between the two.
    """

    identity: tuple[int, int, int, int]
    base: duckdb.DuckDBPyConnection
    published_as: tuple[Any, ...]


_ATTACHED: dict[Path, _Attached] = {}
_READING: dict[int, tuple[Any, ...]] = {}
"""Which publish each connection `published` handed out reads (`_published_as`), by the connection's id, while it
is open."""
_ATTACHING = threading.Lock()
_CATALOG = "published_db"
"""The name the published file is attached under; every connection `published` yields uses it."""


def _identity(path: Path) -> tuple[int, int, int, int]:
    st = path.stat()
    return st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size


def _attach(path: Path, identity: tuple[int, int, int, int]) -> _Attached:
    # An in-memory database of its own, with the file attached: `duckdb.connect(path)` would hand back the
    # database of a file it still holds open under that path, though a publish has since swapped another in.
    base = duckdb.connect(":memory:")
    base.execute(f"ATTACH ? AS {_CATALOG} (READ_ONLY)", [str(path)])
    base.execute(f"USE {_CATALOG}")
    return _Attached(identity, base, _published_as(base))


def _published_as(con: duckdb.DuckDBPyConnection) -> tuple[Any, ...]:
    """The published file a connection reads and which publish it holds: (path, run id, publish time)."""
    return (
        con.execute(
            f"""SELECT (SELECT path FROM duckdb_databases() WHERE database_name = current_database()), run_id, published_at
            FROM {PUBLISHED}"""  # noqa: S608  a constant
        ).fetchone()
        or ()
    )


@contextmanager
def published(data_dir: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the published database, closed afterwards.

    Opening the file costs more than most pages' queries, so each process attaches each published file once
    and hands out a connection of its own (a cursor) per use. When a publish swaps in a new file, the next use
    attaches that one; uses still reading the old file finish on it, and it is let go after them.

    Args:
        data_dir: The data directory.

    Yields:
        The connection.

    Raises:
        FileNotFoundError: Nothing is published in `data_dir` yet.
    """
    path = DataPaths(data_dir).published.resolve()
    try:
        identity = _identity(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"nothing published in {data_dir}") from None
    with _ATTACHING:
        attached = _ATTACHED.get(path)
        if attached is None or attached.identity != identity:
            attached = _ATTACHED[path] = _attach(path, identity)
        con = attached.base.cursor()
    _READING[id(con)] = attached.published_as
    try:
        con.execute(f"USE {_CATALOG}")
        yield con
    finally:
        del _READING[id(con)]
        con.close()
        del attached  # the last use of a file swapped out lets it go here


_ONCE: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
"""`once_a_publish`'s values by (file, run, publish time, what), least recently read first."""
_REMEMBERING = threading.Lock()
_ONCE_MOST = 512
"""Values kept at most: a city's 48 communities a few kinds each, and more; past it the least recently read go
(a community's queue lines are about 1 MB at scale 1)."""


def once_a_publish(con: duckdb.DuckDBPyConnection, what: tuple[Any, ...], read: Callable[[], T]) -> T:
    """`read()` once for each published database in this process (`what` names the value), then remembered.

    For what pages and worksheets read of the published database that no operator's decision changes: a
    published file is never written, a publish swaps in another. The value is shared: read it, never change it.

    Args:
        con: A connection to the published database.
        what: What the value is (and for whom): part of its key, beside the publish.
        read: Reads the value from `con`.

    Returns:
        The value.
    """
    key = (*(_READING.get(id(con)) or _published_as(con)), *what)
    with _REMEMBERING:
        if key in _ONCE:
            _ONCE.move_to_end(key)
            known: T = _ONCE[key]
            return known
    value = read()  # outside the lock: two first readers may both read, and agree
    with _REMEMBERING:
        _ONCE[key] = value
        while len(_ONCE) > _ONCE_MOST:
            _ONCE.popitem(last=False)  # the least recently read
    return value


def release(data_dir: Path) -> None:
    """Let go of the published file this process holds attached, and of what was read of it once.

    Before writing to it in place, as tests do, while nothing of this process reads it: their connections are
    closed with it. A publish never writes a published file (it swaps a new one in); DuckDB refuses to open a file read-write that
    this process holds attached.
    """
    path = DataPaths(data_dir).published.resolve()
    with _ATTACHING:
        attached = _ATTACHED.pop(path, None)
    if attached is not None:
        attached.base.close()
    with _REMEMBERING:
        for key in [k for k in _ONCE if k[0] == str(path)]:
            del _ONCE[key]


def dict_rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    """The rows of a query as dicts keyed by column name.

    Args:
        con: A connection to the published database.
        sql: The query; every value in it a `?` parameter.
        params: The parameters' values.

    Returns:
        One dict per row, in the query's order.
    """
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def run_id(con: duckdb.DuckDBPyConnection) -> str:
    """The id of the published run.

    Args:
        con: A connection to the published database.

    Returns:
        The run id, or "" for a database without one.
    """
    row = con.execute(f"SELECT run_id FROM {PUBLISHED}").fetchone()  # noqa: S608  a constant of this module
    return str(row[0]) if row else ""


def has_view(con: duckdb.DuckDBPyConnection, view: View) -> bool:
    """Whether the published database has this view (one published before the view existed has not).

    Args:
        con: A connection to the published database.
        view: The view.

    Returns:
        True if the database has it.
    """
    row = con.execute(
        """SELECT count(*) FROM information_schema.tables
           WHERE table_catalog = current_database() AND table_schema = 'main' AND table_name = ?""",
        [view.value],
    ).fetchone()
    return bool(row and row[0])


def published_at(con: duckdb.DuckDBPyConnection) -> dt.datetime | None:
    """When the published run was published (aware: a naive time is UTC), or None.

    Args:
        con: A connection to the published database.

    Returns:
        The time, or None for a database without one.
    """
    row = con.execute(f"SELECT published_at FROM {PUBLISHED}").fetchone()  # noqa: S608  a constant of this module
    when = row[0] if row else None
    if not isinstance(when, dt.datetime):
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def verification_policy(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The evidence that verified lone records without a visit in the published run (its run record says it).

    Args:
        con: A connection to the published database.

    Returns:
        `schemas.codes.Evidence` values; empty when the policy was the default (none) or the run predates it.
    """
    row = con.execute(
        f"SELECT r.counts FROM {View.RUNS} r JOIN {PUBLISHED} p ON p.run_id = r.run_id"  # noqa: S608  constants
    ).fetchone()
    if not row or not row[0]:
        return []
    counts = json.loads(row[0]) if isinstance(row[0], str) else row[0]
    return [str(v) for v in counts.get("verification_policy", [])]


def community_rows(
    con: duckdb.DuckDBPyConnection, *, station: str | None = None, community: str | None = None
) -> list[dict[str, Any]]:
    """Community-summary rows, in community-code order.

    Args:
        con: A connection to the published database.
        station: Only the communities of this police station.
        community: Only this community (by its code).

    Returns:
        One dict per community, keyed by the summary's columns.
    """
    return dict_rows(
        con,
        f"""SELECT * FROM {View.COMMUNITY_SUMMARY}
            WHERE (?::VARCHAR IS NULL OR police_station = ?) AND (?::VARCHAR IS NULL OR community_code = ?)
            ORDER BY community_code""",  # noqa: S608  the view's name from the View enum, every value a parameter
        [station, station, community, community],
    )
