"""Progress and change since last night: per community, what the queue holds, what is settled, what moved.

A queue item is *pending* while it waits for an operator: a review-band pair always
does; a lone record (户在人不在 / 人在户不在) does while its status says `pending` (an
operator's decision or the verification policy settles it). *New* and *resolved*
compare tonight's queue with last night's by the item's records, `(register_key,
roll_key)`: item ids are positions in one run and mean nothing across runs.

>>> tonight = pl.DataFrame(
...     {"kind": ["pair", "absent"], "community_code": ["A", "A"], "register_idx": [0, 1], "roll_idx": [5, None],
...      "register_key": ["r0", "r1"], "roll_key": ["l5", None], "changed": [False, True]},
... )
>>> statuses = pl.DataFrame({"side": ["register"], "idx": [1], "pending": [False]})
>>> last_night = tonight.head(1).with_columns(pl.lit("r9").alias("register_key"))
>>> progress(tonight, statuses, last_night, previous_run_id="run-1").row(0, named=True)
{'community_code': 'A', 'items': 2, 'pending': 1, 'settled': 1, 'changed': 1, 'new': 2, 'resolved': 1, 'previous_run_id': 'run-1'}
"""

from __future__ import annotations

import polars as pl

from schemas.codes import QueueKind, Side

PROGRESS_SCHEMA: dict[str, pl.DataType] = {
    "community_code": pl.String(),
    "items": pl.Int64(),
    "pending": pl.Int64(),
    "settled": pl.Int64(),
    "changed": pl.Int64(),
    "new": pl.Int64(),
    "resolved": pl.Int64(),
    "previous_run_id": pl.String(),
}
"""One row per community with queue items tonight or last night.

`items`, `pending`, `settled` (= items − pending) and `changed` count tonight's queue;
`new` counts tonight's items whose records were not an item last night, `resolved`
last night's items whose records are not an item tonight (in last night's community);
both are null when there is no previous run to compare with.
"""
PROGRESS_COLUMNS = list(PROGRESS_SCHEMA)

_KEYS = ["register_key", "roll_key"]
"""What identifies an item across runs: the records it is about (a lone item's other key is null)."""


def _with_record_pending(queue: pl.DataFrame, statuses: pl.DataFrame) -> pl.DataFrame:
    """The queue with `_record_pending`: the `pending` of a lone item's record (null for pairs)."""
    side = (
        pl.when(pl.col("kind") == QueueKind.ABSENT.value)
        .then(pl.lit(Side.REGISTER.value))
        .when(pl.col("kind") == QueueKind.UNREGISTERED.value)
        .then(pl.lit(Side.ROLL.value))
    )
    idx = (
        pl.when(pl.col("kind") == QueueKind.ABSENT.value)
        .then(pl.col("register_idx"))
        .when(pl.col("kind") == QueueKind.UNREGISTERED.value)
        .then(pl.col("roll_idx"))
    )
    records = statuses.select(
        pl.col("side").cast(pl.String).alias("_side"),
        pl.col("idx").cast(pl.Int64).alias("_idx"),
        pl.col("pending").cast(pl.Boolean).alias("_record_pending"),
    ).unique(["_side", "_idx"], keep="first")
    return (
        queue.with_columns(side.alias("_side"), idx.cast(pl.Int64).alias("_idx"))
        .join(records, on=["_side", "_idx"], how="left")
        .drop("_side", "_idx")
    )


def _item_keys(queue: pl.DataFrame) -> pl.DataFrame:
    """An item's community and records, with the keys' types fixed (an empty or all-null column may be untyped)."""
    return queue.select(
        pl.col("community_code").cast(pl.String),
        pl.col("register_key").cast(pl.String),
        pl.col("roll_key").cast(pl.String),
    )


def _count_by_community(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    return frame.group_by("community_code").agg(pl.len().cast(pl.Int64).alias(name))


def progress(
    queue: pl.DataFrame,
    statuses: pl.DataFrame,
    previous_queue: pl.DataFrame | None,
    *,
    previous_run_id: str | None,
) -> pl.DataFrame:
    """Per community: tonight's items, pending and settled, changed, and new and resolved since last night.

    Args:
        queue: Tonight's work queue (`reconcile.work_queue.QUEUE_SCHEMA`; kind, community_code,
            register_idx, roll_idx, register_key, roll_key and changed are read).
        statuses: Tonight's record statuses: side, idx and pending (whether the record waits for an operator;
            a lone item whose record is missing here or has no `pending` counts as pending).
        previous_queue: Last night's work queue (only community_code, register_key and roll_key are
            read), or None when there is no previous run.
        previous_run_id: The id of the run `previous_queue` comes from.

    Returns:
        A frame of `PROGRESS_SCHEMA`, one row per community with items tonight or last night, in
        community-code order; `new` and `resolved` are null without a previous queue.
    """
    tonight = _with_record_pending(queue, statuses).with_columns(
        ((pl.col("kind") == QueueKind.PAIR.value) | pl.col("_record_pending").fill_null(True)).alias("_open"),
        pl.col("changed").fill_null(False).alias("_changed"),
    )
    counts = tonight.group_by(pl.col("community_code").cast(pl.String)).agg(
        pl.len().cast(pl.Int64).alias("items"),
        pl.col("_open").sum().cast(pl.Int64).alias("pending"),
        pl.col("_changed").sum().cast(pl.Int64).alias("changed"),
    )
    keys = _item_keys(queue)
    zero = pl.lit(0, dtype=pl.Int64)
    if previous_queue is None:
        out = keys.select("community_code").unique().with_columns(pl.lit(None, dtype=pl.Int64).alias("new"))
        out = out.with_columns(pl.col("new").alias("resolved"))
    else:
        before = _item_keys(previous_queue)
        new = _count_by_community(keys.join(before, on=_KEYS, how="anti", nulls_equal=True), "new")
        resolved = _count_by_community(before.join(keys, on=_KEYS, how="anti", nulls_equal=True), "resolved")
        out = (
            pl.concat([keys.select("community_code"), before.select("community_code")])
            .unique()
            .join(new, on="community_code", how="left")
            .join(resolved, on="community_code", how="left")
            .with_columns(pl.col("new", "resolved").fill_null(zero))
        )
    return (
        out.join(counts, on="community_code", how="left")
        .with_columns(
            pl.col("items", "pending", "changed").fill_null(zero),
            pl.lit(previous_run_id, dtype=pl.String).alias("previous_run_id"),
        )
        .with_columns((pl.col("items") - pl.col("pending")).alias("settled"))
        .select(PROGRESS_COLUMNS)
        .cast(pl.Schema(PROGRESS_SCHEMA))
        .sort("community_code")
    )
