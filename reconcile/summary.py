"""Per-community summary (contract §3): persons and households by status."""

from __future__ import annotations

import polars as pl

from reconcile.frames import Frame, collect
from schemas.codes import Side, Status

S = Status


def _count(status: Status, extra: pl.Expr | None = None) -> pl.Expr:
    cond = pl.col("status") == status.value
    if extra is not None:
        cond = cond & extra
    return cond.sum().cast(pl.Int64)


def community_summary(
    statuses: Frame,
    register: Frame,
    roll: Frame,
    communities: Frame,
    review_pairs: Frame,
) -> pl.DataFrame:
    """One row per community.

    `statuses` from `classify`; `communities` has community_code, community_name,
    street, police_station; `review_pairs` has register_community, roll_community.
    """
    statuses, communities = statuses.lazy(), communities.lazy()
    reg = statuses.filter(pl.col("side") == Side.REGISTER.value).join(
        register.lazy().select("idx", "household_key"), on="idx", how="left"
    )
    rol = statuses.filter(pl.col("side") == Side.ROLL.value).join(
        roll.lazy().select("idx", "flat"), on="idx", how="left"
    )
    live = [S.CONSISTENT.value, S.MOVED_WITHIN.value, S.ABSENT.value, S.REVIEW.value]
    elsewhere = pl.col("other_community_code").is_not_null()

    reg_counts = reg.group_by("community_code").agg(
        pl.col("status").is_in(live).sum().cast(pl.Int64).alias("registered_persons"),
        pl.col("household_key")
        .filter(pl.col("status").is_in(live))
        .n_unique()
        .cast(pl.Int64)
        .alias("registered_households"),
        _count(S.CONSISTENT).alias("consistent_persons"),
        pl.col("household_key")
        .filter(pl.col("status") == S.CONSISTENT.value)
        .n_unique()
        .cast(pl.Int64)
        .alias("consistent_households"),
        (pl.col("address_incomplete") & (pl.col("status") == S.CONSISTENT.value))
        .sum()
        .cast(pl.Int64)
        .alias("consistent_address_incomplete_persons"),
        _count(S.MOVED_WITHIN).alias("moved_within_persons"),
        _count(S.ABSENT).alias("absent_persons"),
        _count(S.ABSENT, elsewhere).alias("absent_elsewhere_persons"),
        _count(S.ABSENT, ~elsewhere).alias("absent_outside_persons"),
        _count(S.REVIEW).alias("review_register_records"),
        _count(S.DUPLICATE).alias("duplicate_register_records"),
        _count(S.INACTIVE).alias("inactive_records"),
    )
    # 户在人不在 households: registered households none of whose active members is found living in the community.
    absent_households = (
        reg.filter(pl.col("status").is_in(live))
        .group_by("community_code", "household_key")
        .agg(
            (pl.col("status") == S.ABSENT.value).all().alias("all_absent"),
            (pl.col("status") == S.ABSENT.value).any().alias("any_absent"),
            (elsewhere & (pl.col("status") == S.ABSENT.value)).all().alias("all_elsewhere"),
        )
        .group_by("community_code")
        .agg(
            pl.col("all_absent").sum().cast(pl.Int64).alias("absent_households"),
            (pl.col("all_absent") & pl.col("all_elsewhere")).sum().cast(pl.Int64).alias("absent_elsewhere_households"),
            (pl.col("all_absent") & ~pl.col("all_elsewhere")).sum().cast(pl.Int64).alias("absent_outside_households"),
        )
    )
    resident = [S.CONSISTENT.value, S.MOVED_WITHIN.value, S.UNREGISTERED.value, S.REVIEW.value]
    roll_counts = rol.group_by("community_code").agg(
        pl.col("status").is_in(resident).sum().cast(pl.Int64).alias("resident_persons"),
        pl.col("flat")
        .filter(pl.col("status").is_in(resident))
        .drop_nulls()  # a resident whose flat is not resolved is no household of its own
        .n_unique()
        .cast(pl.Int64)
        .alias("resident_households"),
        _count(S.UNREGISTERED).alias("unregistered_persons"),
        _count(S.UNREGISTERED, elsewhere).alias("unregistered_elsewhere_persons"),
        _count(S.UNREGISTERED, ~elsewhere).alias("unregistered_outside_persons"),
        _count(S.REVIEW).alias("review_roll_records"),
        _count(S.DUPLICATE).alias("duplicate_roll_records"),
    )
    unregistered_households = _unregistered_households(rol, resident, elsewhere)
    pending = _review_pending(review_pairs.lazy())

    codes = pl.concat(
        [communities.select("community_code"), reg.select("community_code"), rol.select("community_code")]
    ).unique()
    out = (
        codes.join(communities, on="community_code", how="left")
        .join(reg_counts, on="community_code", how="left")
        .join(absent_households, on="community_code", how="left")
        .join(roll_counts, on="community_code", how="left")
        .join(unregistered_households, on="community_code", how="left")
        .join(pending, on="community_code", how="left")
    )
    numeric = [c for c, t in out.collect_schema().items() if t == pl.Int64]
    return collect(out.with_columns(pl.col(numeric).fill_null(0)).select(SUMMARY_COLUMNS).sort("community_code"))


def _unregistered_households(rol: pl.LazyFrame, resident: list[str], elsewhere: pl.Expr) -> pl.LazyFrame:
    """人在户不在 households per community: occupied flats where nobody is registered in this community."""
    return (
        rol.filter(pl.col("status").is_in(resident) & pl.col("flat").is_not_null())
        .group_by("community_code", "flat")
        .agg(
            (pl.col("status") == S.UNREGISTERED.value).all().alias("all_unreg"),
            (elsewhere & (pl.col("status") == S.UNREGISTERED.value)).any().alias("any_elsewhere"),
        )
        .group_by("community_code")
        .agg(
            pl.col("all_unreg").sum().cast(pl.Int64).alias("unregistered_households"),
            (pl.col("all_unreg") & pl.col("any_elsewhere"))
            .sum()
            .cast(pl.Int64)
            .alias("unregistered_elsewhere_households"),
            (pl.col("all_unreg") & ~pl.col("any_elsewhere"))
            .sum()
            .cast(pl.Int64)
            .alias("unregistered_outside_households"),
        )
    )


def _review_pending(review_pairs: pl.LazyFrame) -> pl.LazyFrame:
    """Review-band pairs per community; a pair across two communities counts in both."""
    return (
        pl.concat(
            [
                review_pairs.select(pl.col("register_community").alias("community_code")),
                review_pairs.filter(pl.col("roll_community") != pl.col("register_community")).select(
                    pl.col("roll_community").alias("community_code")
                ),
            ]
        )
        .group_by("community_code")
        .len("review_pending")
        .with_columns(pl.col("review_pending").cast(pl.Int64))
    )


SUMMARY_COLUMNS = [
    "community_code",
    "community_name",
    "street",
    "police_station",
    "registered_persons",
    "registered_households",
    "resident_persons",
    "resident_households",
    "consistent_persons",
    "consistent_households",
    "consistent_address_incomplete_persons",
    "moved_within_persons",
    "absent_persons",
    "absent_elsewhere_persons",
    "absent_outside_persons",
    "absent_households",
    "absent_elsewhere_households",
    "absent_outside_households",
    "unregistered_persons",
    "unregistered_elsewhere_persons",
    "unregistered_outside_persons",
    "unregistered_households",
    "unregistered_elsewhere_households",
    "unregistered_outside_households",
    "review_pending",
    "review_register_records",
    "review_roll_records",
    "duplicate_register_records",
    "duplicate_roll_records",
    "inactive_records",
]
