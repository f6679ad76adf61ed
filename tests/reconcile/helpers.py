"""Build prepared frames from a written city, the way the nightly run does, for tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from flows.io.sources import read_table
from reconcile.idnumber import check_char
from reconcile.prepare import prepare
from schemas.inputs import REGISTER, ROLL

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

SECRET = bytes(range(32))
"""The digest secret of test runs (a run's lives in its data directory: `services.digest_key`)."""


def prepared(city: dict[str, Path]) -> tuple[pl.DataFrame, pl.DataFrame]:
    register_path = next(city["register"].parent.glob("*.csv")) if city["register"].is_file() else city["register"]
    raw_register = read_table(register_path, REGISTER).frame
    rolls = [
        read_table(path, ROLL).frame.with_columns(pl.lit(path.name[:12]).alias("file_community"))
        for path in sorted(city["rolls"].glob("*.xlsx"))
    ]
    both = prepare(raw_register, pl.concat(rolls, how="diagonal_relaxed"), secret=SECRET)
    return both.register, both.roll


def raw_frame(columns: list[str], rows: Sequence[Mapping[str, str | None]], file: str) -> pl.DataFrame:
    """Raw input rows as a reader would hand them over: all strings, with file and row lineage."""
    frame = pl.DataFrame([{c: r.get(c) for c in columns} for r in rows], schema=dict.fromkeys(columns, pl.String))
    return frame.with_columns(
        pl.lit(file).alias("source_file"), (pl.int_range(pl.len()) + 2).cast(pl.Int64).alias("source_row")
    )


def valid_id(body: str) -> str:
    """An 18-character ID number: the 17-digit body and its check character."""
    return body + check_char(body)
