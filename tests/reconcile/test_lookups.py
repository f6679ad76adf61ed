"""Values mapped once a night give what mapping every batch afresh gives."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from reconcile.lookups import Lookups

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
