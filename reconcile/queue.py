"""The operators' work queue: what the nightly run could not settle.

Review-band pairs first, nearest the auto threshold first; then lone
mismatches (人在户不在 on the roll side, 户在人不在 on the register side) that no
confident link explains, grouped by household / dwelling.
"""

from __future__ import annotations

import polars as pl

from schemas.codes import DecidedBy, Status

QUEUE_COLUMNS = [
    "item_id",
    "kind",
    "community_code",
    "other_community_code",
    "register_idx",
    "roll_idx",
    "match_probability",
    "match_weight",
    "household_key",
    "dwelling",
    "grid",
    "changed",
    "register_key",
    "register_fingerprint",
    "roll_key",
    "roll_fingerprint",
    "sort_key",
]


def build_queue(
    links: pl.DataFrame,
    statuses: pl.DataFrame,
    register: pl.DataFrame,
    roll: pl.DataFrame,
    changed_pairs: pl.DataFrame,
    changed_records: pl.DataFrame,
) -> pl.DataFrame:
    """One row per queue item.

    `changed_pairs` (rid, lid) and `changed_records` (side, idx) hold items whose
    earlier decision was set aside because the records changed.
    """
    reg = register.select(
        pl.col("idx").alias("register_idx"),
        pl.col("community_code").alias("register_community"),
        "household_key",
        pl.col("record_key").alias("register_key"),
        pl.col("fingerprint").alias("register_fingerprint"),
    )
    rol = roll.select(
        pl.col("idx").alias("roll_idx"),
        pl.col("community_code").alias("roll_community"),
        "dwelling",
        "grid",
        pl.col("record_key").alias("roll_key"),
        pl.col("fingerprint").alias("roll_fingerprint"),
    )
    pairs = (
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
            pl.lit("pair").alias("kind"),
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
        )
    )
    lone = statuses.filter(
        pl.col("status").is_in([Status.ABSENT.value, Status.UNREGISTERED.value]) & pl.col("linked_row").is_null()
    )
    changed = changed_records.with_columns(pl.lit(True).alias("changed"))
    absent = (
        lone.filter(pl.col("side") == "register")
        .select(pl.col("idx").alias("register_idx"))
        .join(reg, on="register_idx")
        .join(
            changed.filter(pl.col("side") == "register").select(pl.col("idx").alias("register_idx"), "changed"),
            on="register_idx",
            how="left",
        )
        .select(
            pl.lit("absent").alias("kind"),
            pl.col("register_community").alias("community_code"),
            pl.lit(None, dtype=pl.String).alias("other_community_code"),
            "register_idx",
            pl.lit(None, dtype=pl.Int64).alias("roll_idx"),
            pl.lit(None, dtype=pl.Float64).alias("match_probability"),
            pl.lit(None, dtype=pl.Float64).alias("match_weight"),
            "household_key",
            pl.lit(None, dtype=pl.String).alias("dwelling"),
            pl.lit(None, dtype=pl.String).alias("grid"),
            pl.col("changed").fill_null(False),
            "register_key",
            "register_fingerprint",
            pl.lit(None, dtype=pl.String).alias("roll_key"),
            pl.lit(None, dtype=pl.String).alias("roll_fingerprint"),
            pl.format("2|{}", pl.col("household_key")).alias("sort_key"),
        )
    )
    unregistered = (
        lone.filter(pl.col("side") == "roll")
        .select(pl.col("idx").alias("roll_idx"))
        .join(rol, on="roll_idx")
        .join(
            changed.filter(pl.col("side") == "roll").select(pl.col("idx").alias("roll_idx"), "changed"),
            on="roll_idx",
            how="left",
        )
        .select(
            pl.lit("unregistered").alias("kind"),
            pl.col("roll_community").alias("community_code"),
            pl.lit(None, dtype=pl.String).alias("other_community_code"),
            pl.lit(None, dtype=pl.Int64).alias("register_idx"),
            "roll_idx",
            pl.lit(None, dtype=pl.Float64).alias("match_probability"),
            pl.lit(None, dtype=pl.Float64).alias("match_weight"),
            pl.lit(None, dtype=pl.String).alias("household_key"),
            "dwelling",
            "grid",
            pl.col("changed").fill_null(False),
            pl.lit(None, dtype=pl.String).alias("register_key"),
            pl.lit(None, dtype=pl.String).alias("register_fingerprint"),
            "roll_key",
            "roll_fingerprint",
            pl.format("1|{}", pl.col("dwelling").fill_null("")).alias("sort_key"),
        )
    )
    items = pl.concat([pairs, unregistered, absent]).sort(
        ["community_code", "changed", "sort_key"], descending=[False, True, False]
    )
    return (
        items.with_row_index("item_id", offset=1).with_columns(pl.col("item_id").cast(pl.Int64)).select(QUEUE_COLUMNS)
    )
