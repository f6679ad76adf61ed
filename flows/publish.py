"""Publish a run: a fresh DuckDB database built from the run's Parquet, swapped in atomically.

Readers attach the published file READ_ONLY per request; the
file being built is never the published one, so a failed run changes nothing.
"""

from __future__ import annotations

import json
import os
import shutil
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl

from reconcile.compare import COMPARISONS
from schemas.codes import Side

if TYPE_CHECKING:
    from pathlib import Path

    from services.paths import DataPaths

_LINK_EXTRAS = ", ".join(
    [f"l.{c.column} AS {c.name}_level" for c in COMPARISONS]
    + [f"l.{c.weight_column} AS {c.name}_weight" for c in COMPARISONS]
)

VIEWS: dict[str, str] = {
    "links": f"""
        SELECT r.source_file AS register_file, r.source_row AS register_row,
               o.source_file AS roll_file, o.source_row AS roll_row,
               r.community_code AS register_community, o.community_code AS roll_community,
               l.match_weight, l.match_probability, l.decided_by,
               r.source_sheet AS register_sheet, o.source_sheet AS roll_sheet,
               l.pair_probability, l.unexplained, r.person_key, {_LINK_EXTRAS}
        FROM run.links l
        JOIN run.register_keys r ON r.idx = l.rid
        JOIN run.roll_keys o ON o.idx = l.lid
    """,  # noqa: S608  the extra columns come from the comparison set, not from input
    "record_status": """
        SELECT side, source_file, source_row, community_code, status, other_community_code, person_key,
               linked_file, linked_row, verified_by, decision, decision_outcome, issues, address_incomplete,
               source_sheet, linked_sheet
        FROM run.record_status
    """,
    "community_summary": "SELECT * FROM run.community_summary",
    "queue": "SELECT * FROM run.queue",
    "quarantine": "SELECT side, source_file, source_row, reason, detail, original, source_sheet FROM run.quarantine",
    "input_files": "SELECT * FROM run.input_files",
    "model_parameters": "SELECT * FROM run.model_parameters",
    "runs": "SELECT * FROM run.runs",
}


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


def build_database(run_dir: Path, target: Path, *, run_id: str, runs: list[dict[str, Any]]) -> None:
    """Write a complete database for one run at `target` (which must not exist)."""
    con = duckdb.connect(str(target))
    try:
        con.execute("CREATE SCHEMA run")
        for name in ("links", "record_status", "community_summary", "quarantine", "queue"):
            con.execute(f"CREATE TABLE run.{name} AS SELECT * FROM read_parquet(?)", [str(run_dir / f"{name}.parquet")])  # noqa: S608  names from the literal tuple above
        status = pl.read_parquet(run_dir / "record_status.parquet")
        register_keys = status.filter(pl.col("side") == Side.REGISTER.value).select(
            "idx", "source_file", "source_sheet", "source_row", "community_code", "person_key"
        )
        roll_keys = status.filter(pl.col("side") == Side.ROLL.value).select(
            "idx", "source_file", "source_sheet", "source_row", "community_code", "person_key"
        )
        con.register("register_keys_df", register_keys.to_arrow())
        con.register("roll_keys_df", roll_keys.to_arrow())
        con.execute("CREATE TABLE run.register_keys AS SELECT * FROM register_keys_df")
        con.execute("CREATE TABLE run.roll_keys AS SELECT * FROM roll_keys_df")
        for side in Side:
            records = pl.read_parquet(run_dir / f"{side}.parquet").select(
                [c for c in RECORD_COLUMNS[side] if c in pl.read_parquet_schema(run_dir / f"{side}.parquet")]
            )
            con.register(f"{side}_records_df", records.to_arrow())
            con.execute(f"CREATE TABLE run.{side}_records AS SELECT * FROM {side}_records_df")  # noqa: S608  Side enum
        reports = json.loads((run_dir / "files.json").read_text())
        # A workbook's sheets as JSON text: one column type whatever the delivery holds.
        files = pl.DataFrame(
            [{**r, "sheets": json.dumps(r.get("sheets", []), ensure_ascii=False)} for r in reports],
            infer_schema_length=None,
        )
        con.register("files_df", files.to_arrow())
        con.execute("CREATE TABLE run.input_files AS SELECT * FROM files_df")
        model = json.loads((run_dir / "model.json").read_text())
        con.register("model_df", pl.DataFrame(model["parameters"]).to_arrow())
        con.execute("CREATE TABLE run.model_parameters AS SELECT * FROM model_df")
        runs_df = pl.DataFrame(runs, infer_schema_length=None) if runs else pl.DataFrame({"run_id": [run_id]})
        con.register("runs_df", runs_df.to_arrow())
        con.execute("CREATE TABLE run.runs AS SELECT * FROM runs_df")
        for view, sql in VIEWS.items():
            con.execute(f"CREATE VIEW main.{view} AS {sql}")
        con.execute("CREATE TABLE main.published AS SELECT ?::VARCHAR AS run_id, now() AS published_at", [run_id])
        con.execute("CHECKPOINT")
    finally:
        con.close()


def publish(run_dir: Path, paths: DataPaths, *, run_id: str, runs: list[dict[str, Any]], keep_runs: int) -> Path:
    """Build the database beside the published one and swap it in with `os.replace`."""
    building = paths.root / f".hukou.duckdb.{run_id}.building"
    if building.exists():
        building.unlink()
    try:
        build_database(run_dir, building, run_id=run_id, runs=runs)
        os.replace(building, paths.published)
    finally:
        if building.exists():
            building.unlink()
        wal = building.with_name(building.name + ".wal")
        if wal.exists():
            wal.unlink()
    _prune(paths, keep_runs, current=run_id)
    return paths.published


def _prune(paths: DataPaths, keep: int, *, current: str) -> None:
    """Remove the oldest run directories beyond `keep` (never the current one)."""
    if keep <= 0 or not paths.runs.exists():
        return
    runs = sorted(p for p in paths.runs.iterdir() if p.is_dir())
    for old in runs[: max(0, len(runs) - keep)]:
        if old.name != current:
            shutil.rmtree(old, ignore_errors=True)
