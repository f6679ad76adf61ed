"""How many desk actions settle one community's lone records: worksheets and household decisions against one click each.

Plays the operator on a generated city without a browser, through the services the review app calls: prints a
door-visit worksheet per grid (`services.worksheet.build_worksheet`), fills every row as a grid worker who knows
the truth would (the generator's ground truth: who lives at the flat), imports it (`import_worksheet`), runs the
next night and counts what is still pending. Prints the actions per route and how the verified statuses agree
with the truth.

    uv run python -m benchmarks.fieldwork [--scale 1] [--seed 0] [--community 古塘社区]
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from typing import TYPE_CHECKING, Any

import duckdb
import openpyxl
import polars as pl

from benchmarks.run import WORK, city
from flows.pipeline import LOCAL, run_pipeline
from flows.settings import Settings
from schemas.codes import Role, Side, Status, VisitResult
from services import worksheet
from services.accounts import add_user
from services.paths import DataPaths

if TYPE_CHECKING:
    from pathlib import Path

PASSWORD = "fieldwork benchmark"  # noqa: S105  the throwaway operator of a benchmark data directory
LONE = (Status.ABSENT.value, Status.UNREGISTERED.value)
LIVES_THERE = {Side.REGISTER: {"consistent"}, Side.ROLL: {"unregistered", "consistent", "moved_within", "duplicate"}}
"""Truth statuses of a person a worker would find at the door: a register record only at its registered flat."""


def _run(source: Path, data: Path) -> float:
    register = next((source / "register").iterdir())
    t0 = time.perf_counter()
    run_pipeline(register, source / "rolls", Settings(data_dir=data, quiet_seconds=0, keep_runs=2), LOCAL)
    return time.perf_counter() - t0


def _sql(data: Path, query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(DataPaths(data).published), read_only=True)
    try:
        return con.execute(query, params or []).fetchall()
    finally:
        con.close()


def _community(data: Path, wanted: str) -> tuple[str, str]:
    rows = _sql(
        data,
        "SELECT community_code, community_name FROM community_summary WHERE community_code = ? OR community_name = ?",
        [wanted, wanted],
    )
    if not rows:
        raise SystemExit(f"no community {wanted!r} in the published run")
    return str(rows[0][0]), str(rows[0][1])


def _pending(data: Path, code: str) -> dict[str, int]:
    rows = _sql(
        data,
        "SELECT status, count(*) FROM record_status WHERE community_code = ? AND pending AND status IN (?, ?)"
        " GROUP BY status",
        [code, *LONE],
    )
    return {str(status): int(n) for status, n in rows}


def _truth(data: Path, source: Path) -> dict[tuple[str, str], str]:
    """(side, record_key) → the generator's true status, for every record of the published run."""
    truth_dir = source / "truth"
    register = pl.DataFrame(
        _sql(data, "SELECT record_key, source_row FROM run.register_records"),
        schema=["record_key", "register_row"],
        orient="row",
    ).join(pl.read_parquet(truth_dir / "register_truth.parquet").select("register_row", "status"), on="register_row")
    roll = pl.DataFrame(
        _sql(data, "SELECT record_key, source_file, source_row FROM run.roll_records"),
        schema=["record_key", "roll_file", "roll_row"],
        orient="row",
    ).join(
        pl.read_parquet(truth_dir / "roll_truth.parquet").select("roll_file", "roll_row", "status"),
        on=["roll_file", "roll_row"],
    )
    out = {(Side.REGISTER.value, k): s for k, s in register.select("record_key", "status").iter_rows()}
    return out | {(Side.ROLL.value, k): s for k, s in roll.select("record_key", "status").iter_rows()}


def _fill(path: Path, truth: dict[tuple[str, str], str]) -> int:
    """Fill every row's result as a worker at the door would; returns the rows filled."""
    book = openpyxl.load_workbook(path)
    filled = 0
    for sheet in book.worksheets:
        if sheet.title == worksheet.GUIDE_TITLE:
            continue
        for row in range(worksheet.FIRST_ROW + 1, sheet.max_row + 1):
            token = sheet.cell(row, worksheet.TOKEN_COL + 1).value
            if not token:
                continue
            members = json.loads(str(token))["m"]
            present = [
                i + 1 for i, (side, key, _) in enumerate(members) if truth.get((side, key)) in LIVES_THERE[Side(side)]
            ]
            result = VisitResult.PRESENT if present else VisitResult.NOT_PRESENT
            sheet.cell(row, worksheet.RESULT_COL + 1).value = result.label
            if present and len(present) < len(members):
                sheet.cell(row, worksheet.MEMBERS_COL + 1).value = ",".join(map(str, present))
            filled += 1
    book.save(path)
    return filled


def _agreement(data: Path, code: str, truth: dict[tuple[str, str], str]) -> dict[str, Any]:
    """How the statuses operators verified agree with the truth, per side."""
    out: dict[str, Any] = {}
    for side in Side:
        rows = _sql(
            data,
            f"""SELECT r.record_key, s.status FROM run.record_status s
                JOIN run.{side}_records r ON r.idx = s.idx
                WHERE s.side = ? AND s.community_code = ? AND s.verified_by = 'operator'""",  # noqa: S608  Side enum
            [side.value, code],
        )
        agree = sum(
            1
            for key, status in rows
            if (truth.get((side.value, key)) in LIVES_THERE[side]) == (status != Status.ABSENT.value)
        )
        out[side.value] = {"verified_by_operator": len(rows), "agree_with_truth": agree}
    return out


def fieldwork(scale: int, seed: int, wanted: str) -> dict[str, Any]:
    """Run the benchmark on one community of a generated city; returns what it measured."""
    source, _ = city(scale, seed)
    data = WORK / f"data-fieldwork-s{scale}"
    shutil.rmtree(data, ignore_errors=True)
    first_run = _run(source, data)
    code, name = _community(data, wanted)
    operator = add_user(DataPaths(data).state, "fieldwork", PASSWORD, Role.OPERATOR, code)
    before = _pending(data, code)
    visits = worksheet.visits(data, code)
    truth = _truth(data, source)
    sheets: list[str] = []
    t_export, t_import, rows_filled, refused = 0.0, 0.0, 0, 0
    out_dir = data / "worksheets"
    out_dir.mkdir()
    for grid in worksheet.grid_counts(data, code):
        path = out_dir / f"{len(sheets)}.xlsx"
        t0 = time.perf_counter()
        worksheet.build_worksheet(data, community=code, grid=grid, username=operator.username, out=path)
        t_export += time.perf_counter() - t0
        rows_filled += _fill(path, truth)
        t0 = time.perf_counter()
        report = worksheet.import_worksheet(data, path, user=operator)
        t_import += time.perf_counter() - t0
        refused += report.count(worksheet.RowOutcome.REFUSED)
        sheets.append(grid)
    second_run = _run(source, data)
    after = _pending(data, code)
    per_record = sum(before.values())
    desk = 2 * len(sheets)  # print a sheet, import it
    return {
        "scale": scale,
        "community": f"{code} {name}",
        "lone_records_pending_before": before,
        "per_record_actions": per_record,
        "households_to_visit": sum(v.category == worksheet.HOUSEHOLD for v in visits),
        "flats_to_visit": sum(v.category == worksheet.FLAT for v in visits),
        "household_and_flat_actions": len(visits),
        "household_and_flat_ratio": round(len(visits) / per_record, 3) if per_record else None,
        "worksheets": len(sheets),
        "worksheet_desk_actions": desk,
        "worksheet_desk_ratio": round(desk / per_record, 4) if per_record else None,
        "worksheet_rows_filled_in_the_field": rows_filled,
        "rows_refused": refused,
        "lone_records_pending_after": after,
        "verified_against_truth": _agreement(data, code, truth),
        "seconds": {
            "first_run": round(first_run, 1),
            "worksheets_export": round(t_export, 2),
            "worksheets_import": round(t_import, 2),
            "second_run": round(second_run, 1),
        },
    }


def main() -> None:
    """Parse the arguments, run, print the figures and the JSON line to record."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--community", default="古塘社区", help="code or name")
    args = parser.parse_args()
    result = fieldwork(args.scale, args.seed, args.community)
    print(f"community {result['community']} (scale {result['scale']})")
    print(f"  lone records pending: {result['per_record_actions']:,} {result['lone_records_pending_before']}")
    print(f"  one click per record:            {result['per_record_actions']:>7,} actions")
    print(
        f"  household / flat decisions:      {result['household_and_flat_actions']:>7,} actions"
        f"  ({result['household_and_flat_ratio']} of per-record)"
    )
    print(
        f"  worksheets ({result['worksheets']} grids): print + import {result['worksheet_desk_actions']:>4} desk actions"
        f"  ({result['worksheet_desk_ratio']} of per-record), {result['worksheet_rows_filled_in_the_field']:,} rows"
        f" filled at the door, {result['rows_refused']} refused"
    )
    print(f"  pending after the next night: {result['lone_records_pending_after']}")
    print(f"  verified against the truth: {result['verified_against_truth']}")
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
