"""Per-community summary: persons and households by status in a city of two communities (and an empty one)."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from reconcile.summary import SUMMARY_COLUMNS, community_summary

A, B, C = "330282001001", "330282001002", "330282001003"

# idx, community, status, other community, household, address incomplete
REGISTER = [
    (0, A, "consistent", None, "A1", False),
    (1, A, "consistent", None, "A1", True),
    (2, A, "absent", B, "A2", False),  # A2: all absent, one found in B and one nowhere
    (3, A, "absent", None, "A2", False),
    (4, A, "absent", B, "A3", False),  # A3: its one active member lives in B
    (5, A, "inactive", None, "A3", False),
    (6, A, "moved_within", None, "A4", False),  # A4: one member still lives in A
    (7, A, "absent", None, "A4", False),
    (8, B, "review", None, "B1", False),
    (9, B, "duplicate", None, "B1", False),
    (10, B, "consistent", None, "B2", False),
    (11, B, "inactive", None, "B3", False),  # B3: nobody active, not a registered household
]
# idx, community, status, other community, flat
ROLL = [
    (0, A, "consistent", None, "F1"),
    (1, A, "consistent", None, "F1"),
    (2, A, "unregistered", B, "F2"),  # F2: nobody registered here, one registered in B
    (3, A, "unregistered", None, "F2"),
    (4, A, "unregistered", None, "F3"),  # F3: registered nowhere
    (5, A, "unregistered", None, "F4"),  # F4: shared with someone registered here
    (6, A, "moved_within", None, "F4"),
    (7, B, "review", None, "G1"),
    (8, B, "duplicate", None, "G1"),
    (9, B, "consistent", None, "G2"),
    (10, B, "unregistered", A, "G3"),
]
COMMUNITIES = pl.DataFrame(
    {
        "community_code": [A, B, C],
        "community_name": ["华联社区", "新城社区", "空社区"],
        "street": ["浒山街道", "浒山街道", "白沙路街道"],
        "police_station": ["浒山派出所", "浒山派出所", "白沙派出所"],
    }
)
# Pairs awaiting review: counted in the register's community, and in the roll's when it differs.
REVIEW_PAIRS = pl.DataFrame(
    {"register_community": [A, A, A, B], "roll_community": [A, A, B, B]},
    schema=dict.fromkeys(("register_community", "roll_community"), pl.String),
)


def _statuses(register: list[tuple], roll: list[tuple]) -> pl.DataFrame:
    rows = [
        {
            "side": "register",
            "idx": i,
            "community_code": c,
            "status": s,
            "other_community_code": o,
            "address_incomplete": ai,
        }
        for i, c, s, o, _, ai in register
    ] + [
        {
            "side": "roll",
            "idx": i,
            "community_code": c,
            "status": s,
            "other_community_code": o,
            "address_incomplete": False,
        }
        for i, c, s, o, _ in roll
    ]
    schema = {
        "side": pl.String,
        "idx": pl.Int64,
        "community_code": pl.String,
        "status": pl.String,
        "other_community_code": pl.String,
        "address_incomplete": pl.Boolean,
    }
    return pl.DataFrame(rows, schema=schema)


def _summary(
    register: list[tuple] = REGISTER, roll: list[tuple] = ROLL, review_pairs: pl.DataFrame = REVIEW_PAIRS
) -> dict[str, dict[str, Any]]:
    summary = community_summary(
        _statuses(register, roll),
        pl.DataFrame({"idx": [r[0] for r in register], "household_key": [r[4] for r in register]}),
        pl.DataFrame(
            {"idx": [r[0] for r in roll], "flat": [r[4] for r in roll]}, schema={"idx": pl.Int64, "flat": pl.String}
        ),
        COMMUNITIES,
        review_pairs,
    )
    assert summary.columns == SUMMARY_COLUMNS
    return {row["community_code"]: row for row in summary.iter_rows(named=True)}


EXPECTED_A = {
    "community_name": "华联社区",
    "street": "浒山街道",
    "police_station": "浒山派出所",
    "registered_persons": 7,
    "registered_households": 4,
    "resident_persons": 7,
    "resident_households": 4,
    "consistent_persons": 2,
    "consistent_households": 1,
    "consistent_address_incomplete_persons": 1,
    "moved_within_persons": 1,
    "absent_persons": 4,
    "absent_elsewhere_persons": 2,
    "absent_outside_persons": 2,
    "absent_households": 2,
    "absent_elsewhere_households": 1,
    "absent_outside_households": 1,
    "unregistered_persons": 4,
    "unregistered_elsewhere_persons": 1,
    "unregistered_outside_persons": 3,
    "unregistered_households": 2,
    "unregistered_elsewhere_households": 1,
    "unregistered_outside_households": 1,
    "review_pending": 3,
    "review_register_records": 0,
    "review_roll_records": 0,
    "duplicate_register_records": 0,
    "duplicate_roll_records": 0,
    "inactive_records": 1,
}
EXPECTED_B = {
    "registered_persons": 2,
    "registered_households": 2,
    "resident_persons": 3,
    "resident_households": 3,
    "consistent_persons": 1,
    "consistent_households": 1,
    "absent_persons": 0,
    "absent_households": 0,
    "unregistered_persons": 1,
    "unregistered_elsewhere_persons": 1,
    "unregistered_outside_persons": 0,
    "unregistered_households": 1,
    "unregistered_elsewhere_households": 1,
    "review_pending": 2,
    "review_register_records": 1,
    "review_roll_records": 1,
    "duplicate_register_records": 1,
    "duplicate_roll_records": 1,
    "inactive_records": 1,
}


@pytest.mark.parametrize(("code", "expected"), [(A, EXPECTED_A), (B, EXPECTED_B)])
def test_counts_per_community(code: str, expected: dict[str, object]) -> None:
    row = _summary()[code]
    assert {k: row[k] for k in expected} == expected


def test_a_community_without_records_is_listed_with_zeros() -> None:
    row = _summary()[C]
    assert row["community_name"] == "空社区"
    assert all(row[c] == 0 for c in SUMMARY_COLUMNS[4:])


def test_a_community_only_the_records_name_still_gets_a_row() -> None:
    stray = "330282009999"
    summary = _summary(register=[*REGISTER, (12, stray, "absent", None, "Z1", False)])
    assert summary[stray]["community_name"] is None
    assert (summary[stray]["absent_persons"], summary[stray]["absent_outside_households"]) == (1, 1)
    assert list(summary) == sorted(summary)


def test_totals_conserve_records() -> None:
    rows = list(_summary().values())

    def total(column: str) -> int:
        return sum(int(r[column]) for r in rows)

    # Every register record is registered (live), a duplicate or inactive; every roll record resident or a duplicate.
    assert total("registered_persons") + total("duplicate_register_records") + total("inactive_records") == len(
        REGISTER
    )
    assert total("resident_persons") + total("duplicate_roll_records") == len(ROLL)
    for row in rows:
        assert row["registered_persons"] == sum(
            row[c] for c in ("consistent_persons", "moved_within_persons", "absent_persons", "review_register_records")
        )
        assert row["resident_persons"] == sum(
            row[c]
            for c in ("consistent_persons", "moved_within_persons", "unregistered_persons", "review_roll_records")
        )
        for kind in ("absent", "unregistered"):
            assert row[f"{kind}_persons"] == row[f"{kind}_elsewhere_persons"] + row[f"{kind}_outside_persons"]
            assert row[f"{kind}_households"] == (
                row[f"{kind}_elsewhere_households"] + row[f"{kind}_outside_households"]
            )
    assert total("review_pending") == REVIEW_PAIRS.height + 1  # one pair straddles two communities


def test_no_pending_review() -> None:
    empty = REVIEW_PAIRS.clear()
    assert {r["review_pending"] for r in _summary(review_pairs=empty).values()} == {0}


def test_a_roll_record_without_a_flat_is_a_resident_but_no_unregistered_household() -> None:
    summary = _summary(roll=[*ROLL, (11, A, "unregistered", None, None)])
    row = summary[A]
    assert (row["resident_persons"], row["unregistered_persons"]) == (8, 5)
    assert row["unregistered_households"] == EXPECTED_A["unregistered_households"]


def test_residents_without_a_flat_add_no_household() -> None:
    summary = _summary(roll=[*ROLL, (11, A, "unregistered", None, None), (12, A, "unregistered", None, None)])
    assert summary[A]["resident_households"] == EXPECTED_A["resident_households"]
