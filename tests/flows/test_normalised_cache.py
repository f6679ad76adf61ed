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
        patch.setattr(normalised_cache, "GROUP_ROWS", group_rows)
        keeper = normalised_cache.Keeper(Path(tmp), Side.ROLL, "ctx")
        # Batches of other sizes than the row groups; a night always appends one batch, if empty.
        for part in list(cache.iter_slices(max(1, group_rows - 1))) or [cache]:
            keeper.append(part)
        keeper.commit()
        rows = normalised_cache.open_rows(Path(tmp), Side.ROLL, "ctx")
        assert rows is not None
        got = rows.rows_for(batch)
    # The first cache row of each digest the batch asks for (a digest cached twice is one row's content).
    first = cache.unique(list(DIGEST), keep="first", maintain_order=True)
    expected = first.join(batch.unique(), on=list(DIGEST), how="semi", maintain_order="left")
    assert_frame_equal(got, expected, check_dtypes=False)


def test_a_batch_that_does_not_fit_abandons_tonights_file_and_keeps_last_nights(tmp_path: Path) -> None:
    rows = pl.DataFrame(
        {DIGEST[0]: [1], DIGEST[1]: [2], "name": ["a"]}, schema_overrides={d: pl.UInt64 for d in DIGEST}
    )
    last = normalised_cache.Keeper(tmp_path, Side.ROLL, "last")
    last.append(rows)
    last.commit()
    tonight = normalised_cache.Keeper(tmp_path, Side.ROLL, "tonight")
    tonight.append(rows)
    tonight.append(rows.with_columns(pl.lit([1]).alias("name")))  # a list where text was: cannot be kept as text
    tonight.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"normalised-roll-last-{normalised_cache.NORMALISER_CODE}.parquet"
    ]
    assert normalised_cache.open_rows(tmp_path, Side.ROLL, "tonight") is None
    kept = normalised_cache.open_rows(tmp_path, Side.ROLL, "last")
    assert kept is not None
    assert_frame_equal(kept.rows_for(rows.select(DIGEST)), rows)


def test_a_night_that_fails_midway_keeps_last_nights_cache(tmp_path: Path) -> None:
    rows = pl.DataFrame(
        {DIGEST[0]: [1], DIGEST[1]: [2], "name": ["a"]}, schema_overrides={d: pl.UInt64 for d in DIGEST}
    )
    with normalised_cache.Keeper(tmp_path, Side.ROLL, "last") as last:
        last.append(rows)
    with pytest.raises(RuntimeError), normalised_cache.Keeper(tmp_path, Side.ROLL, "tonight") as tonight:  # noqa: PT012
        tonight.append(rows)
        raise RuntimeError
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"normalised-roll-last-{normalised_cache.NORMALISER_CODE}.parquet"
    ]


def _kept(cache: Path, rows: list[int]) -> None:
    with normalised_cache.Keeper(cache, Side.REGISTER, "ctx") as keeper:
        keeper.append(
            pl.DataFrame(
                {DIGEST[0]: rows, DIGEST[1]: rows, "row": rows},
                schema={**dict.fromkeys(DIGEST, pl.UInt64), "row": pl.Int64},
            )
        )


def test_a_worker_opens_a_side_of_the_cache_once_until_it_is_replaced(tmp_path: Path) -> None:
    assert normalised_cache.open_rows_once(tmp_path, Side.REGISTER, "ctx") is None
    _kept(tmp_path, [1, 2])
    first = normalised_cache.open_rows_once(tmp_path, Side.REGISTER, "ctx")
    assert first is not None
    assert normalised_cache.open_rows_once(tmp_path, Side.REGISTER, "ctx") is first
    _kept(tmp_path, [3, 4, 5])  # the next night's cache, swapped in
    again = normalised_cache.open_rows_once(tmp_path, Side.REGISTER, "ctx")
    assert again is not None
    assert again is not first
    asked = pl.DataFrame({DIGEST[0]: [5], DIGEST[1]: [5]}, schema=dict.fromkeys(DIGEST, pl.UInt64))
    assert again.rows_for(asked)["row"].to_list() == [5]


def test_rows_cached_by_other_code_are_never_read(tmp_path: Path) -> None:
    """A change to the engine (another parse of addresses, say) must normalise every row again."""
    rows = pl.DataFrame(
        {DIGEST[0]: [1], DIGEST[1]: [2], "name": ["a"]}, schema_overrides={d: pl.UInt64 for d in DIGEST}
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(normalised_cache, "NORMALISER_CODE", "yesterdayscode0")
        with normalised_cache.Keeper(tmp_path, Side.ROLL, "ctx") as keeper:
            keeper.append(rows)
        assert normalised_cache.open_rows(tmp_path, Side.ROLL, "ctx") is not None
    assert normalised_cache.open_rows(tmp_path, Side.ROLL, "ctx") is None
