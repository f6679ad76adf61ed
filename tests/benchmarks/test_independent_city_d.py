"""The fourth independent city: every row truth names is read as a record, at its sheet and row, and no other."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from benchmarks.independent_city_d import generate
from flows.io.sources import read_table
from schemas.inputs import REGISTER, ROLL

if TYPE_CHECKING:
    from pathlib import Path


def test_every_row_truth_names_is_read_where_it_says(tmp_path: Path) -> None:
    generate(tmp_path, 3_000, 8, 3)
    register_truth = pl.read_parquet(tmp_path / "truth" / "register_truth.parquet")
    roll_truth = pl.read_parquet(tmp_path / "truth" / "roll_truth.parquet")
    (register,) = (tmp_path / "register").iterdir()
    read = read_table(register, REGISTER)
    assert read.malformed == []
    assert read.frame["source_row"].to_list() == register_truth["register_row"].to_list()
    rolls = sorted((tmp_path / "rolls").iterdir())
    assert {r.name for r in rolls} == set(roll_truth["roll_file"])
    for roll in rolls:
        table = read_table(roll, ROLL)
        assert table.malformed == []
        expected = roll_truth.filter(roll_file=roll.name).select("roll_sheet", "roll_row")
        got = table.frame.select("source_sheet", "source_row", "name_raw", "address_raw")
        keys = {"left_on": ["source_sheet", "source_row"], "right_on": expected.columns, "nulls_equal": True}
        extra = got.join(expected, how="anti", **keys)  # type: ignore[arg-type]
        assert extra.height == 0, (roll.name, extra.rows())  # no note or 合计 row is a person, in CSV either
        missed = expected.join(
            got, left_on=expected.columns, right_on=["source_sheet", "source_row"], how="anti", nulls_equal=True
        )
        assert missed.height == 0, roll.name
