"""The published database: its shape, and reading it READ_ONLY, one connection per use.

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
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import duckdb

from schemas.codes import Side
from services.paths import DataPaths

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

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

    @property
    def qualified(self) -> str:
        """The table's name with its schema, as SQL names it."""
        return f"{RUN_SCHEMA}.{self.value}"


_RECORD_TABLES: dict[Side, RunTable] = {Side.REGISTER: RunTable.REGISTER_RECORDS, Side.ROLL: RunTable.ROLL_RECORDS}
_KEY_TABLES: dict[Side, RunTable] = {Side.REGISTER: RunTable.REGISTER_KEYS, Side.ROLL: RunTable.ROLL_KEYS}


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


@contextmanager
def published(data_dir: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the published database, closed afterwards.

    Args:
        data_dir: The data directory.

    Yields:
        The connection.

    Raises:
        FileNotFoundError: Nothing is published in `data_dir` yet.
    """
    path = DataPaths(data_dir).published
    if not path.exists():
        raise FileNotFoundError(f"nothing published in {data_dir}")
    con = duckdb.connect(str(path), read_only=True)
    try:
        yield con
    finally:
        con.close()


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
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' AND table_name = ?", [view.value]
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
