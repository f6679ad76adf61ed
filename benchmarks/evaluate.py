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


REGISTER_TRUTH = {
    "register_file": pl.String,
    "register_row": pl.Int64,
    "pid": pl.Int64,
    "status": pl.String,
    "other_community_code": pl.String,
    "community_code": pl.String,
}
"""`truth/register_truth.parquet`, one row per register data row, as a city's generator writes it (more columns
are welcome): the status of the person's registration and, where absent, the community they live in."""
ROLL_TRUTH = {
    "roll_file": pl.String,
    "roll_row": pl.Int64,
    "pid": pl.Int64,
    "community_code": pl.String,
    "register_row": pl.Int64,
    "status": pl.String,
    "other_community_code": pl.String,
}
"""`truth/roll_truth.parquet`, one row per roll data row: the person's active registration's row, if any, and the
status; the second record of a person in one roll is a `duplicate`. A city whose workbooks hold several rolling
sheets adds `roll_sheet` (null for CSV), and its rolls are then keyed by file and sheet."""
_SHEET = "\x1f"
"""Joins file and sheet into the one `roll_file` key of a city whose truth names sheets."""


def _sheeted(file: str, sheet: str) -> pl.Expr:
    return pl.concat_str(pl.col(file), pl.lit(_SHEET), pl.col(sheet).fill_null(""))


def names_sheets(truth_dir: Path) -> bool:
    """Whether the city's roll truth names each row's sheet (`roll_sheet`)."""
    return "roll_sheet" in pl.scan_parquet(truth_dir / "roll_truth.parquet").collect_schema()


def roll_truth(truth_dir: Path) -> pl.LazyFrame:
    """`truth/roll_truth.parquet`, with `roll_file` keyed by file and sheet where the truth names sheets."""
    truth = pl.scan_parquet(truth_dir / "roll_truth.parquet")
    if names_sheets(truth_dir):
        truth = truth.with_columns(_sheeted("roll_file", "roll_sheet").alias("roll_file"))
    return truth


def _collect(query: pl.LazyFrame) -> pl.DataFrame:
    return query.collect(engine="streaming")


def true_pairs(truth_dir: Path) -> pl.DataFrame:
    """The true links: (roll_file, roll_row, register_row) of each registered person's first roll record.

    Second records are duplicates, not links.
    """
    return _collect(_true_pairs(truth_dir))


def _true_pairs(truth_dir: Path) -> pl.LazyFrame:
    truth = roll_truth(truth_dir)
    return truth.filter(pl.col("register_row").is_not_null() & (pl.col("status") != "duplicate")).select(PAIR_KEY)


def pair_metrics(found: pl.DataFrame | pl.LazyFrame, truth: pl.DataFrame | pl.LazyFrame) -> dict[str, float]:
    """Precision, recall and F1 of `found` pairs (PAIR_KEY columns) against `truth`."""
    found, truth = found.lazy(), truth.lazy()
    counts = _collect(
        pl.concat(
            [
                found.join(truth, on=PAIR_KEY, how="semi").select(pl.len().alias("n")),
                found.select(pl.len().alias("n")),
                truth.select(pl.len().alias("n")),
            ]
        )
    )["n"].to_list()
    correct, found_n, truth_n = counts
    precision = correct / found_n if found_n else 1.0
    recall = correct / truth_n if truth_n else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "pairs": float(found_n)}


def lineage(
    run: Path, *, rid: str = "rid", lid: str = "lid", sheets: bool = False
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """(register ids → register_row, roll ids → roll_file/roll_row) of a run, to key pairs by lineage.

    With `sheets`, `roll_file` is keyed by file and sheet, as `roll_truth` keys a city that names sheets.
    """
    register = pl.scan_parquet(run / "register.parquet").select(
        pl.col("idx").alias(rid), pl.col("source_row").alias("register_row")
    )
    file = _sheeted("source_file", "source_sheet") if sheets else pl.col("source_file")
    roll = pl.scan_parquet(run / "roll.parquet").select(
        pl.col("idx").alias(lid), file.alias("roll_file"), pl.col("source_row").alias("roll_row")
    )
    return register, roll


def _keyed_links(run: Path, *, sheets: bool) -> pl.LazyFrame:
    register, roll = lineage(run, sheets=sheets)
    links = pl.scan_parquet(run / "links.parquet").select("rid", "lid", "decided_by")
    return links.join(register, on="rid").join(roll, on="lid")


def blocking_recall(run: Path, truth: pl.DataFrame | pl.LazyFrame, *, sheets: bool = False) -> dict[str, float]:
    """Share of true pairs among the candidates, overall and per blocking rule (`sheets` as in `lineage`)."""
    register, roll = lineage(run, sheets=sheets)
    keyed = truth.lazy().join(register, on="register_row").join(roll, on=["roll_file", "roll_row"])
    candidates = pl.scan_parquet(run / "candidates.parquet").select("rid", "lid", "rules")
    found = keyed.select("rid", "lid").join(candidates, on=["rid", "lid"], how="left")
    bits = rule_bits()
    counts = _collect(
        found.select(
            pl.col("rules").is_not_null().sum().alias("all rules"),
            *[((pl.col("rules") & bit) != 0).fill_null(False).sum().alias(rule) for rule, bit in bits.items()],
        )
    ).row(0, named=True)
    true_n = max(1, int(_collect(truth.lazy().select(pl.len())).item()))
    return {rule: float(n) / true_n for rule, n in counts.items()}


def _decided_statuses(run: Path, truth_dir: Path) -> pl.LazyFrame:
    """Each decided record (not in review) with its published and its true status and other community."""
    sheets = names_sheets(truth_dir)
    file = pl.when(pl.col("side") == Side.ROLL.value).then(_sheeted("source_file", "source_sheet"))
    statuses = pl.scan_parquet(run / "record_status.parquet").select(
        "side",
        file.otherwise(pl.col("source_file")).alias("source_file") if sheets else "source_file",
        "source_row",
        "status",
        "other_community_code",
    )
    reg_truth = pl.scan_parquet(truth_dir / "register_truth.parquet").select(
        pl.lit(Side.REGISTER.value).alias("side"),
        pl.col("register_file").alias("source_file"),
        pl.col("register_row").alias("source_row"),
        pl.col("status").alias("true_status"),
        pl.col("other_community_code").alias("true_other"),
    )
    rolls = roll_truth(truth_dir).select(
        pl.lit(Side.ROLL.value).alias("side"),
        pl.col("roll_file").alias("source_file"),
        pl.col("roll_row").alias("source_row"),
        pl.col("status").alias("true_status"),
        pl.col("other_community_code").alias("true_other"),
    )
    joined = statuses.join(pl.concat([reg_truth, rolls]), on=["side", "source_file", "source_row"])
    return joined.filter(pl.col("status") != Status.REVIEW.value)


def status_accuracy(run: Path, truth_dir: Path) -> dict[str, float]:
    """Share of decided records (not in review) whose status and other community are right."""
    right = pl.col("status") == pl.col("true_status")
    lone = pl.col("status").is_in([Status.ABSENT.value, Status.UNREGISTERED.value])
    on_side = {side: pl.col("side") == side.value for side in Side}
    row = _collect(
        _decided_statuses(run, truth_dir).select(
            pl.len().alias("decided"),
            right.sum().alias("right"),
            pl.col("other_community_code").eq_missing(pl.col("true_other")).filter(lone).mean().alias("other"),
            right.filter(on_side[Side.REGISTER]).mean().alias("register"),
            right.filter(on_side[Side.ROLL]).mean().alias("roll"),
        )
    ).row(0, named=True)
    return {
        "decided_records": float(row["decided"]),
        "status_accuracy": float(row["right"]) / max(1, row["decided"]),
        "other_community_accuracy": float(row["other"] or 0.0),
        "register_accuracy": float(row["register"] or 0),
        "roll_accuracy": float(row["roll"] or 0),
    }


def consistent_by_community(run: Path, truth_dir: Path) -> dict[str, float]:
    """人户一致 persons per community, published against true.

    Returns the worst relative error (signed: negative is too few), the community
    it is in, and the share of records flagged `address_incomplete`.
    """
    statuses = pl.scan_parquet(run / "record_status.parquet")
    published = _collect(
        statuses.filter((pl.col("side") == Side.REGISTER.value) & (pl.col("status") == Status.CONSISTENT.value))
        .group_by("community_code")
        .len("published")
    )
    true = _collect(
        pl.scan_parquet(truth_dir / "register_truth.parquet")
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
    incomplete = (  # runs before the flag existed have none
        _collect(statuses.select(pl.col("address_incomplete").mean())).item()
        if "address_incomplete" in statuses.collect_schema()
        else 0.0
    )
    return {
        "worst_relative_error": float(worst["err"]),
        "worst_community": worst.get("community_code"),  # type: ignore[dict-item]
        "communities_within_1pct": float(both.select((pl.col("err").abs() <= 0.01).mean()).item() or 0.0),
        "address_incomplete_share": float(incomplete or 0.0),
        "published_consistent": float(both.select(pl.col("published").sum()).item()),
        "true_consistent": float(both.select(pl.col("true").sum()).item()),
    }


def evaluate_run(run: Path, truth_dir: Path) -> dict[str, Any]:
    """Every accuracy figure of issue #3 for one published run, each from a streaming query over its files."""
    truth = _collect(_true_pairs(truth_dir))
    sheets = names_sheets(truth_dir)
    links = _collect(_keyed_links(run, sheets=sheets)).lazy()  # keyed by lineage once, read by both metrics
    auto = links.filter(pl.col("decided_by") == "auto").select(PAIR_KEY)
    with_review = links.filter(pl.col("decided_by").is_in([DecidedBy.AUTO.value, DecidedBy.REVIEW.value])).select(
        PAIR_KEY
    )
    roll_rows = _collect(pl.scan_parquet(truth_dir / "roll_truth.parquet").select(pl.len())).item()
    review = _collect(
        pl.scan_parquet(run / "links.parquet").filter(pl.col("decided_by") == DecidedBy.REVIEW.value).select(pl.len())
    ).item()
    return {
        "true_pairs": truth.height,
        "auto": pair_metrics(auto, truth),
        "recall_with_review": pair_metrics(with_review, truth)["recall"],
        "review_pairs": review,
        "review_share_of_roll_rows": review / max(1, roll_rows),
        "blocking_recall": blocking_recall(run, truth, sheets=sheets),
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
