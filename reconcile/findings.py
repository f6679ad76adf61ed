"""What a night finds, from the links and the operators' decisions: statuses, the work queue and the summary.

The one entry point after linking (`findings`), as `reconcile.prepare.prepare` is before it: the nightly stage
reads its inputs, calls this, and writes what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from reconcile.aliases import with_learnt_places
from reconcile.classify import classify_query
from reconcile.decisions import changed_pairs, record_outcomes
from reconcile.evidence import building_grids, building_key, building_label, coverage, evidence, namesakes
from reconcile.frames import Frame, Keep, collect, in_memory
from reconcile.most_common import most_common
from reconcile.summary import community_summary
from reconcile.verification import verify
from reconcile.work_queue import build_queue
from schemas.codes import DecidedBy, Evidence, Outcome, Side

if TYPE_CHECKING:
    from collections.abc import Collection


_BOTH = (
    *("idx", "source_file", "source_sheet", "source_row", "record_key", "fingerprint", "person_key"),
    *("community_code", "name", "birth", "sex", "issues"),
    *("dw_class", "dw_place", "dw_building", "dw_unit", "dw_room", "flat", "flat_fits"),
)
REGISTER_COLUMNS = (*_BOTH, "active", "household_key", "community_name", "street", "station")
"""What `findings` reads of prepared register records: a nightly run reads no more (memory). Each column here is
used: `tests/reconcile/test_findings_columns.py` drops each in turn."""
ROLL_COLUMNS = (*_BOTH, "grid", "recorded_raw", "flat_candidates", "community_name")
"""What `findings` reads of prepared roll records."""


@dataclass(frozen=True, slots=True)
class Findings:
    """One night's findings."""

    statuses: pl.LazyFrame
    """One row per record of either side: status, verification, decision outcome, issues (`classify.STATUS_SCHEMA`+),
    as `keep` kept them under the name "record_status" (`findings`): a keep that writes files must keep that one
    beyond the step (`flows.spill.parquet_keep`'s `outputs`)."""
    queue: pl.DataFrame
    """What operators are asked to settle (`work_queue.QUEUE_SCHEMA`)."""
    summary: pl.DataFrame
    """One row per community (`summary.SUMMARY_COLUMNS`)."""
    coverage: pl.DataFrame
    """Roll coverage per building (`evidence.COVERAGE_SCHEMA`)."""


def communities(register: Frame, roll_files: pl.DataFrame) -> pl.DataFrame:
    """Code, name, street and police station of every community seen on either side.

    `roll_files` (community_code, community_name) names the communities the roll files are named after: a community
    nobody is registered in still gets its name.
    """
    register = register.lazy()
    names = register.select("community_code").unique()
    for column, out in (("community_name", "community_name"), ("street", "street"), ("station", "police_station")):
        most = most_common(register, "community_code", column).rename({column: out})
        names = names.join(most, on="community_code", how="left", nulls_equal=True)
    from_register = collect(names)
    from_files = roll_files.select("community_code", pl.col("community_name").alias("file_name")).unique(
        "community_code"
    )
    return (
        from_register.join(from_files, on="community_code", how="full", coalesce=True)
        .with_columns(pl.coalesce("community_name", "file_name").alias("community_name"))
        .drop("file_name")
    )


def _issues(register: pl.LazyFrame, roll: pl.LazyFrame) -> pl.LazyFrame:
    return pl.concat(
        [
            register.select(pl.lit(Side.REGISTER.value).alias("side"), "idx", "issues"),
            roll.select(pl.lit(Side.ROLL.value).alias("side"), "idx", "issues"),
        ]
    )


def _places(register: pl.LazyFrame, roll: pl.LazyFrame) -> pl.LazyFrame:
    """Where each record is: its flat and building, a register record's household, and its grid.

    A register record's flat is its registered flat, a roll record's the flat it names; a roll record's grid is
    its own, a register record's the grid of its building (`evidence.building_grids`; null where the roll never
    names the building). Worksheets and the coverage page group by them.
    """
    return pl.concat(
        [
            register.with_columns(building_key().alias("_building"))
            .join(
                building_grids(roll).rename({"building": "_building"}),
                on="_building",
                how="left",
            )
            .select(
                pl.lit(Side.REGISTER.value).alias("side"),
                "idx",
                "flat",
                "household_key",
                "grid",
                pl.when(pl.col("dw_building").is_not_null()).then(building_label()).alias("building"),
            ),
            roll.select(
                pl.lit(Side.ROLL.value).alias("side"),
                "idx",
                "flat",
                pl.lit(None, dtype=pl.String).alias("household_key"),
                pl.col("grid").cast(pl.String),
                pl.when(pl.col("dw_building").is_not_null()).then(building_label()).alias("building"),
            ),
        ]
    )


def _review_pairs(links: Frame, register: pl.LazyFrame, roll: pl.LazyFrame) -> pl.DataFrame:
    return collect(
        links.lazy()
        .filter(pl.col("decided_by") == DecidedBy.REVIEW.value)
        .join(
            register.select(pl.col("idx").alias("rid"), pl.col("community_code").alias("register_community")),
            on="rid",
        )
        .join(roll.select(pl.col("idx").alias("lid"), pl.col("community_code").alias("roll_community")), on="lid")
    )


def findings(
    register: Frame,
    roll: Frame,
    links: Frame,
    duplicates: pl.DataFrame,
    *,
    decisions: pl.DataFrame,
    pair_outcomes: pl.DataFrame,
    roll_files: pl.DataFrame,
    vacant: pl.DataFrame | None = None,
    unplaced: Frame | None = None,
    policy: Collection[Evidence] = (),
    keep: Keep = in_memory,
) -> Findings:
    """Statuses, queue and summary from prepared records, tonight's links and the operators' standing decisions.

    `duplicates` is `LinkResult.duplicates()`; `decisions` the standing decisions (`services.decisions`);
    `pair_outcomes` what became of the pair decisions in linking (`reconcile.decisions.pair_decisions`);
    `roll_files` as in `communities`; `vacant` the roll's rows recording empty flats (`reconcile.prepare.Prepared`);
    `policy` the evidence that verifies a lone record without a visit (`reconcile.verification.verify`);
    `unplaced` the whole city's register records a lone roll record's namesake is looked for among
    (`reconcile.evidence.namesakes`): found from these records when not given, so give it when the records are a
    few communities' (`reconcile.by_community`).
    Pass the records as Parquet scans (`pl.scan_parquet`) to hold only what each step reads (`reconcile.frames`),
    and a `keep` that writes what several queries read (the statuses first of all) to disk, to hold no whole side.
    """
    register, roll = register.lazy(), with_learnt_places(register, roll, links)
    on_side = {side: duplicates.filter(pl.col("side") == side.value).drop("side") for side in Side}
    classified = keep(
        "classified", classify_query(register, roll, links, on_side[Side.REGISTER], on_side[Side.ROLL], keep=keep)
    )
    if unplaced is None:
        unplaced = namesakes(register, links, duplicates)
    lone = evidence(classified, register, roll, links, vacant, unplaced=unplaced)
    outcomes = record_outcomes(decisions, register, roll)
    statuses = keep(
        "record_status",
        verify(
            classified.join(lone.lazy(), on=["side", "idx"], how="left", maintain_order="left"),
            links,
            outcomes,
            policy=policy,
        )
        .join(_issues(register, roll), on=["side", "idx"], how="left", maintain_order="left")
        .join(_places(register, roll), on=["side", "idx"], how="left", maintain_order="left")
        .with_columns(pl.col("issues").list.join(",").alias("issues")),
    )
    changed = changed_pairs(pair_outcomes, decisions, register, roll)
    changed_records = outcomes.filter(pl.col("outcome") == Outcome.CHANGED.value).select("side", "idx")
    queue = build_queue(links, statuses, register, roll, changed, changed_records)
    summary = community_summary(
        statuses, register, roll, communities(register, roll_files), _review_pairs(links, register, roll)
    )
    return Findings(statuses=statuses, queue=queue, summary=summary, coverage=coverage(register, roll, vacant))
