"""Who runs linking's units changes no result, and what a unit is sent names nobody.

`reconcile.linker.link` hands its blocking partitions and its chunks of pairs to a `reconcile.units.Units`;
on a cluster they run on other machines, in any order, from pickled steps. Here a runner runs them last
first, from pickled copies, and must get what the default runner gets.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from reconcile.block import blocked
from reconcile.compare import compare, compared
from reconcile.linker import LinkResult, LinkSettings, link
from reconcile.units import Sides
from tests.reconcile.helpers import Shuffled, prepared

if TYPE_CHECKING:
    from pathlib import Path


SMALL_CHUNKS = LinkSettings(partitions=3, chunk_rows=1_500)


@pytest.fixture(scope="module")
def runs(small_city: dict[str, Path]) -> tuple[LinkResult, LinkResult, Shuffled, pl.DataFrame]:
    register, roll = prepared(small_city)
    shuffled = Shuffled()
    return (
        link(register, roll, settings=SMALL_CHUNKS),
        link(register, roll, settings=SMALL_CHUNKS, units=shuffled),
        shuffled,
        register,
    )


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort("rid", "lid")


def test_units_run_apart_and_out_of_order_link_the_same(
    runs: tuple[LinkResult, LinkResult, Shuffled, pl.DataFrame],
) -> None:
    in_turn, shuffled, _, _ = runs
    assert in_turn.links.height > 1000
    assert_frame_equal(shuffled.links, in_turn.links)
    assert_frame_equal(shuffled.assigned, in_turn.assigned)
    assert_frame_equal(shuffled.candidates, in_turn.candidates)
    assert shuffled.model.m == in_turn.model.m
    assert shuffled.model.prior == in_turn.model.prior
    assert shuffled.bands == in_turn.bands


def test_every_partition_and_chunk_goes_through_the_runner(
    runs: tuple[LinkResult, LinkResult, Shuffled, pl.DataFrame],
) -> None:
    in_turn, _, runner, _ = runs
    assert runner.kinds["RulePartition"] == len(SMALL_CHUNKS.rules) * SMALL_CHUNKS.partitions
    # Every candidate pair was compared in a unit, in chunks of at most `chunk_rows`.
    assert runner.kinds["ComparePairs"] >= in_turn.candidate_count / SMALL_CHUNKS.chunk_rows


def test_no_step_sent_to_a_unit_holds_a_name(runs: tuple[LinkResult, LinkResult, Shuffled, pl.DataFrame]) -> None:
    """A cluster's scheduler keeps what its tasks were called with: steps and partition numbers, never records."""
    _, _, runner, register = runs
    names = [n for n in register["name"].drop_nulls().unique().to_list() if len(n) >= 2]
    assert len(names) > 100
    sent = b"".join(runner.sent)
    assert not [n for n in names if n.encode() in sent]


def test_what_units_derive_is_derived_once_among_threads_and_let_go_when_their_step_is_done(
    small_city: dict[str, Path],
) -> None:
    register, roll = prepared(small_city)
    sides = Sides(register.filter(pl.col("active")), roll)
    derivations: list[int] = []

    def slow(_: Sides) -> int:
        derivations.append(1)
        time.sleep(0.05)
        return len(derivations)

    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda _: sides.derived("slow", slow), range(8)))
    assert got == [1] * 8
    assert derivations == [1]
    sides.forget("slow")
    blocked(sides, SMALL_CHUNKS.rules)  # reads ID corrections of both sides
    compared(pl.DataFrame({"rid": [0], "lid": [0]}, schema={"rid": pl.UInt32, "lid": pl.UInt32}), sides)
    assert sides.holding == ()  # a step's derived values go with it, as a call's locals went before


@pytest.fixture(scope="module")
def records(small_city: dict[str, Path]) -> tuple[pl.DataFrame, pl.DataFrame]:
    return prepared(small_city)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_pairs_compared_in_any_chunks_run_anywhere_get_the_levels_compared_whole(
    records: tuple[pl.DataFrame, pl.DataFrame], data: st.DataObject
) -> None:
    """Any pairs (repeated, in any order, a record in many), any chunk size: the levels of one whole comparison."""
    register, roll = records
    rid = st.sampled_from(register["idx"].to_list())
    lid = st.sampled_from(roll["idx"].to_list())
    chosen = data.draw(st.lists(st.tuples(rid, lid), max_size=40))
    pairs = pl.DataFrame(chosen, schema={"rid": pl.Int64, "lid": pl.Int64}, orient="row")
    chunk = data.draw(st.integers(1, len(chosen) + 1))
    apart = compared(pairs, Sides(register, roll), chunk_size=chunk, units=Shuffled())
    assert_frame_equal(apart, compare(pairs, register, roll, chunk_size=10**9, register_names=False))
