"""The classify stage: statuses, the work queue, the summary and coverage from the linked records.

One step over the whole city's files (`reconcile.findings`), or in units of whole communities
(`reconcile.by_community`) with the same result: `plan` writes each unit's records, links and duplicates in a
folder of their own (`WORK`), `run_unit` finds one unit's findings (on a cluster, a task per unit on the
workers: `flows.nightly`), and `finish` joins them into the files the whole step writes. A unit run twice (its
worker lost) writes a folder of its own; only those of the attempts returned are read.
"""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from flows import progress
from flows.spill import WORK_COMPRESSION, parquet_keep
from reconcile.by_community import (
    UNIT,
    community_units,
    joined,
    unit_codes,
    unit_findings,
    unit_inputs,
)
from reconcile.evidence import namesakes
from reconcile.findings import REGISTER_COLUMNS, ROLL_COLUMNS, Findings, findings
from reconcile.frames import collect
from reconcile.progress import progress as progress_since
from schemas.codes import Evidence, Side
from services.charts import summary_svg, summary_title

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence
    from pathlib import Path

WORK = "classify.units"
"""The run's folder for the units' inputs and findings, removed when the stage ends."""
_PARTS = ("register", "roll", "links", "duplicates")
_FOUND = ("statuses", "queue", "summary", "coverage")
_STAGE = "判定 classify"


@dataclass(frozen=True, slots=True)
class Plan:
    """The units of one night's classify: where their inputs are, each unit's communities and rows."""

    folder: Path
    codes: tuple[tuple[str | None, ...], ...]
    rows: tuple[tuple[int, ...], ...]
    """Rows written of each part (`_PARTS`, in order) for each unit: a unit checks it reads them all."""

    def expected(self, name: str, unit: int) -> int:
        """Rows the plan wrote of part `name` for `unit`."""
        return self.rows[_PARTS.index(name)][unit]


def roll_files(run: Path) -> pl.DataFrame:
    """The communities the roll files are named after (files.json)."""
    reports = json.loads((run / "files.json").read_text())
    return pl.DataFrame(
        [
            {"community_code": r["community_code"], "community_name": r["community_name"]}
            for r in reports
            if r["side"] == Side.ROLL and r["community_code"]
        ],
        schema={"community_code": pl.String, "community_name": pl.String},
    )


def _sources(run: Path) -> dict[str, pl.LazyFrame]:
    return {
        "register": pl.scan_parquet(run / "register.parquet").select(REGISTER_COLUMNS),
        "roll": pl.scan_parquet(run / "roll.parquet").select(ROLL_COLUMNS),
        "links": pl.scan_parquet(run / "links.parquet"),
        "duplicates": pl.scan_parquet(run / "duplicates.parquet"),
    }


def _vacant(run: Path) -> pl.DataFrame | None:
    """The roll's rows recording an empty flat (vacant.parquet), if normalisation wrote them."""
    vacant = run / "vacant.parquet"
    return pl.read_parquet(vacant) if vacant.exists() else None


def _options(run: Path, policy: Collection[Evidence]) -> dict[str, Any]:
    """What `reconcile.findings.findings` takes besides the records, links and duplicates, except `vacant`."""
    return {
        "decisions": pl.read_parquet(run / "decisions.parquet"),
        "pair_outcomes": pl.read_parquet(run / "pair_decisions.parquet"),
        "roll_files": roll_files(run),
        "policy": policy,
    }


def classify_stage(
    run: Path, policy: Collection[Evidence] = (), previous: Path | None = None, *, units: int | None = None
) -> dict[str, Any]:
    """Statuses for every record, the work queue, the community summary and roll coverage (`reconcile.findings`).

    `policy`: the evidence that verifies a lone record without a visit (`Settings.verify_without_visit`);
    `previous`: the last published run's directory, for the change since then (`reconcile.progress`);
    `units`: made in this many units of communities, one after another (`plan`, `run_unit`, `finish`), with the
    same result; none or 1, in one step over the whole city's files (the quickest on one machine).
    """
    if units is not None and units > 1:
        try:
            work = plan(run, units)
            with progress.stage(_STAGE, len(work.codes)):
                folders = []
                for unit in range(len(work.codes)):
                    folders.append(run_unit(run, work, unit, policy))
                    progress.advance(_STAGE)
            return finish(run, work, folders, previous)
        finally:
            shutil.rmtree(run / WORK, ignore_errors=True)  # records' copies: never left behind, whatever failed
    statuses = run / "record_status.parquet"
    with progress.stage(_STAGE, 1), parquet_keep(run / "classify-work", {"record_status": statuses}) as keep:
        sources = _sources(run)
        found = findings(  # scanned: each of its queries reads only the columns it uses (`reconcile.frames`)
            sources["register"],
            sources["roll"],
            sources["links"],
            collect(sources["duplicates"]),
            vacant=_vacant(run),
            keep=keep,
            **_options(run, policy),
        )
        counts = _written(run, found, previous)
        progress.advance(_STAGE)
    return counts


def plan(run: Path, units: int) -> Plan:
    """Assign the communities to `units` units and write each unit's inputs (`reconcile.by_community.unit_inputs`).

    Also the whole city's register records a namesake is looked for among (`reconcile.evidence.namesakes`).
    """
    folder = run / WORK
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    sources = _sources(run)
    assignment = community_units(sources["register"], sources["roll"], roll_files(run), units=units)
    inputs = unit_inputs(sources["register"], sources["roll"], sources["links"], sources["duplicates"], assignment)
    for name in _PARTS:  # one pass each: written together (collect_all) they peaked higher, no quicker
        getattr(inputs, name).sink_parquet(
            pl.PartitionBy(folder / name, key=UNIT, include_key=False), mkdir=True, compression=WORK_COMPRESSION
        )
    unplaced = namesakes(sources["register"], sources["links"], sources["duplicates"])
    unplaced.sink_parquet(folder / "unplaced.parquet", compression=WORK_COMPRESSION)
    codes = tuple(unit_codes(assignment))
    return Plan(folder, codes, tuple(_rows_written(folder / name, len(codes)) for name in _PARTS))


def _rows_written(part: Path, units: int) -> tuple[int, ...]:
    """Rows of each unit in a part written by units (`plan`): 0 for a unit with none."""
    if not any(part.glob("*/*.parquet")):
        return (0,) * units
    written = pl.scan_parquet(part / "*" / "*.parquet", hive_partitioning=True).group_by(UNIT).len().collect()
    counts = dict(written.iter_rows())
    return tuple(int(counts.get(unit, 0)) for unit in range(units))


def _part(work: Plan, run: Path, name: str, unit: int) -> pl.DataFrame:
    """One unit's part of `name` (`plan`): empty, with the source's columns, when the unit has none of it.

    Raises when it holds other than the rows the plan wrote (a work folder gone, or not all there yet).
    """
    expected = work.expected(name, unit)
    if expected == 0:
        return collect(_sources(run)[name].clear())
    folder = work.folder / name / f"{UNIT}={unit}"
    read = pl.read_parquet(folder / "*.parquet", hive_partitioning=False) if folder.exists() else None
    if read is None or read.height != expected:
        held = "none" if read is None else f"{read.height:,}"
        raise RuntimeError(f"classify unit {unit}: {held} {name} rows in {folder}, {expected:,} planned")
    return read


def run_unit(run: Path, work: Plan, unit: int, policy: Collection[Evidence] = ()) -> Path:
    """The findings of one unit of `work` (`reconcile.by_community.unit_findings`); the folder it wrote them to."""
    codes = work.codes[unit]
    register, roll, links, duplicates = (_part(work, run, name, unit) for name in _PARTS)
    found = unit_findings(
        register,
        roll,
        links,
        duplicates,
        codes=codes,
        unplaced=pl.scan_parquet(work.folder / "unplaced.parquet"),
        vacant=_vacant(run),
        **_options(run, policy),
    )
    out = work.folder / f"found-{unit}-{uuid.uuid4().hex}"
    out.mkdir()
    collect(found.statuses).write_parquet(out / "statuses.parquet", compression=WORK_COMPRESSION)
    for name in _FOUND[1:]:
        getattr(found, name).write_parquet(out / f"{name}.parquet", compression=WORK_COMPRESSION)
    return out


def finish(run: Path, work: Plan, found: Sequence[Path], previous: Path | None = None) -> dict[str, Any]:
    """Join the units' findings (`run_unit`'s folders, in unit order) and write the stage's files."""
    if len(found) != len(work.codes):
        raise ValueError(f"{len(found)} units' findings for {len(work.codes)} units")
    parts = [
        Findings(
            statuses=pl.scan_parquet(folder / "statuses.parquet"),
            **{name: pl.read_parquet(folder / f"{name}.parquet") for name in _FOUND[1:]},
        )
        for folder in found
    ]
    whole = joined(parts)
    whole.statuses.sink_parquet(run / "record_status.parquet", engine="streaming")
    records = sum(pl.scan_parquet(run / f"{side}.parquet").select(pl.len()).collect().item() for side in Side)
    written = pl.scan_parquet(run / "record_status.parquet").select(pl.len()).collect().item()
    if written != records:  # each record is in one unit's communities: a unit that lost some is found here
        raise RuntimeError(f"classify in units: {written:,} statuses for {records:,} records")
    counts = _written(run, whole, previous)
    shutil.rmtree(work.folder, ignore_errors=True)
    return counts | {"classify_units": len(parts)}


def _written(run: Path, found: Findings, previous: Path | None) -> dict[str, Any]:
    """Write what the stage writes besides the statuses (already in record_status.parquet); its counts."""
    statuses = run / "record_status.parquet"
    found.coverage.write_parquet(run / "coverage.parquet")
    last_queue = previous / "queue.parquet" if previous is not None else None
    known = last_queue is not None and last_queue.exists()
    progress_since(
        found.queue,
        pl.read_parquet(statuses, columns=["side", "idx", "pending"]),
        pl.read_parquet(last_queue) if known and last_queue is not None else None,
        previous_run_id=previous.name if known and previous is not None else None,
    ).write_parquet(run / "progress.parquet")
    found.queue.write_parquet(run / "queue.parquet")
    found.summary.write_parquet(run / "community_summary.parquet")
    (run / "community_summary.svg").write_text(
        summary_svg(found.summary.to_dicts(), title=summary_title(run.name)), encoding="utf-8"
    )
    counts = pl.scan_parquet(statuses).group_by("side", "status").len().collect()
    return {f"{side}_{status}": int(n) for side, status, n in counts.iter_rows()} | {
        "communities": found.summary.height
    }
