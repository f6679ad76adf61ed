"""Statuses (contract §4) for every record of both sides, decided by the dwelling grade (`reconcile.dwelling`)."""

from __future__ import annotations

import polars as pl

from reconcile.dwelling import PARTS, Grade, grade_expr, one_stem_expr
from reconcile.frames import Frame, Keep, collect, in_memory
from schemas.codes import DecidedBy, Side, Status
from schemas.inputs import LINEAGE

STATUS_SCHEMA = {
    "side": pl.String,
    "idx": pl.Int64,
    "source_file": pl.String,
    "source_sheet": pl.String,
    "source_row": pl.Int64,
    "community_code": pl.String,
    "status": pl.String,
    "other_community_code": pl.String,
    "person_key": pl.String,
    "linked_file": pl.String,
    "linked_sheet": pl.String,
    "linked_row": pl.Int64,
    "address_incomplete": pl.Boolean,
}


def status_if_same_person(address_level: int) -> Status:
    """The register record's status were this pair one person, as `classify` would decide it.

    From the pair's address level (`reconcile.compare.address_level`: 0 is another community), as
    `classify` decides it.

    >>> status_if_same_person(3).label, status_if_same_person(1).label, status_if_same_person(0).label
    ('人户一致', '同社区人户分离', '户在人不在')
    """
    if address_level <= 0:
        return Status.ABSENT
    return Status.CONSISTENT if Grade(address_level).lives_there else Status.MOVED_WITHIN


def classify(
    register: Frame,
    roll: Frame,
    links: Frame,
    register_duplicates: Frame,
    roll_duplicates: Frame,
) -> pl.DataFrame:
    """One status row per record of either side (`STATUS_SCHEMA`): `classify_query`, collected."""
    return collect(classify_query(register, roll, links, register_duplicates, roll_duplicates))


def classify_query(
    register: Frame,
    roll: Frame,
    links: Frame,
    register_duplicates: Frame,
    roll_duplicates: Frame,
    *,
    keep: Keep = in_memory,
) -> pl.LazyFrame:
    """The statuses as a query, one row per record of either side: register records first, each side in its order.

    `links` has rid, lid, decided_by; duplicates have idx, primary. A linked
    person lives at the registered flat (人户一致) when the roll address may name
    it (`reconcile.dwelling.Grade.lives_there`), however incompletely written;
    `address_incomplete` marks such records where the address fits another
    registered flat just as well (see `_incomplete`). `keep` holds the graded links, which three parts of the
    query read (`reconcile.frames.Keep`).
    """
    own_key = pl.col("person_key").alias("own_key")  # keyed in `reconcile.prepare` (`reconcile.keys`)
    register, roll = register.lazy(), roll.lazy()
    reg = register.select("idx", *LINEAGE, "community_code", "flat", *PARTS, "active", own_key)
    rol = roll.select("idx", *LINEAGE, "community_code", "flat_fits", *PARTS, own_key)
    pair = keep("graded_links", _linked_pairs(links.lazy(), reg, rol))
    reg_out = _register_statuses(reg, pair, register_duplicates.lazy())
    roll_out = _roll_statuses(rol, pair, roll_duplicates.lazy())
    flagged = _incomplete(pair, reg_out, register, roll)
    out = pl.concat([reg_out, roll_out]).join(
        flagged.with_columns(pl.lit(True).alias("address_incomplete")),
        on=["side", "idx"],
        how="left",
        maintain_order="left",
    )
    return out.with_columns(pl.col("address_incomplete").fill_null(False)).cast(STATUS_SCHEMA)  # type: ignore[arg-type]


def _linked_pairs(links: pl.LazyFrame, reg: pl.LazyFrame, rol: pl.LazyFrame) -> pl.LazyFrame:
    """Each link with both records' community, flat and parts, its dwelling grade and the status it gives."""
    pair = (
        links.select("rid", "lid", "decided_by")
        .join(
            reg.select(
                pl.col("idx").alias("rid"),
                pl.col("community_code").alias("r_comm"),
                pl.col("flat").alias("r_flat"),
                *[pl.col(p).alias(f"r_{p}") for p in PARTS],
                pl.col("own_key").alias("r_key"),
                pl.col("source_file").alias("r_file"),
                pl.col("source_sheet").alias("r_sheet"),
                pl.col("source_row").alias("r_row"),
            ),
            on="rid",
        )
        .join(
            rol.select(
                pl.col("idx").alias("lid"),
                pl.col("community_code").alias("l_comm"),
                pl.col("flat_fits").alias("l_fits"),
                *[pl.col(p).alias(f"l_{p}") for p in PARTS],
                pl.col("source_file").alias("l_file"),
                pl.col("source_sheet").alias("l_sheet"),
                pl.col("source_row").alias("l_row"),
            ),
            on="lid",
        )
        # The person's own link reads an estate written with its suffix swapped as the registered one.
        .with_columns(pl.when(one_stem_expr("r_", "l_")).then("r_dw_place").otherwise("l_dw_place").alias("l_dw_place"))
        .with_columns(grade_expr("r_", "l_"))
    )
    same_comm = pl.col("r_comm") == pl.col("l_comm")
    review = pl.col("decided_by") == DecidedBy.REVIEW.value
    pair = pair.with_columns(
        pl.when(review)
        .then(pl.lit(Status.REVIEW.value))
        .when(same_comm & (pl.col("grade") >= int(Grade.COMPATIBLE)))
        .then(pl.lit(Status.CONSISTENT.value))
        .when(same_comm)
        .then(pl.lit(Status.MOVED_WITHIN.value))
        .otherwise(None)
        .alias("_linked_status"),
    )
    return pair.drop(*[f"{side}_{p}" for side in ("r", "l") for p in PARTS])


def _register_statuses(reg: pl.LazyFrame, pair: pl.LazyFrame, duplicates: pl.LazyFrame) -> pl.LazyFrame:
    """A status row per register record: inactive, duplicate, the linked status, else 户在人不在."""
    reg_out = (
        reg.join(
            pair.select(
                pl.col("rid").alias("idx"), "_linked_status", "l_comm", "l_file", "l_sheet", "l_row", "decided_by"
            ),
            on="idx",
            how="left",
            maintain_order="left",
        )
        .join(duplicates.select("idx", "primary"), on="idx", how="left", maintain_order="left")
        .join(
            reg.select(pl.col("idx").alias("primary"), pl.col("own_key").alias("primary_key")),
            on="primary",
            how="left",
            maintain_order="left",
        )
    )
    reg_out = reg_out.select(
        pl.lit(Side.REGISTER.value).alias("side"),
        "idx",
        *LINEAGE,
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
        pl.col("l_sheet").alias("linked_sheet"),
        pl.col("l_row").alias("linked_row"),
    )
    return reg_out


def _roll_statuses(rol: pl.LazyFrame, pair: pl.LazyFrame, duplicates: pl.LazyFrame) -> pl.LazyFrame:
    """A status row per roll record: duplicate, the linked status, else 人在户不在."""
    roll_out = rol.join(
        pair.select(pl.col("lid").alias("idx"), "_linked_status", "r_comm", "r_key", "r_file", "r_sheet", "r_row"),
        on="idx",
        how="left",
        maintain_order="left",
    ).join(duplicates.select("idx", "primary"), on="idx", how="left", maintain_order="left")
    primary_keys = roll_out.select(pl.col("idx").alias("primary"), pl.coalesce("r_key", "own_key").alias("primary_key"))
    roll_out = roll_out.join(primary_keys, on="primary", how="left", maintain_order="left").select(
        pl.lit(Side.ROLL.value).alias("side"),
        "idx",
        *LINEAGE,
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
        pl.col("r_sheet").alias("linked_sheet"),
        pl.col("r_row").alias("linked_row"),
    )
    return roll_out


def _incomplete(pair: pl.LazyFrame, reg_out: pl.LazyFrame, register: pl.LazyFrame, roll: pl.LazyFrame) -> pl.LazyFrame:
    """(side, idx) of both records of each 人户一致 pair whose roll address leaves real doubt.

    It fits another registered flat of the community as well, and
    that flat's people were not found elsewhere (someone registered there is
    found there, in review, or not found at all).
    """
    doubtful = pair.filter(
        (pl.col("_linked_status") == Status.CONSISTENT.value)
        & (pl.col("grade") == int(Grade.COMPATIBLE))
        & (pl.col("l_fits") >= 2)
    ).select("rid", "lid", "r_flat")
    not_found_elsewhere = pl.col("status").is_in([Status.CONSISTENT.value, Status.REVIEW.value]) | (
        (pl.col("status") == Status.ABSENT.value) & pl.col("other_community_code").is_null()
    )
    open_flats = (
        reg_out.filter(not_found_elsewhere).join(register.select("idx", "flat"), on="idx").select("flat").unique()
    )
    flagged = (
        doubtful.join(roll.select(pl.col("idx").alias("lid"), "flat_candidates"), on="lid")
        .explode("flat_candidates")
        .rename({"flat_candidates": "other_flat"})
        .filter(pl.col("other_flat") != pl.col("r_flat"))
        .join(open_flats, left_on="other_flat", right_on="flat", how="semi")
        .select("rid", "lid")
        .unique()
    )
    return pl.concat(
        [
            flagged.select(pl.lit(Side.REGISTER.value).alias("side"), pl.col("rid").alias("idx")),
            flagged.select(pl.lit(Side.ROLL.value).alias("side"), pl.col("lid").alias("idx")),
        ]
    )
