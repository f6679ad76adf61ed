"""Values mapped once a night give what mapping every batch afresh gives."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from reconcile.lookups import Lookups, mapped_once

_VALUES = st.lists(st.one_of(st.none(), st.sampled_from(["张伟", "王芳", "李强", "a", ""])), max_size=8)


def _mapping(values: pl.Series) -> pl.DataFrame:
    return pl.DataFrame({"length": values.str.len_chars(), "tagged": values + "·"})


@settings(max_examples=100, deadline=None)
@given(batches=st.lists(_VALUES, max_size=5), limit=st.integers(min_value=0, max_value=6))
def test_a_shared_lookup_maps_like_a_fresh_one(batches: list[list[str | None]], limit: int) -> None:
    shared = Lookups(limit=limit)
    for batch in batches:
        values = pl.Series(batch, dtype=pl.String)
        assert_frame_equal(shared.mapped("m", values, _mapping), Lookups().mapped("m", values, _mapping))


def test_each_value_is_mapped_once_until_the_limit() -> None:
    seen: list[str] = []

    def record(values: pl.Series) -> pl.DataFrame:
        seen.extend(values.to_list())
        return _mapping(values)

    lookups = Lookups(limit=2)
    lookups.mapped("m", pl.Series(["a", "b", "a"]), record)
    lookups.mapped("m", pl.Series(["b", "a"]), record)
    assert sorted(seen) == ["a", "b"]
    lookups.mapped("m", pl.Series(["c"]), record)  # a third value: the table would pass its limit, so it is not kept
    lookups.mapped("m", pl.Series(["c"]), record)
    assert sorted(seen) == ["a", "b", "c", "c"]


_ANY = st.lists(st.one_of(st.none(), st.text(alphabet=st.characters(codec="utf-8"), max_size=4)), max_size=12)


@settings(max_examples=200, deadline=None)
@given(batches=st.lists(_ANY, max_size=4))
def test_mapping_distinct_values_gives_each_row_its_own_value(batches: list[list[str | None]]) -> None:
    """Once per batch (`mapped_once`) or once a night (`Lookups`): row for row what the value itself maps to."""
    shared = Lookups()
    for batch in batches:
        values = pl.Series(batch, dtype=pl.String)
        row_by_row = (
            pl.concat(
                [_mapping(pl.Series([v], dtype=pl.String)) if v is not None else _nulls() for v in batch],
                how="vertical_relaxed",
            )
            if batch
            else _mapping(values)
        )
        assert_frame_equal(mapped_once(values, _mapping), row_by_row, check_dtypes=False)
        assert_frame_equal(shared.mapped("m", values, _mapping), row_by_row, check_dtypes=False)


def _nulls() -> pl.DataFrame:
    return pl.DataFrame({"length": [None], "tagged": [None]}, schema={"length": pl.UInt32, "tagged": pl.String})
