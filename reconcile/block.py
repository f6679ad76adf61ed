"""Blocking: candidate (register, roll) pairs from several keys, city-wide.

Each rule joins the two sides on equal keys. Keys too common to be useful are
capped so that one popular name cannot flood memory. The candidate set is the
union of all rules; which rules found a pair is kept for recall analysis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from reconcile import idnumber
from reconcile.units import IN_TURN, Sides, Units

if TYPE_CHECKING:
    from collections.abc import Callable


@dataclass(frozen=True, slots=True)
class BlockingRule:
    """Pairs agreeing on every column in `on` (register column, roll column)."""

    name: str
    on: tuple[tuple[str, str], ...]
    max_block: int = 2_500
    """Skip key values whose register × roll pair count exceeds this."""


DEFAULT_RULES: tuple[BlockingRule, ...] = (
    BlockingRule("id", (("id18", "id18"),), max_block=100),
    BlockingRule("id_corrected", (("id18", "id_fix"),), max_block=100),
    BlockingRule("id_corrected_register", (("id_fix", "id18"),), max_block=100),
    BlockingRule("id_head_surname", (("id_head", "id_head"), ("surname_py", "surname_py")), max_block=100),
    BlockingRule("pinyin_birth", (("name_py", "name_py"), ("birth", "birth"))),
    BlockingRule("name", (("name", "name"),), max_block=16),
    BlockingRule("name_community", (("name", "name"), ("community_code", "community_code"))),
    # City-wide on a surname and a date: a block grows with the city, so its pairs with the square of it (scale 10:
    # 5.3 M pairs, scale 50: 107 M, which no machine here holds). Capped as `id_head_surname` is: 22 M at scale 50.
    BlockingRule("surname_birth", (("surname_py", "surname_py"), ("birth", "birth")), max_block=100),
    BlockingRule("surname_dwelling", (("surname_py", "surname_py"), ("flat", "flat"))),
    BlockingRule("pinyin_community", (("name_py", "name_py"), ("community_code", "community_code"))),
)


def id_fixes(frame: pl.DataFrame) -> pl.DataFrame:
    """(idx, id_fix): candidate corrections of ID numbers that failed validation."""
    return idnumber.corrections_column(frame)


def _keyed(frame: pl.DataFrame, cols: list[str], name: str) -> pl.DataFrame:
    """(record id as `name`, key): one 64-bit hash per key tuple.

    Joins on integers are far cheaper than on several string columns, and a rare
    collision only adds a pair that scoring rejects.
    """
    return frame.drop_nulls(cols).select(
        pl.col("idx").alias(name),
        pl.struct([pl.col(c).alias(f"k{i}") for i, c in enumerate(cols)]).hash(seed=7).alias("key"),
    )


@dataclass(frozen=True, slots=True)
class RulePartition:
    """A unit of blocking (`reconcile.units.Step`): the pairs of one rule's keys in one partition (by key hash).

    Every key falls in one of the `partitions`, so a rule's pairs are the union of its partitions'. Each unit
    hashes the rule's keys of both whole sides and keeps its partition's: with more partitions, less held
    at once and more hashing.
    """

    rule: BlockingRule
    partitions: int = 1

    def __call__(self, part: int, sides: Sides, /) -> pl.DataFrame:
        """rid, lid: the pairs of the rule's keys in partition `part`."""
        register, roll = _rule_sides(sides, self.rule)
        left = _keyed(register, [r for r, _ in self.rule.on], "rid")
        right = _keyed(roll, [r for _, r in self.rule.on], "lid")
        if self.partitions > 1:
            in_part = (pl.col("key") % self.partitions) == part
            left, right = left.filter(in_part), right.filter(in_part)
        return _partition_pairs(left, right, self.rule.max_block)


_ID_FIX = "id_fix"
_FIXES: tuple[Callable[[Sides], pl.DataFrame], Callable[[Sides], pl.DataFrame]] = (
    lambda sides: id_fixes(sides.register),
    lambda sides: id_fixes(sides.roll),
)


def _rule_sides(sides: Sides, rule: BlockingRule) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Each side as `rule` joins it: with its candidate ID corrections as `id_fix` where the rule reads them."""
    cols = {c for pair in rule.on for c in pair}
    out = []
    for position, records in enumerate((sides.register, sides.roll)):
        if any(pair[position] == "id_fix" for pair in rule.on):
            fixes = sides.derived(f"{_ID_FIX}.{position}", _FIXES[position])
            records = fixes.join(records.select("idx", *(cols - {"id_fix"} & set(records.columns))), on="idx")
        out.append(records)
    return out[0], out[1]


def _partition_pairs(left: pl.DataFrame, right: pl.DataFrame, max_block: int) -> pl.DataFrame:
    """Pairs of equal keys, skipping keys whose register × roll count exceeds `max_block`."""
    sizes = (
        left.group_by("key")
        .len("nl")
        .join(right.group_by("key").len("nr"), on="key")
        .filter(pl.col("nl") * pl.col("nr") <= max_block)
        .select("key")
    )
    return left.join(sizes, on="key", how="semi").join(right, on="key").select("rid", "lid")


UNEXPLAINED_RULES: tuple[BlockingRule, ...] = (
    BlockingRule("name", (("name", "name"),), max_block=100),
    BlockingRule("pinyin", (("name_py", "name_py"),), max_block=100),
)
"""Rules applied among the records nothing explains after the first passes: far
fewer records, so a shared name is a much narrower key than city-wide."""

EXTRA_SOURCES = ("household", "operator", "unexplained")
"""Sources of candidate pairs besides the blocking rules (see `reconcile.linker`)."""


def rule_bits(rules: tuple[BlockingRule, ...] = DEFAULT_RULES) -> dict[str, int]:
    """Bit of each source of candidates in the `rules` mask of `candidate_pairs`."""
    return {name: 1 << i for i, name in enumerate([*(r.name for r in rules), *EXTRA_SOURCES])}


def rules_of(mask: int, bits: dict[str, int]) -> list[str]:
    """The names in a `rules` mask.

    >>> rules_of(5, {"id": 1, "name": 2, "pinyin_birth": 4})
    ['id', 'pinyin_birth']
    """
    return [name for name, bit in bits.items() if mask & bit]


def candidate_pairs(
    register: pl.DataFrame,
    roll: pl.DataFrame,
    rules: tuple[BlockingRule, ...] = DEFAULT_RULES,
    *,
    partitions: int = 1,
) -> pl.DataFrame:
    """Union of every rule's pairs: rid, lid, rules (a bit mask of the rules that found the pair, see `rule_bits`).

    Both frames need `idx` and the rule columns; `id_fix` is derived here. Each rule joins its keys
    in `partitions` parts by key hash: every key falls in one part, so the pairs are the same for any
    number of parts, and a part's join holds only its keys.
    """
    return blocked(Sides(register, roll), rules, partitions=partitions)


def blocked(
    sides: Sides, rules: tuple[BlockingRule, ...], *, partitions: int = 1, units: Units = IN_TURN
) -> pl.DataFrame:
    """`candidate_pairs` of `sides`, each rule's partitions run as units (`RulePartition`) by `units`."""
    merged = pl.DataFrame(schema={"_pair": pl.UInt64, "rules": pl.UInt32})
    bits = rule_bits(rules)
    for rule in rules:
        parts = units.map(RulePartition(rule, partitions), range(partitions), sides)
        pairs = pl.concat(parts) if len(parts) > 1 else parts[0]
        del parts
        if any(c == "id_fix" for pair in rule.on for c in pair):
            pairs = pairs.unique()  # a record may have several candidate corrections
        # Merged rule by rule: the pairs found by several rules are held once, not once per rule.
        merged = _merge_rule(merged, pairs.select(pair_key().alias("_pair")), bits[rule.name])
    sides.forget(_ID_FIX)
    return merged.select(
        (pl.col("_pair") // (1 << 32)).cast(sides.register["idx"].dtype).alias("rid"),
        (pl.col("_pair") % (1 << 32)).cast(sides.roll["idx"].dtype).alias("lid"),
        "rules",
    )


def _merge_rule(merged: pl.DataFrame, found: pl.DataFrame, bit: int) -> pl.DataFrame:
    """`merged` (_pair, rules; sorted, one row per pair) with one more rule's pairs (`found`, unique) and its bit.

    Both sorted, the union is a linear merge in which a pair both hold sits in two adjacent rows:
    the first takes the second's bit, the second goes. No hashing, no second sort of the union.
    """
    new = found.sort("_pair").with_columns(pl.lit(bit, dtype=pl.UInt32).alias("rules"))
    union = merged.merge_sorted(new, key="_pair")
    pair, rules = pl.col("_pair"), pl.col("rules")
    twice = pair == pair.shift(-1)
    return union.with_columns(pl.when(twice).then(rules + rules.shift(-1)).otherwise(rules).alias("rules")).filter(
        (pair != pair.shift(1)).fill_null(True)
    )


def pair_key(rid: str = "rid", lid: str = "lid") -> pl.Expr:
    """(rid, lid) packed into one UInt64 (record ids are below 2**32): cheap to group on and test membership."""
    return pl.col(rid).cast(pl.UInt64) * (1 << 32) + pl.col(lid).cast(pl.UInt64)


def merge_sources(pairs: pl.DataFrame) -> pl.DataFrame:
    """One row per (rid, lid) with the `rules` masks of its rows or-ed together; ids keep their type.

    No bit may occur twice for one pair (each source lists a pair once): the
    masks are then added, which polars groups several times faster than `or`.

    >>> merge_sources(pl.DataFrame({"rid": [2, 1, 1], "lid": [5, 5, 5], "rules": [2, 1, 4]})).rows()
    [(1, 5, 5), (2, 5, 2)]
    """
    # Grouping on one packed integer is several times faster than on two columns, and grouping sorted keys
    # (sort, then group in order) twice as fast again; the pairs then come out in (rid, lid) order.
    return (
        pairs.select(pair_key().alias("_pair"), "rules")
        .sort("_pair")
        .group_by("_pair", maintain_order=True)
        .agg(pl.col("rules").cast(pl.Int64).sum())
        .select(
            (pl.col("_pair") // (1 << 32)).cast(pairs.schema["rid"]).alias("rid"),
            (pl.col("_pair") % (1 << 32)).cast(pairs.schema["lid"]).alias("lid"),
            pl.col("rules").cast(pl.UInt32),
        )
    )
