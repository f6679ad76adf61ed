"""The second independent city: every row it writes is read as a record, with its source row as truth says."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from benchmarks.independent_city_b import write_city
from flows.io.sources import read_table
from schemas.inputs import REGISTER, ROLL

if TYPE_CHECKING:
    from pathlib import Path


def test_every_row_written_is_read_where_truth_says(tmp_path: Path) -> None:
    write_city(tmp_path, persons=3_000, seed=5)
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
        expected = roll_truth.filter(roll_file=roll.name)["roll_row"].to_list()
        assert table.frame["source_row"].to_list() == expected, roll.name
