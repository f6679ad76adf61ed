"""What a night finds, from the links and the operators' decisions: statuses, the work queue and the summary.

The one entry point after linking (`findings`), as `reconcile.prepare.prepare` is before it: the nightly stage
reads its inputs, calls this, and writes what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from reconcile.classify import classify
from reconcile.decisions import changed_pairs, record_outcomes
from reconcile.summary import community_summary
from reconcile.verification import verify
from reconcile.work_queue import build_queue
from schemas.codes import DecidedBy, Outcome, Side


@dataclass(frozen=True, slots=True)
class Findings:
    """One night's findings."""

    statuses: pl.DataFrame
    """One row per record of either side: status, verification, decision outcome, issues (`classify.STATUS_SCHEMA`+)."""
    queue: pl.DataFrame
    """What operators are asked to settle (`work_queue.QUEUE_SCHEMA`)."""
    summary: pl.DataFrame
    """One row per community (`summary.SUMMARY_COLUMNS`)."""


def communities(register: pl.DataFrame, roll_files: pl.DataFrame) -> pl.DataFrame:
    """Code, name, street and police station of every community seen on either side.

    `roll_files` (community_code, community_name) names the communities the roll files are named after: a community
    nobody is registered in still gets its name.
    """
    from_register = register.group_by("community_code").agg(
        pl.col("community_name").drop_nulls().mode().first(),
        pl.col("street").drop_nulls().mode().first(),
        pl.col("station").drop_nulls().mode().first().alias("police_station"),
    )
    from_files = roll_files.select("community_code", pl.col("community_name").alias("file_name")).unique(
        "community_code"
    )
    return (
        from_register.join(from_files, on="community_code", how="full", coalesce=True)
        .with_columns(pl.coalesce("community_name", "file_name").alias("community_name"))
        .drop("file_name")
    )


def _issues(register: pl.DataFrame, roll: pl.DataFrame) -> pl.DataFrame:
    return pl.concat(
        [
            register.select(pl.lit(Side.REGISTER.value).alias("side"), "idx", "issues"),
            roll.select(pl.lit(Side.ROLL.value).alias("side"), "idx", "issues"),
        ]
    )


def _review_pairs(links: pl.DataFrame, register: pl.DataFrame, roll: pl.DataFrame) -> pl.DataFrame:
    return (
        links.filter(pl.col("decided_by") == DecidedBy.REVIEW.value)
        .join(
            register.select(pl.col("idx").alias("rid"), pl.col("community_code").alias("register_community")),
            on="rid",
        )
        .join(roll.select(pl.col("idx").alias("lid"), pl.col("community_code").alias("roll_community")), on="lid")
    )


def findings(
    register: pl.DataFrame,
    roll: pl.DataFrame,
    links: pl.DataFrame,
    duplicates: pl.DataFrame,
    *,
    decisions: pl.DataFrame,
    pair_outcomes: pl.DataFrame,
    roll_files: pl.DataFrame,
) -> Findings:
    """Statuses, queue and summary from prepared records, tonight's links and the operators' standing decisions.

    `duplicates` is `LinkResult.duplicates()`; `decisions` the standing decisions (`services.decisions`);
    `pair_outcomes` what became of the pair decisions in linking (`reconcile.decisions.pair_decisions`);
    `roll_files` as in `communities`.
    """
    on_side = {side: duplicates.filter(pl.col("side") == side.value).drop("side") for side in Side}
    statuses = classify(register, roll, links, on_side[Side.REGISTER], on_side[Side.ROLL])
    outcomes = record_outcomes(decisions, register, roll)
    statuses = (
        verify(statuses, links, outcomes)
        .join(_issues(register, roll), on=["side", "idx"], how="left")
        .with_columns(pl.col("issues").list.join(",").alias("issues"))
    )
    changed = changed_pairs(pair_outcomes, decisions, register, roll)
    changed_records = outcomes.filter(pl.col("outcome") == Outcome.CHANGED.value).select("side", "idx")
    queue = build_queue(links, statuses, register, roll, changed, changed_records)
    summary = community_summary(
        statuses, register, roll, communities(register, roll_files), _review_pairs(links, register, roll)
    )
    return Findings(statuses=statuses, queue=queue, summary=summary)
