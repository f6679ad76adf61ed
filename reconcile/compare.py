"""Comparison vectors: for each candidate pair, an agreement level per field.

Computed with rapidfuzz over whole columns (`process.cpdist`), never with
database string functions, which count UTF-8 bytes. Level -1 means a value is
missing on one side: the field then says nothing either way.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from reconcile import names
from reconcile.dwelling import GRADE_LABELS, PARTS, Grade, grade_expr

FIELDS: dict[str, tuple[int, ...]] = {
    "id": (3, 2, 0),
    "name": (4, 3, 2, 1, 0),
    "birth": (2, 1, 0),
    "sex": (1, 0),
    "address": (4, 3, 2, 1, 0),
    "household": (1, 0),
}
"""Each field's agreement levels, best first."""

LEVEL_LABELS: dict[str, dict[int, str]] = {
    "id": {3: "号码相同", 2: "一两位之差", 0: "号码不同", -1: "缺失"},
    "name": {4: "完全相同", 3: "同音或形近", 2: "差一字", 1: "读音相近", 0: "不同", -1: "缺失"},
    "birth": {2: "相同", 1: "年月日差一项", 0: "不同", -1: "缺失"},
    "sex": {1: "相同", 0: "不同", -1: "缺失"},
    "address": {
        4: GRADE_LABELS[Grade.SAME_FLAT],
        3: GRADE_LABELS[Grade.COMPATIBLE],
        2: GRADE_LABELS[Grade.SAME_BUILDING],
        1: "同一社区（另一楼幢或住址不明）",
        0: "不同社区",
        -1: "缺失",
    },
    "household": {1: "同户成员同住此处", 0: "同户成员住在别处", -1: "无可参照"},
}

REGISTER_COLUMNS = (
    "idx",
    "name",
    "name_py",
    "name_shape",
    "former_name",
    "id18",
    "id_clean",
    "birth",
    "sex",
    "community_code",
    *PARTS,
)
ROLL_COLUMNS = tuple(c for c in REGISTER_COLUMNS if c != "former_name")


def lookup(frame: pl.DataFrame, ids: pl.Series, wanted: pl.Series) -> pl.DataFrame:
    """Rows of `frame` (whose record ids are `ids`) for each id in `wanted`, in
    order: a positional gather, much cheaper than a join on ids."""
    if ids.len() == 0:
        return frame.clear(wanted.len())
    size = int(ids.cast(pl.Int64).max() or 0) + 1  # type: ignore[arg-type]
    positions = pl.repeat(None, size, dtype=pl.Int64, eager=True).scatter(ids, pl.int_range(ids.len(), eager=True))
    rows = positions.gather(wanted)
    return frame.select(pl.all().gather(rows))


def address_level(grade: pl.Expr, same_community: pl.Expr) -> pl.Expr:
    """The address field's level: the dwelling grade (4 same flat … 2 same building)
    within one community, 1 for another building or an address that names no flat
    in the same community, 0 across communities (the roll's file says the community)."""
    return (
        pl.when(~same_community)
        .then(0)
        .when(grade == int(Grade.UNKNOWN))
        .then(1)
        .otherwise(grade)
        .cast(pl.Int8)
        .alias("address_lvl")
    )


def _cpdist_where(
    a: pl.Series, b: pl.Series, needed: pl.Series, scorer: Any, *, score_cutoff: float | None = None
) -> pl.Series:
    """rapidfuzz `cpdist` on the rows where `needed` holds, null elsewhere: most
    candidate pairs agree exactly and need no edit distance. With `score_cutoff`
    rapidfuzz stops early on pairs past it (see its docs for the value returned)."""
    rows = needed.fill_null(False).arg_true()
    out = pl.repeat(None, a.len(), dtype=pl.Float64, eager=True)
    if rows.len():
        left = a.gather(rows).fill_null("").to_list()
        right = b.gather(rows).fill_null("").to_list()
        values = pl.Series(
            process.cpdist(left, right, scorer=scorer, score_cutoff=score_cutoff, workers=-1), dtype=pl.Float64
        )
        out = out.scatter(rows, values)
    return out


def name_levels(
    a: pl.Series, b: pl.Series, a_py: pl.Series, b_py: pl.Series, shape_a: pl.Series, shape_b: pl.Series
) -> pl.Series:
    """Vectorised `reconcile.names.name_level`, given names, pinyin keys and shape keys."""
    frame = pl.DataFrame({"a": a, "b": b, "pa": a_py, "pb": b_py, "sa": shape_a, "sb": shape_b})
    cheap = frame.select(
        pl.when(pl.col("a").is_null() | pl.col("b").is_null())
        .then(-1)
        .when(pl.col("a") == pl.col("b"))
        .then(4)
        .when((pl.col("pa") == pl.col("pb")) | (pl.col("sa") == pl.col("sb")))
        .then(3)
        .cast(pl.Int8)
        .alias("lvl")
    )["lvl"]
    rest = cheap.is_null()
    frame = frame.with_columns(
        cheap.alias("cheap"),
        _cpdist_where(a, b, rest, Levenshtein.distance, score_cutoff=1).alias("d"),
        _cpdist_where(a_py, b_py, rest, Levenshtein.normalized_similarity, score_cutoff=0.75).alias("ps"),
    )
    return frame.select(
        pl.when(pl.col("cheap").is_not_null())
        .then(pl.col("cheap"))
        .when((pl.col("d") <= 1) & (pl.min_horizontal(pl.col("a").str.len_chars(), pl.col("b").str.len_chars()) >= 2))
        .then(2)
        .when(pl.col("ps") >= 0.75)
        .then(1)
        .otherwise(0)
        .cast(pl.Int8)
        .alias("lvl")
    )["lvl"]


def id_levels(reg_id18: pl.Series, reg_clean: pl.Series, roll_id18: pl.Series, roll_clean: pl.Series) -> pl.Series:
    """3 same number · 2 one or two slips apart (or a truncated prefix) · 0 different · -1 missing.

    The roll's number is compared both as normalised (15 → 18 digits) and as
    written (a 15-digit number may be an 18-digit one cut short).
    """
    reg = reg_id18.fill_null(reg_clean)
    as_normalised = _id_levels(reg, roll_id18.fill_null(roll_clean))
    upgraded = roll_id18.is_not_null() & (roll_id18 != roll_clean)
    if not upgraded.any():
        return as_normalised
    rows = upgraded.fill_null(False).arg_true()
    as_written = _id_levels(reg.gather(rows), roll_clean.gather(rows))
    return as_normalised.scatter(rows, _max(as_normalised.gather(rows), as_written))


def _max(a: pl.Series, b: pl.Series) -> pl.Series:
    return pl.DataFrame({"a": a, "b": b}).select(pl.max_horizontal("a", "b").cast(pl.Int8))["a"]


def _id_levels(reg: pl.Series, roll: pl.Series) -> pl.Series:
    frame = pl.DataFrame({"r": reg, "l": roll})
    needed = frame.select(pl.col("r").is_not_null() & pl.col("l").is_not_null() & (pl.col("r") != pl.col("l")))
    frame = frame.with_columns(
        _cpdist_where(reg, roll, needed.to_series(), Levenshtein.distance, score_cutoff=2).alias("d")
    )
    prefix = (pl.col("l").str.len_chars() >= 14) & pl.col("r").str.starts_with(pl.col("l"))
    return frame.select(
        pl.when(pl.col("r").is_null() | pl.col("l").is_null())
        .then(-1)
        .when(pl.col("r") == pl.col("l"))
        .then(3)
        .when((pl.col("d") <= 2) | prefix)
        .then(2)
        .otherwise(0)
        .cast(pl.Int8)
        .alias("lvl")
    )["lvl"]


def _birth_level(a: str, b: str) -> pl.Expr:
    same_y = pl.col(a).dt.year() == pl.col(b).dt.year()
    same_m = pl.col(a).dt.month() == pl.col(b).dt.month()
    same_d = pl.col(a).dt.day() == pl.col(b).dt.day()
    swapped = (pl.col(a).dt.month() == pl.col(b).dt.day()) & (pl.col(a).dt.day() == pl.col(b).dt.month()) & same_y
    two_of_three = (same_y.cast(pl.Int8) + same_m.cast(pl.Int8) + same_d.cast(pl.Int8)) >= 2
    return (
        pl.when(pl.col(a).is_null() | pl.col(b).is_null())
        .then(-1)
        .when(pl.col(a) == pl.col(b))
        .then(2)
        .when(two_of_three | swapped)
        .then(1)
        .otherwise(0)
        .cast(pl.Int8)
    )


def compare(
    pairs: pl.DataFrame, register: pl.DataFrame, roll: pl.DataFrame, *, chunk_size: int = 500_000
) -> pl.DataFrame:
    """Add one `<field>_lvl` column per field of `FIELDS` to (rid, lid) pairs.

    Pairs are compared `chunk_size` at a time: each chunk gathers both records'
    strings, which is what takes memory, and keeps only small level columns.
    Chunks are independent, so they could as well run on different workers.
    """
    if pairs.height <= chunk_size:
        return _compare_chunk(pairs, register, roll)
    return pl.concat([_compare_chunk(chunk, register, roll) for chunk in pairs.iter_slices(chunk_size)], rechunk=True)


def _compare_chunk(pairs: pl.DataFrame, register: pl.DataFrame, roll: pl.DataFrame) -> pl.DataFrame:
    joined = pl.concat(
        [
            pairs.select("rid", "lid"),
            lookup(register.select(REGISTER_COLUMNS[1:]), register["idx"], pairs["rid"]).rename(lambda c: f"r_{c}"),
            lookup(roll.select(ROLL_COLUMNS[1:]), roll["idx"], pairs["lid"]).rename(lambda c: f"l_{c}"),
        ],
        how="horizontal",
    )
    name = name_levels(
        joined["r_name"],
        joined["l_name"],
        joined["r_name_py"],
        joined["l_name_py"],
        joined["r_name_shape"],
        joined["l_name_shape"],
    )
    if joined["r_former_name"].is_not_null().any():
        former_py = joined["r_former_name"].map_elements(names.pinyin_key, return_dtype=pl.String)
        former_shape = joined["r_former_name"].map_elements(names.shape_key, return_dtype=pl.String)
        former = name_levels(
            joined["r_former_name"],
            joined["l_name"],
            former_py,
            joined["l_name_py"],
            former_shape,
            joined["l_name_shape"],
        )
        name = _max(name, former)
    levels = joined.select(
        "rid",
        "lid",
        id_levels(joined["r_id18"], joined["r_id_clean"], joined["l_id18"], joined["l_id_clean"]).alias("id_lvl"),
        name.cast(pl.Int8).alias("name_lvl"),
        _birth_level("r_birth", "l_birth").alias("birth_lvl"),
        pl.when(pl.col("r_sex").is_null() | pl.col("l_sex").is_null())
        .then(-1)
        .when(pl.col("r_sex") == pl.col("l_sex"))
        .then(1)
        .otherwise(0)
        .cast(pl.Int8)
        .alias("sex_lvl"),
        address_level(grade_expr("r_", "l_"), pl.col("r_community_code") == pl.col("l_community_code")),
        # Filled in by `reconcile.household` once the clear pairs are known.
        pl.lit(-1, dtype=pl.Int8).alias("household_lvl"),
        pl.col("r_name").alias("reg_name"),
    )
    return levels
