"""Accuracy of a run against the generator's ground truth."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import polars as pl

from reconcile.block import rule_bits
from schemas.codes import DecidedBy, Side, Status

PAIR_KEY = ["roll_file", "roll_row", "register_row"]


def true_pairs(truth_dir: Path) -> pl.DataFrame:
    """The true links: (roll_file, roll_row, register_row) of each registered person's first roll record.

    Second records are duplicates, not links.
    """
    truth = pl.read_parquet(truth_dir / "roll_truth.parquet")
    return truth.filter(pl.col("register_row").is_not_null() & (pl.col("status") != "duplicate")).select(PAIR_KEY)


def pair_metrics(found: pl.DataFrame, truth: pl.DataFrame) -> dict[str, float]:
    """Precision, recall and F1 of `found` pairs (PAIR_KEY columns) against `truth`."""
    correct = found.join(truth, on=PAIR_KEY, how="semi").height
    precision = correct / found.height if found.height else 1.0
    recall = correct / truth.height if truth.height else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "pairs": float(found.height)}


def lineage(run: Path, *, rid: str = "rid", lid: str = "lid") -> tuple[pl.DataFrame, pl.DataFrame]:
    """(register ids → register_row, roll ids → roll_file/roll_row) of a run, to key pairs by lineage."""
    register = pl.read_parquet(run / "register.parquet", columns=["idx", "source_row"])
    roll = pl.read_parquet(run / "roll.parquet", columns=["idx", "source_file", "source_row"])
    return (
        register.select(pl.col("idx").alias(rid), pl.col("source_row").alias("register_row")),
        roll.select(
            pl.col("idx").alias(lid), pl.col("source_file").alias("roll_file"), pl.col("source_row").alias("roll_row")
        ),
    )


def _keyed_links(run: Path) -> pl.DataFrame:
    register, roll = lineage(run)
    links = pl.read_parquet(run / "links.parquet", columns=["rid", "lid", "decided_by"])
    return links.join(register, on="rid").join(roll, on="lid")


def blocking_recall(run: Path, truth: pl.DataFrame) -> dict[str, float]:
    """Share of true pairs among the candidates, overall and per blocking rule."""
    register, roll = lineage(run)
    keyed = truth.join(register, on="register_row").join(roll, on=["roll_file", "roll_row"])
    candidates = pl.read_parquet(run / "candidates.parquet")
    found = keyed.join(candidates, on=["rid", "lid"], how="left")
    out = {"all rules": float(found["rules"].is_not_null().sum()) / max(1, truth.height)}
    for rule, bit in rule_bits().items():
        out[rule] = float(((found["rules"] & bit) != 0).fill_null(False).sum()) / max(1, truth.height)
    return out


def status_accuracy(run: Path, truth_dir: Path) -> dict[str, float]:
    """Share of decided records (not in review) whose status and other community are right."""
    statuses = pl.read_parquet(run / "record_status.parquet")
    reg_truth = pl.read_parquet(truth_dir / "register_truth.parquet").select(
        pl.lit(Side.REGISTER.value).alias("side"),
        pl.col("register_file").alias("source_file"),
        pl.col("register_row").alias("source_row"),
        pl.col("status").alias("true_status"),
        pl.col("other_community_code").alias("true_other"),
    )
    roll_truth = pl.read_parquet(truth_dir / "roll_truth.parquet").select(
        pl.lit(Side.ROLL.value).alias("side"),
        pl.col("roll_file").alias("source_file"),
        pl.col("roll_row").alias("source_row"),
        pl.col("status").alias("true_status"),
        pl.col("other_community_code").alias("true_other"),
    )
    joined = statuses.join(pl.concat([reg_truth, roll_truth]), on=["side", "source_file", "source_row"])
    decided = joined.filter(pl.col("status") != Status.REVIEW.value)
    right = (decided["status"] == decided["true_status"]).sum()
    right_other = (
        decided.filter(pl.col("status").is_in([Status.ABSENT.value, Status.UNREGISTERED.value]))
        .select((pl.col("other_community_code").eq_missing(pl.col("true_other"))).mean())
        .item()
    )
    return {
        "decided_records": float(decided.height),
        "status_accuracy": float(right) / max(1, decided.height),
        "other_community_accuracy": float(right_other or 0.0),
        "register_accuracy": float(
            decided.filter(pl.col("side") == Side.REGISTER.value)
            .select((pl.col("status") == pl.col("true_status")).mean())
            .item()
            or 0
        ),
        "roll_accuracy": float(
            decided.filter(pl.col("side") == Side.ROLL.value)
            .select((pl.col("status") == pl.col("true_status")).mean())
            .item()
            or 0
        ),
    }


def consistent_by_community(run: Path, truth_dir: Path) -> dict[str, float]:
    """人户一致 persons per community, published against true.

    Returns the worst relative error (signed: negative is too few), the community
    it is in, and the share of records flagged `address_incomplete`.
    """
    statuses = pl.read_parquet(run / "record_status.parquet")
    published = (
        statuses.filter((pl.col("side") == Side.REGISTER.value) & (pl.col("status") == Status.CONSISTENT.value))
        .group_by("community_code")
        .len("published")
    )
    true = (
        pl.read_parquet(truth_dir / "register_truth.parquet")
        .filter(pl.col("status") == Status.CONSISTENT.value)
        .group_by("community_code")
        .len("true")
    )
    both = (
        true.join(published, on="community_code", how="full", coalesce=True)
        .fill_null(0)
        .with_columns(pl.col("true", "published").cast(pl.Int64))
    )
    both = both.with_columns(((pl.col("published") - pl.col("true")) / pl.col("true").clip(lower_bound=1)).alias("err"))
    worst = both.sort(pl.col("err").abs(), descending=True).row(0, named=True) if both.height else {"err": 0.0}
    return {
        "worst_relative_error": float(worst["err"]),
        "worst_community": worst.get("community_code"),  # type: ignore[dict-item]
        "communities_within_1pct": float(both.select((pl.col("err").abs() <= 0.01).mean()).item() or 0.0),
        "address_incomplete_share": float(statuses.select(pl.col("address_incomplete").mean()).item() or 0.0)
        if "address_incomplete" in statuses.columns  # runs before the flag existed
        else 0.0,
        "published_consistent": float(both.select(pl.col("published").sum()).item()),
        "true_consistent": float(both.select(pl.col("true").sum()).item()),
    }


def evaluate_run(run: Path, truth_dir: Path) -> dict[str, Any]:
    """Every accuracy figure of issue #3 for one published run."""
    truth = true_pairs(truth_dir)
    links = _keyed_links(run)
    auto = links.filter(pl.col("decided_by") == "auto").select(PAIR_KEY)
    with_review = links.filter(pl.col("decided_by").is_in([DecidedBy.AUTO.value, DecidedBy.REVIEW.value])).select(
        PAIR_KEY
    )
    roll_rows = pl.read_parquet(truth_dir / "roll_truth.parquet").height
    review = links.filter(pl.col("decided_by") == DecidedBy.REVIEW.value).height
    return {
        "true_pairs": truth.height,
        "auto": pair_metrics(auto, truth),
        "recall_with_review": pair_metrics(with_review, truth)["recall"],
        "review_pairs": review,
        "review_share_of_roll_rows": review / max(1, roll_rows),
        "blocking_recall": blocking_recall(run, truth),
        "statuses": status_accuracy(run, truth_dir),
        "consistent": consistent_by_community(run, truth_dir),
    }


def main() -> None:
    """`python -m benchmarks.evaluate RUN_DIR TRUTH_DIR`: print `evaluate_run` as one JSON line.

    A child of its own, so that a city too large to evaluate in memory fails only its accuracy figures.
    """
    run, truth = (Path(a) for a in sys.argv[1:3])
    print(json.dumps(evaluate_run(run, truth), default=str))


if __name__ == "__main__":
    main()
