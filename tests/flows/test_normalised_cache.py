"""A batch's cached rows, read by row groups, are the rows of the whole cache it knows, in the cache's order."""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from flows import normalised_cache
from reconcile.row_cache import DIGEST
from schemas.codes import Side

_DIGESTS = st.lists(st.tuples(st.integers(0, 5), st.integers(0, 2)), max_size=30)


@settings(max_examples=100, deadline=None)
@given(cached=_DIGESTS, asked=_DIGESTS, group_rows=st.integers(min_value=1, max_value=7))
def test_rows_for_a_batch_are_the_cache_rows_it_knows(
    cached: list[tuple[int, int]], asked: list[tuple[int, int]], group_rows: int
) -> None:
    cache = pl.DataFrame(
        {DIGEST[0]: [a for a, _ in cached], DIGEST[1]: [b for _, b in cached], "row": list(range(len(cached)))},
        schema={DIGEST[0]: pl.UInt64, DIGEST[1]: pl.UInt64, "row": pl.Int64},
    )
    batch = pl.DataFrame(
        {DIGEST[0]: [a for a, _ in asked], DIGEST[1]: [b for _, b in asked]},
        schema={DIGEST[0]: pl.UInt64, DIGEST[1]: pl.UInt64},
    )
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as patch:
        part = Path(tmp) / "part.parquet"
        cache.write_parquet(part)
        patch.setattr(normalised_cache, "GROUP_ROWS", group_rows)
        normalised_cache.save(Path(tmp), Side.ROLL, "ctx", [part])
        rows = normalised_cache.open_rows(Path(tmp), Side.ROLL, "ctx")
        assert rows is not None
        got = rows.rows_for(batch)
    # The first cache row of each digest the batch asks for (a digest cached twice is one row's content).
    first = cache.unique(list(DIGEST), keep="first", maintain_order=True)
    expected = first.join(batch.unique(), on=list(DIGEST), how="semi", maintain_order="left")
    assert_frame_equal(got, expected, check_dtypes=False)
