"""Reusing cached rows gives what normalising every row gives, whatever changed between two nights."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from reconcile.row_cache import reuse

if TYPE_CHECKING:
    import random

_TEXT = st.one_of(st.none(), st.text(alphabet="张王李伟芳1- ", max_size=4))
_ROW = st.tuples(_TEXT, _TEXT)
Row = tuple[str | None, str | None]


def _raw(rows: list[Row]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "name_raw": [r[0] for r in rows],
            "address_raw": [r[1] for r in rows],
            "source_file": ["a.xlsx"] * len(rows),
            "source_sheet": pl.Series([None] * len(rows), dtype=pl.String),
            "source_row": pl.Series(range(2, len(rows) + 2), dtype=pl.Int64),
        },
        schema_overrides={"name_raw": pl.String, "address_raw": pl.String},
    )


def _normalise(frame: pl.DataFrame) -> pl.DataFrame:
    """Row-local, like the real normalisers: derived columns appended."""
    return frame.with_columns(
        pl.concat_str("name_raw", "address_raw", separator="|").alias("both"),
        pl.col("name_raw").str.len_chars().alias("length"),
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(_ROW, max_size=12), st.lists(_ROW, max_size=12), st.randoms(use_true_random=False))
def test_reused_rows_equal_normalised_rows(night1: list[Row], extra: list[Row], rnd: random.Random) -> None:
    first = reuse(_raw(night1), None, _normalise)
    assert first.reused == 0
    tonight = night1 + extra
    rnd.shuffle(tonight)
    tonight = tonight[: len(tonight) - len(tonight) // 4]
    again = reuse(_raw(tonight), first.cache, _normalise)
    assert_frame_equal(again.frame, _normalise(_raw(tonight)))
    assert again.reused == sum(row in night1 for row in tonight)


def test_a_normaliser_that_drops_rows_is_refused() -> None:
    raw = _raw([("张伟", "1-1"), ("王芳", "2-2")])
    with pytest.raises(ValueError, match="keep every row"):
        reuse(raw, None, lambda f: f.head(1))
