"""The operators' work queue: review pairs first, then lone records nothing explains."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile.work_queue import QUEUE_SCHEMA, build_queue

if TYPE_CHECKING:
    from collections.abc import Sequence

A, B = "330282001001", "330282001002"

REGISTER = pl.DataFrame(
    {
        "idx": [0, 1, 2, 3, 4, 5, 6],
        "community_code": [A, A, A, A, B, A, A],
        "household_key": ["h0", "h1", "h2", "h3", "h4", "h5", "h6"],
        "record_key": [f"r{i}" for i in range(7)],
        "fingerprint": [f"rf{i}" for i in range(7)],
    }
)
ROLL = pl.DataFrame(
    {
        "idx": [0, 1, 2, 3, 4, 5, 6],
        "community_code": [A, A, A, A, A, B, A],
        "flat": ["f0", "f1", "f2", "f3", None, "f5", "f6"],
        "grid": ["g1", "g1", "g2", "g2", "g3", "g9", "g1"],
        "record_key": [f"l{i}" for i in range(7)],
        "fingerprint": [f"lf{i}" for i in range(7)],
    }
)
# rid, lid, decided_by, probability
LINKS = [
    (0, 0, "review", 0.30),
    (1, 1, "review", 0.90),
    (4, 2, "review", 0.60),  # registered in B, lives in A: A's operator settles it
    (2, 3, "auto", 0.99),
    (5, 6, "operator", 1.0),
]
# side, idx, status, linked_row (null: no link explains the record)
STATUSES = [
    ("register", 0, "review", 2),
    ("register", 1, "review", 3),
    ("register", 4, "review", 4),
    ("register", 2, "consistent", 5),
    ("register", 5, "absent", 8),  # absent here, but its link explains where the person lives
    ("register", 3, "absent", None),
    ("register", 6, "absent", None),
    ("roll", 0, "review", 2),
    ("roll", 1, "review", 3),
    ("roll", 2, "review", 6),
    ("roll", 3, "consistent", 4),
    ("roll", 6, "unregistered", 7),  # explained by its link
    ("roll", 4, "unregistered", None),
    ("roll", 5, "unregistered", None),
]
NO_PAIRS = pl.DataFrame(schema={"rid": pl.Int64, "lid": pl.Int64})
NO_RECORDS = pl.DataFrame(schema={"side": pl.String, "idx": pl.Int64})


def _links(rows: Sequence[tuple[int, int, str, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "rid": [r[0] for r in rows],
            "lid": [r[1] for r in rows],
            "decided_by": [r[2] for r in rows],
            "match_probability": [r[3] for r in rows],
            "match_weight": [r[3] * 10 - 5 for r in rows],
        },
        schema={
            "rid": pl.Int64,
            "lid": pl.Int64,
            "decided_by": pl.String,
            "match_probability": pl.Float64,
            "match_weight": pl.Float64,
        },
    )


def _statuses(rows: Sequence[tuple[str, int, str, int | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows, schema={"side": pl.String, "idx": pl.Int64, "status": pl.String, "linked_row": pl.Int64}, orient="row"
    )


def _queue(
    links: Sequence[tuple[int, int, str, float]] = LINKS,
    statuses: Sequence[tuple[str, int, str, int | None]] = STATUSES,
    changed_pairs: pl.DataFrame = NO_PAIRS,
    changed_records: pl.DataFrame = NO_RECORDS,
) -> pl.DataFrame:
    return build_queue(_links(links), _statuses(statuses), REGISTER, ROLL, changed_pairs, changed_records)


def _items(queue: pl.DataFrame) -> list[tuple[str, str, int | None, int | None]]:
    return queue.select("community_code", "kind", "register_idx", "roll_idx").rows()


def test_schema() -> None:
    queue = _queue()
    assert queue.schema == pl.Schema(QUEUE_SCHEMA)
    assert _queue(links=[], statuses=[]).schema == pl.Schema(QUEUE_SCHEMA)


def test_review_pairs_first_nearest_the_threshold_first_then_lone_records() -> None:
    assert _items(_queue()) == [
        (A, "pair", 1, 1),  # 0.90
        (A, "pair", 4, 2),  # 0.60
        (A, "pair", 0, 0),  # 0.30
        (A, "unregistered", None, 4),
        (A, "absent", 3, None),
        (A, "absent", 6, None),
        (B, "unregistered", None, 5),
    ]


@pytest.mark.parametrize("decided_by", ["auto", "operator"])
def test_only_review_band_links_are_queued(decided_by: str) -> None:
    queue = _queue(links=[(r, lo, decided_by, p) for r, lo, _, p in LINKS])
    assert queue.filter(pl.col("kind") == "pair").height == 0


def test_lone_records_are_queued_only_when_no_link_explains_them() -> None:
    queue = _queue()
    absent = set(queue.filter(pl.col("kind") == "absent")["register_idx"])
    unregistered = set(queue.filter(pl.col("kind") == "unregistered")["roll_idx"])
    assert absent == {3, 6}  # not 5, whose link says where the person lives
    assert unregistered == {4, 5}  # not 6


def test_a_pair_is_settled_in_the_community_where_the_person_lives() -> None:
    pair = _queue().filter((pl.col("kind") == "pair") & (pl.col("register_idx") == 4)).row(0, named=True)
    assert (pair["community_code"], pair["other_community_code"]) == (A, B)
    assert (pair["household_key"], pair["dwelling"], pair["grid"]) == ("h4", "f2", "g2")
    assert (pair["register_key"], pair["register_fingerprint"], pair["roll_key"], pair["roll_fingerprint"]) == (
        "r4",
        "rf4",
        "l2",
        "lf2",
    )
    assert (pair["match_probability"], pair["match_weight"]) == (0.60, 1.0)


def test_lone_items_carry_only_their_own_side() -> None:
    queue = _queue()
    absent = queue.filter(pl.col("kind") == "absent").sort("register_idx").row(0, named=True)
    assert (absent["community_code"], absent["household_key"], absent["register_key"]) == (A, "h3", "r3")
    assert all(
        absent[c] is None
        for c in ("roll_idx", "roll_key", "dwelling", "grid", "match_probability", "other_community_code")
    )
    lone = queue.filter(pl.col("kind") == "unregistered").sort("roll_idx").row(-1, named=True)
    assert (lone["community_code"], lone["dwelling"], lone["grid"], lone["roll_key"]) == (B, "f5", "g9", "l5")
    assert all(lone[c] is None for c in ("register_idx", "register_key", "household_key", "match_weight"))


def test_lone_records_are_grouped_by_household_and_dwelling() -> None:
    statuses = [
        ("register", 6, "absent", None),
        ("register", 3, "absent", None),
        ("roll", 3, "unregistered", None),
        ("roll", 1, "unregistered", None),
        ("roll", 2, "unregistered", None),
    ]
    queue = _queue(links=[], statuses=statuses)
    assert queue["dwelling"].to_list()[:3] == ["f1", "f2", "f3"]
    assert queue["household_key"].to_list()[3:] == ["h3", "h6"]


def test_changed_items_come_first_in_their_community_and_are_marked() -> None:
    changed_pairs = pl.DataFrame({"rid": [0], "lid": [0]})
    changed_records = pl.DataFrame({"side": ["register", "roll"], "idx": [6, 6]})  # roll 6 is not queued
    queue = _queue(changed_pairs=changed_pairs, changed_records=changed_records)
    marked = queue.filter(pl.col("changed"))
    assert _items(marked) == [(A, "pair", 0, 0), (A, "absent", 6, None)]
    assert _items(queue)[:2] == _items(marked)
    assert queue.filter(pl.col("community_code") == B)["changed"].to_list() == [False]


def test_a_changed_record_marks_only_its_own_side() -> None:
    queue = _queue(changed_records=pl.DataFrame({"side": ["roll"], "idx": [3]}))
    assert not queue.filter(pl.col("kind") == "absent")["changed"].any()  # register 3 is another record


def test_item_ids_are_unique_and_follow_the_order() -> None:
    queue = _queue(changed_pairs=pl.DataFrame({"rid": [0], "lid": [0]}))
    assert queue["item_id"].to_list() == list(range(1, queue.height + 1))


@pytest.mark.parametrize("probabilities", [[0.1, 0.5, 0.9], [0.95, 0.05, 0.5], [0.5, 0.500002, 0.2]])
def test_pairs_are_ordered_by_falling_probability(probabilities: list[float]) -> None:
    links = [(i, i, "review", p) for i, p in enumerate(probabilities)]
    statuses = [("roll", i, "review", i) for i in range(3)]
    got = _queue(links=links, statuses=statuses)["match_probability"].to_list()
    assert got == sorted(probabilities, reverse=True)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), flats=st.lists(st.sampled_from(["f1", "f2", None]), min_size=7, max_size=7))
def test_the_queue_follows_from_the_data_not_the_order_of_its_rows(seed: int, flats: list[str | None]) -> None:
    # Lone records that share a dwelling (or a household) tie on the sort key: their item ids must still not
    # depend on the order the inputs' rows arrive in, or a page shown before a rerun names another record after.
    roll = ROLL.with_columns(pl.Series("flat", flats, dtype=pl.String))
    register = REGISTER.with_columns(pl.lit("h").alias("household_key"))
    lone = [("roll", i, "unregistered", None) for i in range(7)] + [("register", i, "absent", None) for i in range(7)]
    inputs = (_links([]), _statuses(lone), register, roll)
    links, statuses, reg, rol = (frame.sample(fraction=1.0, shuffle=True, seed=seed) for frame in inputs)
    assert build_queue(*inputs, NO_PAIRS, NO_RECORDS).equals(
        build_queue(links, statuses, reg, rol, NO_PAIRS, NO_RECORDS)
    )
