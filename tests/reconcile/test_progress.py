"""Progress per community: pending and settled tonight, and what changed since last night."""

from __future__ import annotations

from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile.progress import PROGRESS_SCHEMA, progress
from reconcile.work_queue import QUEUE_SCHEMA

A, B, C = "330282001001", "330282001002", "330282001003"


def queue(*items: tuple[str, str, int | None, int | None, str | None, str | None, bool]) -> pl.DataFrame:
    """A queue of (kind, community, register_idx, roll_idx, register_key, roll_key, changed) items."""
    names = ["kind", "community_code", "register_idx", "roll_idx", "register_key", "roll_key", "changed"]
    rows: list[dict[str, Any]] = [dict(zip(names, it, strict=True)) for it in items]
    frame = pl.DataFrame(rows, schema={n: QUEUE_SCHEMA[n] for n in names})
    return frame.with_row_index("item_id", offset=1).with_columns(pl.col("item_id").cast(pl.Int64))


def statuses(*rows: tuple[str, int, bool]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema={"side": pl.String, "idx": pl.Int64, "pending": pl.Boolean}, orient="row")


TONIGHT = queue(
    ("pair", A, 0, 0, "r0", "l0", False),
    ("pair", A, 1, 1, "r1", "l1", True),
    ("absent", A, 2, None, "r2", None, False),  # settled (a decision)
    ("absent", A, 3, None, "r3", None, True),  # pending, changed
    ("unregistered", A, None, 2, None, "l2", False),  # pending
    ("unregistered", B, None, 3, None, "l3", False),  # settled (the policy)
    ("absent", B, 4, None, "r4", None, False),  # pending
)
STATUSES = statuses(
    ("register", 2, False),
    ("register", 3, True),
    ("register", 4, True),
    ("roll", 2, True),
    ("roll", 3, False),
    ("roll", 0, False),  # a pair's record: never makes a pair settled
    ("register", 0, False),
)


def by_community(frame: pl.DataFrame) -> dict[str, dict[str, Any]]:
    return {r["community_code"]: r for r in frame.iter_rows(named=True)}


def test_without_a_previous_run_new_and_resolved_are_unknown() -> None:
    out = progress(TONIGHT, STATUSES, None, previous_run_id=None)
    assert dict(out.schema) == PROGRESS_SCHEMA
    rows = by_community(out)
    assert list(rows) == [A, B]
    assert rows[A] == {
        "community_code": A,
        "items": 5,
        "pending": 4,
        "settled": 1,
        "changed": 2,
        "new": None,
        "resolved": None,
        "previous_run_id": None,
    }
    assert (rows[B]["items"], rows[B]["pending"], rows[B]["settled"], rows[B]["changed"]) == (2, 1, 1, 0)
    assert rows[B]["new"] is None


def test_pairs_are_always_pending_and_lone_items_follow_their_record() -> None:
    out = by_community(progress(TONIGHT, statuses(), None, previous_run_id=None))
    assert out[A]["pending"] == 5  # no status row: waiting, never quietly settled
    all_settled = statuses(("register", 2, False), ("register", 3, False), ("roll", 2, False))
    assert by_community(progress(TONIGHT, all_settled, None, previous_run_id=None))[A]["pending"] == 2


def test_new_and_resolved_compare_the_items_records_not_their_ids() -> None:
    last_night = queue(
        ("unregistered", A, None, 7, None, "l2", False),  # the same record, another position: not new
        ("pair", A, 9, 9, "r1", "l1", False),
        ("absent", A, 8, None, "r8", None, False),  # resolved since
        ("pair", A, 0, 5, "r0", "l5", False),  # the pair's roll record changed partner: resolved, (r0, l0) new
        ("absent", C, 6, None, "r6", None, False),  # a community with no items tonight
    )
    out = by_community(progress(TONIGHT, STATUSES, last_night, previous_run_id="20250101T020000"))
    assert list(out) == [A, B, C]
    assert (out[A]["new"], out[A]["resolved"]) == (3, 2)  # new: (r0, l0), r2, r3
    assert (out[B]["new"], out[B]["resolved"]) == (2, 0)
    assert out[C] == {
        "community_code": C,
        "items": 0,
        "pending": 0,
        "settled": 0,
        "changed": 0,
        "new": 0,
        "resolved": 1,
        "previous_run_id": "20250101T020000",
    }


def test_a_previous_queue_of_an_older_shape_is_enough() -> None:
    last_night = TONIGHT.select("community_code", "register_key", "roll_key")  # nothing else is read
    out = by_community(progress(TONIGHT, STATUSES, last_night, previous_run_id="r"))
    assert {c: (r["new"], r["resolved"]) for c, r in out.items()} == {A: (0, 0), B: (0, 0)}


def test_empty_queues() -> None:
    empty = queue()
    assert progress(empty, statuses(), None, previous_run_id=None).height == 0
    out = progress(empty, statuses(), TONIGHT, previous_run_id="r")
    assert by_community(out)[A]["resolved"] == 5
    assert out["items"].sum() == 0


KEYS = st.sampled_from([f"k{i}" for i in range(12)])
KINDS = st.sampled_from(["pair", "absent", "unregistered"])


def _community(key: str) -> str:
    """Each record key belongs to one community, as a record does."""
    return (A, B, C)[int(key[1:]) % 3]


@st.composite
def queues(draw: st.DrawFn) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A queue with unique record keys, and statuses for its lone records."""
    keys = draw(st.lists(KEYS, unique=True, max_size=12))
    items, status = [], []
    for i, key in enumerate(keys):
        kind = draw(KINDS)
        register = (i, key) if kind != "unregistered" else (None, None)
        roll = (i, key) if kind != "absent" else (None, None)
        items.append((kind, _community(key), register[0], roll[0], register[1], roll[1], draw(st.booleans())))
        side = "register" if kind == "absent" else "roll"
        status.append((side, i, draw(st.booleans())))
    return queue(*items), statuses(*status)


@settings(max_examples=60, deadline=None)
@given(tonight=queues(), last_night=queues())
def test_counts_add_up(
    tonight: tuple[pl.DataFrame, pl.DataFrame], last_night: tuple[pl.DataFrame, pl.DataFrame]
) -> None:
    out = progress(tonight[0], tonight[1], last_night[0], previous_run_id="before")
    before = dict(last_night[0].group_by("community_code").len().iter_rows())
    for row in out.iter_rows(named=True):
        assert row["items"] == row["pending"] + row["settled"]
        assert 0 <= row["changed"] <= row["items"]
        assert row["new"] - row["resolved"] == row["items"] - before.get(row["community_code"], 0)
    assert out["items"].sum() == tonight[0].height
    assert (
        out["resolved"].sum()
        == last_night[0].join(tonight[0], on=["register_key", "roll_key"], how="anti", nulls_equal=True).height
    )
