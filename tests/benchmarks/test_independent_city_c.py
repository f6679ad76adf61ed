"""The third independent city: every row it writes is read as a record, at the sheet and row truth says."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from benchmarks.independent_city_c import write_city
from flows.io.sources import read_table
from schemas.inputs import REGISTER, ROLL

if TYPE_CHECKING:
    from pathlib import Path


def test_every_row_written_is_read_where_truth_says(tmp_path: Path) -> None:
    # Seed 4 writes a CSV roll with a title row above its header and a workbook with a sheet per grid.
    write_city(tmp_path, persons=3_000, seed=4)
    register_truth = pl.read_parquet(tmp_path / "truth" / "register_truth.parquet")
    roll_truth = pl.read_parquet(tmp_path / "truth" / "roll_truth.parquet")
    (register,) = (tmp_path / "register").iterdir()
    read = read_table(register, REGISTER)
    assert read.malformed == []
    assert read.frame["source_row"].to_list() == register_truth["register_row"].to_list()
    rolls = sorted((tmp_path / "rolls").iterdir())
    assert {r.name for r in rolls} == set(roll_truth["roll_file"])
    csv_rolls = [r for r in rolls if r.suffix == ".csv"]
    assert any(roll_truth.filter(roll_file=r.name)["roll_row"].min() == 3 for r in csv_rolls)  # a title row
    sheets = roll_truth.group_by("roll_file").agg(pl.col("roll_sheet").n_unique())
    assert sheets.filter(pl.col("roll_sheet") > 1).height > 0  # a workbook with several data sheets
    for roll in rolls:
        table = read_table(roll, ROLL)
        assert table.malformed == []
        expected = roll_truth.filter(roll_file=roll.name).select("roll_sheet", "roll_row").rows()
        assert table.frame.select("source_sheet", "source_row").rows() == expected, roll.name
