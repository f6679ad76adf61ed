"""The accuracy figures of a run against its truth, on a run small enough to count by hand.

The evaluation reads a whole city's files as streaming queries (at scale 50 reading them whole was killed for
memory); these figures pin what each query counts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl
import pytest

from benchmarks.evaluate import evaluate_run

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def run_and_truth(tmp_path: Path) -> tuple[Path, Path]:
    run, truth = tmp_path / "run", tmp_path / "truth"
    run.mkdir()
    truth.mkdir()
    pl.DataFrame({"idx": [10, 11, 12, 13], "source_row": [1, 2, 3, 4]}).write_parquet(run / "register.parquet")
    pl.DataFrame({"idx": [20, 21, 22, 23], "source_file": ["a.xlsx"] * 4, "source_row": [1, 2, 3, 4]}).write_parquet(
        run / "roll.parquet"
    )
    # Truth: roll rows 1..3 are register rows 1..3; roll row 4 is unregistered.
    # Links: 1-1 auto (right), 2-3 auto (wrong), 3-3 review (right); roll row 2's true pair was never linked.
    pl.DataFrame({"rid": [10, 12, 12], "lid": [20, 21, 22], "decided_by": ["auto", "auto", "review"]}).write_parquet(
        run / "links.parquet"
    )
    pl.DataFrame({"rid": [10, 11, 12], "lid": [20, 21, 21], "rules": [1 | 32, 32, 1]}).write_parquet(
        run / "candidates.parquet"
    )
    pl.DataFrame(
        {
            "roll_file": ["a.xlsx"] * 4,
            "roll_row": [1, 2, 3, 4],
            "register_row": [1, 2, 3, None],
            "status": ["consistent", "consistent", "consistent", "unregistered"],
            "other_community_code": [None, None, None, "C2"],
        }
    ).write_parquet(truth / "roll_truth.parquet")
    pl.DataFrame(
        {
            "register_file": ["r.csv"] * 4,
            "register_row": [1, 2, 3, 4],
            "community_code": ["C1", "C1", "C2", "C2"],
            "status": ["consistent", "consistent", "consistent", "absent"],
            "other_community_code": [None, None, None, None],
        },
        schema_overrides={"other_community_code": pl.String},
    ).write_parquet(truth / "register_truth.parquet")
    sides = ["register"] * 4 + ["roll"] * 4
    pl.DataFrame(
        {
            "side": sides,
            "source_file": ["r.csv"] * 4 + ["a.xlsx"] * 4,
            "source_row": [1, 2, 3, 4] * 2,
            "community_code": ["C1", "C1", "C2", "C2", "C1", "C1", "C2", "C2"],
            "status": [
                "consistent",
                "absent",
                "review",
                "absent",
                "consistent",
                "consistent",
                "review",
                "unregistered",
            ],
            "other_community_code": [None, None, None, "C9", None, None, None, "C2"],
            "address_incomplete": [False, False, False, False, True, False, False, False],
        }
    ).write_parquet(run / "record_status.parquet")
    return run, truth


def test_figures_count_what_they_say(run_and_truth: tuple[Path, Path]) -> None:
    found = evaluate_run(*run_and_truth)
    assert found["true_pairs"] == 3
    assert found["auto"] == {"precision": 0.5, "recall": pytest.approx(1 / 3), "f1": pytest.approx(0.4), "pairs": 2.0}
    assert found["recall_with_review"] == pytest.approx(2 / 3)
    assert found["review_pairs"] == 1
    assert found["review_share_of_roll_rows"] == 0.25
    blocking = found["blocking_recall"]
    assert blocking["all rules"] == pytest.approx(2 / 3)  # pairs 1-1 and 2-2 were candidates, 3-3 was not
    assert blocking["id"] == pytest.approx(1 / 3)
    assert blocking["name"] == pytest.approx(2 / 3)
    assert blocking["household"] == 0.0
    statuses = found["statuses"]
    # Decided: register rows 1, 2, 4 and roll rows 1, 2, 4 (rows 3 are in review). Right: reg 1, reg 4, roll 1, 2, 4.
    assert statuses["decided_records"] == 6
    assert statuses["status_accuracy"] == pytest.approx(5 / 6)
    assert statuses["register_accuracy"] == pytest.approx(2 / 3)
    assert statuses["roll_accuracy"] == 1.0
    # Lone decided records: reg 2 (other null = true null), reg 4 (C9 vs null), roll 4 (C2 = C2).
    assert statuses["other_community_accuracy"] == pytest.approx(2 / 3)
    consistent = found["consistent"]
    assert consistent["true_consistent"] == 3
    assert consistent["published_consistent"] == 1
    assert consistent["worst_community"] == "C2"  # true 1, published 0: -100 %
    assert consistent["worst_relative_error"] == -1.0
    assert consistent["address_incomplete_share"] == pytest.approx(1 / 8)


def test_rolls_with_several_sheets_are_keyed_by_sheet(tmp_path: Path) -> None:
    """Row 2 of sheet 网格1 and row 2 of sheet 网格2 are two records; a truth that names sheets tells them apart."""
    run, truth = tmp_path / "run", tmp_path / "truth"
    run.mkdir()
    truth.mkdir()
    pl.DataFrame({"idx": [10, 11], "source_row": [2, 3]}).write_parquet(run / "register.parquet")
    pl.DataFrame(
        {"idx": [20, 21], "source_file": ["a.xlsx"] * 2, "source_sheet": ["网格1", "网格2"], "source_row": [2, 2]}
    ).write_parquet(run / "roll.parquet")
    # The sheet-2 record is linked to register row 3, as the truth says; the sheet-1 record to register row 2.
    pl.DataFrame({"rid": [10, 11], "lid": [20, 21], "decided_by": ["auto", "auto"]}).write_parquet(
        run / "links.parquet"
    )
    pl.DataFrame({"rid": [10, 11], "lid": [20, 21], "rules": [1, 1]}).write_parquet(run / "candidates.parquet")
    pl.DataFrame(
        {
            "roll_file": ["a.xlsx"] * 2,
            "roll_sheet": ["网格2", "网格1"],
            "roll_row": [2, 2],
            "register_row": [3, 2],
            "status": ["consistent", "moved_within"],
            "other_community_code": [None, None],
        },
        schema_overrides={"other_community_code": pl.String},
    ).write_parquet(truth / "roll_truth.parquet")
    pl.DataFrame(
        {
            "register_file": ["r.csv"] * 2,
            "register_row": [2, 3],
            "community_code": ["C1", "C1"],
            "status": ["moved_within", "consistent"],
            "other_community_code": [None, None],
        },
        schema_overrides={"other_community_code": pl.String},
    ).write_parquet(truth / "register_truth.parquet")
    pl.DataFrame(
        {
            "side": ["register", "register", "roll", "roll"],
            "source_file": ["r.csv", "r.csv", "a.xlsx", "a.xlsx"],
            "source_sheet": [None, None, "网格1", "网格2"],
            "source_row": [2, 3, 2, 2],
            "community_code": ["C1"] * 4,
            "status": ["moved_within", "consistent", "moved_within", "consistent"],
            "other_community_code": [None] * 4,
        },
        schema_overrides={"other_community_code": pl.String, "source_sheet": pl.String},
    ).write_parquet(run / "record_status.parquet")
    found = evaluate_run(run, truth)
    assert found["auto"]["precision"] == 1.0
    assert found["auto"]["recall"] == 1.0
    assert found["blocking_recall"]["all rules"] == 1.0
    assert found["statuses"]["decided_records"] == 4
    assert found["statuses"]["status_accuracy"] == 1.0
