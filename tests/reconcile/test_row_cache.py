"""Reusing cached rows gives what normalising every row gives, whatever changed between two nights."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from reconcile.prepare import context_of, normalise_register
from reconcile.row_cache import reuse
from schemas.inputs import REGISTER
from tests.reconcile.helpers import raw_frame

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


_REGISTER_ROWS: list[dict[str, str | None]] = [
    {"community_code_raw": "330282001001", "community_name": "华联社区", "name_raw": "张伟", "household_no": "1"},
    {"community_code_raw": None, "community_name": "华联 社区", "name_raw": "李强", "household_no": "2"},
    {"community_code_raw": "330282001002", "community_name": "古塘社区", "name_raw": "王芳", "household_no": None},
    {"community_code_raw": None, "community_name": "古塘社区", "name_raw": "赵磊", "id_raw": "330282199001011234"},
    {"community_code_raw": None, "community_name": "无名社区", "name_raw": "钱多"},
]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.booleans(), min_size=len(_REGISTER_ROWS), max_size=len(_REGISTER_ROWS)))
def test_the_normalisers_are_row_local(keep: list[bool]) -> None:
    # `reuse` normalises only the rows it has not seen: any subset must come out as it does among all rows.
    # A row without a community code takes its community's code from the other rows (the context), not the subset.
    raw = raw_frame(REGISTER.internal_names, _REGISTER_ROWS, "户籍.csv")
    context = context_of(raw)
    mask = pl.Series(keep)
    part = normalise_register(raw.filter(mask), context)
    assert_frame_equal(part, normalise_register(raw, context).filter(mask))
    codes = ["330282001001", "330282001001", "330282001002", "330282001002", "无名社区"]
    assert part["community_code"].to_list() == [c for c, k in zip(codes, keep, strict=True) if k]


def test_a_cache_of_another_shape_is_not_used() -> None:
    raw = _raw([("张伟", "1-1"), ("王芳", "2-2")])
    older = reuse(raw, None, _normalise).cache.drop("length")  # kept by a normaliser that wrote less
    again = reuse(raw, older, _normalise)
    assert again.reused == 0
    assert_frame_equal(again.frame, _normalise(raw))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["330282001001", "330282001002", "", None]),
            st.sampled_from(["华联社区", "华联 社区", "华联\u3000社区"]),
        ),
        min_size=1,
        max_size=12,
    ),
    st.randoms(use_true_random=False),
)
def test_the_context_follows_from_the_rows_not_their_order(
    rows: list[tuple[str | None, str]], rnd: random.Random
) -> None:
    # The context names the cache: a name written with two codes equally often (or spaced another way) must give
    # the same context whatever order the extract lists its rows in, or a night would normalise everything again.
    def context(ordered: list[tuple[str | None, str]]) -> str:
        records = [{"community_code_raw": code, "community_name": name, "name_raw": "张伟"} for code, name in ordered]
        return context_of(raw_frame(REGISTER.internal_names, records, "户籍.csv"), today=dt.date(2026, 1, 1)).digest()

    shuffled = list(rows)
    rnd.shuffle(shuffled)
    assert context(rows) == context(shuffled)
