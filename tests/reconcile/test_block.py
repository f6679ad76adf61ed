"""Blocking: candidate pairs, rule masks, merging sources, ID corrections."""

from __future__ import annotations

from itertools import product
from typing import TYPE_CHECKING

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile.block import (
    DEFAULT_RULES,
    EXTRA_SOURCES,
    BlockingRule,
    blocked,
    candidate_pairs,
    id_fixes,
    merge_sources,
    rule_bits,
    rules_of,
)
from reconcile.idnumber import corrections, parse
from reconcile.units import Sides
from tests.reconcile.helpers import Shuffled, valid_id

if TYPE_CHECKING:
    from collections.abc import Sequence

Row = tuple[str | None, str | None]

# Register column, roll column: the last rule joins columns of different names.
RULES = (
    BlockingRule("a", (("k1", "k1"),)),
    BlockingRule("ab", (("k1", "k1"), ("k2", "k2"))),
    BlockingRule("cross", (("k2", "m2"),)),
)
BITS = rule_bits(RULES)


def _side(rows: Sequence[Row], second: str, first_idx: int = 0) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "idx": list(range(first_idx, first_idx + len(rows))),
            "k1": [r[0] for r in rows],
            second: [r[1] for r in rows],
        },
        schema={"idx": pl.Int64, "k1": pl.String, second: pl.String},
    )


def _register(rows: Sequence[Row]) -> pl.DataFrame:
    return _side(rows, "k2").with_columns(pl.lit("unused").alias("m2"))


def _roll(rows: Sequence[Row]) -> pl.DataFrame:
    # The roll holds both k2 and m2: the "cross" rule must read m2, the "ab" rule k2.
    return _side(rows, "m2", first_idx=100).with_columns(pl.col("m2").alias("k2"))


def _found(pairs: pl.DataFrame) -> dict[tuple[int, int], list[str]]:
    return {(rid, lid): rules_of(mask, BITS) for rid, lid, mask in pairs.select("rid", "lid", "rules").iter_rows()}


def _expected(
    register: pl.DataFrame, roll: pl.DataFrame, rules: tuple[BlockingRule, ...]
) -> dict[tuple[int, int], list[str]]:
    """Every pair agreeing on all of some rule's (non-null) keys, by brute force."""
    out: dict[tuple[int, int], list[str]] = {}
    for r, lo in product(register.iter_rows(named=True), roll.iter_rows(named=True)):
        names = [rule.name for rule in rules if all(r[a] is not None and r[a] == lo[b] for a, b in rule.on)]
        if names:
            out[(r["idx"], lo["idx"])] = names
    return out


def test_a_pair_sharing_a_key_is_a_candidate_and_one_sharing_none_is_not() -> None:
    register = _register([("张伟", "1980"), ("李强", "1990"), ("王芳", None)])
    roll = _roll([("张伟", "1980"), ("李强", "1991"), ("刘洋", "1990"), ("王芳", None)])
    found = _found(candidate_pairs(register, roll, RULES))
    assert found == {
        (0, 100): ["a", "ab", "cross"],  # same name and year
        (1, 101): ["a"],  # same name only
        (1, 102): ["cross"],  # the register's k2 equals the roll's m2
        (2, 103): ["a"],  # a missing second key blocks nothing else
    }
    assert (0, 101) not in found


def test_missing_keys_never_pair() -> None:
    register = _register([(None, None)])
    roll = _roll([(None, None)])
    assert candidate_pairs(register, roll, RULES).height == 0


@pytest.mark.parametrize(("register_n", "roll_n", "kept"), [(2, 2, True), (2, 3, False), (1, 5, False), (4, 1, True)])
def test_keys_too_common_are_skipped(register_n: int, roll_n: int, kept: bool) -> None:
    rule = BlockingRule("a", (("k1", "k1"),), max_block=4)
    register = _register([("张伟", None)] * register_n + [("李强", None)])
    roll = _roll([("张伟", None)] * roll_n + [("李强", None)])
    pairs = candidate_pairs(register, roll, (rule,))
    zhang = pairs.filter(pl.col("rid") < register_n)
    assert zhang.height == (register_n * roll_n if kept else 0)
    assert pairs.filter(pl.col("rid") == register_n).height == 1  # the rare name still pairs


def test_output_columns_and_types() -> None:
    pairs = candidate_pairs(_register([("张伟", "1")]), _roll([("张伟", "1")]), RULES)
    assert pairs.schema == pl.Schema({"rid": pl.Int64, "lid": pl.Int64, "rules": pl.UInt32})


def test_record_ids_keep_their_type() -> None:
    register = _register([("张伟", "1")] * 2).with_columns(pl.col("idx").cast(pl.UInt32))
    roll = _roll([("张伟", "1")]).with_columns(pl.col("idx").cast(pl.UInt32))
    pairs = candidate_pairs(register, roll, RULES)
    assert pairs.height == 2
    assert pairs.schema == pl.Schema({"rid": pl.UInt32, "lid": pl.UInt32, "rules": pl.UInt32})
    assert candidate_pairs(register.clear(), roll, RULES).schema == pairs.schema


_key = st.sampled_from(["甲", "乙", "丙", None])
_rows = st.lists(st.tuples(_key, _key), max_size=8)


@settings(max_examples=50, deadline=None)
@given(register_rows=_rows, roll_rows=_rows)
def test_candidates_are_exactly_the_pairs_sharing_some_rules_keys(
    register_rows: list[Row], roll_rows: list[Row]
) -> None:
    register, roll = _register(register_rows), _roll(roll_rows)
    pairs = candidate_pairs(register, roll, RULES)
    assert pairs.select("rid", "lid").is_unique().all()
    assert _found(pairs) == _expected(register, roll, RULES)


@settings(max_examples=50, deadline=None)
@given(register_rows=_rows, roll_rows=_rows, max_block=st.integers(1, 6))
def test_a_block_cap_only_removes_pairs_of_crowded_keys(
    register_rows: list[Row],
    roll_rows: list[Row],
    max_block: int,
) -> None:
    rule = BlockingRule("a", (("k1", "k1"),), max_block=max_block)
    register, roll = _register(register_rows), _roll(roll_rows)
    found = set(candidate_pairs(register, roll, (rule,)).select("rid", "lid").iter_rows())
    everything = _expected(register, roll, (rule,))
    assert found <= set(everything)
    for rid, lid in everything:
        key = register.row(rid, named=True)["k1"]
        block = register.filter(pl.col("k1") == key).height * roll.filter(pl.col("k1") == key).height
        assert ((rid, lid) in found) == (block <= max_block), (key, block)


# --- rule masks -----------------------------------------------------------------------------------


def test_rule_bits_are_distinct_powers_of_two_for_rules_and_extra_sources() -> None:
    bits = rule_bits()
    assert list(bits) == [*(r.name for r in DEFAULT_RULES), *EXTRA_SOURCES]
    values = list(bits.values())
    assert all(v > 0 and v & (v - 1) == 0 for v in values)
    assert len(set(values)) == len(values)
    assert max(values) < 2**32  # they fit the UInt32 mask


@settings(max_examples=50, deadline=None)
@given(chosen=st.sets(st.sampled_from([r.name for r in DEFAULT_RULES] + list(EXTRA_SOURCES))))
def test_rules_of_reads_back_the_names_in_a_mask(chosen: set[str]) -> None:
    bits = rule_bits()
    mask = 0
    for name in chosen:
        mask |= bits[name]
    assert rules_of(mask, bits) == [n for n in bits if n in chosen]  # in rule order


def test_merge_sources_ors_the_masks_of_one_pair() -> None:
    pairs = pl.DataFrame(
        {"rid": [1, 1, 1, 2, 1], "lid": [5, 5, 5, 5, 6], "rules": [1, 4, 16, 2, 8]},
        schema={"rid": pl.Int64, "lid": pl.Int64, "rules": pl.UInt32},
    )
    merged = merge_sources(pairs).sort("rid", "lid")
    assert merged.rows() == [(1, 5, 21), (1, 6, 8), (2, 5, 2)]
    assert merged["rules"].dtype == pl.UInt32


@settings(max_examples=50, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 2**31 - 1), st.integers(0, 2**32 - 1), st.integers(0, 12)), max_size=30, unique=True
    )
)
def test_merge_sources_keeps_every_pair_and_bit(rows: list[tuple[int, int, int]]) -> None:
    expected: dict[tuple[int, int], int] = {}
    for rid, lid, bit in rows:
        expected[(rid, lid)] = expected.get((rid, lid), 0) | (1 << bit)
    pairs = pl.DataFrame(
        {"rid": [r[0] for r in rows], "lid": [r[1] for r in rows], "rules": [1 << r[2] for r in rows]},
        schema={"rid": pl.Int64, "lid": pl.Int64, "rules": pl.UInt32},
    )
    merged = merge_sources(pairs)
    assert {(rid, lid): mask for rid, lid, mask in merged.iter_rows()} == expected


def test_merge_sources_holds_record_ids_up_to_two_to_the_32() -> None:
    pairs = pl.DataFrame(
        {"rid": [2**31 + 5], "lid": [7], "rules": [1]}, schema={"rid": pl.Int64, "lid": pl.Int64, "rules": pl.UInt32}
    )
    assert merge_sources(pairs).rows() == [(2**31 + 5, 7, 1)]


# --- ID corrections -------------------------------------------------------------------------------


def _id_frame(written: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {"idx": list(range(len(written))), "id18": [parse(w).id18 for w in written], "id_clean": written},
        schema={"idx": pl.Int64, "id18": pl.String, "id_clean": pl.String},
    )


_bodies = st.builds(
    lambda year, month, day, serial: f"330282{year}{month:02d}{day:02d}{serial:03d}",
    st.integers(1930, 2020),
    st.integers(1, 12),
    st.integers(1, 28),
    st.integers(0, 999),
)


def _slipped(draw: st.DrawFn, true: str, kind: str) -> str:
    """`true` with one typing slip of `kind`: a digit wrong, two swapped, cut short, or the check character wrong."""
    chars = list(true)
    if kind == "digit":
        pos = draw(st.integers(0, 16))
        chars[pos] = draw(st.sampled_from([d for d in "0123456789" if d != chars[pos]]))
    elif kind == "swap":
        pos = draw(st.integers(0, 16))
        chars[pos], chars[pos + 1] = chars[pos + 1], chars[pos]
    elif kind == "truncated":
        chars = chars[:17]
    elif kind == "check":
        chars[17] = draw(st.sampled_from([c for c in "0123456789X" if c != chars[17]]))
    return "".join(chars)


_SLIPS = ("digit", "swap", "truncated", "check")


@st.composite
def _slips(draw: st.DrawFn) -> tuple[str, str]:
    """(the true number, the number with one typing slip)."""
    true = valid_id(draw(_bodies))
    return true, _slipped(draw, true, draw(st.sampled_from(_SLIPS)))


@settings(max_examples=50, deadline=None)
@given(slip=_slips())
def test_id_fixes_offer_the_true_number_behind_one_slip(slip: tuple[str, str]) -> None:
    true, written = slip
    fixes = id_fixes(_id_frame([written]))
    if parse(written).id18 is not None:  # the slip happened to make another valid number
        assert fixes.height == 0
        return
    offered = fixes["id_fix"].to_list()
    assert true in offered or written == true
    assert written not in offered
    assert all(parse(f).id18 == f for f in offered)  # every candidate validates
    assert sorted(offered) == corrections(written)  # the vectorised and the scalar rule agree


def test_id_fixes_leave_valid_and_missing_numbers_alone() -> None:
    valid = valid_id("33028219800101001")
    body = "33028219800101002"
    frame = pl.concat(
        [
            _id_frame([valid, body]),
            pl.DataFrame({"idx": [2], "id18": [None], "id_clean": [None]}, schema=_id_frame([]).schema),
        ]
    )
    fixes = id_fixes(frame)
    assert fixes.columns == ["idx", "id_fix"]
    assert fixes.rows() == [(1, valid_id(body))]  # a number missing its check character gets it back


def test_a_slipped_id_number_is_paired_by_the_correction_rule() -> None:
    true = valid_id("33028219800101001")
    slipped = true[:9] + str((int(true[9]) + 1) % 10) + true[10:]
    assert parse(slipped).id18 is None

    def side(ids: list[str], first: int) -> pl.DataFrame:
        return _id_frame(ids).with_columns(pl.col("idx") + first)

    register = side([true], 0)
    roll = side([slipped], 100)
    rules = tuple(r for r in DEFAULT_RULES if r.name in ("id", "id_corrected", "id_corrected_register"))
    bits = rule_bits(rules)
    assert _rules_found(candidate_pairs(register, roll, rules), bits) == {(0, 100): ["id_corrected"]}
    # The other way round the register's number is corrected.
    assert _rules_found(candidate_pairs(side([slipped], 0), side([true], 100), rules), bits) == {
        (0, 100): ["id_corrected_register"]
    }


def _rules_found(pairs: pl.DataFrame, bits: dict[str, int]) -> dict[tuple[int, int], list[str]]:
    return {(rid, lid): rules_of(mask, bits) for rid, lid, mask in pairs.iter_rows()}


# Keys as offices write them: spaces, full-width digits, traditional characters, empty cells.
_written = st.sampled_from(["浒山", "浒山 ", " 浒山", "滸山", "３３０２８２", "330282", "", None])


@settings(max_examples=100, deadline=None)
@given(
    register_rows=st.lists(st.tuples(_written, _written), max_size=8),
    roll_rows=st.lists(st.tuples(_written, _written), max_size=8),
)
def test_keys_held_as_categories_pair_exactly_as_strings(register_rows: list[Row], roll_rows: list[Row]) -> None:
    """Linking holds few-valued key columns as categories and ids as UInt32: any spelling pairs as the string does."""
    register, roll = _register(register_rows), _roll(roll_rows)
    as_held = [pl.col("idx").cast(pl.UInt32), pl.col("k1", "k2", "m2").cast(pl.Categorical)]
    found = _found(candidate_pairs(register.with_columns(as_held), roll.with_columns(as_held), RULES))
    assert found == _found(candidate_pairs(register, roll, RULES)) == _expected(register, roll, RULES)


# --- Blocking as units: any number of partitions, run anywhere, in any order ---------------------------------
# However the keys are written, blocking in partitions run as units (`reconcile.units`) out of order pairs what
# the whole city's join pairs. An ID number that fails validation is offered several corrections, and a
# number written right pairs by the ID and perhaps by a correction too: each pair is still found once.

_ID_BODIES = ("33028219800101001", "33028219800101002")


@st.composite
def _id_as_written(draw: st.DrawFn) -> str | None:
    """An ID number as an office may write it: right, with one typing slip (`_slipped`), or missing."""
    kind = draw(st.sampled_from(["right", *_SLIPS, "missing"]))
    if kind == "missing":
        return None
    true = valid_id(draw(st.sampled_from(_ID_BODIES)))
    return true if kind == "right" else _slipped(draw, true, kind)


def _ids_side(written: list[str | None], first: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "idx": list(range(first, first + len(written))),
            "id18": [parse(w).id18 if w else None for w in written],
            "id_clean": written,
        },
        schema={"idx": pl.UInt32, "id18": pl.String, "id_clean": pl.String},
    )


def _ids_expected(register: pl.DataFrame, roll: pl.DataFrame) -> dict[tuple[int, int], list[str]]:
    """Every pair the three ID rules should find, by brute force with the scalar corrections."""
    out: dict[tuple[int, int], list[str]] = {}
    for r, lo in product(register.iter_rows(named=True), roll.iter_rows(named=True)):
        names = []
        if r["id18"] is not None and r["id18"] == lo["id18"]:
            names.append("id")
        if lo["id18"] is None and lo["id_clean"] and r["id18"] in corrections(lo["id_clean"]):
            names.append("id_corrected")
        if r["id18"] is None and r["id_clean"] and lo["id18"] in corrections(r["id_clean"]):
            names.append("id_corrected_register")
        if names:
            out[(r["idx"], lo["idx"])] = names
    return out


@settings(max_examples=100, deadline=None)
@given(
    register_rows=st.lists(st.tuples(_written, _written), max_size=8),
    roll_rows=st.lists(st.tuples(_written, _written), max_size=8),
    partitions=st.integers(1, 5),
)
def test_keys_blocked_in_any_partitions_run_anywhere_pair_as_the_whole(
    register_rows: list[Row], roll_rows: list[Row], partitions: int
) -> None:
    register, roll = _register(register_rows), _roll(roll_rows)
    as_held = [pl.col("idx").cast(pl.UInt32), pl.col("k1", "k2", "m2").cast(pl.Categorical)]
    sides = Sides(register.with_columns(as_held), roll.with_columns(as_held))
    found = _found(blocked(sides, RULES, partitions=partitions, units=Shuffled()))
    assert found == _expected(register, roll, RULES)


@settings(max_examples=100, deadline=None)
@given(
    register_ids=st.lists(_id_as_written(), max_size=6),
    roll_ids=st.lists(_id_as_written(), max_size=6),
    partitions=st.integers(1, 5),
)
def test_id_numbers_blocked_in_any_partitions_run_anywhere_pair_once_as_the_whole(
    register_ids: list[str | None], roll_ids: list[str | None], partitions: int
) -> None:
    rules = tuple(r for r in DEFAULT_RULES if r.name in ("id", "id_corrected", "id_corrected_register"))
    register, roll = _ids_side(register_ids, 0), _ids_side(roll_ids, 100)
    pairs = blocked(Sides(register, roll), rules, partitions=partitions, units=Shuffled())
    assert pairs.select("rid", "lid").is_unique().all()
    assert _rules_found(pairs, rule_bits(rules)) == _ids_expected(register, roll)
