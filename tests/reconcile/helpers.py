"""Build prepared frames from a written city, the way the flow does, for tests."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from flows.io.sources import read_table
from reconcile.address import admin_prefixes
from reconcile.dwelling import locate
from reconcile.prepare import community_names, prepare_register, prepare_roll
from schemas.inputs import REGISTER, ROLL
from schemas.records import RegisterRecord, RollRecord, split_valid


def prepared(city: dict[str, Path]) -> tuple[pl.DataFrame, pl.DataFrame]:
    register_path = next(city["register"].parent.glob("*.csv")) if city["register"].is_file() else city["register"]
    raw_register = read_table(register_path, REGISTER).frame
    rolls = []
    for path in sorted(city["rolls"].glob("*.xlsx")):
        rolls.append(read_table(path, ROLL).frame.with_columns(pl.lit(path.name[:12]).alias("file_community")))
    raw_roll = pl.concat(rolls, how="diagonal_relaxed")
    anchors = set(raw_register["street"].drop_nulls()) | set(raw_register["community_name"].drop_nulls())
    prefixes = admin_prefixes(raw_register["address_raw"].drop_nulls().to_list(), anchors)
    register, _ = split_valid(prepare_register(raw_register, prefixes=prefixes), RegisterRecord, REGISTER)
    roll, _ = split_valid(
        prepare_roll(raw_roll, by_name=community_names(raw_register), prefixes=prefixes), RollRecord, ROLL
    )
    register, roll = locate(register, roll)

    def indexed(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.with_row_index("idx").with_columns(pl.col("idx").cast(pl.Int64))

    return indexed(register), indexed(roll)
