"""The operators' work queue: what the nightly run could not settle.

Review-band pairs first, nearest the auto threshold first; then lone
mismatches (人在户不在 on the roll side, 户在人不在 on the register side) that no
confident link explains, grouped by household / dwelling.
"""

from __future__ import annotations

import polars as pl

from reconcile.frames import Frame, collect
from schemas.codes import DecidedBy, QueueKind, Side, Status

QUEUE_SCHEMA: dict[str, pl.DataType] = {
    "item_id": pl.Int64(),
    "kind": pl.String(),
    "community_code": pl.String(),
    "other_community_code": pl.String(),
    "register_idx": pl.Int64(),
    "roll_idx": pl.Int64(),
    "match_probability": pl.Float64(),
    "match_weight": pl.Float64(),
    "household_key": pl.String(),
    "dwelling": pl.String(),
    "grid": pl.String(),
    "changed": pl.Boolean(),
    "register_key": pl.String(),
    "register_fingerprint": pl.String(),
    "roll_key": pl.String(),
    "roll_fingerprint": pl.String(),
    "sort_key": pl.String(),
    "evidence": pl.String(),
    "others_at_flat": pl.Int32(),
    "hint_community": pl.String(),
}
QUEUE_COLUMNS = list(QUEUE_SCHEMA)
_NUMBERED_LATER = {name: dtype for name, dtype in QUEUE_SCHEMA.items() if name != "item_id"}
EVIDENCE_COLUMNS = ("evidence", "others_at_flat", "hint_community")
"""What a lone item carries of its record's evidence (`reconcile.evidence`)."""


def build_queue(
    links: Frame,
    statuses: Frame,
    register: Frame,
    roll: Frame,
    changed_pairs: Frame,
    changed_records: Frame,
) -> pl.DataFrame:
    """One row per queue item.

    `changed_pairs` (rid, lid) and `changed_records` (side, idx) hold items whose
    earlier decision was set aside because the records changed.
    """
    statuses = statuses.lazy()
    reg = register.lazy().select(
        pl.col("idx").alias("register_idx"),
        pl.col("community_code").alias("register_community"),
        "household_key",
        pl.col("record_key").alias("register_key"),
        pl.col("fingerprint").alias("register_fingerprint"),
    )
    rol = roll.lazy().select(
        pl.col("idx").alias("roll_idx"),
        pl.col("community_code").alias("roll_community"),
        pl.col("flat").alias("dwelling"),  # lone records are grouped by the flat they name
        "grid",
        pl.col("record_key").alias("roll_key"),
        pl.col("fingerprint").alias("roll_fingerprint"),
    )
    pairs = _pair_items(links.lazy(), reg, rol, changed_pairs.lazy())
    lone = statuses.filter(
        pl.col("status").is_in([Status.ABSENT.value, Status.UNREGISTERED.value]) & pl.col("linked_row").is_null()
    )
    absent = _lone_items(
        lone,
        reg.join(  # a register record's grid: its building's (`reconcile.evidence.building_grids`)
            statuses.filter(pl.col("side") == Side.REGISTER.value).select(pl.col("idx").alias("register_idx"), "grid"),
            on="register_idx",
            how="left",
        )
        if "grid" in statuses.collect_schema()
        else reg,
        changed_records.lazy(),
        kind=QueueKind.ABSENT,
        sort=pl.format("2|{}", pl.col("household_key")),
    )
    unregistered = _lone_items(
        lone,
        rol,
        changed_records.lazy(),
        kind=QueueKind.UNREGISTERED,
        sort=pl.format("1|{}", pl.col("dwelling").fill_null("")),
    )
    # The record keys break ties, so that a record's place in the queue (and its item id) follows from the data
    # alone, not from the order a join happened to leave equal sort keys in.
    items = pl.concat([pairs, unregistered, absent]).sort(
        ["community_code", "changed", "sort_key", "register_key", "roll_key"],
        descending=[False, True, False, False, False],
        nulls_last=True,
    )
    return collect(numbered(items))


def numbered(items: Frame) -> pl.LazyFrame:
    """`items` (`QUEUE_SCHEMA`'s columns, `item_id` optional) numbered 1, 2, … in the order given.

    The queue is in community order first (`build_queue`), so the queues of a city's communities, each built
    apart and concatenated in community order, number as the whole city's queue does (`reconcile.by_community`).

    >>> two = pl.DataFrame({"kind": ["pair", "absent"], "item_id": [7, 3]}, schema_overrides={"item_id": pl.Int64})
    >>> queue = pl.concat([pl.DataFrame(schema=QUEUE_SCHEMA), two], how="diagonal")
    >>> numbered(queue).collect().select("item_id", "kind").rows()
    [(1, 'pair'), (2, 'absent')]
    """
    return (
        items.lazy()
        .drop("item_id", strict=False)
        .with_row_index("item_id", offset=1)
        .with_columns(pl.col("item_id").cast(pl.Int64))
        .select(QUEUE_COLUMNS)
    )


def _pair_items(links: pl.LazyFrame, reg: pl.LazyFrame, rol: pl.LazyFrame, changed_pairs: pl.LazyFrame) -> pl.LazyFrame:
    """Queue rows for review-band pairs, nearest the auto threshold first."""
    return (
        links.filter(pl.col("decided_by") == DecidedBy.REVIEW.value)
        .select(
            pl.col("rid").alias("register_idx"), pl.col("lid").alias("roll_idx"), "match_probability", "match_weight"
        )
        .join(reg, on="register_idx")
        .join(rol, on="roll_idx")
        .join(
            changed_pairs.select(
                pl.col("rid").alias("register_idx"), pl.col("lid").alias("roll_idx"), pl.lit(True).alias("changed")
            ),
            on=["register_idx", "roll_idx"],
            how="left",
        )
        .select(
            pl.lit(QueueKind.PAIR.value).alias("kind"),
            pl.col("roll_community").alias("community_code"),
            pl.col("register_community").alias("other_community_code"),
            "register_idx",
            "roll_idx",
            "match_probability",
            "match_weight",
            "household_key",
            "dwelling",
            "grid",
            pl.col("changed").fill_null(False),
            "register_key",
            "register_fingerprint",
            "roll_key",
            "roll_fingerprint",
            # Nearest the auto threshold first: the most probable pairs are the quickest to settle.
            pl.format(
                "0|{}",
                (1_000_000 - (pl.col("match_probability") * 1_000_000).round(0).cast(pl.Int64))
                .cast(pl.String)
                .str.zfill(7),
            ).alias("sort_key"),
            *[pl.lit(None, dtype=QUEUE_SCHEMA[c]).alias(c) for c in EVIDENCE_COLUMNS],
        )
    )


def _lone_items(
    lone: pl.LazyFrame, records: pl.LazyFrame, changed: pl.LazyFrame, *, kind: QueueKind, sort: pl.Expr
) -> pl.LazyFrame:
    """Queue rows for lone mismatches of one kind (on its side); the other side's columns stay empty."""
    side = kind.side
    if side is None:
        raise ValueError(f"{kind} items are not lone records")
    idx = f"{side}_idx"
    rows = (
        lone.filter(pl.col("side") == side.value)
        .select(pl.col("idx").alias(idx), *[c for c in EVIDENCE_COLUMNS if c in lone.collect_schema()])
        .join(records, on=idx)
        .join(
            changed.filter(pl.col("side") == side.value).select(
                pl.col("idx").alias(idx), pl.lit(True).alias("changed")
            ),
            on=idx,
            how="left",
        )
        .with_columns(
            pl.lit(kind.value).alias("kind"),
            pl.col(f"{side}_community").alias("community_code"),
            pl.col("changed").fill_null(False),
            sort.alias("sort_key"),
        )
    )
    columns = rows.collect_schema()
    missing = [pl.lit(None, dtype=dtype).alias(name) for name, dtype in QUEUE_SCHEMA.items() if name not in columns]
    return rows.with_columns(missing).select(QUEUE_COLUMNS[1:]).cast(_NUMBERED_LATER)  # type: ignore[arg-type]
