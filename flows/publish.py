"""Publish a run: a fresh DuckDB database built from the run's Parquet, swapped in atomically.

Readers attach the published file READ_ONLY per request; the
file being built is never the published one, so a failed run changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl

from reconcile.compare import COMPARISONS
from schemas.codes import Side
from services.reader import (
    GROUPS,
    LONE_ITEM_COLUMNS,
    PUBLISHED,
    RUN_SCHEMA,
    RunTable,
    View,
    key_table,
    queue_with_names,
    record_table,
)

if TYPE_CHECKING:
    from pathlib import Path

    from services.paths import DataPaths

logger = logging.getLogger(__name__)

_LINK_EXTRAS = ", ".join(
    [f"l.{c.column} AS {c.name}_level" for c in COMPARISONS]
    + [f"l.{c.weight_column} AS {c.name}_weight" for c in COMPARISONS]
)

VIEWS: dict[View, str] = {
    View.LINKS: f"""
        SELECT r.source_file AS register_file, r.source_row AS register_row,
               o.source_file AS roll_file, o.source_row AS roll_row,
               r.community_code AS register_community, o.community_code AS roll_community,
               l.match_weight, l.match_probability, l.decided_by,
               r.source_sheet AS register_sheet, o.source_sheet AS roll_sheet,
               l.pair_probability, l.unexplained, r.person_key, {_LINK_EXTRAS}
        FROM {RunTable.LINKS.qualified} l
        JOIN {key_table(Side.REGISTER)} r ON r.idx = l.rid
        JOIN {key_table(Side.ROLL)} o ON o.idx = l.lid
    """,  # noqa: S608  the extra columns come from the comparison set, the tables from services.reader
    View.RECORD_STATUS: f"""
        SELECT side, source_file, source_row, community_code, status, other_community_code, person_key,
               linked_file, linked_row, verified_by, decision, decision_outcome, issues, address_incomplete,
               source_sheet, linked_sheet, pending, evidence, others_at_flat, others_since, hint_community,
               flat, household_key, grid, building
        FROM {RunTable.RECORD_STATUS.qualified}
    """,  # noqa: S608  table names from services.reader
    View.COMMUNITY_SUMMARY: f"SELECT * FROM {RunTable.COMMUNITY_SUMMARY.qualified}",  # noqa: S608
    View.QUEUE: f"SELECT * FROM {RunTable.QUEUE.qualified}",  # noqa: S608
    View.QUARANTINE: "SELECT side, source_file, source_row, reason, detail, original, source_sheet "  # noqa: S608
    f"FROM {RunTable.QUARANTINE.qualified}",
    View.INPUT_FILES: f"SELECT * FROM {RunTable.INPUT_FILES.qualified}",  # noqa: S608
    View.MODEL_PARAMETERS: f"SELECT * FROM {RunTable.MODEL_PARAMETERS.qualified}",  # noqa: S608
    View.RUNS: f"SELECT * FROM {RunTable.RUNS.qualified}",  # noqa: S608
    View.COVERAGE: f"SELECT * FROM {RunTable.COVERAGE.qualified}",  # noqa: S608
    View.PROGRESS: f"SELECT * FROM {RunTable.PROGRESS.qualified}",  # noqa: S608
}
"""Each published view's definition over the run's tables (names from `services.reader`, never from input)."""

_FROM_PARQUET: tuple[RunTable, ...] = (
    RunTable.LINKS,
    RunTable.RECORD_STATUS,
    RunTable.COMMUNITY_SUMMARY,
    RunTable.QUARANTINE,
    RunTable.QUEUE,
    RunTable.COVERAGE,
    RunTable.PROGRESS,
)
"""The run tables copied as they are from the run's Parquet file of the same name."""


RECORD_COLUMNS: dict[Side, list[str]] = {
    Side.REGISTER: [
        "idx",
        "source_file",
        "source_sheet",
        "source_row",
        "community_code",
        "community_name",
        "street",
        "station",
        "household_key",
        "relation_raw",
        "name",
        "name_raw",
        "former_name",
        "id_clean",
        "id18",
        "birth",
        "sex",
        "address_raw",
        "dwelling",
        "active",
        "person_state",
        "record_key",
        "fingerprint",
    ],
    Side.ROLL: [
        "idx",
        "source_file",
        "source_sheet",
        "source_row",
        "community_code",
        "grid",
        "name",
        "name_raw",
        "id_clean",
        "id18",
        "birth",
        "sex",
        "address_raw",
        "dwelling",
        "flat",
        "flat_fits",
        "house_kind",
        "phone",
        "record_key",
        "fingerprint",
    ],
}


_KEY_COLUMNS = ("idx", "source_file", "source_sheet", "source_row", "community_code", "person_key")
"""A side's record keys: the columns of `record_status` the link view joins on and shows."""


_QUEUE_PAGES = f"""
    WITH shown AS ({queue_with_names()})
    SELECT community_code AS page_community, false AS elsewhere, * FROM shown
    UNION ALL
    SELECT other_community_code, true, * FROM shown
    WHERE other_community_code IS NOT NULL AND other_community_code <> community_code
    ORDER BY page_community, elsewhere, item_id
"""  # noqa: S608  names from services.reader
"""`RunTable.QUEUE_PAGES`: sorted by community, so a page's lookup reads the row groups of its community only."""
_LOOKUP_INDEXES: tuple[tuple[str, str], ...] = (
    (record_table(Side.REGISTER), "idx"),
    (record_table(Side.ROLL), "idx"),
    (RunTable.QUEUE.qualified, "item_id"),
    (RunTable.RECORD_STATUS.qualified, "idx"),
    *((table.qualified, column) for table, column, _ in GROUPS.values()),
)
"""(table, column) the review app looks single rows or groups up by: an index each, made once a publish.

DuckDB looks a row up by an index only when the query's filter is that one equality: the readers filter the rest.
"""


def _for_pages(con: duckdb.DuckDBPyConnection) -> None:
    """What the review app would otherwise compute on every page, made once a publish.

    The queue per community, who is in each household and flat with their statuses and lone items, and lookup
    indexes.
    """
    con.execute(f"CREATE TABLE {RunTable.QUEUE_PAGES.qualified} AS {_QUEUE_PAGES}")
    for side, (table, column, kind) in GROUPS.items():  # looked up by their index
        con.execute(  # narrow: a page takes the members' records themselves by `idx` (its index)
            f"""CREATE TABLE {table.qualified} AS
                SELECT x.idx, x.{column}, x.community_code, x.source_file, x.source_sheet, x.source_row,
                       s.status, s.evidence, s.other_community_code, s.verified_by, {LONE_ITEM_COLUMNS}
                FROM {record_table(side)} x
                LEFT JOIN {RunTable.RECORD_STATUS.qualified} s ON s.side = ? AND s.idx = x.idx
                LEFT JOIN {RunTable.QUEUE.qualified} q ON q.{side}_idx = x.idx AND q.kind = ?""",  # noqa: S608  names from this module
            [side.value, kind.value],
        )
    for i, (indexed, column) in enumerate(_LOOKUP_INDEXES):
        con.execute(f"CREATE INDEX lookup_{i} ON {indexed} ({column})")


def build_database(
    run_dir: Path, target: Path, *, run_id: str, runs: list[dict[str, Any]], memory: str | None = None
) -> None:
    """Write a complete database for one run at `target` (which must not exist).

    `memory`: what DuckDB may hold (`Settings.publish_memory`), spilling past it into `spill_dir(target)`;
    None: DuckDB's default, most of the machine's memory.
    """
    # One thread: DuckDB then writes each table's row groups once, in order; more threads write them
    # out of order and rewrite them at the checkpoint (more work, a larger file, no faster on two cores).
    config: dict[str, str | bool | int | float | list[str]] = {"threads": 1}
    if memory is not None:
        config |= {"memory_limit": memory, "temp_directory": str(spill_dir(target))}
    con = duckdb.connect(str(target), config=config)
    try:
        con.execute(f"CREATE SCHEMA {RUN_SCHEMA}")
        for table in _FROM_PARQUET:
            con.execute(
                f"CREATE TABLE {table.qualified} AS SELECT * FROM read_parquet(?)",  # noqa: S608  names from RunTable
                [str(run_dir / f"{table}.parquet")],
            )
        # Straight from the tables and files: no rows pass through Python (the order of rows is kept).
        for side in Side:
            con.execute(
                f"CREATE TABLE {key_table(side)} AS SELECT {', '.join(_KEY_COLUMNS)} "  # noqa: S608  names from services.reader
                f"FROM {RunTable.RECORD_STATUS.qualified} WHERE side = ?",
                [side.value],
            )
        for side in Side:
            source = run_dir / f"{side}.parquet"
            present = set(pl.read_parquet_schema(source))
            columns = ", ".join(f'"{c}"' for c in RECORD_COLUMNS[side] if c in present)
            con.execute(
                f"CREATE TABLE {record_table(side)} AS SELECT {columns} FROM read_parquet(?)",  # noqa: S608  Side enum, RECORD_COLUMNS
                [str(source)],
            )
        reports = json.loads((run_dir / "files.json").read_text())
        # A workbook's sheets as JSON text: one column type whatever the delivery holds.
        files = pl.DataFrame(
            [
                {
                    **r,
                    "sheets": json.dumps(r.get("sheets", []), ensure_ascii=False),
                    "duplicate_headers": json.dumps(r.get("duplicate_headers", []), ensure_ascii=False),
                }
                for r in reports
            ],
            infer_schema_length=None,
        )
        con.register("files_df", files.to_arrow())
        con.execute(f"CREATE TABLE {RunTable.INPUT_FILES.qualified} AS SELECT * FROM files_df")  # noqa: S608  RunTable
        model = json.loads((run_dir / "model.json").read_text())
        con.register("model_df", pl.DataFrame(model["parameters"]).to_arrow())
        con.execute(f"CREATE TABLE {RunTable.MODEL_PARAMETERS.qualified} AS SELECT * FROM model_df")  # noqa: S608  RunTable
        runs_df = pl.DataFrame(_finished(runs, run_id), infer_schema_length=None)
        con.register("runs_df", runs_df.to_arrow())
        con.execute(f"CREATE TABLE {RunTable.RUNS.qualified} AS SELECT * FROM runs_df")  # noqa: S608  RunTable
        _for_pages(con)
        for view in View:
            con.execute(f"CREATE VIEW main.{view} AS {VIEWS[view]}")
        con.execute(
            f"CREATE TABLE main.{PUBLISHED} AS SELECT ?::VARCHAR AS run_id, now() AS published_at",
            [run_id],
        )
        con.execute("CHECKPOINT")
    finally:
        try:
            con.close()
        finally:
            shutil.rmtree(spill_dir(target), ignore_errors=True)


def spill_dir(target: Path) -> Path:
    """Where the publish building `target` spills what exceeds its memory: a folder of its own beside it."""
    return target.with_name(target.name + ".spill")


def _finished(runs: list[dict[str, Any]], run_id: str) -> list[dict[str, Any]]:
    """The run history with this run finished now, as its database is published.

    The state database records the run's end a moment later, after the swap: the published history is complete.
    """
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    this = {"run_id": run_id, "finished_at": now}
    rows = [{**r, "finished_at": r.get("finished_at") or now} if r.get("run_id") == run_id else r for r in runs]
    return rows if any(r.get("run_id") == run_id for r in rows) else [*rows, this]


def publish(
    run_dir: Path,
    paths: DataPaths,
    *,
    run_id: str,
    runs: list[dict[str, Any]],
    keep_runs: int,
    memory: str | None = None,
) -> Path:
    """Build the database beside the published one and swap it in with `os.replace`.

    `memory`: what the build may hold (`build_database`). A build that does not fit is built again without the
    limit, with a warning: the night publishes rather than fail on a setting.
    """
    for left in paths.root.glob(f"{_BUILDING}*"):  # by a publish killed outright (runs never overlap: the run lock)
        if left.is_dir():
            shutil.rmtree(left)
        else:
            left.unlink()
    building = paths.root / f"{_BUILDING}{run_id}.building"
    try:
        try:
            _build_afresh(run_dir, building, run_id=run_id, runs=runs, memory=memory)
        except duckdb.OutOfMemoryException as exc:
            logger.warning("the publish did not fit in %s (%s): built again without a limit", memory, exc)
            _build_afresh(run_dir, building, run_id=run_id, runs=runs, memory=None)
        os.replace(building, paths.published)
    finally:
        _remove_build(building)
    _prune(paths, keep_runs, current=run_id)
    return paths.published


_BUILDING = ".hukou.duckdb."
"""How the names of a database being built, its write-ahead log and its spill folder begin."""


def _build_afresh(run_dir: Path, building: Path, **how: Any) -> None:
    _remove_build(building)
    build_database(run_dir, building, **how)


def _remove_build(building: Path) -> None:
    building.unlink(missing_ok=True)
    building.with_name(building.name + ".wal").unlink(missing_ok=True)


def _prune(paths: DataPaths, keep: int, *, current: str) -> None:
    """Remove the oldest run directories beyond `keep` (never the current one)."""
    if keep <= 0 or not paths.runs.exists():
        return
    runs = sorted(p for p in paths.runs.iterdir() if p.is_dir())
    for old in runs[: max(0, len(runs) - keep)]:
        if old.name != current:
            shutil.rmtree(old, ignore_errors=True)
