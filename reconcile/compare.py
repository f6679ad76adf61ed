"""Comparison vectors: for each candidate pair, an agreement level per field.

`COMPARISONS` is the project's comparison set: each field with its levels,
labels, starting m and u and the function computing its level
(`reconcile.comparison`). Levels are computed with rapidfuzz over whole columns
(`process.cpdist`), never with database string functions, which count UTF-8
bytes. Level -1 (`reconcile.comparison.MISSING`) means a value is missing on
one side: the field then says nothing either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import polars as pl
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from reconcile import names
from reconcile.comparison import MISSING, Comparison, ComparisonLevel, ComparisonSet
from reconcile.dwelling import GRADE_LABELS, PARTS, Grade, grade_expr
from reconcile.units import IN_TURN, Sides, Units

if TYPE_CHECKING:
    from collections.abc import Callable

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


def row_positions(ids: pl.Series) -> pl.Series:
    """The row of each record id in `ids` (null for an id no row has), for `lookup`.

    >>> row_positions(pl.Series([3, 1])).to_list()
    [None, 1, None, 0]
    """
    if ids.len() == 0:
        return pl.Series(dtype=pl.UInt32)
    size = int(ids.cast(pl.Int64).max() or 0) + 1  # type: ignore[arg-type]
    rows = pl.int_range(ids.len(), dtype=pl.UInt32, eager=True)
    return pl.repeat(None, size, dtype=pl.UInt32, eager=True).scatter(ids, rows)


class Indexed(NamedTuple):
    """Records and the row of each record id (`row_positions`): what `lookup` reads, computed once."""

    records: pl.DataFrame
    positions: pl.Series


def indexed(records: pl.DataFrame, *exprs: str | pl.Expr) -> Indexed:
    """`exprs` of `records` (all but `idx` if none), indexed by the records' `idx`."""
    return Indexed(records.select(exprs or pl.exclude("idx")), row_positions(records["idx"]))


def lookup(side: Indexed, wanted: pl.Series) -> pl.DataFrame:
    """The row of `side` for each record id in `wanted`, in order.

    A positional gather, much cheaper than a join on ids.

    >>> lookup(indexed(pl.DataFrame({"idx": [7, 3], "name": ["张伟", "李强"]})), pl.Series([3, 7, 3])).rows()
    [('李强',), ('张伟',), ('李强',)]
    """
    if side.positions.len() == 0:
        return side.records.clear(wanted.len())
    return side.records.select(pl.all().gather(side.positions.gather(wanted)))


def address_level(grade: pl.Expr, same_community: pl.Expr) -> pl.Expr:
    """The address field's level.

    The dwelling grade (4 same flat … 2 same building) within one community, 1
    for another building or an address that names no flat in the same
    community, 0 across communities (the roll's file says the community).
    """
    return (
        pl.when(~same_community)
        .then(ADDRESS.value("other_community"))
        .when(grade == int(Grade.UNKNOWN))
        .then(ADDRESS.value("same_community"))
        .otherwise(grade)
        .cast(pl.Int8)
        .alias("address_lvl")
    )


def _cpdist_where(
    a: pl.Series, b: pl.Series, needed: pl.Series, scorer: Any, *, score_cutoff: float | None = None
) -> pl.Series:
    """Rapidfuzz `cpdist` on the rows where `needed` holds, null elsewhere.

    Most candidate pairs agree exactly and need no edit distance. With
    `score_cutoff` rapidfuzz stops early on pairs past it (see its docs for the
    value returned).
    """
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
    """Name levels of pairs, given names, pinyin keys and shape keys.

    4 exact · 3 same sound or same shape (张伟/张玮, 候/侯) · 2 one character apart (张伟/章伟 also lands here
    when sounds differ, 张小伟/张伟) · 1 loosely similar · 0 different · -1 missing.
    """
    frame = pl.DataFrame({"a": a, "b": b, "pa": a_py, "pb": b_py, "sa": shape_a, "sb": shape_b})
    cheap = frame.select(
        pl.when(pl.col("a").is_null() | pl.col("b").is_null())
        .then(MISSING)
        .when(pl.col("a") == pl.col("b"))
        .then(NAME.value("exact"))
        .when((pl.col("pa") == pl.col("pb")) | (pl.col("sa") == pl.col("sb")))
        .then(NAME.value("sound_or_shape"))
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
        .then(NAME.value("one_character"))
        .when(pl.col("ps") >= 0.75)
        .then(NAME.value("similar_sound"))
        .otherwise(NAME.value("different"))
        .cast(pl.Int8)
        .alias("lvl")
    )["lvl"]


def name_level(a: str | None, b: str | None) -> int:
    """One pair of simplified, folded names: the scalar form of `name_levels`.

    >>> name_level("张伟", "张伟"), name_level("张伟", "张玮"), name_level("张伟", "李强"), name_level(None, "张伟")
    (4, 3, 0, -1)
    """
    a, b = a or None, b or None

    def column(value: str | None, key: Callable[[str], str]) -> pl.Series:
        return pl.Series([value and key(value)], dtype=pl.String)

    def same(text: str) -> str:
        return text

    return int(
        name_levels(
            column(a, same),
            column(b, same),
            column(a, names.pinyin_key),
            column(b, names.pinyin_key),
            column(a, names.shape_key),
            column(b, names.shape_key),
        )[0]
    )


def id_levels(reg_id18: pl.Series, reg_clean: pl.Series, roll_id18: pl.Series, roll_clean: pl.Series) -> pl.Series:
    """3 same number · 2 a slip or two, a truncated prefix or Excel's 15 digits · 0 different · -1 missing.

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
    # Typed into Excel as a number (`idnumber.rounded`): 15 digits kept, cut or rounded, zeros after them.
    kept = pl.col("l").str.contains(r"^\d{15}000$") & (
        (pl.col("r").str.slice(0, 15) == pl.col("l").str.slice(0, 15))
        | (((pl.col("r").cast(pl.UInt64, strict=False) + 500) // 1000 * 1000).cast(pl.String) == pl.col("l"))
    )
    return frame.select(
        pl.when(pl.col("r").is_null() | pl.col("l").is_null())
        .then(MISSING)
        .when(pl.col("r") == pl.col("l"))
        .then(ID.value("same"))
        .when((pl.col("d") <= 2) | prefix | kept.fill_null(False))
        .then(ID.value("slip"))
        .otherwise(ID.value("different"))
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
        .then(MISSING)
        .when(pl.col(a) == pl.col(b))
        .then(BIRTH.value("same"))
        .when(two_of_three | swapped)
        .then(BIRTH.value("one_part"))
        .otherwise(BIRTH.value("different"))
        .cast(pl.Int8)
    )


def _id(joined: pl.DataFrame) -> pl.Series:
    return id_levels(joined["r_id18"], joined["r_id_clean"], joined["l_id18"], joined["l_id_clean"])


def _name(joined: pl.DataFrame) -> pl.Series:
    """The name's level, or the registered former name's where that agrees better."""
    name = name_levels(
        joined["r_name"],
        joined["l_name"],
        joined["r_name_py"],
        joined["l_name_py"],
        joined["r_name_shape"],
        joined["l_name_shape"],
    )
    if joined["r_former_name"].is_not_null().any():
        former_py = names.pinyin_keys(joined["r_former_name"])
        former_shape = names.shape_keys(joined["r_former_name"])
        former = name_levels(
            joined["r_former_name"],
            joined["l_name"],
            former_py,
            joined["l_name_py"],
            former_shape,
            joined["l_name_shape"],
        )
        name = _max(name, former)
    return name


def _birth(joined: pl.DataFrame) -> pl.Expr:
    return _birth_level("r_birth", "l_birth")


def _sex(joined: pl.DataFrame) -> pl.Expr:
    return (
        pl.when(pl.col("r_sex").is_null() | pl.col("l_sex").is_null())
        .then(MISSING)
        .when(pl.col("r_sex") == pl.col("l_sex"))
        .then(SEX.value("same"))
        .otherwise(SEX.value("different"))
        .cast(pl.Int8)
    )


def _address(joined: pl.DataFrame) -> pl.Expr:
    return address_level(grade_expr("r_", "l_"), pl.col("r_community_code") == pl.col("l_community_code"))


def _household(joined: pl.DataFrame) -> pl.Expr:
    # Filled in by `reconcile.household` once the clear pairs are known.
    return pl.lit(MISSING, dtype=pl.Int8)


L = ComparisonLevel
# Default u: rough shares among random pairs of a city of 200k, used only to steady tiny inputs.
ID = Comparison(
    "id",
    "身份证号",
    (
        L(3, "same", "号码相同", initial_m=0.85, default_u=1e-6),
        L(2, "slip", "一两位之差", initial_m=0.10, default_u=1e-5),
        L(0, "different", "号码不同", initial_m=0.05, default_u=1 - 1.1e-5),
    ),
    _id,
)
NAME = Comparison(
    "name",
    "姓名",
    (
        L(4, "exact", "完全相同", initial_m=0.85, default_u=4e-5),
        L(3, "sound_or_shape", "同音或形近", initial_m=0.07, default_u=2e-5),
        L(2, "one_character", "差一字", initial_m=0.04, default_u=1e-3),
        L(1, "similar_sound", "读音相近", initial_m=0.02, default_u=5e-3),
        L(0, "different", "不同", initial_m=0.02, default_u=1 - 6.06e-3),
    ),
    _name,
)
BIRTH = Comparison(
    "birth",
    "出生日期",
    (
        L(2, "same", "相同", initial_m=0.90, default_u=5e-5),
        L(1, "one_part", "年月日差一项", initial_m=0.05, default_u=2e-3),
        L(0, "different", "不同", initial_m=0.05, default_u=1 - 2.05e-3),
    ),
    _birth,
)
SEX = Comparison(
    "sex",
    "性别",
    (
        L(1, "same", "相同", initial_m=0.98, default_u=0.5),
        L(0, "different", "不同", initial_m=0.02, default_u=0.5),
    ),
    _sex,
)
ADDRESS = Comparison(
    "address",
    "住址",
    (
        L(int(Grade.SAME_FLAT), "same_flat", GRADE_LABELS[Grade.SAME_FLAT], initial_m=0.55, default_u=1e-5),
        L(int(Grade.COMPATIBLE), "compatible", GRADE_LABELS[Grade.COMPATIBLE], initial_m=0.05, default_u=2e-5),
        L(int(Grade.SAME_BUILDING), "same_building", GRADE_LABELS[Grade.SAME_BUILDING], initial_m=0.05, default_u=3e-4),
        L(1, "same_community", "同一社区（另一楼幢或住址不明）", initial_m=0.10, default_u=0.02),
        L(0, "other_community", "不同社区", initial_m=0.25, default_u=1 - 0.02033),
    ),
    _address,
)
HOUSEHOLD = Comparison(
    "household",
    "同户成员",
    (
        L(1, "together", "同户成员同住此处", initial_m=0.70, default_u=5e-5),
        L(0, "elsewhere", "同户成员住在别处", initial_m=0.30, default_u=1 - 5e-5),
    ),
    _household,
    missing_label="无可参照",
)
del L

COMPARISONS = ComparisonSet((ID, NAME, BIRTH, SEX, ADDRESS, HOUSEHOLD))
"""The comparisons the linker makes, in column order."""


def compare(
    pairs: pl.DataFrame,
    register: pl.DataFrame,
    roll: pl.DataFrame,
    *,
    chunk_size: int = 500_000,
    register_names: bool = True,
) -> pl.DataFrame:
    """Add one level column (`<name>_lvl`) per comparison of `COMPARISONS` to (rid, lid) pairs.

    With `register_names`, also `reg_name` (for the name's term frequency in `reconcile.model.score`).
    Pairs are compared `chunk_size` at a time: each chunk gathers both records'
    strings, which is what takes memory, and keeps only small level columns.
    Chunks are independent: `compared` runs them as units, which may run on different workers.
    """
    return compared(pairs, Sides(register, roll), chunk_size=chunk_size, register_names=register_names)


def compared(
    pairs: pl.DataFrame,
    sides: Sides,
    *,
    chunk_size: int = 500_000,
    register_names: bool = False,
    units: Units = IN_TURN,
) -> pl.DataFrame:
    """`compare` of the (rid, lid) `pairs` between `sides`, each chunk a unit (`ComparePairs`) run by `units`."""
    pairs = pairs.select("rid", "lid")
    chunks = [pairs] if pairs.height <= chunk_size else list(pairs.iter_slices(chunk_size))
    parts = units.map(ComparePairs(register_names=register_names), chunks, sides)
    sides.forget(_INDEXED)
    # Not rechunked: a contiguous copy would hold every pair's levels twice for a moment.
    return parts[0] if len(parts) == 1 else pl.concat(parts, rechunk=False)


@dataclass(frozen=True, slots=True)
class ComparePairs:
    """A unit of comparison (`reconcile.units.Step`): a chunk of (rid, lid) pairs, to their levels."""

    register_names: bool = False

    def __call__(self, pairs: pl.DataFrame, sides: Sides, /) -> pl.DataFrame:
        """rid, lid and a level column per comparison (and `reg_name` if `register_names`)."""
        reg, rol = sides.derived(_INDEXED, _indexed_sides)
        return _compare_chunk(pairs, reg, rol, register_names=self.register_names)


_INDEXED = "compare.indexed"


def _indexed_sides(sides: Sides) -> tuple[Indexed, Indexed]:
    return indexed(sides.register, *REGISTER_COLUMNS[1:]), indexed(sides.roll, *ROLL_COLUMNS[1:])


def _compare_chunk(pairs: pl.DataFrame, register: Indexed, roll: Indexed, *, register_names: bool) -> pl.DataFrame:
    joined = pl.concat(
        [
            pairs.select("rid", "lid"),
            lookup(register, pairs["rid"]).rename(lambda c: f"r_{c}"),
            lookup(roll, pairs["lid"]).rename(lambda c: f"l_{c}"),
        ],
        how="horizontal",
    )
    return joined.select(
        "rid",
        "lid",
        *(c.compute(joined).cast(pl.Int8).alias(c.column) for c in COMPARISONS),
        *([pl.col("r_name").alias("reg_name")] if register_names else []),
    )
