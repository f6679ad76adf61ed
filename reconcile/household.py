"""Household evidence: relatives who moved together.

Once the clear pairs are known, a candidate pair (register R, roll X) gains
evidence when another member of R's registered household is confidently
linked to a roll record at X's dwelling: families tend to move together. The
field's m comes from the clear pairs themselves, its u from random pairs.
"""

from __future__ import annotations

import polars as pl

from reconcile.compare import HOUSEHOLD, Indexed, indexed, lookup
from reconcile.comparison import MISSING
from reconcile.dwelling import PARTS, Grade, grade_expr
from reconcile.model import M_FLOOR, strata


def _hashed(column: str) -> pl.Expr:
    # Joins on 64-bit hashes are much cheaper than on strings; a collision would
    # only lend one pair a relative it does not have.
    return pl.when(pl.col(column).is_not_null()).then(pl.col(column).hash(seed=11)).alias(column)


def household_levels(
    pairs: pl.DataFrame,
    confident: pl.DataFrame,
    register: pl.DataFrame,
    roll: pl.DataFrame,
    *,
    chunk_size: int = 250_000,
) -> pl.Series:
    """Per (rid, lid) pair, whether the register record's household is found at the roll record's dwelling.

    1 a household member of R is linked to someone at X's dwelling · 0 members
    are linked, none there · -1 no other member is linked.

    "At X's dwelling" is the dwelling grade (`reconcile.dwelling`): the member's
    roll address may name X's flat, however either was written. Pairs are taken
    `chunk_size` at a time (each pair meets every linked member of its household:
    several rows of dwelling strings per pair); pairs are independent, so chunks are too.
    """
    households = indexed(register, _hashed("household_key"))
    members = (
        confident.select(pl.col("rid").alias("m_rid"), pl.col("lid").alias("m_lid"))
        .with_columns(lookup(households, confident["rid"]).to_series())
        .drop_nulls("household_key")
    )
    dwellings = indexed(roll, "community_code", *PARTS)
    chunks = [
        _household_chunk(chunk, lookup(households, chunk["rid"]).to_series(), members, dwellings)
        for chunk in pairs.select("rid", "lid").iter_slices(chunk_size)
    ]
    if not chunks:
        return pl.Series(HOUSEHOLD.column, [], dtype=pl.Int8)
    return pl.concat(chunks, rechunk=True)


def _household_chunk(pairs: pl.DataFrame, keys: pl.Series, members: pl.DataFrame, dwellings: Indexed) -> pl.Series:
    """`household_levels` of `pairs`, whose register records' household keys are `keys`."""
    keyed = pairs.with_row_index("_i").with_columns(keys)
    # The members of these households only: a join would build its table on every linked member, chunk after chunk.
    near = members.filter(pl.col("household_key").is_in(keys.drop_nulls().implode()))
    others = keyed.join(near, on="household_key").filter(pl.col("m_rid") != pl.col("rid"))
    together = pl.concat(
        [
            others.select("_i"),
            lookup(dwellings, others["m_lid"]).rename(lambda c: f"m_{c}"),
            lookup(dwellings, others["lid"]).rename(lambda c: f"x_{c}"),
        ],
        how="horizontal",
    ).select(
        "_i",
        ((pl.col("m_community_code") == pl.col("x_community_code")) & (grade_expr("m_", "x_") >= Grade.COMPATIBLE))
        .fill_null(False)
        .alias("_together"),
    )
    support = together.group_by("_i").agg(pl.col("_together").any())
    return (
        pl.int_range(pairs.height, eager=True, dtype=pl.UInt32)
        .alias("_i")
        .to_frame()
        .join(support, on="_i", how="left", maintain_order="left")
        .select(
            pl.when(pl.col("_together").is_null())
            .then(MISSING)
            .when(pl.col("_together"))
            .then(HOUSEHOLD.value("together"))
            .otherwise(HOUSEHOLD.value("elsewhere"))
            .cast(pl.Int8)
            .alias(HOUSEHOLD.column)
        )[HOUSEHOLD.column]
    )


def household_parameters(
    confident: pl.DataFrame, register: pl.DataFrame, roll: pl.DataFrame, randoms: pl.DataFrame
) -> tuple[dict[int, float], dict[int, float]]:
    """(m, u) for the household field: m among the confident pairs, u among `randoms` (`random_pairs`, by stratum)."""
    together, elsewhere = HOUSEHOLD.value("together"), HOUSEHOLD.value("elsewhere")

    def share_together(levels: pl.Series) -> float:
        present = levels.filter(levels != MISSING)
        return (float((present == together).sum()) + 0.5) / (present.len() + 1)

    m1 = share_together(household_levels(confident, confident, register, roll))
    at_random = household_levels(randoms, confident, register, roll)
    u1 = sum(weight * share_together(at_random.filter(among)) for among, weight in strata(randoms))
    m1 = min(max(m1, M_FLOOR), 1 - M_FLOOR)
    return {together: m1, elsewhere: 1 - m1}, {together: u1, elsewhere: 1 - u1}


def household_candidates(confident: pl.DataFrame, register: pl.DataFrame, roll: pl.DataFrame) -> pl.DataFrame:
    """(rid, lid) pairs at a flat where another member of the register record's household was confidently found.

    The flat is `flat`, the registered flat a roll address names; both records
    are still unlinked. Catches movers whose roll entry has too little to be
    blocked on (a common name, no ID number, no birth date).
    """
    hh = register.select(pl.col("idx").alias("rid"), "household_key")
    dw = roll.select(pl.col("idx").alias("lid"), "flat")
    found_at = (
        confident.select("rid", "lid")
        .join(hh, on="rid")
        .join(dw, on="lid")
        .select("household_key", "flat")
        .drop_nulls()
        .unique()
    )
    free_reg = hh.join(confident.select("rid"), on="rid", how="anti")
    free_roll = dw.join(confident.select("lid"), on="lid", how="anti")
    return found_at.join(free_reg, on="household_key").join(free_roll, on="flat").select("rid", "lid").unique()
