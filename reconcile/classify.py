"""Statuses (contract §4) for every record of both sides, decided at dwelling level."""

from __future__ import annotations

import hashlib

import polars as pl

from schemas.codes import DecidedBy, Status

STATUS_SCHEMA = {
    "side": pl.String,
    "idx": pl.Int64,
    "source_file": pl.String,
    "source_row": pl.Int64,
    "community_code": pl.String,
    "status": pl.String,
    "other_community_code": pl.String,
    "person_key": pl.String,
    "linked_file": pl.String,
    "linked_row": pl.Int64,
}


def person_key(id18: str | None, source_file: str, source_row: int) -> str:
    """A stable pseudonymous key: from the ID number when valid, else from the record's lineage."""
    basis = f"id:{id18}" if id18 else f"row:{source_file}:{source_row}"
    return "P" + hashlib.blake2b(basis.encode(), digest_size=8, person=b"hukou-recon").hexdigest()


def _keys(frame: pl.DataFrame) -> pl.Series:
    return pl.Series(
        [person_key(i, f, r) for i, f, r in frame.select("id18", "source_file", "source_row").iter_rows()],
        dtype=pl.String,
    )


def classify(
    register: pl.DataFrame,
    roll: pl.DataFrame,
    links: pl.DataFrame,
    register_duplicates: pl.DataFrame,
    roll_duplicates: pl.DataFrame,
) -> pl.DataFrame:
    """One status row per record of either side.

    `links` has rid, lid, decided_by; duplicates have idx, primary.
    """
    reg = register.select("idx", "source_file", "source_row", "community_code", "dwelling", "active", "id18")
    rol = roll.select("idx", "source_file", "source_row", "community_code", "dwelling", "id18")
    reg = reg.with_columns(_keys(reg).alias("own_key"))
    rol = rol.with_columns(_keys(rol).alias("own_key"))
    pair = (
        links.select("rid", "lid", "decided_by")
        .join(
            reg.select(
                pl.col("idx").alias("rid"),
                pl.col("community_code").alias("r_comm"),
                pl.col("dwelling").alias("r_dw"),
                pl.col("own_key").alias("r_key"),
                pl.col("source_file").alias("r_file"),
                pl.col("source_row").alias("r_row"),
            ),
            on="rid",
        )
        .join(
            rol.select(
                pl.col("idx").alias("lid"),
                pl.col("community_code").alias("l_comm"),
                pl.col("dwelling").alias("l_dw"),
                pl.col("source_file").alias("l_file"),
                pl.col("source_row").alias("l_row"),
            ),
            on="lid",
        )
    )
    same_comm = pl.col("r_comm") == pl.col("l_comm")
    same_dw = pl.col("r_dw").is_not_null() & (pl.col("r_dw") == pl.col("l_dw"))
    review = pl.col("decided_by") == DecidedBy.REVIEW.value
    pair = pair.with_columns(
        pl.when(review)
        .then(pl.lit(Status.REVIEW.value))
        .when(same_comm & same_dw)
        .then(pl.lit(Status.CONSISTENT.value))
        .when(same_comm)
        .then(pl.lit(Status.MOVED_WITHIN.value))
        .otherwise(None)
        .alias("_linked_status"),
    )

    reg_out = (
        reg.join(
            pair.select(pl.col("rid").alias("idx"), "_linked_status", "l_comm", "l_file", "l_row", "decided_by"),
            on="idx",
            how="left",
        )
        .join(register_duplicates.select("idx", "primary"), on="idx", how="left")
        .join(
            reg.select(pl.col("idx").alias("primary"), pl.col("own_key").alias("primary_key")), on="primary", how="left"
        )
    )
    reg_out = reg_out.select(
        pl.lit("register").alias("side"),
        "idx",
        "source_file",
        "source_row",
        "community_code",
        pl.when(~pl.col("active"))
        .then(pl.lit(Status.INACTIVE.value))
        .when(pl.col("primary").is_not_null())
        .then(pl.lit(Status.DUPLICATE.value))
        .when(pl.col("_linked_status").is_not_null())
        .then(pl.col("_linked_status"))
        .otherwise(pl.lit(Status.ABSENT.value))
        .alias("status"),
        pl.when(
            pl.col("active")
            & pl.col("primary").is_null()
            & pl.col("_linked_status").is_null()
            & pl.col("l_comm").is_not_null()
        )
        .then(pl.col("l_comm"))
        .alias("other_community_code"),
        pl.coalesce("primary_key", "own_key").alias("person_key"),
        pl.col("l_file").alias("linked_file"),
        pl.col("l_row").alias("linked_row"),
    )

    roll_out = rol.join(
        pair.select(pl.col("lid").alias("idx"), "_linked_status", "r_comm", "r_key", "r_file", "r_row"),
        on="idx",
        how="left",
    ).join(roll_duplicates.select("idx", "primary"), on="idx", how="left")
    primary_keys = roll_out.select(pl.col("idx").alias("primary"), pl.coalesce("r_key", "own_key").alias("primary_key"))
    roll_out = roll_out.join(primary_keys, on="primary", how="left").select(
        pl.lit("roll").alias("side"),
        "idx",
        "source_file",
        "source_row",
        "community_code",
        pl.when(pl.col("primary").is_not_null())
        .then(pl.lit(Status.DUPLICATE.value))
        .when(pl.col("_linked_status").is_not_null())
        .then(pl.col("_linked_status"))
        .otherwise(pl.lit(Status.UNREGISTERED.value))
        .alias("status"),
        pl.when(pl.col("primary").is_null() & pl.col("_linked_status").is_null() & pl.col("r_comm").is_not_null())
        .then(pl.col("r_comm"))
        .alias("other_community_code"),
        pl.coalesce("primary_key", "r_key", "own_key").alias("person_key"),
        pl.col("r_file").alias("linked_file"),
        pl.col("r_row").alias("linked_row"),
    )
    return pl.concat([reg_out, roll_out]).cast(STATUS_SCHEMA)  # type: ignore[arg-type]
